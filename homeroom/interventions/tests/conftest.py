"""The cast with the district's default playbook installed, as a new district has it, and
the steps tests take through the actions."""

import datetime as dt

import pytest

from homeroom.accounts.models import Role
from homeroom.conftest import make_user, school_day
from homeroom.interventions.actions import do_install_defaults, do_open_case
from homeroom.interventions.models import Barrier, Case, InterventionType
from homeroom.warnings.models import Flag


@pytest.fixture
def playbook(cast):
    """The cast district's default barriers and intervention types (installed once)."""
    do_install_defaults(cast.district)
    return cast


def barrier(cast, key: str) -> Barrier:
    return Barrier.objects.get(district=cast.district, key=key)


def kind(cast, key: str) -> InterventionType:
    return InterventionType.objects.get(district=cast.district, key=key)


def day(cast, n: int) -> dt.date:
    """The n-th school day of the cast's year (every school's calendar has the same days)."""
    return school_day(cast, cast.lincoln, n)


def open_case(cast, student: str = "gabe", *, by=None, tier: int = 2, opened_on=None) -> Case:
    """A case opened by hand by the counselor (who manages it), today unless said."""
    return do_open_case(
        by or cast.counselor,
        student_id=getattr(cast, student).pk,
        source=Case.Source.MANUAL,
        tier=tier,
        opened_on=opened_on,
    )


def raise_flag(cast, student: str, on: dt.date, kind: str = Flag.Kind.RECENT_ABSENCES) -> Flag:
    """An early-warning flag as the night raises one."""
    return Flag.objects.create(
        student=getattr(cast, student),
        school_year=cast.this_year,
        kind=kind,
        raised_on=on,
        checked_on=on,
        reason="3 absences in the last 30 days",
    )


def lincoln_counselor(cast, username: str = "counselor2"):
    """A second counselor, serving Lincoln Elementary."""
    user = make_user(username, Role.COUNSELOR, cast.district)
    user.schools.add(cast.lincoln)
    return user
