"""The packs' statutory boundaries and the escalation workflow, through the actions, on the
database (both SQLite and PostgreSQL): counting by category and minutes is the database's."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from homeroom.access.truancy import StepNotFound
from homeroom.attendance.models import AttendanceEvent
from homeroom.core.models import AuditEntry
from homeroom.interventions.actions import do_install_defaults, do_open_case, do_start_intervention
from homeroom.interventions.models import Case, CaseEvent, InterventionType
from homeroom.metrics import display
from homeroom.roster.models import Guardian, StudentCharacteristic, StudentGuardian
from homeroom.truancy.actions import (
    do_approve_step,
    do_decline_step,
    do_open_document,
    do_record_meeting,
)
from homeroom.truancy.documents import letter_date
from homeroom.truancy.models import TruancyDocument, TruancyStep
from homeroom.truancy.tests.conftest import (
    absent,
    choose,
    night,
    pdf_text,
    school_days_from,
    steps_of,
)

pytestmark = pytest.mark.django_db


def first_days(cast, count: int) -> list[dt.date]:
    return school_days_from(cast.this_year.start_date, count)


def step(student, key: str) -> TruancyStep:
    return TruancyStep.objects.get(student=student, key=key)


def approve(user, student, key: str) -> TruancyStep:
    found = step(student, key)
    return do_approve_step(user, step_id=found.pk, version=found.version)


# California ----------------------------------------------------------------------------


@pytest.mark.parametrize("pack", ["california", "north-carolina", "generic"])
def test_two_unexcused_days_are_not_truancy_and_three_are(cast, pack):
    # given the district's pack and Ana absent without excuse twice
    choose(cast, pack)
    days = first_days(cast, 3)
    for day in days[:2]:
        absent(cast, cast.ana, day)
    # when the night runs, then nothing
    assert night(cast)["eligible"] == 0
    assert steps_of(cast.ana) == []
    # when she is absent a third time, the first notice is eligible from that day
    absent(cast, cast.ana, days[2])
    assert night(cast)["eligible"] == 1
    first = step(cast.ana, "not1")
    assert (first.status, first.eligible_on) == ("eligible", days[2])
    assert [a["date"] for a in first.evidence["counted"]] == [d.isoformat() for d in days]
    # and a second night adds nothing
    assert night(cast)["eligible"] == 0


@pytest.mark.parametrize(("minutes", "counts"), [(29, False), (30, False), (31, True)])
def test_california_counts_a_tardy_of_more_than_thirty_minutes(cast, minutes, counts):
    # given two unexcused days and a tardy of `minutes`
    choose(cast, "california")
    days = first_days(cast, 3)
    absent(cast, cast.ana, days[0])
    absent(cast, cast.ana, days[1])
    absent(cast, cast.ana, days[2], code="T", minutes=minutes)
    # when the night runs, then Ana is truant only past 30 minutes
    night(cast)
    assert steps_of(cast.ana) == ([("not1", "eligible")] if counts else [])


def test_a_tardy_without_minutes_and_an_excused_day_do_not_count(cast):
    choose(cast, "california")
    days = first_days(cast, 4)
    absent(cast, cast.ana, days[0])
    absent(cast, cast.ana, days[1])
    absent(cast, cast.ana, days[2], code="T")
    absent(cast, cast.ana, days[3], code="E")
    night(cast)
    assert steps_of(cast.ana) == []


def test_texas_counts_any_part_of_a_day_and_three_within_four_weeks(cast, partial_code):
    # given Texas, and Ana absent on a Tuesday, two weeks later, and four weeks later
    choose(cast, "texas")
    tuesday = next(d for d in first_days(cast, 10) if d.weekday() == 1)
    absent(cast, cast.ana, tuesday)
    absent(cast, cast.ana, tuesday + dt.timedelta(days=14), code="P", minutes=5)
    absent(cast, cast.ana, tuesday + dt.timedelta(days=28))
    # when the night runs, then the 29th day is outside the four weeks
    night(cast)
    assert steps_of(cast.ana) == []
    # when she also missed the Monday of the fourth week (the 28th day), the warning is due
    absent(cast, cast.ana, tuesday + dt.timedelta(days=27))
    night(cast)
    warning = step(cast.ana, "warning")
    assert warning.eligible_on == tuesday + dt.timedelta(days=27)
    assert warning.due_on == warning.eligible_on + dt.timedelta(days=10)


def _texas_to_court(cast, student, days):
    """Warning sent, prevention measures held: the court referral is next."""
    for day in days:
        absent(cast, student, day)
    night(cast)
    approve(cast.principal, student, "warning")
    night(cast)
    approve(cast.principal, student, "prevention")
    prevention = step(student, "prevention")
    do_record_meeting(
        cast.principal,
        step_id=prevention.pk,
        version=prevention.version,
        held_on=cast.today,
        attendees="Principal\nMother",
        agreement="Ana attends every day.",
    )
    night(cast)


def test_texas_court_referral_at_ten_due_within_ten_school_days(cast):
    # given Texas and Ana absent ten days, warned and with prevention measures held today
    choose(cast, "texas")
    _texas_to_court(cast, cast.ana, first_days(cast, 10))
    # then the referral is eligible from today, due ten school days later on the calendar
    court = step(cast.ana, "court")
    assert (court.status, court.eligible_on) == ("eligible", cast.today)
    assert court.due_on == school_days_from(cast.today + dt.timedelta(days=1), 10)[-1]


def test_texas_nine_days_are_not_a_court_referral(cast):
    choose(cast, "texas")
    _texas_to_court(cast, cast.ana, first_days(cast, 9))
    assert steps_of(cast.ana) == [("warning", "sent"), ("prevention", "sent")]


def test_an_exemption_blocks_the_court_referral_and_says_why(cast):
    # given Ana homeless since the year began
    choose(cast, "texas")
    StudentCharacteristic.objects.create(
        student=cast.ana, kind="homeless", start_date=cast.this_year.start_date
    )
    _texas_to_court(cast, cast.ana, first_days(cast, 10))
    # then the referral is blocked, with the reason, and cannot be approved
    court = step(cast.ana, "court")
    assert court.status == "blocked"
    assert court.blocked_reason == (
        "The student's record shows homeless: TEC 25.0951(a) bars this step while it holds."
    )
    with pytest.raises(ValidationError, match="blocked"):
        do_approve_step(cast.principal, step_id=court.pk, version=court.version)


def test_north_carolina_second_and_third_notices_at_six_and_ten(cast):
    choose(cast, "north-carolina")
    days = first_days(cast, 10)
    for day in days[:5]:
        absent(cast, cast.ana, day)
    night(cast)
    approve(cast.principal, cast.ana, "not1")
    night(cast)
    assert steps_of(cast.ana) == [("not1", "sent")]
    absent(cast, cast.ana, days[5])
    night(cast)
    approve(cast.principal, cast.ana, "not2")
    for day in days[6:9]:
        absent(cast, cast.ana, day)
    night(cast)
    assert steps_of(cast.ana) == [("not1", "sent"), ("not2", "sent")]
    absent(cast, cast.ana, days[9])
    night(cast)
    assert step(cast.ana, "not3").status == "eligible"


# Later excusal --------------------------------------------------------------------------


def _excuse(cast, event: AttendanceEvent) -> None:
    """The SIS changes the code, and the next import brings the change."""
    event.code = cast.codes["E"]
    event.save(update_fields=["code"])


def test_an_absence_excused_later_puts_the_pending_notice_under_review(cast):
    # given Ana eligible for the first notice on three absences
    choose(cast, "california")
    days = first_days(cast, 3)
    events = [absent(cast, cast.ana, day) for day in days]
    night(cast)
    # when the second is excused in the SIS and the night runs
    _excuse(cast, events[1])
    assert night(cast)["review"] == 1
    # then the notice is under review, naming the absence, and cannot be approved
    notice = step(cast.ana, "not1")
    assert notice.status == "review"
    assert notice.review_reason == (
        f"First truancy notice (NOT1): the absence of {display.date(days[1])} (A) no longer counts"
    )
    with pytest.raises(ValidationError, match="no longer reaches"):
        do_approve_step(cast.principal, step_id=notice.pk, version=notice.version)
    # and it is declined with a reason
    do_decline_step(cast.principal, step_id=notice.pk, version=notice.version, reason="Excused")
    assert step(cast.ana, "not1").status == "declined"


def test_an_absence_excused_after_a_notice_was_sent_puts_the_next_step_under_review(cast):
    # given NOT1 sent today on three absences, and one more absence next week
    choose(cast, "california")
    events = [absent(cast, cast.ana, day) for day in first_days(cast, 3)]
    night(cast)
    approve(cast.principal, cast.ana, "not1")
    later = school_days_from(cast.today + dt.timedelta(days=1), 1)[0]
    absent(cast, cast.ana, later)
    night(cast, as_of=later)
    assert step(cast.ana, "not2").status == "eligible"
    # when an absence the first notice counted is excused
    _excuse(cast, events[0])
    night(cast, as_of=later)
    # then the second report is under review and says which absence of which notice changed
    second = step(cast.ana, "not2")
    assert second.status == "review"
    assert second.review_reason.startswith(
        f"First truancy notice (NOT1): the absence of {display.date(events[0].date)} (A)"
    )
    assert step(cast.ana, "not1").status == "sent"  # what was sent stays sent


# Approval, the letter, its evidence -----------------------------------------------------


def test_an_approved_notice_is_a_letter_in_the_familys_language_with_its_evidence(cast):
    # given Ana's mother reads Spanish, and Ana eligible for the first notice
    mother = Guardian.objects.create(
        district=cast.district,
        local_id="G1",
        first_name="Rosa",
        last_name="Alvarez",
        preferred_language="es",
    )
    StudentGuardian.objects.create(student=cast.ana, guardian=mother, relationship="mother")
    choose(cast, "california")
    days = first_days(cast, 3)
    for day in days:
        absent(cast, cast.ana, day)
    night(cast)
    # when the principal approves it
    notice = approve(cast.principal, cast.ana, "not1")
    # then the letter went out in Spanish with the statute's wording and the three dates
    assert (notice.status, notice.sent_on) == ("sent", cast.today)
    document = TruancyDocument.objects.get(step=notice)
    assert (document.kind, document.language, document.delivery) == ("notice", "es", "printed")
    text = pdf_text(bytes(document.pdf))
    assert "Estimado/a Rosa Alvarez" in text
    assert "sección 48260.5" in text
    assert "3 días de este año escolar" in text
    for day in days:
        assert letter_date(day, "es") in text
    # and its evidence is frozen: each absence with its code and where it came from
    assert notice.evidence["pack"] == "california@1"
    assert notice.evidence["enrollment"]["school"] == "Lincoln Elementary"
    assert notice.evidence["counted"][0]["source"] == (
        f"attendance.csv, line {days[0].toordinal() % 1000}"
    )
    # and the decision is on the timeline and in the audit trail
    assert CaseEvent.objects.filter(student=cast.ana, kind="truancy").count() == 1
    assert AuditEntry.objects.filter(
        student_id=cast.ana.pk, subject="truancy step", user=cast.principal
    ).exists()


def test_a_document_regenerates_identically_and_the_opening_is_audited(cast):
    choose(cast, "california")
    for day in first_days(cast, 3):
        absent(cast, cast.ana, day)
    night(cast)
    notice = approve(cast.principal, cast.ana, "not1")
    document = notice.documents.get()
    # when the absences change afterwards and the document is opened again
    AttendanceEvent.objects.filter(student=cast.ana).update(code=cast.codes["E"])
    _opened, pdf, identical = do_open_document(cast.admin, document_id=document.pk)
    # then it is the same PDF, byte for byte, and the opening is in the audit trail
    assert identical and pdf == bytes(document.pdf)
    assert "English" not in pdf_text(pdf)
    assert "Dear Parent or guardian" in pdf_text(pdf)
    assert AuditEntry.objects.filter(subject="truancy document", user=cast.admin).exists()


def test_only_the_packs_approvers_at_the_school_decide(cast):
    choose(cast, "california")
    for day in first_days(cast, 3):
        absent(cast, cast.ana, day)
    night(cast)
    notice = step(cast.ana, "not1")
    # the teacher sees Ana but does not decide; the counselor does not see her at all
    with pytest.raises(PermissionDenied):
        do_approve_step(cast.teacher, step_id=notice.pk, version=notice.version)
    with pytest.raises(StepNotFound):
        do_approve_step(cast.counselor, step_id=notice.pk, version=notice.version)
    with pytest.raises(StepNotFound):
        do_approve_step(cast.outsider, step_id=notice.pk, version=notice.version)
    # a stale version is refused
    with pytest.raises(ValidationError, match="changed meanwhile"):
        do_approve_step(cast.admin, step_id=notice.pk, version=notice.version + 1)
    # a decline needs a reason
    with pytest.raises(ValidationError, match="Say why"):
        do_decline_step(cast.admin, step_id=notice.pk, version=notice.version, reason=" ")
    assert step(cast.ana, "not1").status == "eligible"


def test_a_declined_step_ends_the_escalation_for_the_year(cast):
    choose(cast, "north-carolina")
    for day in first_days(cast, 8):
        absent(cast, cast.ana, day)
    night(cast)
    notice = step(cast.ana, "not1")
    do_decline_step(cast.admin, step_id=notice.pk, version=notice.version, reason="Moving")
    night(cast)
    assert steps_of(cast.ana) == [("not1", "declined")]


# A district's own copy ------------------------------------------------------------------


def test_a_districts_copy_changes_a_threshold_and_steps_record_it(cast):
    copy = 'based_on = "california"\n\n[[steps]]\nkey = "not1"\nabsences = 4\n'
    choose(cast, "california", copy)
    days = first_days(cast, 4)
    for day in days[:3]:
        absent(cast, cast.ana, day)
    night(cast)
    assert steps_of(cast.ana) == []
    absent(cast, cast.ana, days[3])
    night(cast)
    assert step(cast.ana, "not1").pack == "california@1, district copy r1"


def test_a_broken_copy_is_refused_with_what_is_wrong_and_changes_nothing(cast):
    choose(cast, "california")
    copy = 'based_on = "california"\n\n[[steps]]\nkey = "not9"\nabsences = 4\n'
    with pytest.raises(ValidationError, match="no step 'not9' in the base pack"):
        choose(cast, "california", copy)
    assert cast.district.truancy_pack.text == ""


# Meetings and referral packets ----------------------------------------------------------


def test_meeting_agreement_and_referral_packet_carry_the_history(cast):
    # given the generic pack, a case with an intervention, and Ana absent ten days
    do_install_defaults(cast.district)
    case = do_open_case(cast.principal, student_id=cast.ana.pk, source=Case.Source.MANUAL, tier=2)
    mentoring = InterventionType.objects.filter(district=cast.district, tier2=True).first()
    do_start_intervention(cast.principal, student_id=cast.ana.pk, intervention_type_id=mentoring.pk)
    choose(cast, "generic")
    for day in first_days(cast, 10):
        absent(cast, cast.ana, day)
    # when the team sends both notices, holds the meeting and approves the referral
    night(cast)
    approve(cast.principal, cast.ana, "not1")
    night(cast)
    approve(cast.principal, cast.ana, "not2")
    night(cast)
    approve(cast.principal, cast.ana, "meeting")
    meeting = step(cast.ana, "meeting")
    do_record_meeting(
        cast.principal,
        step_id=meeting.pk,
        version=meeting.version,
        held_on=cast.today,
        attendees="Ms. Park, principal\nRosa Alvarez, mother",
        agreement="Ana arrives by 8:00 every day.\n\nThe school calls home on any absence.",
    )
    night(cast)
    referral = approve(cast.principal, cast.ana, "referral")
    # then the agreement is a PDF naming who came and what was agreed
    agreement = TruancyDocument.objects.get(step=meeting, kind="agreement")
    agreed = pdf_text(bytes(agreement.pdf))
    assert "Rosa Alvarez, mother" in agreed and "Ana arrives by 8:00 every day." in agreed
    # and the packet holds the notices, the intervention, the meeting and the absences
    packet = pdf_text(bytes(referral.documents.get(kind="packet").pdf))
    assert "First attendance notice" in packet and "Second attendance notice" in packet
    assert mentoring.name in packet
    assert "Ana arrives by 8:00 every day." in packet
    assert packet.count(" A Full day ") == 10
    assert step(cast.ana, "referral").case_id == case.pk
