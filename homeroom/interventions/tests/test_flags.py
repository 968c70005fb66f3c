"""Flags computed from case data: no contact since flagged, follow-ups overdue."""

import pytest

from homeroom.interventions import actions
from homeroom.interventions.flags import do_evaluate_case_flags
from homeroom.interventions.tests.conftest import day, open_case, raise_flag
from homeroom.warnings.actions import analysis_engine, do_evaluate_flags
from homeroom.warnings.models import Flag

pytestmark = pytest.mark.django_db


def case_flags(kind: str) -> list[tuple[str, object, object]]:
    rows = Flag.objects.filter(kind=kind).order_by("pk")
    return [(f.student.first_name, f.raised_on, f.cleared_on) for f in rows]


def test_no_contact_is_flagged_after_ten_school_days_and_cleared_by_a_contact(playbook):
    cast = playbook
    # given Ana flagged on the 5th school day
    raise_flag(cast, "ana", day(cast, 5))
    # when the case flags are evaluated 9, then 10 school days later
    assert do_evaluate_case_flags(cast.district, as_of=day(cast, 14))["active"] == 0
    counts = do_evaluate_case_flags(cast.district, as_of=day(cast, 15))
    # then the flag is raised on the 10th school day, with why
    assert counts == {"raised": 1, "cleared": 0, "active": 1}
    flag = Flag.objects.get(kind=Flag.Kind.NO_FOLLOW_UP)
    assert flag.student == cast.ana and flag.raised_on == day(cast, 15)
    assert "no contact with the family logged in 10 school days" in flag.reason
    # and evaluating the same date again changes nothing
    assert do_evaluate_case_flags(cast.district, as_of=day(cast, 15))["raised"] == 0
    # when the teacher reaches the family, the next evaluation clears it
    actions.do_log_contact(
        cast.teacher,
        student_id=cast.ana.pk,
        contacted_on=day(cast, 16),
        channel="call",
        outcome="no_answer",
        with_whom="mother",
    )
    assert do_evaluate_case_flags(cast.district, as_of=day(cast, 16))["cleared"] == 1
    assert case_flags(Flag.Kind.NO_FOLLOW_UP) == [("Ana", day(cast, 15), day(cast, 16))]


def test_a_contact_before_the_flag_does_not_count(playbook):
    cast = playbook
    actions.do_log_contact(
        cast.teacher,
        student_id=cast.ana.pk,
        contacted_on=day(cast, 2),
        channel="text",
        outcome="reached",
        with_whom="father",
    )
    raise_flag(cast, "ana", day(cast, 5))
    assert do_evaluate_case_flags(cast.district, as_of=day(cast, 15))["active"] == 1


def test_an_overdue_follow_up_is_flagged_until_done(playbook):
    cast = playbook
    case = open_case(cast, "gabe", opened_on=day(cast, 3))
    follow_up = actions.do_schedule_follow_up(
        cast.counselor,
        case_id=case.pk,
        due_on=day(cast, 10),
        owner_id=cast.counselor.pk,
        description="Call grandmother",
    )
    assert do_evaluate_case_flags(cast.district, as_of=day(cast, 10))["active"] == 0
    do_evaluate_case_flags(cast.district, as_of=day(cast, 11))
    flag = Flag.objects.get(kind=Flag.Kind.FOLLOW_UP_OVERDUE)
    due = day(cast, 10).strftime("%b %-d, %Y")  # as pages write dates: "Dec 7, 2026"
    assert flag.reason == f"Follow-up overdue since {due}: Call grandmother"
    actions.do_complete_follow_up(
        cast.counselor,
        follow_up_id=follow_up.pk,
        version=1,
        done_on=day(cast, 12),
        outcome="Reached",
    )
    do_evaluate_case_flags(cast.district, as_of=day(cast, 12))
    assert case_flags(Flag.Kind.FOLLOW_UP_OVERDUE) == [("Gabe", day(cast, 11), day(cast, 12))]


def test_a_case_closed_with_its_goal_met_is_not_flagged_again(playbook):
    cast = playbook
    raise_flag(cast, "gabe", day(cast, 5))
    do_evaluate_case_flags(cast.district, as_of=day(cast, 15))
    case = open_case(cast, "gabe", opened_on=day(cast, 15))
    actions.do_close_case(cast.counselor, case_id=case.pk, version=1, reason="goal_met")
    # then the no-contact flag was cleared by the closing, and stays cleared
    assert Flag.objects.get(kind=Flag.Kind.NO_FOLLOW_UP).cleared_on == cast.today
    assert do_evaluate_case_flags(cast.district, as_of=cast.today)["active"] == 0


def test_the_early_warning_evaluation_leaves_case_flags_alone(playbook, summaries):
    cast = playbook
    raise_flag(cast, "ana", day(cast, 5))
    do_evaluate_case_flags(cast.district, as_of=day(cast, 15))
    with analysis_engine(cast.district, as_of=day(cast, 16)) as engine:
        do_evaluate_flags(cast.district, as_of=day(cast, 16), engine=engine)
    # the recent-absences flag set up by hand is the night's to clear; the case flag stays
    assert Flag.objects.get(kind=Flag.Kind.NO_FOLLOW_UP).cleared_on is None
