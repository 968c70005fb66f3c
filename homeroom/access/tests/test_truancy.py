"""Who sees a truancy step, who decides it, who reads a school's queue and edits the pack."""

from types import SimpleNamespace

import pytest

from homeroom.access.truancy import (
    StepNotFound,
    access_step,
    decides_step,
    edits_truancy_pack,
    reads_a_queue,
    reads_school_queue,
)
from homeroom.accounts.models import Role
from homeroom.conftest import EVERYONE, VISIBLE, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(shared_cast):
    """The cast, built once for this module (conftest: `shared_cast`); what a test writes
    is rolled back in a savepoint."""
    return shared_cast


# California's first notice is approved by principals and administrators; its meeting also
# by counselors.
NOTICE_APPROVERS = frozenset({"principal", "district_admin"})
MEETING_APPROVERS = frozenset({"principal", "counselor", "district_admin"})


def step_of(cast, student: str, school=None) -> SimpleNamespace:
    """A step as the gatekeeper sees one: whose, at which school."""
    home = cast.central if student in {"carla", "dev"} else cast.lincoln
    return SimpleNamespace(student_id=getattr(cast, student).pk, school_id=(school or home).pk)


@pytest.mark.parametrize("username", sorted(VISIBLE))
def test_a_step_is_seen_exactly_when_its_student_is(cast, username):
    user = getattr(cast, username)
    for name in EVERYONE:
        if name in VISIBLE[username]:
            assert access_step(user, step_of(cast, name), approvers=NOTICE_APPROVERS)
        else:
            with pytest.raises(StepNotFound):
                access_step(user, step_of(cast, name), approvers=NOTICE_APPROVERS)


def test_a_missing_step_looks_like_a_forbidden_one(cast):
    with pytest.raises(StepNotFound):
        access_step(cast.admin, None, approvers=NOTICE_APPROVERS)


def test_the_packs_approvers_decide_and_a_principal_only_at_their_school(cast):
    ana = step_of(cast, "ana")
    # of those who see Ana: the administrator and Lincoln's principal decide her notice
    decided = {
        name
        for name in ("admin", "analyst", "principal", "teacher")
        if access_step(getattr(cast, name), ana, approvers=NOTICE_APPROVERS).decides
    }
    assert decided == {"admin", "principal"}
    # the counselor decides a meeting of a student they see, not a notice
    gabe = step_of(cast, "gabe")
    assert decides_step(cast.counselor, gabe, approvers=MEETING_APPROVERS)
    assert not decides_step(cast.counselor, gabe, approvers=NOTICE_APPROVERS)
    # a principal does not decide a step at a school they do not serve
    assert not decides_step(
        cast.principal, step_of(cast, "ana", cast.central), approvers=NOTICE_APPROVERS
    )
    # a viewer never decides, even if a pack names viewers
    assert not decides_step(cast.viewer, step_of(cast, "carla"), approvers=frozenset({"viewer"}))


def test_school_queues_are_read_by_district_staff_and_those_serving_the_school(cast):
    readers = {
        name: {
            s.name
            for s in (cast.lincoln, cast.central)
            if reads_school_queue(getattr(cast, name), s)
        }
        for name in ("admin", "analyst", "principal", "counselor", "teacher", "viewer", "outsider")
    }
    assert readers == {
        "admin": {"Lincoln Elementary", "Central High"},
        "analyst": {"Lincoln Elementary", "Central High"},
        "principal": {"Lincoln Elementary"},
        "counselor": {"Central High"},
        "teacher": set(),
        "viewer": {"Central High"},
        "outsider": set(),
    }


def test_the_navigation_offers_the_queue_to_whoever_reads_one(cast):
    unplaced = make_user("newprincipal", Role.PRINCIPAL, cast.district)
    offered = {
        name
        for name in ("admin", "analyst", "principal", "counselor", "teacher", "viewer")
        if reads_a_queue(getattr(cast, name))
    }
    assert offered == {"admin", "analyst", "principal", "counselor", "viewer"}
    assert not reads_a_queue(unplaced)


def test_only_active_administrators_edit_the_pack(cast):
    editors = {name for name in VISIBLE if edits_truancy_pack(getattr(cast, name))}
    assert editors == {"admin", "outsider"}
