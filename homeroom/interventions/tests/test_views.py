"""The case management pages through the test client: what each shows, what a form saves,
and that a mistake or a conflict saves nothing and says why beside the field."""

import datetime as dt
from html import escape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from homeroom.conftest import add_absence
from homeroom.core.models import AuditEntry
from homeroom.interventions import actions
from homeroom.interventions.models import (
    AttendancePlan,
    Case,
    CaseNote,
    FamilyContact,
    FollowUp,
    InterventionType,
    Partner,
    Referral,
    TeamMeeting,
)
from homeroom.interventions.tests.conftest import (
    barrier,
    lincoln_counselor,
    open_case,
    raise_flag,
)
from homeroom.roster.models import Guardian, StudentGuardian

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    """Rows of case management: to show a refused form saved nothing."""
    models = [Case, AttendancePlan, FollowUp, FamilyContact, CaseNote, Referral, TeamMeeting]
    return {model.__name__: model.objects.count() for model in models}


def case_url(case, action: str = "") -> str:
    if not action:
        return reverse("interventions:case", args=[case.pk])
    return reverse(f"interventions:case_{action}", args=[case.pk])


@pytest.fixture
def ana_mother(playbook):
    cast = playbook
    mother = Guardian.objects.create(
        district=cast.district,
        local_id="G1",
        first_name="Maria",
        last_name="Alvarez",
        preferred_language="es",
    )
    StudentGuardian.objects.create(student=cast.ana, guardian=mother, relationship="mother")
    return mother


# Student page ------------------------------------------------------------------------


def test_teacher_logs_a_call_with_a_guardian_from_the_student_page(playbook, ana_mother, client):
    cast = playbook
    # given Ana's teacher on her page, which offers her mother as whom the call was with
    client.force_login(cast.teacher)
    page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    assert "Maria Alvarez (Mother)" in page and "Log contact" in page
    assert "Open a case" not in page  # teachers do not open cases
    # when they send the form as it comes, with the outcome chosen
    response = client.post(
        reverse("interventions:log_contact", args=[cast.ana.pk]),
        {
            "channel": "call",
            "guardian_id": ana_mother.pk,
            "outcome": "left_message",
            "language": "es",
            "contacted_on": cast.today,
        },
    )
    # then the contact is saved and shows on Ana's timeline, in words
    assert response.status_code == 302
    contact = FamilyContact.objects.get()
    assert (contact.guardian, contact.outcome, contact.recorded_by) == (
        ana_mother,
        "left_message",
        cast.teacher,
    )
    page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    assert "Phone call with Maria Alvarez: Left a message" in page
    assert "left_message" not in page.split('id="timeline"')[1].split("</table>")[0]


def test_contact_without_whom_saves_nothing_and_says_so_by_the_field(playbook, client):
    cast = playbook
    client.force_login(cast.teacher)
    before = counts()
    # when the teacher sends a contact with no guardian chosen and nobody named
    response = client.post(
        reverse("interventions:log_contact", args=[cast.ana.pk]),
        {
            "channel": "call",
            "guardian_id": "",
            "outcome": "reached",
            "language": "en",
            "contacted_on": cast.today,
        },
    )
    # then nothing is saved, and the form says what is missing next to the field
    assert response.status_code == 400
    assert counts() == before
    assert "Name a guardian of the student, or who was contacted." in response.text
    assert 'class="field field--invalid"' in response.text


def test_a_future_contact_date_is_refused(playbook, client):
    cast = playbook
    client.force_login(cast.teacher)
    response = client.post(
        reverse("interventions:log_contact", args=[cast.ana.pk]),
        {
            "channel": "call",
            "with_whom": "Uncle",
            "outcome": "reached",
            "language": "en",
            "contacted_on": cast.today + dt.timedelta(days=3),
        },
    )
    assert response.status_code == 400
    assert "Cannot be in the future." in response.text
    assert not FamilyContact.objects.exists()


