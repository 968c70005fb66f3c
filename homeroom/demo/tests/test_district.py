"""The generated district, read back from its CSV files as a user of them would."""

import csv
import datetime as dt
import itertools
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from homeroom.attendance.models import Category
from homeroom.core.models import CalendarDate
from homeroom.demo.district import DistrictParameters, build_calendar, generate_district
from homeroom.demo.export import write_district_csv
from homeroom.demo.files import COLUMNS, FILE_STEMS
from homeroom.roster.models import StudentCharacteristic

TODAY = dt.date(2026, 3, 10)
PARAMS = DistrictParameters(students=500, schools=4, years=2, seed=11, today=TODAY)
ABSENT = {Category.EXCUSED, Category.UNEXCUSED, Category.OUT_OF_SCHOOL_SUSPENSION}
DOCS = Path(__file__).resolve().parents[3] / "docs" / "generator.md"


def write(params: DistrictParameters, directory: Path) -> Path:
    """Generate and write a district; return its directory."""
    write_district_csv(generate_district(params), directory)
    return directory


def read(directory: Path, stem: str) -> list[dict[str, str]]:
    """A CSV file's rows."""
    with (directory / f"{stem}.csv").open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def day(text: str) -> dt.date | None:
    """An ISO date cell, or None when empty."""
    return dt.date.fromisoformat(text) if text else None


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """A small district: 500 students, 4 schools, 2024-2025 and 2025-2026 until March 10."""
    return write(PARAMS, tmp_path_factory.mktemp("district"))


@pytest.fixture(scope="module")
def school_days(files) -> dict[tuple[str, str], list[dt.date]]:
    """Instructional days per (school, school year)."""
    days = defaultdict(list)
    for row in read(files, "calendar_dates"):
        if row["kind"] in CalendarDate.COUNTED_KINDS:
            days[row["school_id"], row["school_year"]].append(day(row["date"]))
    return {key: sorted(value) for key, value in days.items()}


@pytest.fixture(scope="module")
def membership(files, school_days) -> dict[tuple[str, str], set[dt.date]]:
    """Per (student, school): the instructional days enrolled there, before today."""
    days = defaultdict(set)
    for span in read(files, "enrollments"):
        last = day(span["exit_date"]) or TODAY - dt.timedelta(days=1)
        for d in school_days[span["school_id"], span["school_year"]]:
            if day(span["entry_date"]) <= d <= last:
                days[span["student_id"], span["school_id"]].add(d)
    return days


@pytest.fixture(scope="module")
def absences(files) -> dict[tuple[str, dt.date], float]:
    """Share of the day missed per (student, date), by the codes' categories."""
    codes = {row["code"]: row for row in read(files, "attendance_codes")}
    missed = {}
    for event in read(files, "attendance_events"):
        code = codes[event["code"]]
        if code["category"] in ABSENT:
            share = 1.0
        elif code["category"] == Category.PARTIAL:
            share = float(event["day_fraction"] or code["day_fraction"])
        else:
            continue
        missed[event["student_id"], day(event["date"])] = share
    return missed


def test_same_seed_gives_identical_files_and_another_seed_different_ones(tmp_path):
    # given / when
    first = write(PARAMS, tmp_path / "first")
    again = write(PARAMS, tmp_path / "again")
    other = write(
        DistrictParameters(students=500, schools=4, years=2, seed=12, today=TODAY),
        tmp_path / "other",
    )

    # then
    for stem in FILE_STEMS:
        name = f"{stem}.csv"
        assert (first / name).read_bytes() == (again / name).read_bytes(), name
    assert (first / "attendance_events.csv").read_bytes() != (
        other / "attendance_events.csv"
    ).read_bytes()
    assert (first / "students.csv").read_bytes() != (other / "students.csv").read_bytes()


def test_every_file_has_the_header_the_format_defines_in_order(files):
    # when
    headers = {stem: tuple(read_header(files / f"{stem}.csv")) for stem in FILE_STEMS}

    # then
    assert list(headers.items()) == list(COLUMNS.items())


def read_header(path: Path) -> list[str]:
    """The header row of a CSV file."""
    with path.open(encoding="utf-8", newline="") as file:
        return next(csv.reader(file))


