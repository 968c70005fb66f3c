"""Refreshing the materialized summaries: in full; after an import or on a later day for
only what changed, with the rows a full refresh writes; in one transaction; and `homeroom
refresh_summaries`, the full recompute on demand."""

import datetime as dt
import io
import re
from dataclasses import replace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from homeroom.access.gatekeeper import access_student
from homeroom.attendance.models import AttendanceCode, AttendanceEvent
from homeroom.conftest import add_absence, enroll, make_calendar
from homeroom.conftest import school_days as cast_school_days
from homeroom.core.models import Calendar, CalendarDate, District, School, SchoolYear
from homeroom.ingest.adapters.tabular import read_tabular
from homeroom.ingest.adapters.tabular.profiles import load_profile
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import Batch, StudentRecord, Where
from homeroom.ingest.sync import do_import
from homeroom.metrics.actions import (
    dashboard_statements,
    dashboards_last_year,
    do_refresh_summaries,
    full_statements,
)
from homeroom.metrics.engines import STAND_INS, Script, database_engine
from homeroom.metrics.models import StudentSummary, SummaryState, TierChange
from homeroom.metrics.rules import RuleProfileError, load_rule_profile
from homeroom.metrics.selectors import absences_by_month
from homeroom.roster.models import Enrollment, Student
from homeroom.web.tests.import_files import PROFILE, attendance_csv, school_days

pytestmark = pytest.mark.django_db

ENROLLED_THIS_YEAR = ("ana", "ben", "carla", "dev", "eli", "gabe")


def summary_rows() -> list[dict]:
    """Every summary row held, without its database id, in a stable order."""
    rows = StudentSummary.objects.values()
    return sorted(
        ({k: v for k, v in row.items() if k != "id"} for row in rows),
        key=lambda row: (row["student_id"], row["school_id"] or 0),
    )


def row_ids(*students) -> set[int]:
    return set(StudentSummary.objects.filter(student__in=students).values_list("pk", flat=True))


