"""Reads of flags and forecasts: only visible students, open flags apart from history."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from homeroom.access.gatekeeper import access_student
from homeroom.conftest import add_forecast
from homeroom.roster.models import Enrollment, Student
from homeroom.warnings.methods import method_name
from homeroom.warnings.models import Flag, RiskScore
from homeroom.warnings.selectors import (
    flagged_students,
    student_flags,
    student_risk,
)

pytestmark = pytest.mark.django_db


def raise_flag(cast, student, kind=Flag.Kind.EARLY_ABSENCES, *, days_ago=10, cleared_days_ago=None):
    """A flag on a cast student, raised `days_ago`, cleared `cleared_days_ago` (None: open)."""
    today = cast.today
    cleared = None if cleared_days_ago is None else today - dt.timedelta(days=cleared_days_ago)
    return Flag.objects.create(
        student=student,
        school_year=cast.this_year,
        kind=kind,
        raised_on=today - dt.timedelta(days=days_ago),
        cleared_on=cleared,
        checked_on=cleared or today,
        reason=f"{student.first_name}: {Flag.Kind(kind).label.lower()}",
    )


def score(cast, student, probability: float, *, method="model") -> RiskScore:
    """A stored forecast for a cast student, made by the district's forecast version 1."""
    return add_forecast(
        cast,
        student,
        probability,
        week=6,
        method=method,
        factors=["Absent 4 of the last 30 days", "Chronically absent last year"],
        chronic_last_year=True,
    )


def test_teacher_sees_only_their_own_students_flags(cast):
    # given open flags on Ana (the teacher's), Ben and Carla (not theirs)
    for student in (cast.ana, cast.ben, cast.carla):
        raise_flag(cast, student)
    # when the teacher and the admin ask for the flagged students
    teachers = list(flagged_students(cast.teacher))
    admins = list(flagged_students(cast.admin))
    # then the teacher gets Ana alone, the admin all three
    assert teachers == [cast.ana]
    assert [flag.reason for flag in teachers[0].open_flags] == ["Ana: absences early in the year"]
    assert set(admins) == {cast.ana, cast.ben, cast.carla}
    assert list(flagged_students(cast.outsider)) == []


def test_cleared_flags_appear_only_in_the_history(cast):
    # given Ana with an open flag and two cleared ones, Ben with a cleared flag only
    open_flag = raise_flag(cast, cast.ana, Flag.Kind.CONSECUTIVE, days_ago=3)
    older = raise_flag(cast, cast.ana, days_ago=40, cleared_days_ago=30)
    newer = raise_flag(cast, cast.ana, Flag.Kind.BAND, days_ago=20, cleared_days_ago=10)
    raise_flag(cast, cast.ben, days_ago=40, cleared_days_ago=30)
    # when the flagged students and Ana's flags are read
    flagged = list(flagged_students(cast.admin))
    history = student_flags(access_student(cast.admin, cast.ana.pk))
    # then Ben is not flagged, Ana is with her open flag only, and her history lists the
    # open flag first, then the cleared ones, the most recently cleared first
    assert flagged == [cast.ana]
    assert flagged[0].open_flags == [open_flag]
    assert flagged[0].open_flag_count == 1
    assert history == [open_flag, newer, older]


def test_kind_filter_keeps_students_with_an_open_flag_of_that_kind(cast):
    # given Ana flagged for early absences and consecutive absences, Ben for early absences,
    # and Gabe once for consecutive absences, since cleared
    raise_flag(cast, cast.ana)
    raise_flag(cast, cast.ana, Flag.Kind.CONSECUTIVE)
    raise_flag(cast, cast.ben)
    raise_flag(cast, cast.gabe, Flag.Kind.CONSECUTIVE, days_ago=30, cleared_days_ago=20)
    # when the admin asks for students with consecutive absences
    consecutive = list(flagged_students(cast.admin, kind=Flag.Kind.CONSECUTIVE))
    # then only Ana is listed, with all her open flags
    assert consecutive == [cast.ana]
    assert {flag.kind for flag in consecutive[0].open_flags} == {
        Flag.Kind.EARLY_ABSENCES,
        Flag.Kind.CONSECUTIVE,
    }
    assert list(flagged_students(cast.admin, kind=Flag.Kind.LONG_ABSENCE)) == []
    assert set(flagged_students(cast.admin, kind=None)) == {cast.ana, cast.ben}


def test_flagged_students_highest_forecast_first_then_most_flags(cast):
    # given four flagged students: two forecast, two not (Dev with more flags than Carla)
    for student in (cast.ana, cast.ben, cast.carla, cast.dev):
        raise_flag(cast, student)
    raise_flag(cast, cast.dev, Flag.Kind.CONSECUTIVE)
    score(cast, cast.ana, 0.2)
    score(cast, cast.ben, 0.7)
    # when the admin lists them
    flagged = list(flagged_students(cast.admin))
    # then the highest forecast leads, and those without a forecast follow, most flags first
    assert flagged == [cast.ben, cast.ana, cast.dev, cast.carla]
    assert [student.risk_probability for student in flagged] == [0.7, 0.2, None, None]
    assert flagged[0].school_name == "Lincoln Elementary"


def test_student_risk_is_the_stored_forecast_or_none(cast):
    # given a forecast for Ana and none for Ben
    stored = score(cast, cast.ana, 0.42, method="september")
    # then Ana's is read with its model, and Ben has none
    ana = student_risk(access_student(cast.admin, cast.ana.pk))
    assert ana == stored
    assert ana.model.version == 1
    assert method_name(ana.method) == "Baseline: 2+ absences in September"
    assert student_risk(access_student(cast.admin, cast.ben.pk)) is None


def _read_everything(user) -> list:
    return [
        (
            student.school_name,
            student.risk_probability,
            [flag.reason for flag in student.open_flags],
        )
        for student in flagged_students(user)
    ]


def test_flagged_students_cost_the_same_queries_for_more_students(cast):
    # given two flagged students, then thirty more, each forecast and at a school
    for student in (cast.ana, cast.ben):
        raise_flag(cast, student)
        score(cast, student, 0.5)
    with CaptureQueriesContext(connection) as few:
        _read_everything(cast.admin)
    for number in range(30):
        student = Student.objects.create(
            district=cast.district, local_id=f"X{number}", first_name="P", last_name="Z", grade=1
        )
        Enrollment.objects.create(
            student=student,
            school=cast.lincoln,
            school_year=cast.this_year,
            grade=1,
            entry_date=cast.this_year.start_date,
        )
        raise_flag(cast, student)
        raise_flag(cast, student, Flag.Kind.CONSECUTIVE)
        score(cast, student, 0.1)
    # when every student's flags, forecast and school are read
    with CaptureQueriesContext(connection) as many:
        _read_everything(cast.admin)
    # then the number of queries does not grow with the students
    assert len(many) == len(few)
