"""Who sees a case, manages it, reads its confidential notes and assigns its manager."""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser

from homeroom.access.cases import (
    CaseNotFound,
    access_case,
    edits_district_playbook,
    logs_family_contacts,
    of_visible_students,
    opens_cases,
    refers_for_case,
    starts_interventions,
)
from homeroom.conftest import EVERYONE, VISIBLE
from homeroom.roster.models import Student

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(shared_cast):
    """The cast, built once for this module (conftest: `shared_cast`); what a test writes
    is rolled back in a savepoint."""
    return shared_cast


# Of a case at the student's school managed by no one: who is on its team (manages it and
# reads confidential notes) and who assigns its manager, among those who see the student.
ON_TEAM = {"principal", "counselor"}
ASSIGNS = {"principal"}


def case_of(cast, student: str, *, school=None, manager=None) -> SimpleNamespace:
    """A case as the gatekeeper sees one: whose, at which school, managed by whom."""
    pupil = getattr(cast, student)
    home = cast.central if student in {"carla", "dev"} else cast.lincoln
    return SimpleNamespace(
        student_id=pupil.pk,
        school_id=(school or home).pk,
        case_manager_id=manager.pk if manager else None,
    )


@pytest.mark.parametrize("username", sorted(VISIBLE))
@pytest.mark.parametrize("student", sorted(EVERYONE))
def test_a_case_is_visible_exactly_when_its_student_is(cast, username, student):
    user, case = getattr(cast, username), case_of(cast, student)
    if student not in VISIBLE[username]:
        with pytest.raises(CaseNotFound):
            access_case(user, case)
        return
    access = access_case(user, case)
    assert access.student.student.pk == case.student_id
    assert access.reads_confidential == (username in ON_TEAM)
    assert access.manages == (username in ON_TEAM)
    assert access.assigns_manager == (username in ASSIGNS)


def test_a_missing_case_and_a_hidden_one_raise_the_same_error(cast):
    with pytest.raises(CaseNotFound) as missing:
        access_case(cast.teacher, None)
    with pytest.raises(CaseNotFound) as hidden:
        access_case(cast.teacher, case_of(cast, "ben"))
    assert str(missing.value) == str(hidden.value)


def test_the_case_manager_reads_confidential_notes_whatever_their_role(cast):
    # given a teacher managing Ana's case
    access = access_case(cast.teacher, case_of(cast, "ana", manager=cast.teacher))
    assert access.reads_confidential and access.manages and not access.assigns_manager


def test_a_principal_of_another_school_is_not_on_the_case_team(cast):
    # given Gabe's case opened at Central High, which the Lincoln principal does not serve
    access = access_case(cast.principal, case_of(cast, "gabe", school=cast.central))
    assert not access.reads_confidential
    assert not access.manages
    assert not access.assigns_manager


def test_rows_are_restricted_to_visible_students_in_sql(cast):
    rows = of_visible_students(cast.counselor, Student.objects.all(), student_field="pk")
    assert {s.first_name for s in rows} == {"Carla", "Gabe"}


@pytest.mark.parametrize(
    ("username", "opens", "refers", "logs"),
    [
        ("admin", False, False, True),
        ("analyst", False, False, False),
        ("principal", True, False, True),
        ("counselor", True, False, True),
        ("teacher", False, True, True),
        ("viewer", False, False, False),
    ],
)
def test_roles_that_open_cases_ask_for_them_and_log_contacts(cast, username, opens, refers, logs):
    user = getattr(cast, username)
    assert opens_cases(user) == opens
    assert refers_for_case(user) == refers
    assert logs_family_contacts(user) == logs


def test_teachers_start_tier_1_interventions_only(cast):
    assert starts_interventions(cast.teacher, tiers=[1, 2])
    assert not starts_interventions(cast.teacher, tiers=[2, 3])
    assert starts_interventions(cast.counselor, tiers=[3])
    assert not starts_interventions(cast.viewer, tiers=[1])


def test_only_active_district_administrators_edit_the_playbook(cast):
    assert edits_district_playbook(cast.admin)
    assert not edits_district_playbook(cast.analyst)
    assert not edits_district_playbook(cast.former)
    assert not edits_district_playbook(AnonymousUser())