def import_csv(cast, tmp_path, rows, name: str = "absences.csv") -> ImportRun:
    """Run `homeroom import` on a small exceptions-only file (it refreshes the summaries)."""
    path = tmp_path / name
    path.write_bytes(attendance_csv(rows))
    call_command(
        "import",
        "csv",
        str(path),
        "--profile",
        PROFILE,
        "--district",
        cast.district.name,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    return ImportRun.objects.latest("pk")


def refresh_command(*arguments: str) -> str:
    output = io.StringIO()
    call_command("refresh_summaries", *arguments, stdout=output)
    return output.getvalue()


# Full refresh


def test_a_full_refresh_writes_a_row_per_student_and_one_per_student_and_school(cast):
    # when the cast's summaries are computed
    state = do_refresh_summaries(cast.district)
    # then each student enrolled this year has one overall row and one at their school
    enrolled = {getattr(cast, name).pk for name in ENROLLED_THIS_YEAR}
    overall = StudentSummary.objects.filter(school__isnull=True)
    per_school = StudentSummary.objects.filter(school__isnull=False)
    assert sorted(overall.values_list("student_id", flat=True)) == sorted(enrolled)
    assert set(per_school.values_list("student_id", "school__local_id")) == {
        (cast.ana.pk, "101"),
        (cast.ben.pk, "101"),
        (cast.eli.pk, "101"),
        (cast.gabe.pk, "101"),
        (cast.carla.pk, "301"),
        (cast.dev.pk, "301"),
    }
    assert set(StudentSummary.objects.values_list("school_year", flat=True)) == {cast.this_year.pk}
    # and the state says for when, for which year and under which profile
    assert state == SummaryState.objects.get(district=cast.district)
    assert (state.school_year, state.profile, state.students) == (
        cast.this_year,
        "attendance-works@1",
        len(enrolled),
    )


def test_refreshing_again_gives_the_same_rows(cast, summaries):
    # given the summaries computed once
    before = summary_rows()
    # when they are computed again, in full
    do_refresh_summaries(cast.district)
    # then every row is the same
    assert summary_rows() == before


def test_a_date_before_any_school_year_computes_nothing(cast, summaries):
    before = summary_rows()
    state = do_refresh_summaries(cast.district, as_of=cast.last_year.start_date.replace(year=1999))
    assert state is None
    assert summary_rows() == before


# After an import


def test_an_attendance_import_recomputes_only_the_students_it_changed_as_a_full_refresh_would(
    cast, tmp_path
):
    # given a first import (codes and attendance at both schools: everyone is computed,
    # Lincoln recorded to the third day)
    first, second, third = school_days(cast, 3)
    import_csv(
        cast,
        tmp_path,
        [
            ("S1", "101", first, "A", ""),
            ("S5", "101", first, "A", ""),
            ("S5", "101", third, "T", ""),
            ("S3", "301", first, "E", ""),
        ],
    )
    assert StudentSummary.objects.filter(school__isnull=True).count() == len(ENROLLED_THIS_YEAR)
    unchanged = (cast.carla, cast.dev, cast.gabe)
    unchanged_rows, changed_rows = row_ids(*unchanged), row_ids(cast.ana, cast.ben, cast.eli)
    # when a second file of Lincoln's first days adds two events and no longer has Eli's
    run = import_csv(
        cast,
        tmp_path,
        [
            ("S1", "101", first, "A", ""),
            ("S2", "101", second, "A", ""),
            ("S1", "101", third, "H", ""),
        ],
        name="lincoln.csv",
    )
    # then the run names the students whose events it changed, and only their rows are new
    counts = run.counts["attendance"]
    assert (counts["inserted"], counts["deleted"]) == (2, 2)
    assert set(run.attendance_students.all()) == {cast.ana, cast.ben, cast.eli}
    assert row_ids(*unchanged) == unchanged_rows
    assert row_ids(cast.ana, cast.ben, cast.eli).isdisjoint(changed_rows)
    ana = StudentSummary.objects.get(student=cast.ana, school__isnull=True)
    ben = StudentSummary.objects.get(student=cast.ben, school__isnull=True)
    eli = StudentSummary.objects.get(student=cast.eli, school__isnull=True)
    assert (ana.days_absent, ben.days_absent, eli.days_absent) == (1.5, 1, 0)
    # and a full refresh gives exactly the same rows
    partial = summary_rows()
    refresh_command("--district", cast.district.name)
    assert summary_rows() == partial


def test_a_later_day_reads_only_what_moved_and_gives_the_rows_of_a_full_refresh(cast, tmp_path):
    # given absences over the last weeks, held before the summaries are computed a week ago
    past = [day for day in cast_school_days(cast.this_year) if day <= cast.today]
    before, after = past[-8], past[-3]
    leaving = [day for day in past if before - dt.timedelta(days=29) <= day]
    assert leaving[0] < after - dt.timedelta(days=29), "a day must leave the last 30 days"
    rows = [
        *[("S1", "101", day, "A", "") for day in past[-11:-5]],  # a run across the week
        ("S2", "101", leaving[0], "A", ""),  # leaves the last 30 days
        ("S3", "301", past[-25], "E", ""),
        ("S3", "301", after, "T", ""),  # a tardy on the later day
        ("S4", "301", past[-4], "H", ""),
        ("S6", "101", past[-20], "A", ""),  # unchanged but for the days enrolled
    ]
    import_csv(cast, tmp_path, rows)
    do_refresh_summaries(cast.district, as_of=before)
    ana = StudentSummary.objects.get(student=cast.ana, school__isnull=True)
    assert (ana.longest_absence_run, ana.days_absent) == (4, 4)
    # when they are brought up to the later day, incrementally
    state = do_refresh_summaries(cast.district, as_of=after, incremental=True)
    incremental = summary_rows()
    # then the rows are those of a full refresh on that day
    do_refresh_summaries(cast.district, as_of=after)
    assert summary_rows() == incremental
    assert state.as_of == after
    ana = StudentSummary.objects.get(student=cast.ana, school__isnull=True)
    assert (ana.longest_absence_run, ana.days_absent) == (6, 6)
    # and after a correction of an old day (Carla's excused day withdrawn), up to today
    rows = [row for row in rows if row[0] != "S3"] + [("S3", "301", after, "T", "")]
    import_csv(cast, tmp_path, rows, name="corrected.csv")
    incremental, today = summary_rows(), SummaryState.objects.get().as_of
    assert today >= past[-1]
    do_refresh_summaries(cast.district, as_of=today)
    assert summary_rows() == incremental
    carla = StudentSummary.objects.get(student=cast.carla, school__isnull=True)
    assert (carla.excused, carla.tardies) == (0, 1)


def test_a_roster_change_may_move_anyone_so_everyone_is_recomputed(cast, summaries):
    # given the summaries held, and an import that renames a student
    held = row_ids(cast.carla)
    batch = Batch(
        students=[StudentRecord("S1", "Ana María", "Alvarez", 3, Where("students.csv", 2))]
    )
    run = do_import(batch, district=cast.district, source_format="csv", files=[])
    # then everyone's rows are recomputed after it
    assert run.counts["students"]["updated"] == 1
    do_refresh_summaries(cast.district, incremental=True)
    assert row_ids(cast.carla).isdisjoint(held)


def test_an_import_that_changed_nothing_leaves_the_summaries_as_they_are(cast, summaries):
    held = row_ids(*[getattr(cast, name) for name in ENROLLED_THIS_YEAR])
    do_import(Batch(), district=cast.district, source_format="csv", files=[])
    assert do_refresh_summaries(cast.district, incremental=True) == summaries
    assert row_ids(*[getattr(cast, name) for name in ENROLLED_THIS_YEAR]) == held


def test_an_import_the_summaries_missed_is_taken_in_by_the_next_refresh(
    cast, tmp_path, monkeypatch
):
    # given the summaries after a first import
    first, second = school_days(cast, 2)
    rows = [("S1", "101", first, "A", "")]
    import_csv(cast, tmp_path, rows)
    assert not ImportRun.objects.filter(summarized=False).exists()
    # when a second import's refresh fails
    path = tmp_path / "more.csv"
    path.write_bytes(attendance_csv([*rows, ("S2", "101", second, "A", "")]))
    batch = read_tabular([path], load_profile(PROFILE))
    run = do_import(batch, district=cast.district, source_format="csv", files=[])
    with monkeypatch.context() as patched:
        patched.setattr(SummaryState.objects, "update_or_create", fail)
        with pytest.raises(RuntimeError):
            do_refresh_summaries(cast.district, incremental=True)
    # then the run is still to be summarized, and the next refresh takes it in
    assert ImportRun.objects.get(summarized=False) == run
    do_refresh_summaries(cast.district, incremental=True)
    assert StudentSummary.objects.get(student=cast.ben, school__isnull=True).days_absent == 1
    assert not ImportRun.objects.filter(summarized=False).exists()
    incremental = summary_rows()
    do_refresh_summaries(cast.district)
    assert summary_rows() == incremental


def fail(*args, **kwargs):
    raise RuntimeError("disk full")


# One transaction


def test_a_refresh_under_a_profile_that_cannot_be_read_keeps_the_previous_rows(cast, summaries):
    # given the summaries held, and then a rule profile name that names no profile
    before = summary_rows()
    cast.district.rule_profile = "no-such-profile"
    cast.district.save(update_fields=["rule_profile"])
    # when a refresh is asked for
    with pytest.raises(RuleProfileError, match="no-such-profile"):
        do_refresh_summaries(cast.district)
    # then the previous rows and state remain
    assert summary_rows() == before
    assert SummaryState.objects.get().profile == "attendance-works@1"


def test_a_refresh_that_fails_after_deleting_keeps_the_previous_rows(cast, summaries, monkeypatch):
    # given the summaries held, and a failure once the new rows are written
    before = summary_rows()

    monkeypatch.setattr(SummaryState.objects, "update_or_create", fail)
    # when a refresh is asked for as of another day
    with pytest.raises(RuntimeError):
        do_refresh_summaries(cast.district, as_of=school_days(cast, 20)[-1])
    # then nothing of it remains: the old rows, as they were
    assert summary_rows() == before
    assert SummaryState.objects.get().as_of == summaries.as_of


# homeroom refresh_summaries


def test_the_command_recomputes_everything_and_says_what_it_wrote(cast, summaries):
    # given the summaries as of today
    as_of = school_days(cast, 20)[-1]
    # when the command recomputes them as of another day
    output = refresh_command("--as-of", as_of.isoformat(), "--district", cast.district.name)
    # then the rows are as of that day, and the output says how many and how fast
    state = SummaryState.objects.get()
    assert state.as_of == as_of
    assert set(StudentSummary.objects.values_list("days_enrolled", flat=True)) == {20}
    rows = StudentSummary.objects.count()
    assert f"{rows} summary rows written for 6 students" in output
    assert (
        f"as of {as_of}, under the Attendance Works (Homeroom's default) rules "
        "(attendance-works@1), in "
    ) in output
    assert output.rstrip().endswith(" s")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--as-of", "09/03/2026"], "'09/03/2026' is not a date; write it as YYYY-MM-DD"),
        (["--district", "Nowhere"], "no district named 'Nowhere'"),
        (["--as-of", "1999-01-04", "--district", "Riverside Unified"], "has no school year"),
        ([], "several districts are held"),
    ],
)
def test_the_command_refuses_what_it_cannot_do_plainly(cast, arguments, message):
    with pytest.raises(CommandError, match=message):
        refresh_command(*arguments)
    assert not SummaryState.objects.exists()


