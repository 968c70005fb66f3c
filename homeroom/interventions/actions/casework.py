"""The parts of a case: barriers, plans, interventions, follow-ups, family contacts, notes,
referrals, and striking any of them through."""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Model

from homeroom.access.cases import (
    CaseAccess,
    access_case,
    logs_family_contacts,
    starts_interventions,
)
from homeroom.access.gatekeeper import StudentAccess, access_student
from homeroom.core.actions import in_records_language
from homeroom.core.models import AuditEntry
from homeroom.interventions.actions.common import (
    CONFIDENTIAL_TOPICS,
    SIS_ENTRIES,
    SIS_READ_ONLY,
    _audit,
    _case_to_manage,
    _changed_at_version,
    _check,
    _choice,
    _date,
    _event,
    _invalid,
    _not_before_opened,
    _not_future,
    _staff,
    _text,
    _today,
)
from homeroom.interventions.models import (
    AttendancePlan,
    Barrier,
    Case,
    CaseBarrier,
    CaseEvent,
    CaseNote,
    FamilyContact,
    FollowUp,
    Intervention,
    InterventionType,
    Partner,
    Referral,
)
from homeroom.metrics import display
from homeroom.roster.models import Language, StudentGuardian


@in_records_language
def do_record_barrier(
    user, *, case_id: int, barrier_id: int, note: str = "", recorded_on: dt.date | None = None
) -> CaseBarrier:
    """Record one of the district's barriers as a root cause on an open case."""
    case, access = _case_to_manage(user, case_id)
    today = _today(user)
    recorded_on = today if recorded_on is None else recorded_on
    errors: dict[str, str] = {}
    _date(recorded_on, "recorded_on", errors)
    _not_future(recorded_on, today, "recorded_on", errors)
    _not_before_opened(recorded_on, case, "recorded_on", errors)
    barrier = Barrier.objects.filter(
        pk=barrier_id, district_id=user.district_id, retired_on__isnull=True
    ).first()
    if barrier is None:
        errors["barrier_id"] = "No such barrier in your district's list."
    elif case.barriers.filter(barrier=barrier, struck_on__isnull=True).exists():
        errors["barrier_id"] = f"{barrier.name} is recorded on this case already."
    note = _text(note, "note", errors, required=False)
    _check(errors)
    with transaction.atomic():
        recorded = CaseBarrier.objects.create(
            case=case, barrier=barrier, note=note, recorded_on=recorded_on, recorded_by=user
        )
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.BARRIER,
            on=recorded_on,
            summary=f"Barrier: {barrier.name}",
            barrier_id=barrier.pk,
        )
        _audit(user, access, "case barrier", AuditEntry.Action.CREATE, case_id=case.pk)
    return recorded


def _plan_fields(
    case: Case,
    *,
    goal_rate,
    goal_until,
    steps,
    review_on,
    agreed_with,
    written_on: dt.date,
    errors: dict[str, str],
) -> dict[str, Any]:
    try:
        rate = Decimal(str(goal_rate))
    except (InvalidOperation, ValueError):
        rate = None
    if rate is None or not rate.is_finite():
        errors["goal_rate"] = "Give the share of days to attend, e.g. 0.95 for 95%."
    elif not Decimal(0) < rate <= Decimal(1):
        errors["goal_rate"] = "Must be above 0% and at most 100% (0.95 is 95%)."
    elif rate != rate.quantize(Decimal("0.001")):
        errors["goal_rate"] = "At most three decimals (0.955 is 95.5%)."
    _date(goal_until, "goal_until", errors)
    _date(review_on, "review_on", errors)
    if "goal_until" not in errors and goal_until <= written_on:
        errors["goal_until"] = "The goal must run past the day the plan is written."
    if "review_on" not in errors and review_on < written_on:
        errors["review_on"] = "The review cannot be before the plan is written."
    if not isinstance(steps, list) or not steps:
        errors["steps"] = 'List the steps, each with who does it: [{"step": ..., "who": ...}].'
        steps = []
    clean_steps = []
    for number, step in enumerate(steps, start=1):
        if (
            not isinstance(step, dict)
            or set(step) != {"step", "who"}
            or not all(isinstance(step[k], str) and step[k].strip() for k in ("step", "who"))
        ):
            errors["steps"] = f"Step {number} needs what is done ('step') and by whom ('who')."
            break
        clean_steps.append({"step": step["step"].strip(), "who": step["who"].strip()})
    agreed_with = _text(agreed_with, "agreed_with", errors, required=False, limit=200)
    return {
        "goal_rate": rate,
        "goal_until": goal_until,
        "steps": clean_steps,
        "review_on": review_on,
        "agreed_with": agreed_with,
    }