def test_every_column_of_every_file_is_documented(files):
    # given
    documented = defaultdict(list)
    current = None
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if heading := re.match(r"^### `(\w+)\.csv`", line):
            current = heading.group(1)
        elif current and (cell := re.match(r"^\| `(\w+)` \|", line)):
            documented[current].append(cell.group(1))

    # then
    for stem in FILE_STEMS:
        assert documented[stem] == read_header(files / f"{stem}.csv"), stem


def test_years_end_with_the_one_holding_today_and_nothing_starts_on_or_after_it(files):
    # when
    years = [row["school_year"] for row in read(files, "school_years")]
    events = read(files, "attendance_events")
    spans = read(files, "enrollments")

    # then
    assert years == ["2024-2025", "2025-2026"]
    assert max(day(e["date"]) for e in events) < TODAY
    assert max(day(e["date"]) for e in events) >= TODAY - dt.timedelta(days=7)
    for stem, column in (
        ("enrollments", "entry_date"),
        ("student_characteristics", "start_date"),
        ("section_enrollments", "start_date"),
    ):
        assert all(day(row[column]) < TODAY for row in read(files, stem)), stem
    current = [s for s in spans if s["school_year"] == "2025-2026"]
    assert sum(not s["exit_date"] for s in current) > 0.9 * len(current)
    assert all(s["exit_date"] for s in spans if s["school_year"] == "2024-2025")
    assert all(not s["exit_reason"] for s in spans if not s["exit_date"])


def test_in_summer_the_last_year_is_complete_and_closed(tmp_path):
    # given
    params = DistrictParameters(students=150, schools=3, years=1, seed=2, today=dt.date(2025, 7, 4))

    # when
    files = write(params, tmp_path)

    # then
    assert [row["school_year"] for row in read(files, "school_years")] == ["2024-2025"]
    assert all(span["exit_date"] for span in read(files, "enrollments"))
    assert max(day(e["date"]) for e in read(files, "attendance_events")) > dt.date(2025, 5, 26)


def test_a_later_today_in_the_same_year_only_adds_rows_and_closes_open_spans(tmp_path):
    # given
    early = write(
        DistrictParameters(students=300, schools=3, years=2, seed=5, today=dt.date(2025, 11, 3)),
        tmp_path / "early",
    )
    late = write(
        DistrictParameters(students=300, schools=3, years=2, seed=5, today=dt.date(2026, 2, 20)),
        tmp_path / "late",
    )
    # The columns that may change from empty to filled as a span closes.
    closing = {
        "enrollments": ("exit_date", "exit_reason"),
        "section_enrollments": ("end_date",),
        "student_characteristics": ("end_date",),
    }

    # then
    for stem in FILE_STEMS:
        ends = closing.get(stem, ())

        def key(row, ends=ends):
            return tuple(value for column, value in row.items() if column not in ends)

        before, after = read(early, stem), read(late, stem)
        later_rows = {tuple(row.values()) for row in after}
        later_keys = {key(row) for row in after}
        for row in before:
            if tuple(row.values()) in later_rows:
                continue
            assert ends, f"{stem}: {row} is gone"
            assert all(row[column] == "" for column in ends), f"{stem}: {row} changed"
            assert key(row) in later_keys, f"{stem}: {row} is gone"
    assert len(read(late, "attendance_events")) > len(read(early, "attendance_events"))
    assert len(read(late, "students")) > len(read(early, "students"))


def test_events_fall_on_instructional_days_inside_an_enrollment_at_that_school(files, membership):
    # when
    events = read(files, "attendance_events")

    # then
    assert len(events) > 5000
    outside = [
        e for e in events if day(e["date"]) not in membership[e["student_id"], e["school_id"]]
    ]
    assert outside == []
    per_day = Counter((e["student_id"], e["date"]) for e in events)
    assert max(per_day.values()) == 1