def test_the_command_says_which_profile_cannot_be_read(cast):
    cast.district.rule_profile = "no-such-profile"
    cast.district.save(update_fields=["rule_profile"])
    with pytest.raises(CommandError, match="Riverside Unified: no rule profile 'no-such-profile'"):
        refresh_command("--district", cast.district.name)


# Which calendar counts


def test_a_school_counts_its_days_on_its_only_calendar_whatever_its_code(cast):
    # given Lincoln's calendar named by the SIS (as Ed-Fi files do), not "default"
    expected = lincoln_days(cast)
    Calendar.objects.filter(school=cast.lincoln, school_year=cast.this_year).update(
        code="2026-27 Lincoln Elementary"
    )
    # then Ana's days enrolled are counted on it, in the summaries and the month table
    assert days_counted(cast) == (expected, expected)
    assert expected > 0
    # and a second calendar coded default, with its first week off, is the one counted
    week_off = set(cast_school_days(cast.this_year)[:5])
    make_calendar(cast.lincoln, cast.this_year, holidays=week_off)
    assert days_counted(cast) == (expected - 5, expected - 5)


def lincoln_days(cast) -> int:
    return CalendarDate.objects.filter(
        calendar__school=cast.lincoln,
        calendar__school_year=cast.this_year,
        kind__in=CalendarDate.COUNTED_KINDS,
        date__lte=cast.today,
    ).count()


