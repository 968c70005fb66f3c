"""The metric definitions give identical tables on every engine, and tables that add up.

The database engine (SQLite or PostgreSQL: whichever the suite runs on), DuckDB and Spark
(both over the Parquet files `export_parquet` writes from the database) run the same
definitions on two districts, loaded through the real import once per module:

- a generated district (350 students, 5 schools so that some students change school, two
  school years, fixed seed and `today`), as of Wednesday 2025-03-12;
- the Ed-Fi Grand Bend sample, read with implied enrollments (it has no enrollment
  interchange), under the calendar stated at `GRAND_BEND_HOLIDAYS`, as of 2022-03-31.

Each engine computes the tables of a plan once per module (fixtures; what the plan holds,
and why not more, is said at `PLAN`); the tests compare them across engines, check that
they add up, and check Grand Bend against its imported rows read with the ORM.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from django.db import connection
from django.db.models import Count, Max, Q
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from homeroom.attendance.models import AttendanceEvent
from homeroom.conftest import make_calendar
from homeroom.core.models import CalendarDate, District, School, SchoolYear
from homeroom.demo.district import DistrictParameters
from homeroom.ingest.adapters.edfi import read_edfi_xml
from homeroom.ingest.sync import SourceFile, do_import
from homeroom.metrics import definitions as d
from homeroom.metrics.engines import (
    Engine,
    EngineError,
    _declared,
    database_engine,
    duckdb_engine,
    export_parquet,
    spark_engine,
)
from homeroom.metrics.rules import load_rule_profile, shipped_profiles
from homeroom.metrics.tests.districts import load_generated, module_district
from homeroom.roster.models import Enrollment, Student, StudentCharacteristic

pytestmark = pytest.mark.django_db

GENERATED = DistrictParameters(
    students=350,
    schools=5,
    years=2,
    seed=10,
    today=dt.date(2025, 3, 14),
    name="Engine Test Public Schools",
)
AS_OF = dt.date(2025, 3, 12)  # a Wednesday; the generated events run to 13 March
DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
GRAND_BEND = DATA / "edfi-grandbend"
GRAND_BEND_AS_OF = dt.date(2022, 3, 31)
# The stated calendar: every weekday of the sample's school year (2021-08-23 to
# 2022-05-27) is a school day at its three schools, except these holidays. The sample
# itself lists two dates at one school (calendar code 2010605675), which the metrics do
# not read: a school's calendar coded "default" comes first (`Calendar`).
GRAND_BEND_HOLIDAYS = frozenset(
    [
        dt.date(2021, 9, 6),  # Labor Day
        *(dt.date(2021, 11, day) for day in (24, 25, 26)),  # Thanksgiving
        *(dt.date(2021, 12, day) for day in (20, 21, 22, 23, 24, 27, 28, 29, 30, 31)),
        dt.date(2022, 1, 17),  # Martin Luther King Jr. Day
        dt.date(2022, 2, 21),  # Presidents' Day
        *(dt.date(2022, 3, day) for day in (14, 15, 16, 17, 18)),  # spring break
    ]
)

PROFILES = tuple(shipped_profiles())
DEFAULT = "attendance-works"
STUDENT_TABLES = ("student_school", "student_district", "student_days")
GROUP_TABLES = tuple(f"group:{group_type}" for group_type in d.GROUP_TYPES)
# What each engine computes: {profile: tables}. All of it for every shipped profile on
# every engine would be ~150 queries; each costs 1-2 s to compile on the database and
# DuckDB (Ibis's rewriting, whatever the data) and 4-8 s on Spark (hundreds of tiny
# stages): over six minutes a database on a shared two-core machine. The plan follows what
# varies: profiles differ in rules, which the per-student tables and the days apply; group
# types differ in SQL (joins, last year's rates), which is the same under every profile
# but for the names of the band columns. So every engine computes every profile per
# student and school, per student, and three students' days, and every group type under
# the default profile; `test_any_group_adds_up_to_its_students` draws other profile and
# group type pairs on the database and checks them against those student rows.
Plan = dict[str, tuple[str, ...]]
PLAN: Plan = {
    profile: STUDENT_TABLES + (GROUP_TABLES if profile == DEFAULT else ()) for profile in PROFILES
}
SORT_KEYS = {
    "student_school": ("student_id", "school_id"),
    "student_district": ("student_id",),
    "student_days": ("student_id", "date", "school_id"),
    "group": ("group_value",),
}
# Columns that depend on the as-of date itself, not only on the school days up to it.
AS_OF_COLUMNS = ["last_day", "absent_last_30", "absent_last_30_milli"]


# -- computing on each engine ------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    """What one engine computed: the window, last year's, a table per (profile, table), and
    the error of each table it could not compute (so one failing kind of table does not
    hide the others)."""

    engine: str
    window: d.Window
    last_year: d.Window | None
    tables: dict[tuple[str, str], pa.Table]
    errors: dict[tuple[str, str], str]

    def __repr__(self) -> str:  # hypothesis prints the fixtures of a failing example
        return f"<{self.engine}: {len(self.tables)} tables, {len(self.errors)} errors>"

    def __getitem__(self, key: tuple[str, str]) -> pa.Table:
        """The table; a test failure naming the engine's error if it could not compute it."""
        if key in self.errors:
            pytest.fail(f"{self.engine} could not compute {key[1]} ({key[0]}): {self.errors[key]}")
        return self.tables[key]


