"""Case management through the front door: who may do what, what is validated, what is
recorded (timeline event and audit entry in the same transaction), and what is refused."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from homeroom.access.cases import CaseNotFound
from homeroom.access.gatekeeper import StudentNotFound
from homeroom.accounts.models import CaseloadAssignment
from homeroom.core.models import AuditEntry
from homeroom.interventions import actions, selectors
from homeroom.interventions.actions import ActionItemInput, VersionConflict
from homeroom.interventions.models import (
    ActionItem,
    AttendancePlan,
    Case,
    CaseEvent,
    CaseNote,
    FamilyContact,
    FollowUp,
    Partner,
    Referral,
    TeamMeeting,
)
from homeroom.interventions.tests.conftest import (
    barrier,
    day,
    kind,
    lincoln_counselor,
    open_case,
    raise_flag,
)
from homeroom.roster.models import Guardian, StudentGuardian
from homeroom.warnings.models import Flag

pytestmark = pytest.mark.django_db


def snapshot() -> dict[str, int]:
    """How many rows each record of case management holds: to show nothing was saved."""
    models = [Case, AttendancePlan, FollowUp, FamilyContact, CaseNote, Referral, CaseEvent]
    counts = {model.__name__: model.objects.count() for model in models}
    counts["audit"] = AuditEntry.objects.count()
    counts["caseload"] = CaseloadAssignment.objects.count()
    return counts


def plan_fields(cast, **changes):
    fields = {
        "goal_rate": "0.95",
        "goal_until": cast.today + dt.timedelta(days=60),
        "steps": [{"step": "Wake-up call at 7:00", "who": "Mother"}],
        "review_on": cast.today + dt.timedelta(days=30),
    }
    return fields | changes


# Opening, assigning, closing -----------------------------------------------------------


def test_a_counselor_opens_a_case_manages_it_and_sees_the_student_through_it(playbook):
    cast = playbook
    # when the counselor opens a case for Gabe (on their caseload already)
    case = open_case(cast, "gabe", tier=3)
    # then they manage it, at Gabe's school, and the opening is on the timeline and audited
    assert (case.case_manager, case.school, case.tier, case.version) == (
        cast.counselor,
        cast.lincoln,
        3,
        1,
    )
    event = CaseEvent.objects.get(case=case)
    assert event.kind == CaseEvent.Kind.CASE_OPENED and event.on == cast.today
    entry = AuditEntry.objects.get(subject="case")
    assert (entry.user, entry.student_id, entry.action) == (
        cast.counselor,
        cast.gabe.pk,
        AuditEntry.Action.CREATE,
    )
    assert CaseloadAssignment.objects.filter(
        user=cast.counselor, student=cast.gabe, start_date=cast.today
    ).exists()


def test_a_case_from_a_flag_or_a_teachers_referral_says_where_it_came_from(playbook):
    cast = playbook
    flag = raise_flag(cast, "ana", day(cast, 5))
    from_flag = actions.do_open_case(
        cast.principal,
        student_id=cast.ana.pk,
        source=Case.Source.FLAG,
        tier=2,
        source_flag_id=flag.pk,
    )
    referred = actions.do_open_case(
        cast.principal,
        student_id=cast.ben.pk,
        source=Case.Source.REFERRAL,
        tier=2,
        referred_by_id=cast.teacher.pk,
    )
    assert from_flag.source_flag == flag and from_flag.case_manager is None
    assert referred.referred_by == cast.teacher


@pytest.mark.parametrize("username", ["admin", "analyst", "teacher", "viewer"])
def test_only_counselors_and_principals_open_cases(playbook, username):
    before = snapshot()
    with pytest.raises(PermissionDenied):
        open_case(playbook, "ana", by=getattr(playbook, username))
    assert snapshot() == before


def test_a_case_for_a_student_one_may_not_see_is_not_found(playbook):
    with pytest.raises(StudentNotFound):
        open_case(playbook, "ana")  # the counselor does not see Ana


def test_invalid_opening_names_every_field_and_saves_nothing(playbook):
    cast = playbook
    open_case(cast, "gabe")
    before = snapshot()
    with pytest.raises(ValidationError) as error:
        actions.do_open_case(
            cast.counselor,
            student_id=cast.gabe.pk,
            source=Case.Source.FLAG,
            tier=4,
            opened_on=cast.today + dt.timedelta(days=1),
            case_manager_id=cast.viewer.pk,
        )
    assert set(error.value.message_dict) == {
        "opened_on",
        "tier",
        "student",
        "source_flag_id",
        "case_manager_id",
    }
    assert "already has an open case" in error.value.message_dict["student"][0]
    assert snapshot() == before


def test_the_principal_reassigns_the_case_manager_and_caseloads_follow(playbook):
    cast = playbook
    case = open_case(cast, "gabe")
    other = lincoln_counselor(cast)
    # when the principal gives the case to the other counselor
    case = actions.do_assign_case_manager(
        cast.principal, case_id=case.pk, version=case.version, case_manager_id=other.pk
    )
    # then the new manager sees Gabe through the case, and the old assignment ended today
    assert case.case_manager == other and case.version == 2
    assert CaseloadAssignment.objects.filter(user=other, student=cast.gabe, end_date=None).exists()
    ended = CaseloadAssignment.objects.get(user=cast.counselor, start_date=cast.today)
    assert ended.end_date == cast.today
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.MANAGER_ASSIGNED).exists()


def test_counselors_do_not_assign_case_managers(playbook):
    case = open_case(playbook, "gabe")
    with pytest.raises(PermissionDenied):
        actions.do_assign_case_manager(
            playbook.counselor, case_id=case.pk, version=1, case_manager_id=playbook.counselor.pk
        )


def test_the_second_of_two_concurrent_edits_is_refused_with_the_current_version(playbook):
    cast = playbook
    case = open_case(cast, "gabe", tier=2)
    # given the counselor and the principal both read the case at version 1
    read_version = case.version
    actions.do_change_case_tier(cast.counselor, case_id=case.pk, version=read_version, tier=3)
    # when the principal saves their change made on what they read
    with pytest.raises(VersionConflict) as conflict:
        actions.do_change_case_tier(cast.principal, case_id=case.pk, version=read_version, tier=1)
    # then it is refused, says the current version, and the counselor's change stands
    assert conflict.value.current_version == 2
    assert "version 2" in conflict.value.message_dict["version"][0]
    case.refresh_from_db()
    assert (case.tier, case.version) == (3, 2)
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.CASE_UPDATED).count() == 1


def test_closing_with_the_goal_met_clears_the_source_flag_and_the_case_flags(playbook):
    cast = playbook
    flag = raise_flag(cast, "gabe", day(cast, 5))
    overdue = raise_flag(cast, "gabe", day(cast, 8), kind=Flag.Kind.FOLLOW_UP_OVERDUE)
    other = raise_flag(cast, "gabe", day(cast, 6), kind=Flag.Kind.CONSECUTIVE)
    case = actions.do_open_case(
        cast.counselor,
        student_id=cast.gabe.pk,
        source=Case.Source.FLAG,
        tier=2,
        source_flag_id=flag.pk,
        opened_on=day(cast, 6),
    )
    closed = actions.do_close_case(
        cast.counselor, case_id=case.pk, version=case.version, reason="goal_met"
    )
    assert closed.status == Case.Status.CLOSED and closed.closed_on == cast.today
    cleared = set(Flag.objects.filter(cleared_on=cast.today).values_list("pk", flat=True))
    assert cleared == {flag.pk, overdue.pk}
    assert Flag.objects.get(pk=other.pk).cleared_on is None
    # and the case manager's caseload access from the case ends with it
    assignment = CaseloadAssignment.objects.get(user=cast.counselor, start_date=day(cast, 6))
    assert assignment.end_date == cast.today


def test_closing_for_another_reason_needs_a_note_and_a_closed_case_takes_no_changes(playbook):
    cast = playbook
    case = open_case(cast, "gabe")
    with pytest.raises(ValidationError) as error:
        actions.do_close_case(cast.counselor, case_id=case.pk, version=1, reason="other")
    assert set(error.value.message_dict) == {"note"}
    actions.do_close_case(cast.counselor, case_id=case.pk, version=1, reason="moved")
    with pytest.raises(ValidationError) as error:
        actions.do_record_barrier(
            cast.counselor, case_id=case.pk, barrier_id=barrier(cast, "health").pk
        )
    assert set(error.value.message_dict) == {"case"}


# Plans, barriers, follow-ups -------------------------------------------------------------


def test_a_plan_is_written_revised_and_reviewed_at_the_versions_read(playbook):
    cast = playbook
    case = open_case(cast, "gabe")
    plan = actions.do_write_plan(cast.counselor, case_id=case.pk, **plan_fields(cast))
    assert plan.goal.startswith("attend 95% of days through")
    revised = actions.do_revise_plan(
        cast.counselor, plan_id=plan.pk, version=1, **plan_fields(cast, goal_rate=0.9)
    )
    assert revised.version == 2 and str(revised.goal_rate) == "0.900"
    with pytest.raises(VersionConflict):
        actions.do_review_plan(
            cast.principal, plan_id=plan.pk, version=1, reviewed_on=cast.today, note="ok"
        )
    reviewed = actions.do_review_plan(
        cast.principal, plan_id=plan.pk, version=2, reviewed_on=cast.today, note="Going well"
    )
    assert reviewed.reviewed_on == cast.today
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds[-3:] == ["plan_written", "plan_revised", "plan_reviewed"]


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"goal_rate": "1.05"}, {"goal_rate"}),
        ({"goal_rate": "0"}, {"goal_rate"}),
        ({"goal_rate": "ninety"}, {"goal_rate"}),
        ({"goal_until": dt.date(2000, 1, 1)}, {"goal_until"}),
        ({"review_on": dt.date(2000, 1, 1)}, {"review_on"}),
        ({"steps": []}, {"steps"}),
        ({"steps": [{"step": "Call", "who": ""}]}, {"steps"}),
        ({"review_on": "soon", "goal_rate": 2}, {"review_on", "goal_rate"}),
    ],
)
def test_an_invalid_plan_names_its_fields_and_saves_nothing(playbook, changes, fields):
    cast = playbook
    case = open_case(cast, "gabe")
    before = snapshot()
    with pytest.raises(ValidationError) as error:
        actions.do_write_plan(cast.counselor, case_id=case.pk, **plan_fields(cast, **changes))
    assert set(error.value.message_dict) == fields
    assert snapshot() == before


def test_a_plan_cannot_be_written_before_the_case_opened(playbook):
    cast = playbook
    case = open_case(cast, "gabe", opened_on=day(cast, 10))
    with pytest.raises(ValidationError) as error:
        actions.do_write_plan(
            cast.counselor, case_id=case.pk, written_on=day(cast, 9), **plan_fields(cast)
        )
    assert set(error.value.message_dict) == {"written_on"}


def test_barriers_come_from_the_districts_list_once_each(playbook):
    cast = playbook
    case = open_case(cast, "gabe")
    health = barrier(cast, "health")
    actions.do_record_barrier(cast.counselor, case_id=case.pk, barrier_id=health.pk, note="asthma")
    with pytest.raises(ValidationError) as twice:
        actions.do_record_barrier(cast.counselor, case_id=case.pk, barrier_id=health.pk)
    assert "already" in twice.value.message_dict["barrier_id"][0]
    with pytest.raises(ValidationError):
        actions.do_record_barrier(cast.counselor, case_id=case.pk, barrier_id=-1)


def test_a_follow_up_is_scheduled_and_done_by_its_owner(playbook):
    cast = playbook
    case = open_case(cast, "ana", by=cast.principal)
    follow_up = actions.do_schedule_follow_up(
        cast.principal,
        case_id=case.pk,
        due_on=cast.today + dt.timedelta(days=3),
        owner_id=cast.teacher.pk,
        description="Check in with Ana on Monday",
    )
    # the teacher owns it: they record it done, though not on the case team
    done = actions.do_complete_follow_up(
        cast.teacher,
        follow_up_id=follow_up.pk,
        version=follow_up.version,
        done_on=cast.today,
        outcome="Ana says the bus is late",
    )
    assert done.done_on == cast.today and done.version == 2
    with pytest.raises(ValidationError):
        actions.do_complete_follow_up(
            cast.teacher, follow_up_id=follow_up.pk, version=2, done_on=cast.today, outcome="x"
        )


def test_a_follow_up_before_the_case_opened_or_for_a_viewer_is_refused(playbook):
    cast = playbook
    case = open_case(cast, "gabe", opened_on=day(cast, 10))
    before = snapshot()
    with pytest.raises(ValidationError) as error:
        actions.do_schedule_follow_up(
            cast.counselor,
            case_id=case.pk,
            due_on=day(cast, 9),
            owner_id=cast.viewer.pk,
            description=" ",
        )
    assert set(error.value.message_dict) == {"due_on", "owner_id", "description"}
    assert snapshot() == before


def test_a_teacher_neither_manages_a_case_nor_completes_someone_elses_follow_up(playbook):
    cast = playbook
    case = open_case(cast, "ana", by=cast.principal)
    follow_up = actions.do_schedule_follow_up(
        cast.principal,
        case_id=case.pk,
        due_on=cast.today,
        owner_id=cast.principal.pk,
        description="Call home",
    )
    with pytest.raises(PermissionDenied):
        actions.do_write_plan(cast.teacher, case_id=case.pk, **plan_fields(cast))
    with pytest.raises(PermissionDenied):
        actions.do_complete_follow_up(
            cast.teacher, follow_up_id=follow_up.pk, version=1, done_on=cast.today, outcome="x"
        )


# Contacts, interventions, notes, referrals ----------------------------------------------


def guardian_of(cast, student):
    guardian = Guardian.objects.create(
        district=cast.district, local_id=f"G{student.pk}", first_name="Rosa", last_name="Ruiz"
    )
    StudentGuardian.objects.create(student=student, guardian=guardian, relationship="mother")
    return guardian


def test_a_teacher_logs_a_contact_with_a_guardian_and_it_joins_the_open_case(playbook):
    cast = playbook
    case = open_case(cast, "ana", by=cast.principal)
    mother = guardian_of(cast, cast.ana)
    contact = actions.do_log_contact(
        cast.teacher,
        student_id=cast.ana.pk,
        contacted_on=cast.today,
        channel="call",
        outcome="left_message",
        guardian_id=mother.pk,
        language="es",
        note="We miss Ana",
    )
    assert contact.case == case and contact.guardian == mother
    event = CaseEvent.objects.get(kind=CaseEvent.Kind.CONTACT)
    assert event.summary == "Phone call with Rosa Ruiz: Left a message"
    assert AuditEntry.objects.filter(
        user=cast.teacher, subject="family contact", access_reason="section"
    ).exists()


def test_an_invalid_contact_names_its_fields_and_saves_nothing(playbook):
    cast = playbook
    stranger = guardian_of(cast, cast.ben)
    before = snapshot()
    with pytest.raises(ValidationError) as error:
        actions.do_log_contact(
            cast.teacher,
            student_id=cast.ana.pk,
            contacted_on=cast.today + dt.timedelta(days=1),
            channel="pigeon",
            outcome="reached",
            guardian_id=stranger.pk,
            language="xx",
        )
    assert set(error.value.message_dict) == {
        "contacted_on",
        "channel",
        "language",
        "guardian_id",
    }
    assert snapshot() == before


def test_viewers_log_no_contacts_and_teachers_none_for_students_they_do_not_see(playbook):
    cast = playbook
    fields = {"contacted_on": cast.today, "channel": "call", "outcome": "reached"}
    with pytest.raises(PermissionDenied):
        actions.do_log_contact(cast.viewer, student_id=cast.carla.pk, with_whom="aunt", **fields)
    with pytest.raises(StudentNotFound):
        actions.do_log_contact(cast.teacher, student_id=cast.ben.pk, with_whom="dad", **fields)


def test_a_teacher_starts_tier_1_interventions_only(playbook):
    cast = playbook
    call = actions.do_start_intervention(
        cast.teacher, student_id=cast.ana.pk, intervention_type_id=kind(cast, "recognition").pk
    )
    assert call.case is None and call.owner == cast.teacher
    with pytest.raises(PermissionDenied):
        actions.do_start_intervention(
            cast.teacher,
            student_id=cast.ana.pk,
            intervention_type_id=kind(cast, "home-visit").pk,
        )
    ended = actions.do_end_intervention(
        cast.teacher, intervention_id=call.pk, ended_on=cast.today, note="done"
    )
    assert ended.ended_on == cast.today


def test_an_intervention_of_another_district_is_unknown(playbook):
    cast = playbook
    with pytest.raises(ValidationError) as error:
        actions.do_start_intervention(cast.teacher, student_id=cast.ana.pk, intervention_type_id=0)
    assert set(error.value.message_dict) == {"intervention_type_id"}


def test_health_notes_are_confidential_and_read_only_by_the_case_team(playbook):
    cast = playbook
    case = open_case(cast, "ana", by=cast.principal)
    actions.do_add_case_note(cast.principal, case_id=case.pk, text="Talked with mom")
    actions.do_add_case_note(
        cast.principal, case_id=case.pk, text="Asthma, inhaler", topic="health"
    )
    # the principal of Ana's school reads both; the teacher and the analyst only the first
    team = actions.do_view_case(cast.principal, case_id=case.pk)
    assert [n.text for n in team.notes] == ["Talked with mom"]
    assert [n.text for n in team.confidential_notes] == ["Asthma, inhaler"]
    for outsider in (cast.teacher, cast.analyst, cast.admin):
        file = actions.do_view_case(outsider, case_id=case.pk)
        assert file.confidential_notes == []
        assert all("Asthma" not in entry.summary for entry in file.timeline)
    # and every reading is audited, with how many confidential notes it showed
    views = AuditEntry.objects.filter(subject="case file").order_by("pk")
    assert [(v.user, v.details["confidential_notes"]) for v in views] == [
        (cast.principal, 1),
        (cast.teacher, 0),
        (cast.analyst, 0),
        (cast.admin, 0),
    ]


def test_a_case_of_a_student_one_may_not_see_is_not_found(playbook):
    cast = playbook
    case = open_case(cast, "carla")
    with pytest.raises(CaseNotFound):
        actions.do_view_case(cast.principal, case_id=case.pk)
    with pytest.raises(CaseNotFound):
        actions.do_view_case(cast.principal, case_id=case.pk + 1000)
    assert not AuditEntry.objects.filter(subject="case file").exists()


def test_referrals_go_to_partners_of_the_district_serving_the_school_with_room(playbook):
    cast = playbook
    case = open_case(cast, "gabe")
    food = actions.do_save_partner(cast.admin, name="Food Bank", capacity=1)
    clinic = actions.do_save_partner(cast.admin, name="Clinic", school_ids=[cast.central.pk])
    elsewhere = Partner.objects.create(district=cast.other_district, name="Far Away")
    referral = actions.do_refer_to_partner(cast.counselor, case_id=case.pk, partner_id=food.pk)
    for partner, message in (
        (food, "at capacity"),
        (clinic, "does not serve"),
        (elsewhere, "No such partner"),
    ):
        with pytest.raises(ValidationError) as error:
            actions.do_refer_to_partner(cast.counselor, case_id=case.pk, partner_id=partner.pk)
        assert message in error.value.message_dict["partner_id"][0]
    updated = actions.do_update_referral(
        cast.counselor, referral_id=referral.pk, version=1, status="accepted"
    )
    assert updated.status == Referral.Status.ACCEPTED and updated.version == 2
    with pytest.raises(VersionConflict):
        actions.do_update_referral(
            cast.counselor, referral_id=referral.pk, version=1, status="declined"
        )


def test_a_struck_entry_stays_with_its_reason_and_leaves_the_case_file(playbook):
    cast = playbook
    case = open_case(cast, "gabe")
    contact = actions.do_log_contact(
        cast.counselor,
        student_id=cast.gabe.pk,
        contacted_on=cast.today,
        channel="call",
        outcome="reached",
        with_whom="Grandfather",
    )
    with pytest.raises(ValidationError):
        actions.do_strike(cast.counselor, entry="contact", entry_id=contact.pk, reason=" ")
    actions.do_strike(cast.counselor, entry="contact", entry_id=contact.pk, reason="Wrong student")
    contact.refresh_from_db()
    assert (contact.struck_on, contact.struck_by, contact.struck_reason) == (
        cast.today,
        cast.counselor,
        "Wrong student",
    )
    assert actions.do_view_case(cast.counselor, case_id=case.pk).contacts == []
    with pytest.raises(ValidationError):
        actions.do_strike(cast.counselor, entry="contact", entry_id=contact.pk, reason="again")
    with pytest.raises(ValidationError):
        actions.do_strike(cast.counselor, entry="case", entry_id=case.pk, reason="no")


def test_a_teacher_strikes_their_own_contact_but_not_the_case_teams(playbook):
    cast = playbook
    open_case(cast, "ana", by=cast.principal)
    fields = {"contacted_on": cast.today, "channel": "text", "outcome": "reached"}
    mine = actions.do_log_contact(cast.teacher, student_id=cast.ana.pk, with_whom="dad", **fields)
    theirs = actions.do_log_contact(
        cast.principal, student_id=cast.ana.pk, with_whom="mom", **fields
    )
    actions.do_strike(cast.teacher, entry="contact", entry_id=mine.pk, reason="Duplicate")
    with pytest.raises(PermissionDenied):
        actions.do_strike(cast.teacher, entry="contact", entry_id=theirs.pk, reason="Nope")


# Team meetings -------------------------------------------------------------------------------


def test_the_principal_records_a_team_meeting_with_action_items(playbook):
    cast = playbook
    meeting = actions.do_record_team_meeting(
        cast.principal,
        school_id=cast.lincoln.pk,
        held_on=cast.today,
        notes="Three students discussed",
        action_items=[
            ActionItemInput("Home visit", owner_id=cast.principal.pk, student_id=cast.ana.pk),
            ActionItemInput("Bus route review", owner_id=cast.teacher.pk),
        ],
    )
    assert ActionItem.objects.filter(meeting=meeting).count() == 2
    assert AuditEntry.objects.filter(student_id=cast.ana.pk, subject="team meeting").exists()
    with pytest.raises(ValidationError) as error:
        actions.do_record_team_meeting(
            cast.principal,
            school_id=cast.lincoln.pk,
            held_on=cast.today,
            action_items=[ActionItemInput("", owner_id=0, student_id=cast.carla.pk)],
        )
    assert set(error.value.message_dict) == {
        "action_items[1].description",
        "action_items[1].owner_id",
        "action_items[1].student_id",
    }
    assert TeamMeeting.objects.count() == 1
    with pytest.raises(PermissionDenied):
        actions.do_record_team_meeting(
            cast.counselor, school_id=cast.lincoln.pk, held_on=cast.today
        )


# The playbook and partners ------------------------------------------------------------------


def test_defaults_are_installed_once_and_leave_the_districts_edits_alone(cast):
    first = actions.do_install_defaults(cast.district)
    assert first["created"] > 15
    actions.do_save_barrier(cast.admin, key="health", name="Health and wellness")
    assert actions.do_install_defaults(cast.district) == {"created": 0}
    assert barrier(cast, "health").name == "Health and wellness"


def test_playbook_import_updates_by_key_and_retires_what_the_file_leaves_out(playbook):
    cast = playbook
    text = """version = 1