def days_counted(cast) -> tuple[int, int]:
    """Ana's days enrolled this year: in her summary row, and summed over the month table."""
    state = do_refresh_summaries(cast.district)
    summary = StudentSummary.objects.get(student=cast.ana, school__isnull=True)
    months = absences_by_month(
        access_student(cast.admin, cast.ana.pk),
        school_year=cast.this_year,
        as_of=state.as_of,
        profile=load_rule_profile(cast.district.rule_profile),
    )
    return summary.days_enrolled, sum(month.days_enrolled for month in months)


def test_a_student_who_left_and_came_back_counts_both_spans_and_not_the_gap(cast):
    # given Ana enrolled at Lincoln for the year's first 20 school days, back from the 31st
    days = cast_school_days(cast.this_year)
    Enrollment.objects.filter(student=cast.ana).update(exit_date=days[19])
    Enrollment.objects.create(
        student=cast.ana,
        school=cast.lincoln,
        school_year=cast.this_year,
        grade=3,
        entry_date=days[30],
    )
    # and absent on the 5th day (enrolled), the 25th (away) and the 35th (back)
    for day in (days[4], days[24], days[34]):
        add_absence(cast, cast.ana, cast.lincoln, day)
    # when the summaries are computed as of the 40th school day
    do_refresh_summaries(cast.district, as_of=days[39])
    # then one row for Lincoln and one overall: 20 + 10 days enrolled, 2 of them missed
    rows = StudentSummary.objects.filter(student=cast.ana)
    assert {(r.school_id, r.days_enrolled, r.days_absent) for r in rows} == {
        (cast.lincoln.pk, 30, 2),
        (None, 30, 2),
    }