def definition(
    engine: Engine,
    profile_name: str,
    table: str,
    window: d.Window,
    last_year: d.Window | None,
    students: list[int],
):
    """The unexecuted expression of one table of the plan."""
    profile = load_rule_profile(profile_name)
    facts = engine.facts
    if table == "student_school":
        return d.student_school(facts, profile, window)
    if table == "student_district":
        return d.student_district(facts, profile, window)
    if table == "student_days":
        return d.student_days(facts, profile, window, students)
    group_type = table.removeprefix("group:")
    return d.group_summary(facts, profile, window, group_type, last_year)


def sorted_rows(rows: pa.Table, table: str) -> pa.Table:
    """The rows in key order (engines return them in any order)."""
    keys = SORT_KEYS["group" if table.startswith("group:") else table]
    return rows.sort_by([(key, "ascending") for key in keys])


def compute(
    engine: Engine,
    as_of: dt.date,
    plan: Plan,
    students: list[int],
    start: dt.date | None = None,
    *,
    together: bool = False,
) -> Results:
    """Every table of the plan, run on the engine, one query each.

    `together` runs a table of every profile as one query (a union, tagged by profile),
    and every group type of a profile as one (as `homeroom metrics groups` does), then
    splits the rows: Spark runs the parts of a union in one job, 2-3 times faster than
    one by one (the database cannot: SQLite's parser overflows on the groups' union).
    """
    window = engine.window(as_of, start)
    last_year = engine.last_year(window)

    def run(profile: str, table: str) -> ir.Table:
        return definition(engine, profile, table, window, last_year, students)

    tables, errors = {}, {}

    def keep(keys: list[tuple[str, str]], *, tagged: bool = False) -> None:
        """Run the tables of `keys` as one query (a union if several) and split the rows:
        by profile when `tagged`, else by group type."""
        try:
            parts = [
                run(*key).mutate(profile_run=ibis.literal(key[0])) if tagged else run(*key)
                for key in keys
            ]
            rows = engine.run(parts[0].union(*parts[1:]) if parts[1:] else parts[0])
        except Exception as error:  # reported by the tests that need the rows
            errors.update(dict.fromkeys(keys, f"{type(error).__name__}: {error}".strip()))
            return
        for profile, table in keys:
            part = rows
            if tagged:
                part = rows.filter(pc.equal(rows["profile_run"], profile))
                part = part.drop_columns(["profile_run"])
            elif len(keys) > 1:
                part = rows.filter(pc.equal(rows["group_type"], table.removeprefix("group:")))
            tables[profile, table] = sorted_rows(part, table)

    if not together:
        for profile, wanted in plan.items():
            for table in wanted:
                keep([(profile, table)])
        return Results(engine.name, window, last_year, tables, errors)
    profiles_of = defaultdict(list)
    for profile, wanted in plan.items():
        for table in wanted:
            if not table.startswith("group:"):
                profiles_of[table].append(profile)
    for table, profiles in profiles_of.items():
        keep([(profile, table) for profile in profiles], tagged=True)
    for profile, wanted in plan.items():
        groups = [(profile, table) for table in wanted if table.startswith("group:")]
        if groups:
            keep(groups)
    return Results(engine.name, window, last_year, tables, errors)


def assert_identical(expected: pa.Table, got: pa.Table, label: str) -> None:
    """Same schema, same rows in the same order; else the first row that differs."""
    assert got.schema == expected.schema, (
        f"{label}: schemas differ\n{expected.schema}\n{got.schema}"
    )
    if got.equals(expected):
        return
    want, have = expected.to_pylist(), got.to_pylist()
    assert len(have) == len(want), f"{label}: {len(have)} rows, expected {len(want)}"
    for number, (a, b) in enumerate(zip(want, have, strict=True)):
        if a != b:
            differ = {column: (a[column], b[column]) for column in a if a[column] != b[column]}
            pytest.fail(f"{label}: row {number} differs (expected, got): {differ}\nrow: {a}")


