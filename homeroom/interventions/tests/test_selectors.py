"""What staff read of cases: timelines, my caseload, suggestions, balancing, team meetings."""

import datetime as dt

import pytest

from homeroom.access.gatekeeper import StudentNotFound
from homeroom.conftest import add_absence, school_days
from homeroom.interventions import actions, selectors
from homeroom.interventions.playbook import read_playbook
from homeroom.interventions.tests.conftest import (
    barrier,
    day,
    lincoln_counselor,
    open_case,
    raise_flag,
)
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.warnings.models import Flag

pytestmark = pytest.mark.django_db


def test_a_students_timeline_is_one_chronological_list_of_case_events_and_flags(playbook):
    cast = playbook
    flag = raise_flag(cast, "gabe", day(cast, 5))
    Flag.objects.filter(pk=flag.pk).update(cleared_on=day(cast, 9))
    case = open_case(cast, "gabe", opened_on=day(cast, 6))
    actions.do_log_contact(
        cast.counselor,
        student_id=cast.gabe.pk,
        contacted_on=day(cast, 7),
        channel="home_visit",
        outcome="reached",
        with_whom="Grandmother",
    )
    actions.do_add_case_note(cast.counselor, case_id=case.pk, text="Crisis", topic="family_crisis")
    timeline = selectors.student_timeline(cast.principal, student_id=cast.gabe.pk)
    assert [(e.on, e.kind) for e in timeline] == [
        (day(cast, 5), "flag_raised"),
        (day(cast, 6), "case_opened"),
        (day(cast, 7), "contact"),
        (day(cast, 9), "flag_cleared"),
        (cast.today, "note"),
    ]
    assert timeline[-1].summary == "Confidential note"
    # the analyst sees the same timeline without the confidential event
    seen = selectors.student_timeline(cast.analyst, student_id=cast.gabe.pk)
    assert [e.kind for e in seen] == [e.kind for e in timeline[:-1]]
    with pytest.raises(StudentNotFound):
        selectors.student_timeline(cast.teacher, student_id=cast.gabe.pk)


def test_a_teacher_sees_the_case_status_of_their_student(playbook):
    cast = playbook
    assert selectors.student_case_status(cast.teacher, student_id=cast.ana.pk) is None
    case = open_case(cast, "ana", by=cast.principal, tier=3)
    actions.do_schedule_follow_up(
        cast.principal,
        case_id=case.pk,
        due_on=cast.today + dt.timedelta(days=2),
        owner_id=cast.principal.pk,
        description="Call",
    )
    status = selectors.student_case_status(cast.teacher, student_id=cast.ana.pk)
    assert (status.status, status.tier, status.case_manager) == ("open", 3, "")
    assert status.next_follow_up_on == cast.today + dt.timedelta(days=2)


def test_my_caseload_lists_cases_follow_ups_due_and_overdue_and_new_flags(playbook):
    cast = playbook
    case = open_case(cast, "gabe", opened_on=cast.today - dt.timedelta(days=10))
    for due, text in ((cast.today, "today"), (cast.today - dt.timedelta(days=2), "late")):
        actions.do_schedule_follow_up(
            cast.counselor,
            case_id=case.pk,
            due_on=due,
            owner_id=cast.counselor.pk,
            description=text,
        )
    raise_flag(cast, "carla", cast.today - dt.timedelta(days=1))
    home = selectors.my_caseload(cast.counselor)
    assert home.cases == [case] and home.cases[0].overdue_follow_ups == 1
    assert [f.description for f in home.due_today] == ["today"]
    assert [f.description for f in home.overdue] == ["late"]
    assert [s.first_name for s in home.flagged_without_case] == ["Carla"]


def test_the_playbook_suggests_interventions_for_the_tier_and_barriers(playbook):
    cast = playbook
    case = open_case(cast, "gabe", tier=3)
    actions.do_record_barrier(
        cast.counselor, case_id=case.pk, barrier_id=barrier(cast, "housing").pk
    )
    actions.do_record_barrier(
        cast.counselor, case_id=case.pk, barrier_id=barrier(cast, "family-crisis").pk
    )
    suggested = selectors.suggested_interventions(cast.counselor, case_id=case.pk)
    assert all(kind.tier3 for kind in suggested)
    assert [(k.key, k.matches) for k in suggested[:2]] == [
        ("community-referral", 2),
        ("home-visit", 2),
    ]


def test_caseload_balancing_suggests_the_lightest_weighted_counselor(playbook):
    cast = playbook
    busy, light = lincoln_counselor(cast, "busy"), lincoln_counselor(cast, "light")
    # busy has one Tier 3 case (weight 2); light has one Tier 2 case (weight 1)
    open_case(cast, "ana", by=busy, tier=3)
    open_case(cast, "ben", by=light, tier=2)
    case = open_case(cast, "gabe", by=cast.principal)
    weights = selectors.caseload_weights(cast.principal, school_id=cast.lincoln.pk)
    assert [(s.user.username, s.open_cases, s.weighted) for s in weights] == [
        ("busy", 1, 2),
        ("light", 1, 1),
    ]
    assert selectors.suggested_case_manager(cast.principal, case_id=case.pk).user == light