@in_records_language
def do_write_plan(
    user,
    *,
    case_id: int,
    goal_rate: Decimal | float | str,
    goal_until: dt.date,
    steps: Sequence[dict[str, str]],
    review_on: dt.date,
    agreed_with: str = "",
    written_on: dt.date | None = None,
) -> AttendancePlan:
    """Write an attendance plan on an open case: attend `goal_rate` (0.95 is 95%) of school
    days through `goal_until`, the steps with who does each, and the review date."""
    case, access = _case_to_manage(user, case_id)
    today = _today(user)
    written_on = today if written_on is None else written_on
    errors: dict[str, str] = {}
    _date(written_on, "written_on", errors)
    _not_future(written_on, today, "written_on", errors)
    _not_before_opened(written_on, case, "written_on", errors)
    if errors:
        _check(errors)
    fields = _plan_fields(
        case,
        goal_rate=goal_rate,
        goal_until=goal_until,
        steps=list(steps) if isinstance(steps, list | tuple) else steps,
        review_on=review_on,
        agreed_with=agreed_with,
        written_on=written_on,
        errors=errors,
    )
    _check(errors)
    with transaction.atomic():
        plan = AttendancePlan.objects.create(
            case=case, written_on=written_on, written_by=user, **fields
        )
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.PLAN_WRITTEN,
            on=written_on,
            summary=f"Attendance plan: {plan.goal}; review {display.date(plan.review_on)}",
            plan_id=plan.pk,
        )
        _audit(user, access, "attendance plan", AuditEntry.Action.CREATE, plan_id=plan.pk)
    return plan


def _plan_to_manage(user, plan_id: int) -> tuple[AttendancePlan, Case, CaseAccess]:
    plan = AttendancePlan.objects.filter(pk=plan_id, struck_on__isnull=True).first()
    case, access = _case_to_manage(user, plan.case_id if plan else None)
    return plan, case, access


@in_records_language
def do_revise_plan(
    user,
    *,
    plan_id: int,
    version: int,
    goal_rate: Decimal | float | str,
    goal_until: dt.date,
    steps: Sequence[dict[str, str]],
    review_on: dt.date,
    agreed_with: str = "",
) -> AttendancePlan:
    """Change a plan's goal, steps and review date, at the version the editor read."""
    plan, case, access = _plan_to_manage(user, plan_id)
    errors: dict[str, str] = {}
    fields = _plan_fields(
        case,
        goal_rate=goal_rate,
        goal_until=goal_until,
        steps=list(steps) if isinstance(steps, list | tuple) else steps,
        review_on=review_on,
        agreed_with=agreed_with,
        written_on=plan.written_on,
        errors=errors,
    )
    _check(errors)
    with transaction.atomic():
        _changed_at_version(AttendancePlan, plan.pk, version, "plan", **fields)
        plan.refresh_from_db()
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.PLAN_REVISED,
            on=_today(user),
            summary=f"Attendance plan revised: {plan.goal}; review {display.date(plan.review_on)}",
            plan_id=plan.pk,
        )
        _audit(user, access, "attendance plan", AuditEntry.Action.UPDATE, plan_id=plan.pk)
    return plan