# Days not recorded yet (issue 19, 1)


def test_days_after_a_schools_last_recorded_day_are_not_counted_as_present(cast, tmp_path):
    # given Lincoln's attendance imported to its 10th school day (Ana absent on the 1st and
    # 10th) and Central's, exported late, only to its 5th (Carla absent on the 5th)
    days = cast_school_days(cast.this_year)
    lincoln = [("S1", "101", days[0], "A", ""), ("S1", "101", days[9], "A", "")]
    import_csv(cast, tmp_path, [*lincoln, ("S3", "301", days[4], "A", "")])
    # when the summaries are computed as of the 12th school day
    do_refresh_summaries(cast.district, as_of=days[11])

    def overall(student):
        row = StudentSummary.objects.get(student=student, school__isnull=True)
        return row.days_enrolled, row.days_absent

    # then each school's days stop at its own last recorded day: no unrecorded day counts
    assert overall(cast.ana) == (10, 2)
    assert overall(cast.ben) == (10, 0)
    assert overall(cast.carla) == (5, 1)
    assert overall(cast.dev) == (5, 0)
    # and once Central's next file arrives, its days count up to its new last day
    import_csv(cast, tmp_path, [("S3", "301", days[4], "A", ""), ("S4", "301", days[10], "T", "")])
    do_refresh_summaries(cast.district, as_of=days[11], incremental=True)
    assert overall(cast.carla) == (11, 1)
    assert overall(cast.ana) == (10, 2)
    incremental = summary_rows()
    do_refresh_summaries(cast.district, as_of=days[11])
    assert summary_rows() == incremental


def test_the_metrics_command_says_which_days_are_not_recorded_yet(cast, tmp_path):
    days = cast_school_days(cast.this_year)
    import_csv(cast, tmp_path, [("S1", "101", days[9], "A", ""), ("S3", "301", days[4], "A", "")])
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "metrics",
        "schools",
        *("--as-of", days[11].isoformat(), "--district", cast.district.name),
        stdout=out,
        stderr=err,
    )
    said = err.getvalue()
    assert f"Lincoln Elementary (101): attendance is recorded only to {days[9]}" in said
    assert f"Central High (301): attendance is recorded only to {days[4]}" in said
    assert f"up to {days[11]} are not counted yet" in said


def test_the_metrics_command_says_when_a_school_has_no_school_day_to_count(cast):
    # given a school whose calendar was never imported
    School.objects.create(
        district=cast.district, local_id="205", name="Oak Middle", lowest_grade=6, highest_grade=8
    )
    err = io.StringIO()
    call_command(
        "metrics",
        "schools",
        *("--as-of", cast.today.isoformat(), "--district", cast.district.name),
        stdout=io.StringIO(),
        stderr=err,
    )
    # then the command says why its figures are zeros, and says nothing of the others
    said = err.getvalue()
    assert "Oak Middle (205): its calendar counts no school day" in said
    assert "Lincoln" not in said and "Central" not in said


def test_a_tier_that_moves_between_refreshes_is_recorded_once(cast):
    # given Gabe's 20 school days computed with no absence (Tier 1)
    days = cast_school_days(cast.this_year)
    do_refresh_summaries(cast.district, as_of=days[19])
    # when 5 absences are recorded in them (25%: Tier 3 from 20%) and the day is refreshed,
    # then refreshed again
    for day in days[10:15]:
        add_absence(cast, cast.gabe, cast.lincoln, day)
    do_refresh_summaries(cast.district, as_of=days[19])
    do_refresh_summaries(cast.district, as_of=days[19])
    # then the move is recorded once, for him alone, as raised
    moves = TierChange.objects.values_list("student", "on", "from_tier", "to_tier", "raised")
    assert list(moves) == [(cast.gabe.pk, days[19], "tier1", "tier3", True)]