def test_the_team_meeting_agenda_gathers_students_of_concern_and_what_was_tried(playbook):
    cast = playbook
    since = cast.today - dt.timedelta(days=14)
    raise_flag(cast, "ana", cast.today - dt.timedelta(days=3))
    case = open_case(cast, "gabe", opened_on=cast.today - dt.timedelta(days=20))
    actions.do_schedule_follow_up(
        cast.counselor,
        case_id=case.pk,
        due_on=cast.today - dt.timedelta(days=1),
        owner_id=cast.counselor.pk,
        description="Call grandmother",
    )
    actions.do_write_plan(
        cast.counselor,
        case_id=case.pk,
        goal_rate="0.9",
        goal_until=cast.today + dt.timedelta(days=30),
        steps=[{"step": "Walk to school together", "who": "Neighbor"}],
        review_on=cast.today + dt.timedelta(days=3),
        written_on=cast.today - dt.timedelta(days=5),
    )
    actions.do_change_case_tier(cast.counselor, case_id=case.pk, version=1, tier=3)
    actions.do_record_team_meeting(
        cast.principal,
        school_id=cast.lincoln.pk,
        held_on=since,
        action_items=[actions.ActionItemInput("Bus review", owner_id=cast.principal.pk)],
    )
    agenda = selectors.team_meeting_agenda(cast.principal, school_id=cast.lincoln.pk, on=cast.today)
    assert agenda.since == since
    concerns = {s.student.first_name: s for s in agenda.students}
    assert set(concerns) == {"Ana", "Gabe"}
    assert concerns["Ana"].reasons[0].startswith("New flag: Absences in the last weeks")
    gabe = concerns["Gabe"]
    assert [r.split(":")[0] for r in gabe.reasons] == [
        "Tier change",
        "Overdue follow-up",
        "Plan due for review on " + (cast.today + dt.timedelta(days=3)).strftime("%b %-d, %Y"),
    ]
    assert [e.kind for e in gabe.tried] == ["plan_written"] and gabe.case == case
    assert [i.description for i in agenda.open_action_items] == ["Bus review"]


def test_the_partner_directory_filters_by_school_and_barrier(playbook):
    cast = playbook
    health = barrier(cast, "health")
    actions.do_save_partner(cast.admin, name="Clinic", barrier_ids=[health.pk])
    actions.do_save_partner(cast.admin, name="Central Tutors", school_ids=[cast.central.pk])
    at_lincoln = selectors.partners(cast.counselor, school_id=cast.lincoln.pk)
    assert [p.name for p in at_lincoln] == ["Clinic"]
    assert [p.name for p in selectors.partners(cast.counselor, barrier_id=health.pk)] == ["Clinic"]
    assert at_lincoln[0].open_referrals == 0


def test_the_exported_playbook_reads_back_as_the_districts_playbook(playbook):
    cast = playbook
    text = selectors.export_playbook(cast.admin)
    read = read_playbook(text)
    assert {b.key for b in read.barriers} == set(
        selectors.barriers(cast.admin).values_list("key", flat=True)
    )
    assert len(read.interventions) == selectors.playbook(cast.admin).count()
    assert actions.do_import_playbook(cast.admin, text=text) == {
        "created": 0,
        "updated": 0,
        "retired": 0,
    }
    assert selectors.playbook(cast.admin, tier=1).count() == 3


def test_a_tier_change_found_by_the_refresh_is_on_the_timeline_and_the_team_meeting(
    playbook, tmp_path
):
    # given Gabe's 20 school days computed with no absence, then 5 absences recorded (25%)
    cast = playbook
    days = school_days(cast.this_year)
    do_refresh_summaries(cast.district, as_of=days[19])
    for absent_on in days[10:15]:
        add_absence(cast, cast.gabe, cast.lincoln, absent_on)
    # when the summaries are computed again
    do_refresh_summaries(cast.district, as_of=days[19])
    # then his timeline shows the move in the profile's words
    moved = "Tier 1: universal to Tier 3: intensive (20% or more)"
    timeline = selectors.student_timeline(cast.principal, student_id=cast.gabe.pk)
    assert [(e.on, e.label, e.summary) for e in timeline if e.kind == "tier_change"] == [
        (days[19], "Tier change", moved)
    ]
    # and Lincoln's team meeting that day lists him for it
    agenda = selectors.team_meeting_agenda(
        cast.principal, school_id=cast.lincoln.pk, on=days[19], since=days[18]
    )
    concerns = {c.student.pk: c.reasons for c in agenda.students}
    written = f"{days[19]:%b} {days[19].day}, {days[19].year}"
    assert concerns == {cast.gabe.pk: [f"Tier change: {moved} ({written})"]}


def test_the_timeline_sums_up_the_students_attendance_a_week_at_a_time(playbook):
    # given Gabe absent twice and late once in one week, and excused in a later week
    cast = playbook
    days = [d for d in school_days(cast.this_year) if d <= cast.today]
    week = [d for d in days if d.isocalendar()[:2] == days[-10].isocalendar()[:2]]
    later = days[-1]
    assert len(week) >= 3 and later.isocalendar()[:2] != week[0].isocalendar()[:2]
    add_absence(cast, cast.gabe, cast.lincoln, week[0])
    add_absence(cast, cast.gabe, cast.lincoln, week[1])
    add_absence(cast, cast.gabe, cast.lincoln, week[2], code="T")
    add_absence(cast, cast.gabe, cast.lincoln, later, code="E")
    # when the principal reads his timeline
    timeline = selectors.student_timeline(cast.principal, student_id=cast.gabe.pk)
    # then each week is one line, dated its Monday, counting each kind of event
    mondays = [d - dt.timedelta(days=d.weekday()) for d in (week[0], later)]
    written = [f"Week of {d:%b} {d.day}, {d.year}" for d in mondays]
    assert [(e.on, e.label, e.summary) for e in timeline if e.kind == "attendance_week"] == [
        (mondays[0], "Attendance", f"{written[0]}: Tardy 1, Unexcused absence 2"),
        (mondays[1], "Attendance", f"{written[1]}: Excused absence 1"),
    ]