@in_records_language
def do_review_plan(
    user, *, plan_id: int, version: int, reviewed_on: dt.date, note: str
) -> AttendancePlan:
    """Record a plan's review (a plan that goes on is written anew after it)."""
    plan, case, access = _plan_to_manage(user, plan_id)
    today = _today(user)
    errors: dict[str, str] = {}
    _date(reviewed_on, "reviewed_on", errors)
    _not_future(reviewed_on, today, "reviewed_on", errors)
    if "reviewed_on" not in errors and reviewed_on < plan.written_on:
        errors["reviewed_on"] = "Cannot be before the plan was written."
    if plan.reviewed_on is not None:
        errors["plan"] = f"The plan was reviewed on {display.date(plan.reviewed_on)} already."
    note = _text(note, "note", errors)
    _check(errors)
    with transaction.atomic():
        _changed_at_version(
            AttendancePlan, plan.pk, version, "plan", reviewed_on=reviewed_on, review_note=note
        )
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.PLAN_REVIEWED,
            on=reviewed_on,
            summary=f"Attendance plan reviewed: {note}",
            plan_id=plan.pk,
        )
        _audit(user, access, "attendance plan", AuditEntry.Action.UPDATE, plan_id=plan.pk)
    plan.refresh_from_db()
    return plan


@in_records_language
def do_start_intervention(
    user,
    *,
    student_id: int,
    intervention_type_id: int,
    started_on: dt.date | None = None,
    note: str = "",
) -> Intervention:
    """Start a playbook intervention for a visible student, owned by the user; it joins the
    student's open case (teachers start Tier 1 interventions, with or without a case)."""
    access = access_student(user, student_id)
    kind = InterventionType.objects.filter(
        pk=intervention_type_id, district_id=user.district_id, retired_on__isnull=True
    ).first()
    if kind is None:
        raise _invalid("intervention_type_id", "No such intervention in your district's playbook.")
    if not starts_interventions(user, tiers=kind.tiers):
        raise PermissionDenied("Teachers start Tier 1 interventions; others need a case manager.")
    today = _today(user)
    started_on = today if started_on is None else started_on
    errors: dict[str, str] = {}
    _date(started_on, "started_on", errors)
    _not_future(started_on, today, "started_on", errors)
    note = _text(note, "note", errors, required=False)
    _check(errors)
    case = Case.objects.filter(
        student_id=student_id, status=Case.Status.OPEN, opened_on__lte=started_on
    ).first()
    with transaction.atomic():
        intervention = Intervention.objects.create(
            student_id=student_id,
            case=case,
            kind=kind,
            started_on=started_on,
            owner=user,
            note=note,
        )
        _event(
            user,
            student_id=student_id,
            case=case,
            kind=CaseEvent.Kind.INTERVENTION,
            on=started_on,
            summary=f"Intervention: {kind.name}" + (f" ({note})" if note else ""),
            intervention_id=intervention.pk,
        )
        _audit(user, access, "intervention", AuditEntry.Action.CREATE, id=intervention.pk)
    return intervention


@in_records_language
def do_end_intervention(
    user, *, intervention_id: int, ended_on: dt.date, note: str = ""
) -> Intervention:
    """End an intervention (its owner, or the case team when it belongs to a case). Only
    Homeroom's own: an intervention from the SIS is another table's row and ends in the SIS."""
    intervention = Intervention.objects.filter(pk=intervention_id, struck_on__isnull=True).first()
    access = _entry_access(user, intervention)
    errors: dict[str, str] = {}
    _date(ended_on, "ended_on", errors)
    _not_future(ended_on, _today(user), "ended_on", errors)
    if "ended_on" not in errors and ended_on < intervention.started_on:
        errors["ended_on"] = "Cannot be before it started."
    if intervention.ended_on is not None:
        errors["intervention"] = f"It ended on {display.date(intervention.ended_on)} already."
    note = _text(note, "note", errors, required=False)
    _check(errors)
    with transaction.atomic():
        intervention.ended_on = ended_on
        intervention.save(update_fields=["ended_on"])
        _event(
            user,
            student_id=intervention.student_id,
            case=intervention.case,
            kind=CaseEvent.Kind.INTERVENTION_ENDED,
            on=ended_on,
            summary=f"Intervention ended: {intervention.kind.name}"
            + (f" ({note})" if note else ""),
            intervention_id=intervention.pk,
        )
        _audit(user, access, "intervention", AuditEntry.Action.UPDATE, id=intervention.pk)
    return intervention