[[barriers]]
key = "transportation"
name = "Getting to school"

[[interventions]]
key = "bus-buddy"
name = "Bus buddy"
tiers = [2]
barriers = ["transportation"]
"""
    counts = actions.do_import_playbook(cast.admin, text=text)
    assert counts["created"] == 1 and counts["updated"] == 1 and counts["retired"] > 10
    assert barrier(cast, "transportation").name == "Getting to school"
    assert kind(cast, "home-visit").retired_on == cast.today
    assert AuditEntry.objects.filter(subject="playbook", user=cast.admin).exists()


def test_a_bad_playbook_file_is_refused_with_its_line_and_field(playbook):
    cast = playbook
    text = '[[interventions]]\nkey = "x"\nname = "X"\ntiers = [4]\n'
    with pytest.raises(ValidationError) as error:
        actions.do_import_playbook(cast.admin, text=text)
    assert error.value.message_dict["playbook"] == [
        "line 1: interventions[1].tiers: must list one or more of the tiers 1, 2, 3, e.g. [2, 3]"
    ]
    assert kind(cast, "home-visit").retired_on is None
    with pytest.raises(PermissionDenied):
        actions.do_import_playbook(cast.principal, text=text)


def test_intervention_types_and_partners_are_validated(playbook):
    cast = playbook
    with pytest.raises(ValidationError) as error:
        actions.do_save_intervention_type(
            cast.admin, key="bad key", name="", tiers=[0], barrier_ids=[-1], typical_weeks=99
        )
    assert set(error.value.message_dict) == {"key", "name", "tiers", "barrier_ids", "typical_weeks"}
    saved = actions.do_save_intervention_type(
        cast.admin,
        key="mentor",
        name="Mentor",
        tiers=[2, 3],
        barrier_ids=[barrier(cast, "work").pk],
    )
    assert saved.tiers == [2, 3]
    with pytest.raises(ValidationError) as error:
        actions.do_save_partner(
            cast.admin,
            name="Clinic",
            languages=["xx"],
            capacity=0,
            email="nope",
            school_ids=[-1],
            barrier_ids=[-1],
        )
    assert set(error.value.message_dict) == {
        "languages",
        "capacity",
        "email",
        "school_ids",
        "barrier_ids",
    }
    partner = actions.do_save_partner(cast.admin, name="Clinic", languages=["es", "en"])
    actions.do_save_partner(cast.admin, partner_id=partner.pk, version=1, name="Clinic North")
    with pytest.raises(VersionConflict):
        actions.do_save_partner(cast.admin, partner_id=partner.pk, version=1, name="Clinic South")
    actions.do_retire(cast.admin, entry="partner", entry_id=partner.pk)
    with pytest.raises(ValidationError):
        actions.do_retire(cast.admin, entry="partner", entry_id=partner.pk)


def test_a_teacher_asks_for_a_case_and_it_waits_for_the_principal_to_assign_a_manager(playbook):
    cast = playbook
    # when Ana's teacher asks for a case, saying why
    case = actions.do_refer_for_case(
        cast.teacher, student_id=cast.ana.pk, reason="Absent every Monday since October"
    )
    # then a referral case opens at tier 2 with no manager, named as the teacher's
    assert (case.source, case.tier, case.referred_by, case.case_manager) == (
        Case.Source.REFERRAL,
        2,
        cast.teacher,
        None,
    )
    event = CaseEvent.objects.get(case=case, kind=CaseEvent.Kind.CASE_OPENED)
    assert event.summary.endswith(": Absent every Monday since October")
    assert AuditEntry.objects.filter(student_id=cast.ana.pk, user=cast.teacher).exists()
    # and Lincoln's principal finds it among the cases awaiting a manager
    assert selectors.cases_awaiting_manager(cast.principal) == [case]
    # and asking again while it is open is refused
    with pytest.raises(ValidationError, match="already has an open case"):
        actions.do_refer_for_case(cast.teacher, student_id=cast.ana.pk, reason="Again")


def test_asking_for_a_case_needs_a_reason_and_the_teachers_role(playbook):
    cast = playbook
    with pytest.raises(ValidationError) as refused:
        actions.do_refer_for_case(cast.teacher, student_id=cast.ana.pk, reason="  ")
    assert refused.value.message_dict == {"reason": ["Required."]}
    with pytest.raises(PermissionDenied):  # a counselor opens the case instead
        actions.do_refer_for_case(cast.counselor, student_id=cast.ana.pk, reason="Worried")
    with pytest.raises(StudentNotFound):  # not the teacher's student
        actions.do_refer_for_case(cast.teacher, student_id=cast.gabe.pk, reason="Worried")
    assert not Case.objects.exists()