def test_a_new_rule_profile_does_not_move_anyones_tier(cast, summaries):
    # given summaries computed under the district's profile, then another profile chosen
    cast.district.rule_profile = "ed-fi-amt"
    cast.district.save()
    # when the summaries are recomputed under it
    do_refresh_summaries(cast.district)
    # then no tier change is recorded: the tiers of two rule sets are not compared
    assert not TierChange.objects.exists()


# Statements kept per connection


def normalized(statements: list[str]) -> list[str]:
    """The statements with their stage tables numbered in order of first mention (a stage's
    name is a counter's, not the statement's)."""
    names: dict[str, str] = {}

    def renamed(match: re.Match) -> str:
        return names.setdefault(match[0], f"stage_{len(names) + 1}")

    return [re.sub(r"homeroom_stage_\d+", renamed, statement) for statement in statements]


@pytest.mark.parametrize("build", [full_statements, dashboard_statements])
def test_kept_statements_with_a_districts_ids_are_those_built_for_it(cast, build):
    # given the cast's district, its window and last year's, and its rule profile
    add_absence(cast, cast.ana, cast.lincoln, school_days(cast, 3)[-1])
    engine = database_engine(cast.district)
    window = engine.window(cast.today)
    last_year = dashboards_last_year(engine, window)
    assert last_year is not None  # the cast has last year: its statements are tested too
    profile = load_rule_profile(cast.district.rule_profile)
    # when the statements are built for stand-in ids, and for the district's own
    kept = Script(engine.backend)
    build(
        kept,
        STAND_INS["district"],
        profile,
        replace(window, school_year_id=STAND_INS["year"]),
        replace(last_year, school_year_id=STAND_INS["last_year"]),
    )
    own = Script(engine.backend)
    build(own, cast.district.pk, profile, window, last_year)
    # then the stand-ins replaced by the district's ids give its own statements, word for word
    ids = {
        STAND_INS["district"]: cast.district.pk,
        STAND_INS["year"]: window.school_year_id,
        STAND_INS["last_year"]: last_year.school_year_id,
    }
    replaced = []
    for statement in kept.statements:
        for stand_in, value in ids.items():
            statement = statement.replace(str(stand_in), str(value))
        replaced.append(statement)
    assert normalized(replaced) == normalized(own.statements)
    assert any(str(STAND_INS["last_year"]) in s for s in kept.statements)


def test_a_district_refreshed_from_statements_kept_for_another_gets_its_own_rows(cast):
    # given the cast's summaries, refreshed (the statements for its days are kept)
    add_absence(cast, cast.ana, cast.lincoln, school_days(cast, 3)[-1])
    do_refresh_summaries(cast.district)
    cast_rows = summary_rows()
    # and a second district with the same school years: one school, one student absent
    # two of the last ten school days
    other = District.objects.create(name="Hillside", timezone=cast.district.timezone)
    years = [
        SchoolYear.objects.create(
            district=other, name=year.name, start_date=year.start_date, end_date=year.end_date
        )
        for year in (cast.last_year, cast.this_year)
    ]
    school = School.objects.create(
        district=other,
        local_id="7",
        name="Hill",
        level="elementary",
        lowest_grade=0,
        highest_grade=5,
    )
    for year in years:
        make_calendar(school, year)
    pupil = Student.objects.create(
        district=other, local_id="H1", first_name="Ida", last_name="Hill", grade=3
    )
    enroll(pupil, school, years[1])
    code = AttendanceCode.objects.create(
        district=other, code="X", description="Out", category="unexcused", day_fraction=1
    )
    days = [day for day in cast_school_days(cast.this_year) if day <= cast.today]
    for day in days[-10:-8]:
        AttendanceEvent.objects.create(student=pupil, school=school, date=day, code=code)
    # when it is refreshed as of the same day
    do_refresh_summaries(other)
    # then its rows are its own, and the cast's are as they were
    overall = StudentSummary.objects.get(student=pupil, school__isnull=True)
    assert (overall.school_year_id, overall.days_enrolled, overall.days_absent) == (
        years[1].pk,
        len(days),
        2.0,
    )
    assert [row for row in summary_rows() if row["student_id"] != pupil.pk] == cast_rows