@in_records_language
def do_schedule_follow_up(
    user, *, case_id: int, due_on: dt.date, owner_id: int, description: str
) -> FollowUp:
    """Schedule a follow-up on an open case: what, by when, who."""
    case, access = _case_to_manage(user, case_id)
    errors: dict[str, str] = {}
    _date(due_on, "due_on", errors)
    _not_before_opened(due_on, case, "due_on", errors)
    owner = _staff(user.district_id, owner_id, "owner_id", errors)
    description = _text(description, "description", errors, limit=300)
    _check(errors)
    today = _today(user)
    with transaction.atomic():
        follow_up = FollowUp.objects.create(
            case=case, description=description, due_on=due_on, owner=owner, scheduled_on=today
        )
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.FOLLOW_UP_SCHEDULED,
            on=today,
            summary=f"Follow-up due {display.date(due_on)}: {description}",
            follow_up_id=follow_up.pk,
            owner_id=owner.pk,
        )
        _audit(user, access, "follow-up", AuditEntry.Action.CREATE, id=follow_up.pk)
    return follow_up


@in_records_language
def do_complete_follow_up(
    user, *, follow_up_id: int, version: int, done_on: dt.date, outcome: str
) -> FollowUp:
    """Record a follow-up done and its outcome (its owner, or the case team)."""
    follow_up = FollowUp.objects.filter(pk=follow_up_id, struck_on__isnull=True).first()
    access = _entry_access(user, follow_up)
    errors: dict[str, str] = {}
    _date(done_on, "done_on", errors)
    _not_future(done_on, _today(user), "done_on", errors)
    _not_before_opened(done_on, follow_up.case, "done_on", errors)
    if follow_up.done_on is not None:
        errors["follow_up"] = f"It was done on {display.date(follow_up.done_on)} already."
    outcome = _text(outcome, "outcome", errors)
    _check(errors)
    with transaction.atomic():
        _changed_at_version(
            FollowUp, follow_up.pk, version, "follow-up", done_on=done_on, outcome=outcome
        )
        _event(
            user,
            student_id=follow_up.case.student_id,
            case=follow_up.case,
            kind=CaseEvent.Kind.FOLLOW_UP_DONE,
            on=done_on,
            summary=f"Follow-up done: {follow_up.description}: {outcome}",
            follow_up_id=follow_up.pk,
        )
        _audit(user, access, "follow-up", AuditEntry.Action.UPDATE, id=follow_up.pk)
    follow_up.refresh_from_db()
    return follow_up


@in_records_language
def do_log_contact(
    user,
    *,
    student_id: int,
    contacted_on: dt.date,
    channel: str,
    outcome: str,
    guardian_id: int | None = None,
    with_whom: str = "",
    language: str = "en",
    note: str = "",
) -> FamilyContact:
    """Log a contact (or attempt) with a visible student's family: with one of the student's
    guardians, or someone named in `with_whom`. It joins the student's open case."""
    if not logs_family_contacts(user):
        raise PermissionDenied("Your role does not log contacts with families.")
    access = access_student(user, student_id)
    errors: dict[str, str] = {}
    _date(contacted_on, "contacted_on", errors)
    _not_future(contacted_on, _today(user), "contacted_on", errors)
    _choice(channel, FamilyContact.Channel, "channel", errors)
    _choice(outcome, FamilyContact.Outcome, "outcome", errors)
    _choice(language, Language, "language", errors)
    with_whom = _text(with_whom, "with_whom", errors, required=False, limit=200)
    guardian = None
    if guardian_id is not None:
        link = StudentGuardian.objects.filter(student_id=student_id, guardian_id=guardian_id)
        guardian = link.select_related("guardian").first()
        if guardian is None:
            errors["guardian_id"] = "Not a guardian of this student."
        else:
            guardian = guardian.guardian
    if guardian_id is None and not with_whom:
        errors["with_whom"] = "Name a guardian of the student, or who was contacted."
    note = _text(note, "note", errors, required=False)
    _check(errors)
    case = Case.objects.filter(
        student_id=student_id, status=Case.Status.OPEN, opened_on__lte=contacted_on
    ).first()
    with transaction.atomic():
        contact = FamilyContact.objects.create(
            student_id=student_id,
            case=case,
            contacted_on=contacted_on,
            channel=channel,
            guardian=guardian,
            with_whom=with_whom,
            outcome=outcome,
            language=language,
            note=note,
            recorded_by=user,
        )
        whom = str(guardian) if guardian else with_whom
        _event(
            user,
            student_id=student_id,
            case=case,
            kind=CaseEvent.Kind.CONTACT,
            on=contacted_on,
            summary=f"{contact.get_channel_display()} with {whom}: {contact.get_outcome_display()}",
            contact_id=contact.pk,
        )
        _audit(user, access, "family contact", AuditEntry.Action.CREATE, id=contact.pk)
    return contact