def assert_engines_agree(reference: Results, *others: Results) -> None:
    """Every table the others computed is the reference engine's, row for row, and no
    engine failed on any table of its plan."""
    for other in others:
        assert (other.window, other.last_year) == (reference.window, reference.last_year)
        for key, rows in other.tables.items():
            if key in reference.tables:
                label = f"{other.engine} vs {reference.engine}, {key[0]}, {key[1]}"
                assert_identical(reference.tables[key], rows, label)
    failed = [
        f"{results.engine} {key[1]} ({key[0]}): {error.splitlines()[0]}"
        for results in (reference, *others)
        for key, error in sorted(results.errors.items())
    ]
    assert not failed, "tables an engine could not compute:\n" + "\n".join(failed)
    for other in others:
        assert set(other.tables) <= set(reference.tables)


# -- the generated district --------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[District]:
    """The generated district, loaded through the import engine (committed for the module)."""
    directory = tmp_path_factory.mktemp("generated")
    with module_district(django_db_blocker, lambda: load_generated(GENERATED, directory)) as held:
        yield held


@pytest.fixture(scope="module")
def generated_parquet(generated, django_db_blocker, tmp_path_factory) -> Path:
    """The generated district's facts as Parquet files."""
    directory = tmp_path_factory.mktemp("generated-parquet")
    with django_db_blocker.unblock():
        export_parquet(database_engine(generated), directory)
    return directory


def year_of(district: District, day: dt.date) -> SchoolYear:
    """The district's school year holding `day`."""
    return SchoolYear.objects.get(district=district, start_date__lte=day, end_date__gte=day)


@pytest.fixture(scope="module")
def day_students(generated, django_db_blocker) -> list[int]:
    """Three students whose days are listed: one who changed school this year, one with a
    partial day, and the one with the most absences."""
    with django_db_blocker.unblock():
        year = year_of(generated, AS_OF)
        events = AttendanceEvent.objects.filter(
            student__district=generated, date__gte=year.start_date, date__lte=AS_OF
        )
        moved = (
            Enrollment.objects.filter(school_year=year, entry_date__lte=AS_OF)
            .values("student_id")
            .annotate(schools=Count("school_id", distinct=True))
            .filter(schools__gt=1)
            .values_list("student_id", flat=True)
        )
        mover = events.filter(student_id__in=list(moved)).values_list("student_id", flat=True)
        partial = events.filter(code__category__in=["partial", "early_departure"])
        absent = events.filter(code__category__in=["excused", "unexcused", "oss"])
        most = absent.values("student_id").annotate(n=Count("id")).order_by("-n", "student_id")
        chosen = [
            mover.order_by("student_id").first(),
            partial.order_by("student_id").values_list("student_id", flat=True).first(),
            most[0]["student_id"],
        ]
    assert None not in chosen, f"the generated district lacks a kind of student: {chosen}"
    return sorted(set(chosen))


@pytest.fixture(scope="module")
def generated_db(generated, day_students, django_db_blocker) -> Results:
    """The plan run on the database engine (Django's connection, outside any test)."""
    with django_db_blocker.unblock():
        return compute(database_engine(generated), AS_OF, PLAN, day_students)


@pytest.fixture(scope="module")
def generated_duckdb(generated_parquet, day_students) -> Results:
    """The plan run on DuckDB over the exported files."""
    return compute(duckdb_engine(generated_parquet), AS_OF, PLAN, day_students)


@pytest.fixture(scope="module")
def generated_spark(spark, generated_parquet, day_students) -> Results:
    """The plan run on Spark over the exported files, a union of profiles per table."""
    engine = spark_engine(generated_parquet)
    return compute(engine, AS_OF, PLAN, day_students, together=True)


def test_the_generated_district_gives_identical_tables_on_every_engine(
    generated_db, generated_duckdb, day_students
):
    # given the generated district's tables computed on each engine
    tables = generated_db
    # then there is something to compare: this year's and last year's windows, every
    # student enrolled, every kind of group, and the days of the three students
    assert generated_db.last_year is not None
    assert generated_db.window.as_of == AS_OF
    assert tables[DEFAULT, "student_district"].num_rows > 300
    assert tables[DEFAULT, "student_school"].num_rows > tables[DEFAULT, "student_district"].num_rows
    assert set(tables[DEFAULT, "student_days"].column("student_id").to_pylist()) == set(
        day_students
    )
    # and DuckDB gives the database's tables, row for row, for every profile
    assert_engines_agree(generated_db, generated_duckdb)
    # (groups of every type, with last year's rates)
    for group in GROUP_TABLES:
        rows = tables[DEFAULT, group]
        assert rows.num_rows > 0, group
        assert rows.column("chronic_rate_last_year").null_count < rows.num_rows, group