def test_chronic_absence_share_of_a_complete_year_is_plausible(files, membership, absences):
    # given
    enrolled = Counter()
    missed = Counter()
    for (student, _school), days in membership.items():
        for d in days:
            if d < dt.date(2025, 7, 1):
                enrolled[student] += 1
                missed[student] += absences.get((student, d), 0)

    # when
    counted = [s for s, days in enrolled.items() if days >= 10]
    chronic = [s for s in counted if missed[s] >= 0.1 * enrolled[s]]
    rate = sum(missed[s] for s in counted) / sum(enrolled[s] for s in counted)

    # then
    assert 0.08 <= len(chronic) / len(counted) <= 0.25
    assert 0.035 <= rate <= 0.09


def absence_rate(membership, absences, selects) -> float:
    """Days missed over days enrolled, over the student-days `selects(student, date)` picks."""
    enrolled = missed = 0
    for (student, _school), days in membership.items():
        for d in days:
            if selects(student, d):
                enrolled += 1
                missed += absences.get((student, d), 0)
    return missed / enrolled


def test_mondays_and_fridays_are_missed_more_than_midweek(membership, absences):
    # when
    by_weekday = [
        absence_rate(membership, absences, lambda s, d, w=w: d.weekday() == w) for w in range(5)
    ]

    # then
    monday, tuesday, wednesday, thursday, friday = by_weekday
    assert min(monday, friday) > 1.08 * max(tuesday, wednesday, thursday)


def test_the_day_before_a_break_is_missed_more(membership, absences, school_days):
    # given: school days followed by four or more days without school
    before_break = {
        (school, d)
        for (school, _year), days in school_days.items()
        for d, following in itertools.pairwise(days)
        if (following - d).days >= 4
    }
    schools_of = defaultdict(set)
    for student, school in membership:
        schools_of[student].add(school)

    def is_before_break(student, d):
        return any((school, d) in before_break for school in schools_of[student])

    # when
    before = absence_rate(membership, absences, is_before_break)
    other = absence_rate(membership, absences, lambda s, d: not is_before_break(s, d))

    # then
    assert before > 1.2 * other