def test_teacher_starts_a_tier_1_intervention(playbook, client):
    cast = playbook
    client.force_login(cast.teacher)
    kind = InterventionType.objects.filter(district=cast.district, tier1=True).first()
    response = client.post(
        reverse("interventions:start_intervention", args=[cast.ana.pk]),
        {"intervention_type_id": kind.pk},
    )
    assert response.status_code == 302
    page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    assert escape(f"Intervention: {kind.name}") in page


def test_timeline_filters_by_kind(playbook, client):
    cast = playbook
    raise_flag(cast, "ana", cast.today)
    actions.do_log_contact(
        cast.teacher,
        student_id=cast.ana.pk,
        contacted_on=cast.today,
        channel="email",
        outcome="reached",
        with_whom="Grandmother",
    )
    client.force_login(cast.teacher)
    url = reverse("web:student", args=[cast.ana.pk])
    everything = client.get(url).text
    contacts = client.get(url, {"kind": "contact"}).text
    timeline = contacts.split('id="timeline"')[1].split("</form>")[1]
    assert "Flag raised" in everything.split('id="timeline"')[1].split("</form>")[1]
    assert "Email with Grandmother" in timeline and "Flag raised" not in timeline


def test_teacher_sees_the_case_status_but_not_confidential_notes(playbook, client):
    cast = playbook
    # given a case for Ana, managed by the principal, with a confidential health note
    case = open_case(cast, "ana", by=cast.principal)
    actions.do_add_case_note(
        cast.principal, case_id=case.pk, text="Asthma flare-ups", topic="health"
    )
    actions.do_add_case_note(cast.principal, case_id=case.pk, text="Bus pass arranged")
    # when her teacher opens her page and the case
    client.force_login(cast.teacher)
    student_page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    case_page = client.get(case_url(case)).text
    # then they see the case is open, and never the confidential note
    assert "Open case" in student_page
    for page in (student_page, case_page):
        assert "Asthma" not in page
    assert "Bus pass arranged" in case_page
    assert "Confidential notes are not shown to your role." in case_page
    # while the principal reads it
    client.force_login(cast.principal)
    assert "Asthma flare-ups" in client.get(case_url(case)).text


# Case page ---------------------------------------------------------------------------


def test_counselor_works_a_case_from_open_to_follow_up_due_on_the_caseload(playbook, client):
    cast = playbook
    flag = raise_flag(cast, "gabe", cast.today)
    client.force_login(cast.counselor)
    # when the counselor opens a case from Gabe's flag
    response = client.post(
        reverse("interventions:open_case", args=[cast.gabe.pk]),
        {"tier": 2, "source_flag_id": flag.pk, "note": ""},
    )
    case = Case.objects.get()
    assert response.status_code == 302 and response["Location"] == case_url(case)
    assert (case.source, case.source_flag, case.case_manager) == ("flag", flag, cast.counselor)
    # and records a barrier, writes a plan, schedules a follow-up due today
    transport = barrier(cast, "transportation")
    assert client.post(case_url(case, "barrier"), {"barrier_id": transport.pk}).status_code == 302
    plan = {
        "goal_percent": "92.5",
        "goal_until": cast.today + dt.timedelta(days=60),
        "review_on": cast.today + dt.timedelta(days=30),
        "steps": "Mother: wake-up call at 7:00\nCounselor: weekly check-in",
        "agreed_with": "Mother",
    }
    assert client.post(case_url(case, "plan"), plan).status_code == 302
    follow_up = {"description": "Call mother", "due_on": cast.today, "owner_id": cast.counselor.pk}
    assert client.post(case_url(case, "follow_up"), follow_up).status_code == 302
    # then the case page shows them, in words, with the plan's steps
    page = client.get(case_url(case)).text
    assert "Transportation" in page
    assert "attend 92.5% of days" in page
    assert "<strong>Counselor</strong>: weekly check-in" in page
    assert AttendancePlan.objects.get().steps[0] == {
        "step": "wake-up call at 7:00",
        "who": "Mother",
    }
    # and the suggested interventions put those addressing transportation first
    assert "addresses 1 of the recorded barriers" in page
    # and the follow-up is due today on the counselor's caseload
    caseload = client.get(reverse("interventions:caseload")).text
    due = caseload.split('aria-label="Follow-ups due today"')[1].split("</ul>")[0]
    assert cast.gabe.full_name in due and "Call mother" in due


