"""The aggregates the dashboards read, against figures counted by hand from the cast."""

import datetime as dt

import pytest

from homeroom.conftest import add_absence, enroll, school_day, school_days
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import GroupCell, SchoolDayAttendance, StandingCell, StudentSummary
from homeroom.roster.models import StudentCharacteristic

pytestmark = pytest.mark.django_db


def _days(cast, school, grade, year):
    rows = SchoolDayAttendance.objects.filter(school=school, grade=grade, school_year=year)
    return {row.date: (row.enrolled, row.days_absent) for row in rows}


def test_each_school_grade_and_day_counts_who_was_enrolled_and_absent(cast):
    # given Ana (grade 3, Lincoln) absent on the 1st day and half the 2nd, and Eli (grade 5)
    # who withdrew a month ago
    first, second = school_day(cast, cast.lincoln, 1), school_day(cast, cast.lincoln, 2)
    add_absence(cast, cast.ana, cast.lincoln, first)
    add_absence(cast, cast.ana, cast.lincoln, second, fraction=0.5)
    # when the summaries are refreshed as of today
    do_refresh_summaries(cast.district)
    # then grade 3 at Lincoln has one student on every school day to today, absent as said
    expected_days = [d for d in school_days(cast.this_year) if d <= cast.today]
    grade3 = _days(cast, cast.lincoln, 3, cast.this_year)
    assert sorted(grade3) == expected_days
    assert grade3[first] == (1, 1.0)
    assert grade3[second] == (1, 0.5)
    assert sum(absent for _, absent in grade3.values()) == 1.5
    # and grade 5 has Eli up to the day he left, and no one after
    month_ago = cast.today - dt.timedelta(days=30)
    grade5 = _days(cast, cast.lincoln, 5, cast.this_year)
    assert sorted(grade5) == [d for d in expected_days if d <= month_ago]
    assert set(grade5.values()) == {(1, 0.0)}


def test_last_year_is_kept_whole_and_as_of_the_same_date(cast):
    # given Hal at Lincoln last year (grade 5), absent on the first two days, and Ben
    # enrolled last year from its tenth day
    last_days = school_days(cast.last_year)
    for day in last_days[:2]:
        add_absence(cast, cast.hal, cast.lincoln, day)
    enroll(cast.ben, cast.lincoln, cast.last_year, grade=3, entry=last_days[9])
    # when the summaries are refreshed
    do_refresh_summaries(cast.district)
    # then last year's days are there to its end: Hal all year, Ben from his tenth day
    hal = _days(cast, cast.lincoln, 5, cast.last_year)
    assert sorted(hal) == last_days
    assert hal[last_days[0]] == (1, 1.0)
    ben = _days(cast, cast.lincoln, 3, cast.last_year)
    assert sorted(ben) == last_days[9:]
    # and last year's standing holds each student at the school and overall, as of the
    # same date a year back
    same_date = cast.today.replace(year=cast.today.year - 1)
    cells = StandingCell.objects.filter(school_year=cast.last_year, as_of=same_date)
    at_lincoln = {(c.grade, c.students) for c in cells.filter(school=cast.lincoln)}
    overall = {(c.grade, c.students) for c in cells.filter(school__isnull=True)}
    assert at_lincoln == overall == {(5, 1), (3, 1)}
    hal_cell = cells.get(school=cast.lincoln, grade=5)
    enrolled = len([d for d in last_days if d <= same_date])
    assert (hal_cell.days_enrolled, hal_cell.days_absent) == (enrolled, 2.0)


def _figures(rows) -> dict:
    """Students, counted, chronic, days enrolled and absent, per band: added up by hand."""
    figures = {"students": 0, "counted": 0, "chronic": 0, "enrolled": 0, "absent": 0.0}
    bands: dict[str, int] = {}
    for row in rows:
        n = getattr(row, "students", 1)
        figures["students"] += n
        figures["enrolled"] += row.days_enrolled
        figures["absent"] += row.days_absent
        if row.counted:
            figures["counted"] += n
            figures["chronic"] += n if row.chronic else 0
            bands[row.band] = bands.get(row.band, 0) + n
    return figures | {"bands": bands}