def test_a_bus_that_does_not_run_keeps_many_of_its_riders_home(files):
    # when
    stranded = Counter(
        (e["date"], e["reason"]) for e in read(files, "attendance_events") if e["code"] == "TRN"
    )

    # then
    assert stranded
    assert all(reason.startswith("Bus ") for _date, reason in stranded)
    sizes = sorted(stranded.values())
    assert sizes[len(sizes) // 2] >= 5


def test_the_winter_wave_raises_absences_in_january_and_february(membership, absences):
    # when
    winter = absence_rate(membership, absences, lambda s, d: d.month in (1, 2))
    autumn = absence_rate(membership, absences, lambda s, d: d.month in (9, 10))

    # then
    assert winter > 1.2 * autumn


def test_homeless_students_miss_more_school_while_homeless(files, membership, absences):
    # given
    homeless = defaultdict(list)
    for row in read(files, "student_characteristics"):
        if row["characteristic"] == "homeless":
            end = day(row["end_date"]) or TODAY
            homeless[row["student_id"]].append((day(row["start_date"]), end))

    def is_homeless(student, d):
        return any(start <= d <= end for start, end in homeless.get(student, ()))

    # when
    while_homeless = absence_rate(membership, absences, is_homeless)
    others = absence_rate(membership, absences, lambda s, d: not is_homeless(s, d))

    # then
    assert while_homeless > 1.3 * others


def test_illness_often_lasts_several_school_days(files, school_days):
    # given
    events = read(files, "attendance_events")
    ill = {(e["student_id"], e["school_id"], day(e["date"])) for e in events if e["code"] == "ILL"}
    next_day = {
        (school, d): following
        for (school, _year), days in school_days.items()
        for d, following in itertools.pairwise(days)
    }

    # when
    continued = sum(
        (student, school, next_day.get((school, d))) in ill for student, school, d in ill
    )

    # then
    assert continued > 0.3 * len(ill)


def test_high_school_has_more_unexcused_absences_than_elementary(files):
    # given
    grades = {
        (s["student_id"], s["school_year"]): int(s["grade"]) for s in read(files, "enrollments")
    }
    codes = {row["code"]: row["category"] for row in read(files, "attendance_codes")}
    share = {}
    for band, low, high in (("elementary", 0, 5), ("high", 9, 12)):
        categories = Counter()
        for e in read(files, "attendance_events"):
            year = "2024-2025" if day(e["date"]) < dt.date(2025, 7, 1) else "2025-2026"
            if low <= grades[e["student_id"], year] <= high:
                categories[codes[e["code"]]] += 1
        share[band] = categories["unexcused"] / (categories["unexcused"] + categories["excused"])

    # then
    assert share["high"] > share["elementary"] + 0.08


def test_the_code_table_maps_local_codes_to_homeroom_categories(files):
    # when
    codes = read(files, "attendance_codes")
    used = {e["code"] for e in read(files, "attendance_events")}

    # then
    assert {row["category"] for row in codes} == set(Category.values)
    by_code = {row["code"]: row for row in codes}
    assert by_code["A"]["category"] == "unexcused" and by_code["A"]["day_fraction"] == "1"
    assert by_code["ISS"]["category"] == "iss" and by_code["ISS"]["day_fraction"] == "0"
    assert by_code["HD"]["day_fraction"] == "0.5"
    assert {"A", "U", "E", "ILL", "MED", "OSS", "ISS", "T", "HD", "ED", "TRN"} <= used


def test_calendars_are_us_style_with_180_days_and_differ_per_school(files, school_days):
    # given
    calendar = build_calendar(2025)
    kinds = {
        (row["school_id"], day(row["date"])): row["kind"]
        for row in read(files, "calendar_dates")
        if row["school_year"] == "2025-2026"
    }

    # then
    assert len(calendar.columns) == 180
    assert dt.date(2025, 8, 1) < calendar.start < dt.date(2025, 8, 31)
    assert kinds["301", dt.date(2025, 9, 1)] == "holiday"  # Labor Day
    assert kinds["301", dt.date(2025, 11, 27)] == "holiday"  # Thanksgiving
    assert kinds["301", dt.date(2025, 12, 25)] == "holiday"
    assert kinds["301", dt.date(2026, 1, 19)] == "holiday"  # Martin Luther King Jr. Day
    assert kinds["301", dt.date(2025, 9, 6)] == "weekend"
    assert len(school_days["301", "2025-2026"]) == 180
    assert len(school_days["101", "2025-2026"]) == 178  # parent conferences
    dates = sorted(d for (school, d) in kinds if school == "101")
    assert dates == [dates[0] + dt.timedelta(days=k) for k in range(len(dates))]


def test_students_move_up_a_grade_and_change_school_level(files):
    # given
    spans = read(files, "enrollments")
    by_student = defaultdict(dict)
    for s in spans:
        by_student[s["student_id"]][s["school_year"]] = s

    # when
    both = [y for y in by_student.values() if {"2024-2025", "2025-2026"} <= set(y)]
    promoted = [y for y in both if int(y["2025-2026"]["grade"]) == int(y["2024-2025"]["grade"]) + 1]
    fifth_to_sixth = [
        y
        for y in both
        if y["2024-2025"]["grade"] == "5"
        and y["2025-2026"]["school_id"].startswith("2")
        and y["2024-2025"]["school_id"].startswith("1")
    ]
    reasons = Counter(s["exit_reason"] for s in spans)

    # then
    assert len(promoted) > 0.95 * len(both)
    assert fifth_to_sixth
    assert reasons["graduated"] > 10
    assert reasons["transferred_in_district"] > 0
    assert reasons["moved_out_of_district"] > 0
    first_span = {}
    for s in sorted(spans, key=lambda s: s["entry_date"]):
        first_span.setdefault(s["student_id"], s)
    arrivals = [
        s
        for s in first_span.values()
        if s["school_year"] == "2024-2025" and "2024-09-15" < s["entry_date"] < "2025-06-01"
    ]
    assert arrivals  # new students during the year


def test_characteristics_are_model_kinds_and_some_change_during_a_year(files):
    # when
    rows = read(files, "student_characteristics")
    first_days = {
        dt.date.fromordinal(int(build_calendar(year).columns[0])).isoformat()
        for year in (2024, 2025)
    }

    # then
    assert {row["characteristic"] for row in rows} <= set(StudentCharacteristic.Kind.values)
    assert {"iep", "english_learner", "econ_disadvantaged", "homeless"} <= {
        row["characteristic"] for row in rows
    }
    started_later = [r for r in rows if r["start_date"] > "2024-09-15"]
    assert any(r["start_date"] not in first_days for r in started_later)
    assert any(r["end_date"] and "2024-09-15" < r["end_date"] < "2025-06-01" for r in rows)


def test_families_have_guardians_languages_and_contact_choices(files):
    # when
    students = read(files, "students")
    links = read(files, "student_guardians")
    preferences = read(files, "contact_preferences")
    guardians = read(files, "guardians")

    # then
    per_student = Counter(link["student_id"] for link in links)
    assert {per_student[s["student_id"]] for s in students} <= {1, 2}
    shared = Counter(link["guardian_id"] for link in links)
    assert max(shared.values()) >= 2  # siblings share guardians
    languages = Counter(s["home_language"] for s in students)
    assert languages.most_common(2)[0][0] == "en" and languages.most_common(2)[1][0] == "es"
    assert len(languages) >= 6
    preferred = Counter(p["guardian_id"] for p in preferences if p["preferred"] == "true")
    assert set(preferred.values()) == {1}
    assert len(preferred) == len(guardians)
    assert any(p["consent"] == "opted_out" for p in preferences)
    assert not any(p["consent"] == "opted_out" and p["preferred"] == "true" for p in preferences)
    assert len({s["race_ethnicity"] for s in students}) >= 5


def test_each_enrollment_span_has_one_homeroom_with_its_dates(files):
    # given
    sections = {
        (s["school_id"], s["school_year"], s["section_id"]): s for s in read(files, "sections")
    }
    staff = {row["staff_id"] for row in read(files, "staff")}

    # when
    spans = read(files, "enrollments")
    memberships = read(files, "section_enrollments")

    # then
    assert len(memberships) == len(spans)
    for span, member in zip(spans, memberships, strict=True):
        assert (span["student_id"], span["entry_date"], span["exit_date"]) == (
            member["student_id"],
            member["start_date"],
            member["end_date"],
        )
        section = sections[member["school_id"], member["school_year"], member["section_id"]]
        assert section["school_id"] == span["school_id"]
        assert section["grade"] == span["grade"]
        assert section["teacher_id"] in staff


def test_shifting_dynamics_move_absences_within_a_year_and_keep_the_roster(files, tmp_path):
    """Drift, shocks at home and bad months make a student's autumn say less about their
    spring: the correlation of absences between the halves of 2024-25 falls."""
    shifting = write(
        DistrictParameters(
            students=500, schools=4, years=2, seed=11, today=TODAY, dynamics="shifting"
        ),
        tmp_path,
    )
    assert (shifting / "students.csv").read_bytes() == (files / "students.csv").read_bytes()

    def halves(directory: Path) -> list[tuple[int, int]]:
        counts = defaultdict(lambda: [0, 0])
        for event in read(directory, "attendance_events"):
            date = day(event["date"])
            absent = event["code"] in ("A", "U", "E", "ILL", "MED")
            if absent and dt.date(2024, 9, 1) <= date < dt.date(2025, 7, 1):
                counts[event["student_id"]][date >= dt.date(2025, 1, 20)] += 1
        return [tuple(c) for c in counts.values()]

    def correlation(pairs: list[tuple[int, int]]) -> float:
        n = len(pairs)
        mean_a, mean_b = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
        cov = sum((a - mean_a) * (b - mean_b) for a, b in pairs)
        var_a = sum((a - mean_a) ** 2 for a, _ in pairs)
        var_b = sum((b - mean_b) ** 2 for _, b in pairs)
        return cov / (var_a * var_b) ** 0.5

    steady, moved = correlation(halves(files)), correlation(halves(shifting))
    assert moved < steady - 0.05, (steady, moved)


@pytest.mark.parametrize(
    ("field", "value"),
    [("students", 0), ("schools", 0), ("years", 0), ("seed", -1), ("dynamics", "wobbly")],
)
def test_parameters_refuse_impossible_values(field, value):
    with pytest.raises(ValueError, match=field):
        DistrictParameters(**{field: value})