# Spark reads the Parquet files DuckDB reads, whichever database exported them (and DuckDB
# gives each database's tables above): its agreement is checked in one database's half,
# SQLite's, which has the room since metric refreshes compile their SQL once.
@pytest.mark.one_database
def test_the_generated_district_gives_identical_tables_on_spark(generated_duckdb, generated_spark):
    assert_engines_agree(generated_duckdb, generated_spark)


# -- totals add up -----------------------------------------------------------------------------


def group_members(
    group_type: str,
    per_school: list[dict],
    per_student: list[dict],
    as_of: dt.date,
    district: District,
) -> dict[str, list[dict]]:
    """The student rows each group of a type should sum, found with the ORM."""
    members: dict[str, list[dict]] = defaultdict(list)
    if group_type == "school":  # named by the school's local id
        local_ids = dict(School.objects.filter(district=district).values_list("pk", "local_id"))
        for row in per_school:
            members[local_ids[row["school_id"]]].append(row)
        return members
    students = {
        pk: values
        for pk, *values in Student.objects.filter(district=district).values_list(
            "pk", "gender", "race_ethnicity", "home_language"
        )
    }
    active = defaultdict(set)
    for student, kind in StudentCharacteristic.objects.filter(
        Q(end_date__isnull=True) | Q(end_date__gte=as_of),
        student__district=district,
        start_date__lte=as_of,
    ).values_list("student_id", "kind"):
        active[student].add(kind)
    demographic = {"gender": 0, "race_ethnicity": 1, "home_language": 2}
    for row in per_student:
        if group_type == "district":
            values = ["all"]
        elif group_type == "grade":
            values = [str(row["grade"])]
        elif group_type == "characteristic":
            values = sorted(active[row["student_id"]])
        else:
            values = [students[row["student_id"]][demographic[group_type]]]
        for value in values:
            members[value].append(row)
    return members


def assert_group_sums(group: dict, rows: list[dict], band_names: list[str], label: str) -> None:
    """A group's counts are the sums of its students' rows, and its rates follow from them."""
    counted = sum(r["counted"] for r in rows)
    chronic = sum(r["chronic"] for r in rows)
    enrolled = sum(r["days_enrolled"] for r in rows)
    absent_milli = sum(r["absent_milli"] for r in rows)
    expected = {
        "students": len(rows),
        "counted": counted,
        "days_enrolled": enrolled,
        "absent_milli": absent_milli,
        "chronic": chronic,
        **{f"band_{name}": sum(r["band"] == name for r in rows) for name in band_names},
    }
    assert {key: group[key] for key in expected} == expected, label
    assert sum(group[f"band_{name}"] for name in band_names) == counted, label
    assert group["days_absent"] == pytest.approx(absent_milli / 1000), label
    assert group["attendance_rate"] == pytest.approx(1 - absent_milli / (enrolled * 1000)), label
    if counted:
        assert group["chronic_rate"] == pytest.approx(chronic / counted), label
    else:
        assert group["chronic_rate"] is None, label
    if group["chronic_rate_last_year"] is not None and group["chronic_rate"] is not None:
        change = group["chronic_rate"] - group["chronic_rate_last_year"]
        assert group["chronic_rate_change"] == pytest.approx(change), label
    if group["attendance_rate_last_year"] is not None:
        change = group["attendance_rate"] - group["attendance_rate_last_year"]
        assert group["attendance_rate_change"] == pytest.approx(change), label


def check_groups(
    results: Results, profile: str, group_type: str, rows: pa.Table, district: District
) -> int:
    """Check a group table against the student rows of its profile; how many groups."""
    per_school = results[profile, "student_school"].to_pylist()
    per_student = results[profile, "student_district"].to_pylist()
    band_names = [level.name for level in load_rule_profile(profile).bands]
    # the students put in the type's groups with the ORM's demographics and the
    # characteristics active on the as-of date
    members = group_members(group_type, per_school, per_student, results.window.as_of, district)
    groups = {row["group_value"]: row for row in rows.to_pylist()}
    # a row for each group with students, and none other
    assert set(groups) == set(members), f"{profile} {group_type}"
    # each group's totals are the sums over its students (school groups over per-school
    # rows: a student counts at each school; the others over per-student rows: each
    # student once), and its rates follow from them
    for value, group in groups.items():
        assert group["group_type"] == group_type
        assert_group_sums(group, members[value], band_names, f"{profile} {group_type} {value}")
    return len(groups)