def test_a_plan_with_a_step_without_who_saves_nothing(playbook, client):
    cast = playbook
    case = open_case(cast)
    client.force_login(cast.counselor)
    before = counts()
    response = client.post(
        case_url(case, "plan"),
        {
            "goal_percent": "95",
            "goal_until": cast.today + dt.timedelta(days=60),
            "review_on": cast.today - dt.timedelta(days=1),
            "steps": "wake-up call",
        },
    )
    assert response.status_code == 400
    assert counts() == before
    assert "Line 1: write who does it" in response.text
    # and the form is open on the page with what was typed
    assert "wake-up call</textarea>" in response.text


def test_a_plan_reviewed_before_it_was_written_is_refused_by_the_action(playbook, client):
    cast = playbook
    case = open_case(cast)
    client.force_login(cast.counselor)
    response = client.post(
        case_url(case, "plan"),
        {
            "goal_percent": "95",
            "goal_until": cast.today + dt.timedelta(days=60),
            "review_on": cast.today - dt.timedelta(days=1),
            "steps": "Mother: wake-up call",
        },
    )
    assert response.status_code == 400
    assert "The review cannot be before the plan is written." in response.text
    assert not AttendancePlan.objects.exists()


def test_a_tier_change_at_an_old_version_is_a_conflict_showing_the_current_one(playbook, client):
    cast = playbook
    case = open_case(cast)
    # given someone else changed the tier after the counselor opened the page (version 1)
    actions.do_change_case_tier(cast.principal, case_id=case.pk, version=1, tier=3)
    client.force_login(cast.counselor)
    # when the counselor sends their change made at version 1
    response = client.post(case_url(case, "tier"), {"version": 1, "tier": 1})
    # then it is refused with the current version, and the page shows the case as it is now
    assert response.status_code == 409
    assert "it is now at version 2" in response.text
    case.refresh_from_db()
    assert (case.tier, case.version) == (3, 2)
    assert 'name="version" value="2"' in response.text


def test_referral_moves_to_accepted_and_a_stale_update_conflicts(playbook, client):
    cast = playbook
    case = open_case(cast)
    partner = actions.do_save_partner(cast.admin, name="Riverside Family Center")
    referral = actions.do_refer_to_partner(cast.counselor, case_id=case.pk, partner_id=partner.pk)
    client.force_login(cast.counselor)
    form = {"referral_id": referral.pk, "version": 1, "status": "accepted"}
    assert client.post(case_url(case, "referral_status"), form).status_code == 302
    page = client.get(case_url(case)).text
    assert "Accepted" in page
    # the same update sent again at the old version is a conflict
    again = client.post(case_url(case, "referral_status"), form | {"status": "declined"})
    assert again.status_code == 409
    assert Referral.objects.get().status == "accepted"


def test_strike_needs_a_reason_and_keeps_the_entry_in_the_history(playbook, client):
    cast = playbook
    case = open_case(cast)
    recorded = actions.do_record_barrier(
        cast.counselor, case_id=case.pk, barrier_id=barrier(cast, "housing").pk
    )
    client.force_login(cast.counselor)
    form = {"entry": "barrier", "entry_id": recorded.pk, "reason": ""}
    missing = client.post(case_url(case, "strike"), form)
    assert missing.status_code == 400 and "This field is required." in missing.text
    recorded.refresh_from_db()
    assert recorded.struck_on is None
    done = client.post(case_url(case, "strike"), form | {"reason": "Recorded on the wrong case"})
    assert done.status_code == 302
    recorded.refresh_from_db()
    assert recorded.struck_reason == "Recorded on the wrong case"
    assert "Recorded on the wrong case" in client.get(case_url(case)).text


