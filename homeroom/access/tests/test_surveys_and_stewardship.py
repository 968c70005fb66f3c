"""Who builds surveys, reads their roll-up and a household's answers; who reads the coding
audit (the named cast, homeroom/conftest.py)."""

import pytest

from homeroom.access.gatekeeper import StudentNotFound
from homeroom.access.stewardship import reads_coding_audit
from homeroom.access.surveys import (
    NotCaseTeam,
    access_household_answers,
    builds_surveys,
    reads_survey_results,
)
from homeroom.accounts.models import Role
from homeroom.conftest import make_user
from homeroom.interventions.tests.conftest import open_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(shared_cast):
    """The cast, built once for this module (conftest: `shared_cast`); what a test writes
    is rolled back in a savepoint."""
    return shared_cast


CAST = ("admin", "analyst", "principal", "counselor", "teacher", "viewer", "outsider", "former")


def test_district_administrators_build_surveys(cast):
    from django.contrib.auth.models import AnonymousUser

    assert {name for name in CAST if builds_surveys(getattr(cast, name))} == {"admin", "outsider"}
    assert not builds_surveys(AnonymousUser())


def test_whoever_sees_a_whole_school_added_up_reads_the_roll_up(cast):
    # the counselor serves only grades 9-10 of Central: no whole school
    readers = {name for name in CAST if reads_survey_results(getattr(cast, name))}
    assert readers == {"admin", "analyst", "principal", "viewer", "outsider"}


def test_district_roles_read_the_coding_audit(cast):
    readers = {name for name in CAST if reads_coding_audit(getattr(cast, name))}
    assert readers == {"admin", "analyst", "outsider"}


def test_a_households_answers_are_for_the_team_managing_an_open_case(cast):
    # given Gabe's open case, managed by the counselor (his caseload); a Lincoln principal
    case = open_case(cast, "gabe")
    second = make_user("principal2", Role.PRINCIPAL, cast.district)
    second.schools.add(cast.central)
    # then the counselor and Lincoln's principal may read the answers
    assert access_household_answers(cast.counselor, cast.gabe.pk, [case]).student == cast.gabe
    assert access_household_answers(cast.principal, cast.gabe.pk, [case]).student == cast.gabe
    # those who see Gabe otherwise may not; those who do not see him find no such student
    with pytest.raises(NotCaseTeam):
        access_household_answers(cast.admin, cast.gabe.pk, [case])
    with pytest.raises(NotCaseTeam):
        access_household_answers(cast.counselor, cast.gabe.pk, [])
    for user in (cast.teacher, second, cast.outsider):
        with pytest.raises(StudentNotFound):
            access_household_answers(user, cast.gabe.pk, [case])
