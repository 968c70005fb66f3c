"""The aggregates the dashboards read, against figures counted by hand from the cast."""

import datetime as dt

import pytest

from homeroom.conftest import add_absence, enroll, school_day, school_days
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import LastYearStanding, SchoolDayAttendance

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
    cells = LastYearStanding.objects.filter(school_year=cast.last_year)
    assert {cell.as_of for cell in cells} == {same_date}
    at_lincoln = {(c.grade, c.students) for c in cells.filter(school=cast.lincoln)}
    overall = {(c.grade, c.students) for c in cells.filter(school__isnull=True)}
    assert at_lincoln == overall == {(5, 1), (3, 1)}
    hal_cell = cells.get(school=cast.lincoln, grade=5)
    enrolled = len([d for d in last_days if d <= same_date])
    assert (hal_cell.days_enrolled, hal_cell.days_absent) == (enrolled, 2.0)