def test_principal_assigns_the_suggested_case_manager(playbook, client):
    cast = playbook
    case = open_case(cast, by=cast.principal)
    helper = lincoln_counselor(cast)
    client.force_login(cast.principal)
    page = client.get(case_url(case)).text
    assert "Suggested: <strong>counselor2</strong>" in page
    response = client.post(
        case_url(case, "manager"), {"version": case.version, "case_manager_id": helper.pk}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.case_manager == helper


def test_closing_for_another_reason_needs_a_note(playbook, client):
    cast = playbook
    case = open_case(cast)
    client.force_login(cast.counselor)
    response = client.post(case_url(case, "close"), {"version": 1, "reason": "other"})
    assert response.status_code == 400
    assert "Required." in response.text
    case.refresh_from_db()
    assert case.status == "open"
    closed = client.post(case_url(case, "close"), {"version": 1, "reason": "moved"})
    assert closed.status_code == 302
    case.refresh_from_db()
    assert case.status == "closed"


def test_viewing_a_case_is_audited(playbook, client):
    cast = playbook
    case = open_case(cast)
    client.force_login(cast.principal)
    client.get(case_url(case))
    entry = AuditEntry.objects.filter(subject="case file").get()
    assert (entry.user, entry.student_id) == (cast.principal, cast.gabe.pk)


def test_a_refused_case_is_audited_with_the_case_asked_for(playbook, client):
    # given Gabe's case, which the teacher (Ana's only) may not see
    cast = playbook
    case = open_case(cast)
    client.force_login(cast.teacher)
    # when they ask for it
    response = client.get(case_url(case))
    # then it is not found, and the refusal is in the trail, naming the case and whose
    assert response.status_code == 404
    entry = AuditEntry.objects.get(action=AuditEntry.Action.DENIED)
    assert (entry.user, entry.student_id, entry.details) == (
        cast.teacher,
        cast.gabe.pk,
        {"case_id": case.pk},
    )


# Team meeting ------------------------------------------------------------------------


def test_team_meeting_lists_a_flagged_student_and_records_action_items(playbook, client):
    cast = playbook
    raise_flag(cast, "ben", cast.today)
    client.force_login(cast.principal)
    url = reverse("interventions:team_meeting")
    page = client.get(url, {"school": cast.lincoln.pk, "on": cast.today}).text
    assert cast.ben.full_name in page and "New flag: " in page
    # an action item without an owner saves nothing
    item = {"notes": "", "item1_description": "Call Ben's father", "item1_student": cast.ben.pk}
    refused = client.post(f"{url}?school={cast.lincoln.pk}", item)
    assert refused.status_code == 400
    assert "Choose who owns this action item." in refused.text
    assert not TeamMeeting.objects.exists()
    recorded = client.post(
        f"{url}?school={cast.lincoln.pk}", item | {"item1_owner": cast.principal.pk}
    )
    assert recorded.status_code == 302
    meeting = TeamMeeting.objects.get()
    assert meeting.action_items.get().description == "Call Ben's father"


def test_team_meeting_counts_what_was_tried_and_shows_the_latest(playbook, client):
    # given Ben flagged today, two calls home and a home visit in the days before
    cast = playbook
    raise_flag(cast, "ben", cast.today)
    for days_ago, channel in ((4, "call"), (3, "call"), (2, "home_visit")):
        actions.do_log_contact(
            cast.principal,
            student_id=cast.ben.pk,
            contacted_on=cast.today - dt.timedelta(days=days_ago),
            channel=channel,
            outcome="reached",
            with_whom="Father",
        )
    # when the principal opens the team meeting
    client.force_login(cast.principal)
    page = client.get(
        reverse("interventions:team_meeting"), {"school": cast.lincoln.pk, "on": cast.today}
    ).text
    # then Ben's row counts the three contacts and shows the latest, the home visit
    latest = cast.today - dt.timedelta(days=2)
    row = page[page.index(cast.ben.full_name) :]
    row = row[: row.index("</tr>")]
    assert "Family contact (3)" in row
    assert f"Latest, {latest:%b} {latest.day}: Home visit" in row


def test_team_meeting_prints_as_a_pdf(playbook, client):
    cast = playbook
    raise_flag(cast, "ben", cast.today)
    client.force_login(cast.principal)
    response = client.get(
        reverse("interventions:team_meeting_pdf"), {"school": cast.lincoln.pk, "on": cast.today}
    )
    assert response.status_code == 200
    if response["Content-Type"] == "application/pdf":
        assert response.content.startswith(b"%PDF")
    else:  # without WeasyPrint, the printable page
        assert cast.ben.full_name in response.text


# Playbook, barriers, partners, measures ------------------------------------------------


def test_admin_imports_a_playbook_with_a_mistake_and_hears_the_line(playbook, client):
    cast = playbook
    client.force_login(cast.admin)
    before = InterventionType.objects.count()
    bad = b'version = 1\n\n[[interventions]]\nkey = "x"\nname = "X"\ntiers = [4]\n'
    response = client.post(
        reverse("interventions:playbook_import"),
        {"file": SimpleUploadedFile("playbook.toml", bad)},
    )
    assert response.status_code == 400
    assert "line 3: interventions[1].tiers" in response.text
    assert InterventionType.objects.count() == before


def test_playbook_exports_what_the_page_lists(playbook, client):
    cast = playbook
    client.force_login(cast.teacher)
    exported = client.get(reverse("interventions:playbook_export"))
    assert exported["Content-Type"].startswith("application/toml")
    kind = InterventionType.objects.filter(district=cast.district).first()
    assert f'key = "{kind.key}"' in exported.content.decode()
    assert escape(kind.name) in client.get(reverse("interventions:playbook")).text


def test_partner_edit_at_an_old_version_is_a_conflict(playbook, client):
    cast = playbook
    partner = actions.do_save_partner(cast.admin, name="Family Center")
    actions.do_save_partner(cast.admin, partner_id=partner.pk, version=1, name="Family Centre")
    client.force_login(cast.admin)
    response = client.post(
        reverse("interventions:partner_edit"),
        {"partner_id": partner.pk, "version": 1, "name": "Riverside Family Center"},
    )
    assert response.status_code == 409
    assert "now at version 2" in response.text
    assert Partner.objects.get().name == "Family Centre"


def test_partner_with_a_bad_email_saves_nothing(playbook, client):
    cast = playbook
    client.force_login(cast.admin)
    response = client.post(
        reverse("interventions:partner_edit"), {"name": "Club", "email": "not-an-address"}
    )
    assert response.status_code == 400
    assert "Enter a valid email address." in response.text
    assert not Partner.objects.exists()


def test_measures_list_schools_and_staff_by_name_and_my_follow_through_is_mine(playbook, client):
    cast = playbook
    add_absence(cast, cast.gabe, cast.lincoln, cast.today)
    case = open_case(cast)
    actions.do_schedule_follow_up(
        cast.counselor,
        case_id=case.pk,
        due_on=cast.today,
        owner_id=cast.counselor.pk,
        description="Call",
    )
    client.force_login(cast.admin)
    page = client.get(reverse("interventions:measures")).text
    assert "Lincoln Elementary" in page and "Central High" in page
    assert "listed by name (not a ranking)" in page
    client.force_login(cast.counselor)
    mine = client.get(reverse("interventions:follow_through")).text
    assert "Open cases" in mine and "principal" not in mine.split("<main")[1]


def test_a_window_ending_before_it_starts_is_refused(playbook, client):
    cast = playbook
    client.force_login(cast.admin)
    response = client.get(
        reverse("interventions:measures"),
        {"start": cast.today, "end": cast.today - dt.timedelta(days=1)},
    )
    assert response.status_code == 400
    assert "Must be on or after the first date." in response.text
