"""Process measures on a small worked example, every figure counted by hand below.

Every school's calendar in the cast has the same school days (every weekday), so "day n"
is the n-th school day at Lincoln Elementary and at Central High alike. As of day 30:

(flagged, first contact, first intervention, school days to contact, 10th day after the
flag: all school days)

| student | school | flag | contact | intervention | days | 10th | reached by the 10th |
|---|---|---|---|---|---|---|---|
| Ana   | Lincoln | 5  | 8  | -  | 3  | 15 | yes (contact, day 8) |
| Ben   | Lincoln | 5  | 20 | -  | 15 | 15 | no (day 20 is late) |
| Gabe  | Lincoln | 6  | -  | 12 | -  | 16 | yes (intervention, day 12) |
| Carla | Central | 25 | 26 | -  | 1  | 35 | not due yet |

District: 4 flagged; contacted 3, median of 3, 15, 1 = 3; reached 2 of the 3 due.
Lincoln: 3 flagged; contacted 2, median of 3 and 15 = 9; reached 2 of 3.
Central: 1 flagged; contacted 1, median 1; none due.
Gabe's and Carla's cases are the counselor's: 2 flagged, 1 contacted (Carla, 1 day),
reached 1 of 1 due (Gabe).
Follow-ups on Gabe's case, all the counselor's: due day 10 done day 9 (on time); due
day 12 done day 14 (late); due day 20 not done (late); due day 31 (not due yet): 1 of 3.
Plans on Gabe's case: review day 15 reviewed day 15 (on time); review day 25 not reviewed
(late): 1 of 2. Open cases on day 30: Gabe's and Carla's, both the counselor's.
"""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from homeroom.interventions import actions
from homeroom.interventions.measures import Measures, my_follow_through, process_measures
from homeroom.interventions.tests.conftest import day, kind, open_case, raise_flag

pytestmark = pytest.mark.django_db


def contact(cast, user, student, on):
    actions.do_log_contact(
        user,
        student_id=student.pk,
        contacted_on=on,
        channel="call",
        outcome="reached",
        with_whom="parent",
    )


@pytest.fixture
def worked(playbook):
    cast = playbook
    for name, flagged in (("ana", 5), ("ben", 5), ("gabe", 6), ("carla", 25)):
        raise_flag(cast, name, day(cast, flagged))
    contact(cast, cast.principal, cast.ana, day(cast, 8))
    contact(cast, cast.principal, cast.ben, day(cast, 20))
    contact(cast, cast.counselor, cast.carla, day(cast, 26))
    gabe = open_case(cast, "gabe", opened_on=day(cast, 7))
    open_case(cast, "carla", opened_on=day(cast, 25))
    actions.do_start_intervention(
        cast.counselor,
        student_id=cast.gabe.pk,
        intervention_type_id=kind(cast, "weekly-check-in").pk,
        started_on=day(cast, 12),
    )
    for due, done in ((10, 9), (12, 14), (20, None), (31, None)):
        follow_up = actions.do_schedule_follow_up(
            cast.counselor,
            case_id=gabe.pk,
            due_on=day(cast, due),
            owner_id=cast.counselor.pk,
            description=f"Check in (day {due})",
        )
        if done:
            actions.do_complete_follow_up(
                cast.counselor,
                follow_up_id=follow_up.pk,
                version=1,
                done_on=day(cast, done),
                outcome="done",
            )
    for review, reviewed in ((15, 15), (25, None)):
        plan = actions.do_write_plan(
            cast.counselor,
            case_id=gabe.pk,
            goal_rate="0.95",
            goal_until=day(cast, 40),
            steps=[{"step": "Morning call", "who": "Grandmother"}],
            review_on=day(cast, review),
            written_on=day(cast, 8),
        )
        if reviewed:
            actions.do_review_plan(
                cast.counselor,
                plan_id=plan.pk,
                version=1,
                reviewed_on=day(cast, reviewed),
                note="On track",
            )
    return cast


def figures(m: Measures) -> tuple:
    return (
        m.flagged,
        m.contacted,
        m.median_days_to_contact,
        m.reached_in_time,
        m.reach_due,
        m.follow_ups_on_time,
        m.follow_ups_due,
        m.plans_on_time,
        m.plans_due,
        m.open_cases,
    )


def test_the_districts_measures_match_the_worked_example(worked):
    cast = worked
    measures = process_measures(
        cast.admin, start=cast.this_year.start_date, end=cast.today, as_of=day(cast, 30)
    )
    assert figures(measures.overall) == (4, 3, 3, 2, 3, 1, 3, 1, 2, 2)
    schools = {school.name: figures(m) for school, m in measures.schools}
    assert schools == {
        "Central High": (1, 1, 1, 0, 0, 0, 0, 0, 0, 1),
        "Lincoln Elementary": (3, 2, 9, 2, 3, 1, 3, 1, 2, 1),
    }
    assert [(user.username, figures(m)) for user, m in measures.staff] == [
        ("counselor", (2, 1, 1, 1, 1, 1, 3, 1, 2, 2))
    ]
    assert measures.overall.share_reached_in_time == pytest.approx(2 / 3)
    assert measures.overall.share_follow_ups_on_time == pytest.approx(1 / 3)
    assert measures.overall.share_plans_on_time == pytest.approx(1 / 2)


def test_a_principal_sees_their_schools_and_no_staff_ranking(worked):
    cast = worked
    measures = process_measures(
        cast.principal, start=cast.this_year.start_date, end=cast.today, as_of=day(cast, 30)
    )
    assert [school.name for school, _ in measures.schools] == ["Lincoln Elementary"]
    assert figures(measures.overall)[:5] == (3, 2, 9, 2, 3)
    assert measures.staff == []


def test_staff_see_their_own_follow_through_only(worked):
    cast = worked
    mine = my_follow_through(
        cast.counselor, start=cast.this_year.start_date, end=cast.today, as_of=day(cast, 30)
    )
    assert figures(mine) == (2, 1, 1, 1, 1, 1, 3, 1, 2, 2)
    with pytest.raises(PermissionDenied):
        process_measures(cast.counselor, start=cast.today, end=cast.today)


def test_nothing_to_measure_gives_empty_figures_not_zero_shares(playbook):
    cast = playbook
    end = cast.today + dt.timedelta(days=1)
    measures = process_measures(cast.analyst, start=cast.today, end=end)
    assert measures.overall.median_days_to_contact is None
    assert measures.overall.share_reached_in_time is None
    assert measures.overall.share_follow_ups_on_time is None
    assert measures.overall.share_plans_on_time is None
