"""Staff accounts: what each role may do, and the scopes (schools, grades, caseloads) that
say for whom. Which students the scopes reach is the gatekeeper's, tested in
homeroom/access/tests/test_gatekeeper.py."""

import datetime as dt

import pytest
from django.db import transaction
from django.db.models.deletion import ProtectedError

from homeroom.accounts.models import CaseloadAssignment, GradeScope, Role, User
from homeroom.conftest import refused_by_the_database
from homeroom.core.models import School
from homeroom.roster.models import Student

pytestmark = pytest.mark.django_db

# Written out, not derived from the code: the roles a district sees whole, and the one
# role that only reads.
SEES_THE_DISTRICT = {"district_admin", "district_analyst"}
READ_ONLY = {"viewer"}


# Roles


@pytest.mark.parametrize("role", list(Role))
def test_only_district_roles_see_the_whole_district(role):
    user = User(username="someone", role=role)
    assert user.is_district_wide is (role.value in SEES_THE_DISTRICT)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_but_the_viewer_may_record_changes_to_student_data(role):
    user = User(username="someone", role=role)
    assert user.may_change_student_data is (role.value not in READ_ONLY)


def test_roles_read_in_the_schools_words(cast):
    assert cast.principal.get_role_display() == "Principal / school administrator"
    assert cast.counselor.get_role_display() == "Counselor / attendance specialist"
    assert [label for _, label in Role.choices] == [
        "District administrator",
        "District analyst",
        "Principal / school administrator",
        "Counselor / attendance specialist",
        "Teacher",
        "Read-only viewer",
    ]


def test_a_new_account_reads_and_changes_nothing_until_given_a_role(cast):
    # given an account created with no role named
    newcomer = User.objects.create_user(username="newcomer", district=cast.district)
    newcomer.refresh_from_db()
    # then it is a read-only viewer of no school
    assert newcomer.role == Role.VIEWER
    assert not newcomer.may_change_student_data
    assert not newcomer.is_district_wide
    assert not newcomer.schools.exists()


def test_an_account_may_belong_to_no_district(db):
    # the operator's command-line superuser serves no district
    operator = User.objects.create_superuser(username="operator", password="x" * 20)
    operator.refresh_from_db()
    assert operator.district is None


def test_accounts_are_listed_by_username(cast):
    names = list(User.objects.filter(district=cast.district).values_list("username", flat=True))
    assert names == [
        "admin",
        "analyst",
        "counselor",
        "former",
        "principal",
        "teacher",
        "viewer",
    ]


def test_a_district_with_staff_cannot_be_deleted(cast):
    with pytest.raises(ProtectedError) as protected, transaction.atomic():
        cast.other_district.delete()
    assert set(protected.value.protected_objects) == {cast.outsider}


# Schools


def test_schools_served_read_both_ways(cast):
    assert list(cast.principal.schools.all()) == [cast.lincoln]
    staff = set(School.objects.get(pk=cast.central.pk).staff.all())
    assert staff == {cast.counselor, cast.viewer}


# Grade scopes


def test_a_grade_scope_reads_as_who_where_and_which_grade(cast):
    scopes = cast.counselor.grade_scopes.order_by("grade")
    assert [str(s) for s in scopes] == [
        "counselor Central High grade 9",
        "counselor Central High grade 10",
    ]
    kindergarten = GradeScope.objects.create(user=cast.counselor, school=cast.lincoln, grade=0)
    assert str(kindergarten) == "counselor Lincoln Elementary grade K"


def test_a_grade_is_scoped_once_per_user_and_school(cast):
    # the same grade at another school, or for another user, is another scope
    GradeScope.objects.create(user=cast.counselor, school=cast.lincoln, grade=9)
    GradeScope.objects.create(user=cast.viewer, school=cast.central, grade=9)
    with refused_by_the_database():
        GradeScope.objects.create(user=cast.counselor, school=cast.central, grade=9)
    assert GradeScope.objects.filter(grade=9).count() == 3


def test_grade_scopes_go_with_their_school_or_their_user(cast):
    # given a school of no students, where the counselor covers grade 6
    middle = School.objects.create(
        district=cast.district, local_id="201", name="Adams Middle", lowest_grade=6, highest_grade=8
    )
    GradeScope.objects.create(user=cast.counselor, school=middle, grade=6)
    # when the school is deleted, the scope goes; Central's stay
    middle.delete()
    assert sorted(cast.counselor.grade_scopes.values_list("grade", flat=True)) == [9, 10]
    # when the counselor's account is deleted, all of theirs go
    cast.counselor.delete()
    assert not GradeScope.objects.exists()


# Caseload assignments


def test_a_caseload_assignment_reads_as_whose_and_which_student(cast):
    assignment = cast.counselor.caseload.get(student=cast.gabe)
    assert str(assignment) == "counselor -> Garcia, Gabe"


def test_an_assignment_keeps_its_dates_open_or_ended(cast):
    dates = {a.student: (a.start_date, a.end_date) for a in cast.counselor.caseload.all()}
    start = cast.this_year.start_date
    assert dates == {
        cast.gabe: (start, None),
        cast.ben: (start, cast.today - dt.timedelta(days=30)),
    }


def test_an_assignment_may_last_one_day_but_not_end_before_it_starts(cast):
    def assign_from_today(end: dt.date) -> CaseloadAssignment:
        return CaseloadAssignment.objects.create(
            user=cast.teacher, student=cast.dev, start_date=cast.today, end_date=end
        )

    assign_from_today(end=cast.today)
    with refused_by_the_database():
        assign_from_today(end=cast.today - dt.timedelta(days=1))


def test_a_student_may_return_to_a_caseload_after_an_assignment_ended(cast):
    # given Ben, off the counselor's caseload a month ago, assigned to her again today
    CaseloadAssignment.objects.create(user=cast.counselor, student=cast.ben, start_date=cast.today)
    # then both periods are kept
    periods = cast.counselor.caseload.filter(student=cast.ben).order_by("start_date")
    assert [(a.start_date, a.end_date) for a in periods] == [
        (cast.this_year.start_date, cast.today - dt.timedelta(days=30)),
        (cast.today, None),
    ]


def test_assignments_go_with_the_student(cast):
    Student.objects.get(pk=cast.gabe.pk).delete()
    assert [a.student for a in cast.counselor.caseload.all()] == [cast.ben]