def test_standing_as_of_the_latest_day_adds_up_to_the_summaries(cast):
    # given absences of Ana (every day of the first two weeks) and of Carla (one day)
    days = [d for d in school_days(cast.this_year) if d <= cast.today]
    for day in days[:10]:
        add_absence(cast, cast.ana, cast.lincoln, day)
    add_absence(cast, cast.carla, cast.central, days[3], fraction=0.5)
    # when the summaries are refreshed
    state = do_refresh_summaries(cast.district)
    # then the standing kept for the summaries' date is the summaries, added up: per school
    # and overall
    kept = StandingCell.objects.filter(school_year=cast.this_year, as_of=state.as_of)
    summaries = StudentSummary.objects.filter(school_year=cast.this_year)
    for school in (cast.lincoln, cast.central, None):
        expected = _figures(summaries.filter(school=school))
        assert _figures(kept.filter(school=school)) == expected


def test_standing_as_of_a_friday_counts_the_days_to_that_friday(cast):
    # given Ana absent on every day of the first two weeks of school
    days = [d for d in school_days(cast.this_year) if d <= cast.today]
    for day in days[:10]:
        add_absence(cast, cast.ana, cast.lincoln, day)
    do_refresh_summaries(cast.district)
    # then as of the second Friday, Ana has every day so far absent: severe chronic
    fridays = [d for d in days if d.weekday() == 4]
    second = fridays[1]
    to_then = [d for d in days if d <= second]
    ana = StandingCell.objects.get(
        school_year=cast.this_year, as_of=second, school=cast.lincoln, grade=3
    )
    assert (ana.students, ana.days_enrolled) == (1, len(to_then))
    assert ana.days_absent == min(10, len(to_then))
    assert (ana.counted, ana.chronic, ana.band, ana.tier) == (True, True, "severe", "tier3")
    # and as of the first Friday she is not counted yet if she had fewer than ten days
    first = StandingCell.objects.get(
        school_year=cast.this_year, as_of=fridays[0], school=cast.lincoln, grade=3
    )
    first_days = [d for d in days if d <= fridays[0]]
    assert first.days_enrolled == len(first_days)
    assert first.counted == (len(first_days) >= 10)


def test_group_cells_count_who_holds_the_characteristic_on_the_summaries_date(cast):
    # given Ana (Lincoln, grade 3) absent on the first two days and an English learner all
    # year; Ben an English learner whose status ended before the year began; Carla one
    # from tomorrow (so not yet); Dev an English learner since the year's start twice over
    # (two overlapping records: still one student)
    first, second = school_day(cast, cast.lincoln, 1), school_day(cast, cast.lincoln, 2)
    add_absence(cast, cast.ana, cast.lincoln, first)
    add_absence(cast, cast.ana, cast.lincoln, second)
    start = cast.this_year.start_date
    learner = StudentCharacteristic.Kind.ENGLISH_LEARNER
    StudentCharacteristic.objects.create(student=cast.ana, kind=learner, start_date=start)
    StudentCharacteristic.objects.create(
        student=cast.ben,
        kind=learner,
        start_date=start - dt.timedelta(days=400),
        end_date=start - dt.timedelta(days=1),
    )
    StudentCharacteristic.objects.create(
        student=cast.carla, kind=learner, start_date=cast.today + dt.timedelta(days=1)
    )
    for _ in range(2):
        StudentCharacteristic.objects.create(student=cast.dev, kind=learner, start_date=start)
    # when the summaries are refreshed
    state = do_refresh_summaries(cast.district)
    # then the group's cells hold Ana and Dev, each once, overall and at their schools, with
    # the days their summaries hold (their days enrolled there, Ana's two absences)
    cells = GroupCell.objects.filter(school_year=cast.this_year, as_of=state.as_of, group=learner)
    summaries = StudentSummary.objects.filter(school_year=cast.this_year)
    for school in (cast.lincoln, cast.central, None):
        expected = _figures(summaries.filter(school=school, student__in=[cast.ana, cast.dev]))
        assert _figures(cells.filter(school=school)) == expected
    overall = _figures(cells.filter(school__isnull=True))
    assert (overall["students"], overall["absent"]) == (2, 2.0)
    # and no other group has a cell (nobody holds another characteristic)
    assert set(GroupCell.objects.values_list("group", flat=True)) == {learner}