def test_group_totals_are_the_sums_of_the_student_rows(generated, generated_db):
    # given the groups the database computed, and the student rows of their profiles
    for profile, tables in PLAN.items():
        for group_type in [t.removeprefix("group:") for t in tables if t.startswith("group:")]:
            rows = generated_db[profile, f"group:{group_type}"]
            # then each adds up
            assert check_groups(generated_db, profile, group_type, rows, generated) > 0


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    phases=[Phase.generate],  # each example costs seconds: no shrinking of a failure
)
@given(profile=st.sampled_from(PROFILES), group_type=st.sampled_from(d.GROUP_TYPES))
def test_any_group_adds_up_to_its_students(generated, generated_db, profile, group_type):
    # given any profile and group type, the groups computed on the database
    engine = database_engine(generated)
    rows = engine.run(
        d.group_summary(
            engine.facts,
            load_rule_profile(profile),
            generated_db.window,
            group_type,
            generated_db.last_year,
        )
    )
    # then they add up to the profile's student rows (which every engine agrees on)
    assert check_groups(generated_db, profile, group_type, rows, generated) > 0


def test_a_students_days_add_up_to_their_days_enrolled_and_absent(generated_db, day_students):
    for profile in PROFILES:
        # given a few students' days and their rows per student and school
        days = generated_db[profile, "student_days"].to_pylist()
        per_school = {
            (row["student_id"], row["school_id"]): row
            for row in generated_db[profile, "student_school"].to_pylist()
            if row["student_id"] in day_students
        }
        window = generated_db.window
        # when the days are summed per student and school
        sums: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for day in days:
            assert window.start <= day["date"] <= window.as_of
            key = (day["student_id"], day["school_id"])
            milli = round(day["absent"] * 1000)
            assert day["instructional"] or (milli == 0 and day["status"] == "not_instructional")
            sums[key]["days_enrolled"] += day["instructional"]
            sums[key]["absent_milli"] += milli
            if day["category"] in ("excused", "unexcused", "oss"):
                sums[key][f"{day['category']}_milli"] += milli
            assert (day["status"] == "absent") == (milli >= 1000), day
            assert (day["status"] == "partial") == (0 < milli < 1000), day
        # then they are the days enrolled and absent of the per-school rows, category by
        # category, at each school the student attended (the mover at two)
        assert set(sums) == {key for key, row in per_school.items() if row["days_enrolled"]}
        assert len(sums) > len(day_students)
        for key, row in per_school.items():
            expected = {
                name: row[name]
                for name in (
                    "days_enrolled",
                    "absent_milli",
                    "excused_milli",
                    "unexcused_milli",
                    "oss_milli",
                )
                if row[name]
            }
            assert {name: n for name, n in sums[key].items() if n} == expected, (profile, key)


# -- the window ----------------------------------------------------------------------------


def last_school_day(district: District, day: dt.date) -> dt.date:
    """The latest day counted at any of the district's schools on or before `day`."""
    return CalendarDate.objects.filter(
        calendar__school__district=district,
        calendar__code="default",
        kind__in=CalendarDate.COUNTED_KINDS,
        date__lte=day,
    ).aggregate(last=Max("date"))["last"]


def per_school(engine: Engine, as_of: dt.date, start: dt.date | None = None) -> pa.Table:
    """Per student and school under the default profile, in key order."""
    rows = d.student_school(engine.facts, load_rule_profile(DEFAULT), engine.window(as_of, start))
    return sorted_rows(engine.run(rows), "student_school")


def test_as_of_a_sunday_counts_up_to_the_last_school_day_before_it(generated):
    engine = database_engine(generated)
    # given Sunday 9 March 2025, after a Friday that is a staff day
    sunday = dt.date(2025, 3, 9)
    thursday = last_school_day(generated, sunday)
    assert thursday == dt.date(2025, 3, 6)
    # when the metrics are read as of the Sunday and as of the Thursday
    on_sunday = per_school(engine, sunday)
    on_thursday = per_school(engine, thursday)
    # then the window ends on the Sunday and counts the same days and absences: only the
    # columns that name the date itself (the last day, the last 30 days) differ
    assert engine.window(sunday).as_of == sunday
    assert on_sunday.num_rows > 300
    assert_identical(
        on_thursday.drop_columns(AS_OF_COLUMNS), on_sunday.drop_columns(AS_OF_COLUMNS), "Sunday"
    )


def test_as_of_in_summer_counts_the_year_just_ended(generated):
    engine = database_engine(generated)
    # given a date in the summer between the two school years
    summer = dt.date(2024, 7, 15)
    year = year_of(generated, dt.date(2024, 6, 1))
    # when the window is taken as of it
    window = engine.window(summer)
    # then it is the year just ended, whole: from its first day to its last
    assert (window.school_year_id, window.start, window.as_of) == (
        year.pk,
        year.start_date,
        year.end_date,
    )
    # and its rows are those of the year's last day, which count up to the last school
    # day (the last day of the year, 6 June, is a staff day)
    in_summer = per_school(engine, summer)
    assert in_summer.num_rows > 300
    assert_identical(per_school(engine, year.end_date), in_summer, "summer vs year end")
    school_day = last_school_day(generated, year.end_date)
    assert school_day == dt.date(2024, 6, 5)
    assert_identical(
        per_school(engine, school_day).drop_columns(AS_OF_COLUMNS),
        in_summer.drop_columns(AS_OF_COLUMNS),
        "summer vs last school day",
    )


