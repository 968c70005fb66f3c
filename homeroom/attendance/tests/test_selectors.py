"""Attendance so far: days enrolled from the calendar index, absences from events."""

import datetime as dt

import pytest

from homeroom.access.gatekeeper import access_student
from homeroom.attendance.selectors import (
    absences_by_month,
    district_attendance,
    school_attendance,
    student_attendance,
)
from homeroom.conftest import add_absence
from homeroom.core.models import CalendarDate
from homeroom.roster.models import Enrollment, Student

pytestmark = pytest.mark.django_db


def school_day(cast, school, n: int) -> dt.date:
    """The n-th instructional day (1-based) of this year's calendar at `school`."""
    return CalendarDate.objects.get(
        calendar__school=school,
        calendar__school_year=cast.this_year,
        kind=CalendarDate.Kind.INSTRUCTIONAL,
        instructional_index=n,
    ).date


def attendance_of(cast, student, as_of, user=None):
    rows = student_attendance(
        user or cast.admin,
        school_year=cast.this_year,
        as_of=as_of,
        students=Student.objects.filter(pk=student.pk),
    )
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize(
    ("absences", "chronic", "band"),
    [(0, False, "satisfactory"), (1, False, "at_risk"), (2, True, "moderate"), (4, True, "severe")],
)
def test_two_absences_in_twenty_days_is_chronic(cast, absences, chronic, band):
    # given Ana enrolled 20 school days and absent on some of them
    day_20 = school_day(cast, cast.lincoln, 20)
    for n in range(1, absences + 1):
        add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, n))
    # when her attendance is read as of the 20th day
    row = attendance_of(cast, cast.ana, day_20)
    # then 2/20 = 10% absent is chronic under "absent >= 10%"
    assert row.days_enrolled == 20
    assert row.days_absent == absences
    assert row.chronic is chronic
    assert row.band == band


def test_student_under_the_minimum_days_is_not_counted(cast):
    day_9 = school_day(cast, cast.lincoln, 9)
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 1))
    row = attendance_of(cast, cast.ana, day_9)
    assert row.days_enrolled == 9
    assert row.chronic is None
    assert row.band == ""


def test_entry_and_exit_days_both_count(cast):
    # given a span from the 3rd to the 7th school day
    Enrollment.objects.filter(student=cast.ana).update(
        entry_date=school_day(cast, cast.lincoln, 3), exit_date=school_day(cast, cast.lincoln, 7)
    )
    row = attendance_of(cast, cast.ana, school_day(cast, cast.lincoln, 30))
    assert row.days_enrolled == 5


def test_events_outside_membership_or_school_days_are_not_counted(cast):
    # given an absence on a Saturday, one before entry, and one after Eli withdrew
    saturday = next(
        day
        for day in (cast.this_year.start_date + dt.timedelta(days=i) for i in range(7))
        if day.weekday() == 5
    )
    add_absence(cast, cast.ana, cast.lincoln, saturday)
    Enrollment.objects.filter(student=cast.ana).update(entry_date=school_day(cast, cast.lincoln, 3))
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 2))
    exit_date = Enrollment.objects.get(student=cast.eli).exit_date
    add_absence(cast, cast.eli, cast.lincoln, exit_date + dt.timedelta(days=1))
    # then none of them is an absence
    as_of = cast.today
    assert attendance_of(cast, cast.ana, as_of).days_absent == 0
    assert attendance_of(cast, cast.eli, as_of).days_absent == 0


def test_a_day_with_two_events_counts_once_by_its_largest_share(cast):
    day = school_day(cast, cast.lincoln, 5)
    add_absence(cast, cast.ana, cast.lincoln, day, code="E")
    add_absence(cast, cast.ana, cast.lincoln, day, code="A", fraction="0.5")
    add_absence(cast, cast.ana, cast.lincoln, day, code="T")
    row = attendance_of(cast, cast.ana, school_day(cast, cast.lincoln, 10))
    assert row.days_absent == 1
    assert row.excused == 1
    assert row.unexcused == 0
    assert row.tardies == 1


def test_partial_absence_counts_its_share(cast):
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 2), fraction="0.5")
    row = attendance_of(cast, cast.ana, school_day(cast, cast.lincoln, 10))
    assert row.days_absent == 0.5
    assert row.attendance_rate == pytest.approx(0.95)


def test_student_at_two_schools_is_counted_at_each_and_once_in_the_district(cast):
    # given Gabe moving from Lincoln to Central after 31 school days, 4 absences at each
    move = 31
    Enrollment.objects.filter(student=cast.gabe).update(
        exit_date=school_day(cast, cast.lincoln, move)
    )
    Enrollment.objects.create(
        student=cast.gabe,
        school=cast.central,
        school_year=cast.this_year,
        grade=cast.gabe.grade,
        entry_date=school_day(cast, cast.central, move + 1),
    )
    for n in (1, 2, 3, 4):
        add_absence(cast, cast.gabe, cast.lincoln, school_day(cast, cast.lincoln, n))
        add_absence(cast, cast.gabe, cast.central, school_day(cast, cast.central, move + n))
    as_of = school_day(cast, cast.central, 2 * move)
    # when read per school and for the district
    schools = {
        row.school.name: row
        for row in school_attendance(cast.admin, school_year=cast.this_year, as_of=as_of)
    }
    district = district_attendance(cast.admin, school_year=cast.this_year, as_of=as_of)
    gabe = attendance_of(cast, cast.gabe, as_of)
    # then 4/31 is chronic at each school, and Gabe is one student district-wide
    assert gabe.days_enrolled == 62
    assert gabe.days_absent == 8
    assert schools["Lincoln Elementary"].chronic_count == 1
    assert schools["Central High"].chronic_count == 1
    assert district.chronic_count == 1
    assert district.students == len({"ana", "ben", "carla", "dev", "eli", "gabe"})


def test_totals_are_over_the_students_the_user_may_see(cast):
    as_of = school_day(cast, cast.lincoln, 20)
    add_absence(cast, cast.ben, cast.lincoln, school_day(cast, cast.lincoln, 1))
    teacher_view = district_attendance(cast.teacher, school_year=cast.this_year, as_of=as_of)
    assert teacher_view.students == 1  # Ana only
    assert teacher_view.days_absent == 0
    rows = student_attendance(cast.teacher, school_year=cast.this_year, as_of=as_of)
    assert [row.student for row in rows] == [cast.ana]


def test_months_add_up_to_the_year(cast):
    for n in (1, 2, 25, 26, 27):
        add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, n))
    as_of = school_day(cast, cast.lincoln, 60)
    months = absences_by_month(
        access_student(cast.admin, cast.ana.pk), school_year=cast.this_year, as_of=as_of
    )
    total = attendance_of(cast, cast.ana, as_of)
    assert sum(m.days_enrolled for m in months) == total.days_enrolled == 60
    assert sum(m.days_absent for m in months) == total.days_absent == 5
    assert [m.month.day for m in months] == [1] * len(months)