@in_records_language
def do_add_case_note(
    user,
    *,
    case_id: int,
    text: str,
    topic: str = CaseNote.Topic.GENERAL,
    confidential: bool = False,
) -> CaseNote:
    """Add a note to a case; health and family-crisis notes are always confidential."""
    case, access = _case_to_manage(user, case_id, open_only=False)
    errors: dict[str, str] = {}
    _choice(topic, CaseNote.Topic, "topic", errors)
    text = _text(text, "text", errors)
    _check(errors)
    confidential = bool(confidential) or topic in CONFIDENTIAL_TOPICS
    today = _today(user)
    with transaction.atomic():
        note = CaseNote.objects.create(
            case=case,
            written_on=today,
            author=user,
            topic=topic,
            confidential=confidential,
            text=text,
        )
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.NOTE,
            on=today,
            summary="Confidential note" if confidential else f"Note: {text}",
            confidential=confidential,
            note_id=note.pk,
        )
        _audit(
            user,
            access,
            "case note",
            AuditEntry.Action.CREATE,
            id=note.pk,
            confidential=confidential,
        )
    return note


@in_records_language
def do_refer_to_partner(
    user, *, case_id: int, partner_id: int, made_on: dt.date | None = None, note: str = ""
) -> Referral:
    """Refer an open case's student to one of the district's partners serving their school."""
    case, access = _case_to_manage(user, case_id)
    today = _today(user)
    made_on = today if made_on is None else made_on
    errors: dict[str, str] = {}
    _date(made_on, "made_on", errors)
    _not_future(made_on, today, "made_on", errors)
    _not_before_opened(made_on, case, "made_on", errors)
    partner = Partner.objects.filter(
        pk=partner_id, district_id=user.district_id, retired_on__isnull=True
    ).first()
    if partner is None:
        errors["partner_id"] = "No such partner in your district's directory."
    elif partner.schools.exists() and not partner.schools.filter(pk=case.school_id).exists():
        errors["partner_id"] = f"{partner.name} does not serve {case.school}."
    elif partner.capacity is not None and (
        partner.referrals.filter(status__in=Referral.OPEN_STATUSES, struck_on__isnull=True).count()
        >= partner.capacity
    ):
        errors["partner_id"] = f"{partner.name} is at capacity ({partner.capacity} open referrals)."
    note = _text(note, "note", errors, required=False)
    _check(errors)
    with transaction.atomic():
        referral = Referral.objects.create(
            case=case, partner=partner, made_on=made_on, made_by=user, status_on=made_on, note=note
        )
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.REFERRAL,
            on=made_on,
            summary=f"Referred to {partner.name}",
            referral_id=referral.pk,
        )
        _audit(user, access, "referral", AuditEntry.Action.CREATE, id=referral.pk)
    return referral