def test_a_window_that_cannot_be_measured_is_a_clear_engine_error(generated):
    engine = database_engine(generated)
    year = year_of(generated, AS_OF)
    # a start after the as-of date
    with pytest.raises(EngineError, match=r"^--from 2025-03-13 is after --as-of 2025-03-12"):
        engine.window(AS_OF, AS_OF + dt.timedelta(days=1))
    # a date before any school year
    with pytest.raises(EngineError, match=r"^no school year starts on or before 2020-01-01$"):
        engine.window(dt.date(2020, 1, 1))
    # while a start before the year is the year's first day
    assert engine.window(AS_OF, dt.date(2024, 1, 1)).start == year.start_date


def test_the_database_engine_reads_whole_numbers_and_refuses_to_round_others(generated):
    # given numbers the database holds as decimals, read as whole numbers
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE homeroom_test_numbers (n REAL)")
        cursor.execute("INSERT INTO homeroom_test_numbers VALUES (3.0), (NULL)")
    engine = database_engine(generated)
    numbers = _declared(engine.backend, "homeroom_test_numbers", {"n": "int64"}, temporary=True)
    # then a whole one is read as it is
    assert engine.run(numbers).column("n").to_pylist() == [3, None]
    # and one with a fraction is refused, not rounded
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO homeroom_test_numbers VALUES (2.5)")
    with pytest.raises(pa.ArrowInvalid):
        engine.run(numbers)


def test_windows_without_absences_or_enrollments_agree_on_the_database_and_duckdb(
    generated, generated_parquet
):
    engines = {"db": database_engine(generated), "duckdb": duckdb_engine(generated_parquet)}
    year = year_of(generated, AS_OF)
    first_entry = min(
        Enrollment.objects.filter(school_year=year).values_list("entry_date", flat=True)
    )
    assert year.start_date < first_entry, first_entry
    # given one school day, and a student enrolled then with no event that day
    day = AS_OF
    present = (
        Enrollment.objects.filter(school_year=year, entry_date__lte=day)
        .filter(Q(exit_date__isnull=True) | Q(exit_date__gte=day))
        .exclude(student__attendance_events__date=day)
        .values_list("student_id", flat=True)
        .order_by("student_id")
        .first()
    )
    assert present is not None
    plan = {DEFAULT: ("student_school", "student_days")}
    # when the tables are computed for that one day, and before the first student arrives
    one_day = {name: compute(e, day, plan, [present], day) for name, e in engines.items()}
    eve = first_entry - dt.timedelta(days=1)
    before = {name: compute(e, eve, plan, [present]) for name, e in engines.items()}
    # then both engines agree
    assert_engines_agree(one_day["db"], one_day["duckdb"])
    assert_engines_agree(before["db"], before["duckdb"])
    # on one day: every student enrolled that day has one day enrolled; the student without
    # an event was present
    rows = one_day["db"][DEFAULT, "student_school"].to_pylist()
    assert rows and {row["days_enrolled"] for row in rows} == {1}
    [listed] = one_day["db"][DEFAULT, "student_days"].to_pylist()
    assert (listed["date"], listed["status"], listed["absent"]) == (day, "present", 0)
    # before the first arrival: no rows at all
    assert not before["db"].errors
    for table, got in before["db"].tables.items():
        assert got.num_rows == 0, table


def test_an_export_keeps_text_as_written_and_empty_apart_from_missing(cast, tmp_path):
    # given names that need quoting, a word that reads like a null, and an empty id
    cast.ana.local_id = "NA"
    cast.ben.local_id = ""
    cast.carla.local_id = 'S,3 "Carla"\nline two'
    for pupil in (cast.ana, cast.ben, cast.carla):
        pupil.save()
    School.objects.filter(pk=cast.lincoln.pk).update(name='Lincoln, "Elementary"\nAnnex')
    StudentCharacteristic.objects.create(
        student=cast.ana, kind="ell", start_date=cast.this_year.start_date
    )
    # when the district's facts are exported
    export_parquet(database_engine(cast.district), tmp_path)
    # then every value reads back as the database holds it, and a missing date stays missing
    students = pq_table(tmp_path, "students")
    assert dict(zip(students["student_id"], students["local_id"], strict=True)) == dict(
        Student.objects.filter(district=cast.district).values_list("pk", "local_id")
    )
    schools = pq_table(tmp_path, "schools")
    assert 'Lincoln, "Elementary"\nAnnex' in schools["name"]
    held = pq_table(tmp_path, "characteristics")
    assert (held["kind"], held["end_date"]) == (["ell"], [None])
    enrollments = pq_table(tmp_path, "enrollments")
    assert sorted(enrollments["exit_date"], key=str) == sorted(
        Enrollment.objects.filter(student__district=cast.district).values_list(
            "exit_date", flat=True
        ),
        key=str,
    )


