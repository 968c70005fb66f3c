"""The gatekeeper decides, in SQL, which students each member of the cast may see, and why."""

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from homeroom.access.gatekeeper import (
    Grant,
    StudentNotFound,
    access_student,
    aggregate_scope,
    visible_students,
)
from homeroom.accounts.models import CaseloadAssignment
from homeroom.conftest import EVERYONE, VISIBLE
from homeroom.core.models import School
from homeroom.roster.models import Enrollment, Student

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(shared_cast):
    """The cast, built once for this module (conftest: `shared_cast`); what a test writes
    is rolled back in a savepoint."""
    return shared_cast


EXPECTED_GRANT = {
    ("admin", "hal"): Grant.DISTRICT,
    ("analyst", "ana"): Grant.DISTRICT,
    ("principal", "eli"): Grant.SCHOOL,
    ("counselor", "carla"): Grant.GRADE,
    ("counselor", "gabe"): Grant.CASELOAD,
    ("teacher", "ana"): Grant.SECTION,
    ("viewer", "dev"): Grant.SCHOOL,
}


def names(cast, students) -> set[str]:
    by_pk = {getattr(cast, name).pk: name for name in EVERYONE}
    return {by_pk[student.pk] for student in students}


@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_each_role_sees_exactly_its_students(cast, username):
    # given a member of the cast
    user = getattr(cast, username)
    # when the gatekeeper lists the students they may see
    seen = names(cast, visible_students(user))
    # then it is exactly the students their role and scopes reach
    assert seen == VISIBLE[username]


@pytest.mark.parametrize("username", sorted(VISIBLE))
@pytest.mark.parametrize("student", sorted(EVERYONE))
def test_one_student_is_reachable_exactly_when_listed(cast, username, student):
    user, pupil = getattr(cast, username), getattr(cast, student)
    if student in VISIBLE[username]:
        assert access_student(user, pupil.pk).student == pupil
    else:
        with pytest.raises(StudentNotFound):
            access_student(user, pupil.pk)


@pytest.mark.parametrize(("username", "student"), sorted(EXPECTED_GRANT))
def test_access_says_why_it_was_granted(cast, username, student):
    access = access_student(getattr(cast, username), getattr(cast, student).pk)
    assert access.grant == EXPECTED_GRANT[username, student]


def test_missing_and_forbidden_students_raise_the_same_error(cast):
    # given a student the teacher may not see and an id no student has
    missing_id = Student.objects.order_by("-pk").first().pk + 1
    with pytest.raises(StudentNotFound) as forbidden:
        access_student(cast.teacher, cast.ben.pk)
    with pytest.raises(StudentNotFound) as missing:
        access_student(cast.teacher, missing_id)
    # then nothing in the error tells them apart
    assert str(forbidden.value) == str(missing.value)


def test_anonymous_users_see_nobody(cast):
    assert not visible_students(AnonymousUser()).exists()
    with pytest.raises(StudentNotFound):
        access_student(AnonymousUser(), cast.ana.pk)


def test_teacher_stops_seeing_a_student_who_transferred_out(cast):
    # Eli left Room 3 a month ago: visible then, not now
    while_enrolled = cast.today - dt.timedelta(days=40)
    assert "eli" in names(cast, visible_students(cast.teacher, on=while_enrolled))
    assert "eli" not in names(cast, visible_students(cast.teacher))


def test_ended_caseload_assignment_no_longer_grants_access(cast):
    # Ben was on the counselor's caseload until a month ago
    while_assigned = cast.today - dt.timedelta(days=40)
    assert access_student(cast.counselor, cast.ben.pk, on=while_assigned).grant == Grant.CASELOAD
    with pytest.raises(StudentNotFound):
        access_student(cast.counselor, cast.ben.pk)


def test_grade_scope_follows_the_students_grade_this_year(cast):
    # Dev (grade 11) is outside the counselor's grades 9-10 until placed in grade 10
    Enrollment.objects.filter(student=cast.dev).update(grade=10)
    assert access_student(cast.counselor, cast.dev.pk).grant == Grant.GRADE


def test_new_caseload_assignment_reaches_a_student_outside_the_scopes(cast):
    CaseloadAssignment.objects.create(user=cast.teacher, student=cast.dev, start_date=cast.today)
    assert access_student(cast.teacher, cast.dev.pk).grant == Grant.CASELOAD


def test_principal_sees_last_years_students_only_while_that_year_is_current(cast):
    last_year_day = cast.last_year.start_date + dt.timedelta(days=30)
    assert "hal" in names(cast, visible_students(cast.principal, on=last_year_day))
    assert "hal" not in names(cast, visible_students(cast.principal))


def test_nobody_is_visible_before_the_first_school_year(cast):
    before_any_year = cast.last_year.start_date - dt.timedelta(days=1)
    assert not visible_students(cast.principal, on=before_any_year).exists()


def test_visibility_takes_the_same_queries_whatever_the_number_of_students(cast):
    # given the district's students, filtered in the database not in memory
    with CaptureQueriesContext(connection) as queries:
        count = len(list(visible_students(cast.counselor)))
    # then one query each for the school year, the user's schools, their grade scopes and
    # the students
    assert count == 2
    assert len(queries) == 4


@pytest.mark.parametrize(
    ("username", "district", "schools"),
    [
        ("admin", True, {"101": None, "301": None}),
        ("analyst", True, {"101": None, "301": None}),
        ("principal", False, {"101": None}),
        ("counselor", False, {"301": frozenset({9, 10})}),
        ("viewer", False, {"301": None}),
        ("teacher", False, {}),
        ("outsider", True, {}),
        ("former", False, {}),
    ],
)
def test_aggregate_scope_covers_what_each_role_sees_whole(cast, username, district, schools):
    # given a member of the cast
    user = getattr(cast, username)
    # when the gatekeeper says which totals they may read
    scope = aggregate_scope(user)
    # then it is the district's for district-wide roles, and the schools (or grades) served
    by_local_id = {
        School.objects.get(pk=pk).local_id: grades for pk, grades in scope.schools.items()
    }
    assert (scope.district, by_local_id) == (district, schools)
    assert scope.sees_school(cast.lincoln.pk) == (schools.get("101", 0) is None)
    assert scope.sees_grade(cast.central.pk, 9) == ("301" in schools)
    assert scope.sees_grade(cast.central.pk, 11) == (schools.get("301", 0) is None)