@in_records_language
def do_update_referral(
    user,
    *,
    referral_id: int,
    version: int,
    status: str,
    status_on: dt.date | None = None,
    note: str = "",
) -> Referral:
    """Record where a referral stands (`Referral.Status`: accepted, declined, completed...)."""
    referral = Referral.objects.filter(pk=referral_id, struck_on__isnull=True).first()
    case, access = _case_to_manage(user, referral.case_id if referral else None, open_only=False)
    today = _today(user)
    status_on = today if status_on is None else status_on
    errors: dict[str, str] = {}
    _choice(status, Referral.Status, "status", errors)
    _date(status_on, "status_on", errors)
    _not_future(status_on, today, "status_on", errors)
    if "status_on" not in errors and status_on < referral.made_on:
        errors["status_on"] = "Cannot be before the referral was made."
    note = _text(note, "note", errors, required=False)
    _check(errors)
    with transaction.atomic():
        _changed_at_version(
            Referral,
            referral.pk,
            version,
            "referral",
            status=status,
            status_on=status_on,
            note=note or referral.note,
        )
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.REFERRAL_UPDATED,
            on=status_on,
            summary=f"Referral to {referral.partner.name}: {Referral.Status(status).label}",
            referral_id=referral.pk,
            status=status,
        )
        _audit(user, access, "referral", AuditEntry.Action.UPDATE, id=referral.pk, status=status)
    referral.refresh_from_db()
    return referral


def _responsible(entry) -> set[int]:
    """Who recorded, wrote, made or owns an entry."""
    fields = ("recorded_by_id", "author_id", "made_by_id", "written_by_id", "owner_id")
    return {getattr(entry, name) for name in fields if getattr(entry, name, None) is not None}


def _entry_access(user, entry) -> StudentAccess:
    """Access to change an entry: its case's team, or whoever recorded or owns it while they
    may see the student."""
    if entry is None:
        raise _invalid("entry_id", "No such entry.")
    case = getattr(entry, "case", None)
    if case is not None:
        access = access_case(user, case)
        if access.manages:
            return access.student
        student = access.student
    else:
        student = access_student(user, entry.student_id)
    if user.pk in _responsible(entry):
        return student
    raise PermissionDenied("Only the case team, or whoever recorded it, changes this.")


STRIKABLE: dict[str, type[Model]] = {
    "barrier": CaseBarrier,
    "plan": AttendancePlan,
    "intervention": Intervention,
    "follow_up": FollowUp,
    "contact": FamilyContact,
    "note": CaseNote,
    "referral": Referral,
}


@in_records_language
def do_strike(user, *, entry: str, entry_id: int, reason: str) -> None:
    """Strike through a part of a case (`STRIKABLE`) with a reason: it stays in the history.
    Interventions from the SIS are refused (`SIS_READ_ONLY`)."""
    if entry in SIS_ENTRIES:
        raise _invalid("entry", SIS_READ_ONLY)
    if entry not in STRIKABLE:
        raise _invalid("entry", f"Choose one of: {', '.join(STRIKABLE)}.")
    record = STRIKABLE[entry].objects.filter(pk=entry_id).first()
    access = _entry_access(user, record)
    errors: dict[str, str] = {}
    if record.struck_on is not None:
        errors["entry_id"] = f"Struck through on {display.date(record.struck_on)} already."
    reason = _text(reason, "reason", errors)
    _check(errors)
    today = _today(user)
    case = getattr(record, "case", None)
    with transaction.atomic():
        STRIKABLE[entry].objects.filter(pk=record.pk).update(
            struck_on=today, struck_by=user, struck_reason=reason
        )
        _event(
            user,
            student_id=access.student.pk,
            case=case,
            kind=CaseEvent.Kind.STRUCK,
            on=today,
            summary=f"Struck through a {entry.replace('_', '-')}: {reason}",
            confidential=bool(getattr(record, "confidential", False)),
            entry=entry,
            entry_id=record.pk,
        )
        _audit(user, access, entry.replace("_", "-"), AuditEntry.Action.UPDATE, struck=record.pk)