def pq_table(directory: Path, name: str) -> dict[str, list]:
    """An exported fact table's columns as Python lists."""
    return pq.read_table(directory / f"{name}.parquet").to_pydict()


# -- Grand Bend --------------------------------------------------------------------------------


def import_grand_bend() -> District:
    """The sample through the Ed-Fi reader and the sync engine, then the stated calendar."""
    files = sorted(GRAND_BEND.glob("*.xml"))
    assert files, f"the Ed-Fi Grand Bend sample is missing: expected its XML files in {GRAND_BEND}"
    district = District.objects.create(name="Grand Bend ISD (metrics)")
    batch = read_edfi_xml(files, implied_enrollments=True)
    sources = [SourceFile(f.name, "0" * 64, f.stat().st_size) for f in files]
    do_import(batch, district=district, source_format="edfi-xml", files=sources)
    year = SchoolYear.objects.get(district=district)
    for school in School.objects.filter(district=district):
        make_calendar(school, year, GRAND_BEND_HOLIDAYS)
    return district


@pytest.fixture(scope="module")
def grand_bend(django_db_setup, django_db_blocker) -> Iterator[District]:
    """Grand Bend imported with implied enrollments, under the stated calendar."""
    with module_district(django_db_blocker, import_grand_bend) as held:
        yield held


@pytest.fixture(scope="module")
def grand_bend_parquet(grand_bend, django_db_blocker, tmp_path_factory) -> Path:
    """Grand Bend's facts as Parquet files."""
    directory = tmp_path_factory.mktemp("grand-bend-parquet")
    with django_db_blocker.unblock():
        export_parquet(database_engine(grand_bend), directory)
    return directory


@pytest.fixture(scope="module")
def grand_bend_students(grand_bend, django_db_blocker) -> list[int]:
    """604822 (an Excused Absence and a Partial on 2021-12-15) and the student with the
    most events."""
    with django_db_blocker.unblock():
        conflict = Student.objects.get(district=grand_bend, local_id="604822").pk
        most = (
            AttendanceEvent.objects.filter(student__district=grand_bend)
            .values("student_id")
            .annotate(n=Count("id"))
            .order_by("-n", "student_id")[0]["student_id"]
        )
    return sorted({conflict, most})


# Grand Bend has one school year: no last year. Every engine: every profile per student;
# under the default profile, per student and school, the days of two students and the
# district, school and characteristic groups (the sample's programs).
GRAND_BEND_PLAN: Plan = {
    profile: ("student_district",)
    + (
        ("student_school", "student_days", "group:district", "group:school", "group:characteristic")
        if profile == DEFAULT
        else ()
    )
    for profile in PROFILES
}


@pytest.fixture(scope="module")
def grand_bend_db(grand_bend, grand_bend_students, django_db_blocker) -> Results:
    """Grand Bend's plan on the database engine."""
    with django_db_blocker.unblock():
        engine = database_engine(grand_bend)
        return compute(engine, GRAND_BEND_AS_OF, GRAND_BEND_PLAN, grand_bend_students)


@pytest.fixture(scope="module")
def grand_bend_duckdb(grand_bend_parquet, grand_bend_students) -> Results:
    """Grand Bend's plan on DuckDB."""
    engine = duckdb_engine(grand_bend_parquet)
    return compute(engine, GRAND_BEND_AS_OF, GRAND_BEND_PLAN, grand_bend_students)


@pytest.fixture(scope="module")
def grand_bend_spark(spark, grand_bend_parquet, grand_bend_students) -> Results:
    """Grand Bend's plan on Spark, a union of profiles per table."""
    engine = spark_engine(grand_bend_parquet)
    return compute(engine, GRAND_BEND_AS_OF, GRAND_BEND_PLAN, grand_bend_students, together=True)


def test_grand_bend_gives_identical_tables_on_every_engine(
    grand_bend, grand_bend_db, grand_bend_duckdb
):
    # given the sample's 227 students with attendance, each with an implied enrollment
    tables = grand_bend_db
    assert grand_bend_db.last_year is None
    assert tables[DEFAULT, "student_district"].num_rows == 227
    # and 604822's Excused Absence and Partial on 15 December: one day absent, excused
    conflicted = Student.objects.get(district=grand_bend, local_id="604822").pk
    [day] = [
        (r["status"], r["absent"], r["category"])
        for r in tables[DEFAULT, "student_days"].to_pylist()
        if r["student_id"] == conflicted and r["date"] == dt.date(2021, 12, 15)
    ]
    assert day == ("absent", 1.0, "excused")
    # then DuckDB gives the database's tables, row for row, for every profile
    assert_engines_agree(grand_bend_db, grand_bend_duckdb)


