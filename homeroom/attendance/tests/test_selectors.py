"""One student's attendance records: their events, as the SIS sent them.

What they count for is the metrics engine's: its rules are tested per profile in
homeroom/metrics/tests/test_profiles.py, a student's months and what each user sees of
the totals in homeroom/metrics/tests/test_selectors.py.
"""

import datetime as dt

import pytest

from homeroom.access.gatekeeper import access_student
from homeroom.attendance.selectors import student_events
from homeroom.conftest import add_absence, school_day

pytestmark = pytest.mark.django_db


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
    # when her events are listed
    events = list(student_events(access, school_year=cast.this_year))
    # then both are listed, newest first
    assert [event.date for event in events] == [weekday, saturday]


def test_events_of_another_year_are_not_listed(cast):
    # given Ana with an event on last year's last day and on this year's first school day
    first_day = school_day(cast, cast.lincoln, 1)
    add_absence(cast, cast.ana, cast.lincoln, cast.last_year.end_date)
    add_absence(cast, cast.ana, cast.lincoln, first_day)
    access = access_student(cast.admin, cast.ana.pk)
    # when this year's events are listed
    events = list(student_events(access, school_year=cast.this_year))
    # then only this year's is
    assert [event.date for event in events] == [first_day]
