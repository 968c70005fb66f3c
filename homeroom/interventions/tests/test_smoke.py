"""A first pass through the front door: a counselor's case from opening to closing."""

import datetime as dt

import pytest

from homeroom.interventions import actions, selectors
from homeroom.interventions.models import Case

pytestmark = pytest.mark.django_db


def test_a_case_from_opening_to_closing(playbook):
    cast = playbook
    case = actions.do_open_case(
        cast.counselor, student_id=cast.carla.pk, source=Case.Source.MANUAL, tier=2
    )
    assert case.case_manager == cast.counselor
    actions.do_log_contact(
        cast.counselor,
        student_id=cast.carla.pk,
        contacted_on=cast.today,
        channel="call",
        outcome="reached",
        with_whom="Carla's aunt",
    )
    actions.do_write_plan(
        cast.counselor,
        case_id=case.pk,
        goal_rate="0.95",
        goal_until=cast.today + dt.timedelta(days=60),
        steps=[{"step": "Morning call", "who": "counselor"}],
        review_on=cast.today + dt.timedelta(days=30),
    )
    file = actions.do_view_case(cast.counselor, case_id=case.pk)
    assert len(file.contacts) == 1 and len(file.plans) == 1
    assert selectors.my_caseload(cast.counselor).cases == [case]
    closed = actions.do_close_case(
        cast.counselor, case_id=case.pk, version=case.version, reason="goal_met"
    )
    assert closed.status == Case.Status.CLOSED