@pytest.mark.one_database  # as the generated district's (above)
def test_grand_bend_gives_identical_tables_on_spark(grand_bend_duckdb, grand_bend_spark):
    assert_engines_agree(grand_bend_duckdb, grand_bend_spark)


# By hand: {profile: (absent categories, partial days, minimum days enrolled, minimum present)}
HAND_RULES = {
    "attendance-works": ({"excused", "unexcused", "oss", "partial"}, "fraction", 10, 0),
    "nyc": ({"excused", "unexcused", "oss", "partial"}, "full_days_only", 10, 1),
    "california": ({"excused", "unexcused", "oss", "partial"}, "full_days_only", 31, 0),
    "ed-fi-amt": ({"excused", "unexcused"}, "full_days_only", 1, 0),
    "federal-edfacts": ({"excused", "unexcused", "oss", "partial"}, "half_or_more", 1, 0),
}


def counted_share(share: Fraction, partial_days: str) -> Fraction:
    """The part of a day an absence of this share counts for."""
    if partial_days == "full_days_only":
        return Fraction(share >= 1)
    if partial_days == "half_or_more":
        return Fraction(share >= Fraction(1, 2))
    return min(share, Fraction(1))


def test_grand_bend_counts_follow_from_the_imported_rows(grand_bend, grand_bend_db):
    as_of = GRAND_BEND_AS_OF
    # given the imported enrollments, the stated calendar's school days up to the as-of
    # date, and the events, read with the ORM
    school_days = set(
        CalendarDate.objects.filter(
            calendar__school__district=grand_bend,
            calendar__code="default",
            kind__in=CalendarDate.COUNTED_KINDS,
            date__lte=as_of,
        ).values_list("calendar__school_id", "date")
    )
    spans = defaultdict(list)
    for student, school, entry, exit_date in Enrollment.objects.filter(
        student__district=grand_bend
    ).values_list("student_id", "school_id", "entry_date", "exit_date"):
        spans[student].append((school, entry, min(exit_date or as_of, as_of)))
    events = AttendanceEvent.objects.filter(student__district=grand_bend).values_list(
        "student_id", "school_id", "date", "code__category", "day_fraction", "code__day_fraction"
    )
    assert len(spans) == 227 and len(events) == 1917
    enrolled = {
        student: sum(
            1
            for school, first, last in held
            for day_school, day in school_days
            if day_school == school and first <= day <= last
        )
        for student, held in spans.items()
    }

    def inside(student, school, day) -> bool:
        return (school, day) in school_days and any(
            s == school and first <= day <= last for s, first, last in spans[student]
        )

    kept = [e for e in events if inside(*e[:3])]
    # the calendar is doing its work: events on holidays, weekends and after the as-of
    # date are left out
    assert any(e[2] in GRAND_BEND_HOLIDAYS for e in events)
    assert 0 < len(kept) < len(events)
    engine_rows = grand_bend_db
    assert set(HAND_RULES) == set(PROFILES)  # every shipped profile, by hand
    for profile, (categories, partial_days, minimum, present) in HAND_RULES.items():
        # when each event on a counted day inside an enrollment counts its share (the
        # largest on a day with several), per the profile's rules, by hand
        day_share: dict[tuple, Fraction] = defaultdict(Fraction)
        for student, school, day, category, fraction, code_fraction in kept:
            share = Fraction(fraction if fraction is not None else code_fraction)
            share = counted_share(share, partial_days) if category in categories else Fraction(0)
            day_share[student, school, day] = max(day_share[student, school, day], share)
        absent = defaultdict(Fraction)
        for (student, _school, _day), share in day_share.items():
            absent[student] += share
        counted = {
            student
            for student, days in enrolled.items()
            if days >= max(minimum, 1) and days - absent[student] >= present
        }
        total = sum(absent.values())
        # then the engine's per-student rows hold the same days and absences, the same
        # students counted, and the same total absences
        rows = engine_rows[profile, "student_district"].to_pylist()
        by_engine = {r["student_id"]: (r["days_enrolled"], r["days_absent"]) for r in rows}
        by_hand = {s: (enrolled[s], float(absent[s])) for s in enrolled}
        assert by_engine == by_hand, profile
        assert {r["student_id"] for r in rows if r["counted"]} == counted, profile
        assert sum(Fraction(r["absent_milli"], 1000) for r in rows) == total, profile
        assert len(counted) > 200 and total > 500, (profile, len(counted), total)
