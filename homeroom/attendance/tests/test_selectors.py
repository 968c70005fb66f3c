"""One student's attendance records: their events, and their days month by month.

Totals (days enrolled and absent, chronic absence, bands) are the metrics engine's: its
rules are tested per profile in homeroom/metrics/tests/test_profiles.py, what each user
sees of them in homeroom/metrics/tests/test_selectors.py.
"""

import datetime as dt

import pytest

from homeroom.access.gatekeeper import access_student
from homeroom.attendance.selectors import absences_by_month, student_events
from homeroom.conftest import add_absence
from homeroom.core.models import CalendarDate
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import StudentSummary
from homeroom.metrics.rules import load_rule_profile

pytestmark = pytest.mark.django_db


def school_day(cast, school, n: int) -> dt.date:
    """The n-th instructional day (1-based) of this year's calendar at `school`."""
    return CalendarDate.objects.get(
        calendar__school=school,
        calendar__school_year=cast.this_year,
        kind=CalendarDate.Kind.INSTRUCTIONAL,
        instructional_index=n,
    ).date


def months_of(cast, student, as_of: dt.date, profile: str = "attendance-works"):
    return absences_by_month(
        access_student(cast.admin, student.pk),
        school_year=cast.this_year,
        as_of=as_of,
        profile=load_rule_profile(profile),
    )


def test_months_add_up_to_the_students_summary(cast):
    # given Ana absent on five school days, and her summary as of the 60th
    for n in (1, 2, 25, 26, 27):
        add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, n))
    as_of = school_day(cast, cast.lincoln, 60)
    do_refresh_summaries(cast.district, as_of=as_of)
    # when her months are read to the same date
    months = months_of(cast, cast.ana, as_of)
    # then they add up to her summary, one row per month
    total = StudentSummary.objects.get(student=cast.ana, school__isnull=True)
    assert sum(m.days_enrolled for m in months) == total.days_enrolled == 60
    assert sum(m.days_absent for m in months) == total.days_absent == 5
    assert [m.month.day for m in months] == [1] * len(months)
    assert len({m.month for m in months}) == len(months)


@pytest.mark.parametrize(
    ("profile", "counted"), [("attendance-works", 0.5), ("california", 0), ("federal-edfacts", 1)]
)
def test_a_half_day_counts_in_its_month_as_the_profile_says(cast, profile, counted):
    # given Ana absent half of one day
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 2), fraction="0.5")
    # when her months are read under a profile
    months = months_of(cast, cast.ana, school_day(cast, cast.lincoln, 10), profile)
    # then the half day counts by its share, not at all, or as a whole day
    assert sum(m.days_absent for m in months) == counted


def test_a_day_with_two_events_counts_once_by_its_largest_share(cast):
    day = school_day(cast, cast.lincoln, 5)
    add_absence(cast, cast.ana, cast.lincoln, day, code="E")
    add_absence(cast, cast.ana, cast.lincoln, day, code="A", fraction="0.5")
    add_absence(cast, cast.ana, cast.lincoln, day, code="T")
    months = months_of(cast, cast.ana, school_day(cast, cast.lincoln, 10))
    assert sum(m.days_absent for m in months) == 1


def test_events_list_every_event_of_the_year_counted_or_not(cast):
    # given an absence on a school day, and one on a Saturday (not counted)
    saturday = next(
        day
        for day in (cast.this_year.start_date + dt.timedelta(days=i) for i in range(7))
        if day.weekday() == 5
    )
    weekday = school_day(cast, cast.lincoln, 10)
    add_absence(cast, cast.ana, cast.lincoln, saturday)
    add_absence(cast, cast.ana, cast.lincoln, weekday, code="E")
    access = access_student(cast.admin, cast.ana.pk)
    # when her events are listed, and her months counted
    events = list(student_events(access, school_year=cast.this_year))
    months = months_of(cast, cast.ana, weekday)
    # then both events are listed, newest first, and only the school day is an absence
    assert [event.date for event in events] == [weekday, saturday]
    assert sum(m.days_absent for m in months) == 1
