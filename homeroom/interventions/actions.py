"""Writes of case management: cases, their parts, team meetings, the playbook and partners.

Every action checks access through the gatekeeper (`homeroom.access.cases`), validates
everything before writing (a `ValidationError` naming the field, nothing saved), and writes
its timeline event (`CaseEvent`) and audit entry in the same transaction as the change.
Nothing is deleted: cases are closed and their parts struck through with a reason. Rows
two staff may edit at once are changed only at the version the editor read
(`VersionConflict` otherwise, carrying the current version).
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model, Q

from homeroom.access.cases import (
    CaseAccess,
    access_case,
    edits_district_playbook,
    logs_family_contacts,
    opens_cases,
    starts_interventions,
)
from homeroom.access.gatekeeper import StudentAccess, StudentNotFound, access_student
from homeroom.accounts.models import CaseloadAssignment, Role, User
from homeroom.core.actions import do_log_district_change, do_log_student_access
from homeroom.core.models import AuditEntry, District, School
from homeroom.core.selectors import current_school_year, district_today
from homeroom.interventions.flags import CASE_FLAG_KINDS
from homeroom.interventions.models import (
    ActionItem,
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
    SisInterventionMapping,
    TeamMeeting,
)
from homeroom.interventions.playbook import (
    Playbook,
    PlaybookError,
    default_playbook,
    read_playbook,
)
from homeroom.interventions.selectors import CaseFile, case_file
from homeroom.roster.models import Enrollment, Language, StudentGuardian
from homeroom.warnings.models import Flag

# Notes on these topics are always confidential, whatever the writer ticked.
CASE_MANAGER_ROLES = frozenset({Role.COUNSELOR, Role.PRINCIPAL})
CONFIDENTIAL_TOPICS = frozenset({CaseNote.Topic.HEALTH, CaseNote.Topic.FAMILY_CRISIS})
# Interventions from the SIS (roster.SisIntervention) are the SIS's record: the next import
# would undo any change made here, so every action that changes an entry refuses them.
SIS_ENTRIES = frozenset({"sis_intervention"})
SIS_READ_ONLY = (
    "Interventions from the SIS are changed in the SIS; the next import brings the change."
)


class VersionConflict(ValidationError):
    """Someone else changed the record since it was read: the change is refused, not merged."""

    def __init__(self, *, what: str, current_version: int) -> None:
        self.current_version = current_version
        super().__init__(
            {
                "version": f"This {what} was changed by someone else meanwhile (it is now at "
                f"version {current_version}): reload it and make your change again."
            }
        )


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError({field: message})


def _check(errors: dict[str, str]) -> None:
    """Raise every field's error at once, if any."""
    if errors:
        raise ValidationError(errors)


def _today(user) -> dt.date:
    return district_today(user.district)


def _date(value, field: str, errors: dict[str, str]) -> dt.date | None:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        errors[field] = "Give a date."
        return None
    return value


def _not_future(day: dt.date | None, today: dt.date, field: str, errors: dict) -> None:
    if day is not None and day > today:
        errors.setdefault(field, "Cannot be in the future.")


def _not_before_opened(day: dt.date | None, case: Case, field: str, errors: dict) -> None:
    if day is not None and day < case.opened_on:
        errors.setdefault(field, f"Cannot be before the case was opened ({case.opened_on}).")


def _text(value, field: str, errors: dict, *, required: bool = True, limit: int = 0) -> str:
    if not isinstance(value, str):
        errors[field] = "Give text."
        return ""
    text = value.strip()
    if required and not text:
        errors[field] = "Required."
    elif limit and len(text) > limit:
        errors[field] = f"At most {limit} characters."
    return text


def _choice(value, choices, field: str, errors: dict) -> str:
    if value not in choices.values:
        errors[field] = f"Choose one of: {', '.join(choices.values)}."
    return value


def _audit(
    user, access: StudentAccess | CaseAccess, subject: str, action: str, **details: Any
) -> None:
    """The audit entry of a change (or view), with the grant that allowed it."""
    student = access.student if isinstance(access, CaseAccess) else access
    do_log_student_access(
        user=user,
        student_id=student.student.pk,
        subject=subject,
        access_reason=student.grant,
        action=action,
        details=details,
    )


def _event(
    user,
    *,
    student_id: int,
    case: Case | None,
    kind: str,
    on: dt.date,
    summary: str,
    confidential: bool = False,
    **details: Any,
) -> CaseEvent:
    return CaseEvent.objects.create(
        student_id=student_id,
        case=case,
        kind=kind,
        on=on,
        by=user,
        summary=summary[:300],
        confidential=confidential,
        details=details,
    )


def _changed_at_version(
    model: type[Model], pk: int, version: int, what: str, **changes: Any
) -> None:
    """Apply `changes` only if the row is still at `version`, and raise its version by one."""
    updated = model.objects.filter(pk=pk, version=version).update(version=version + 1, **changes)
    if not updated:
        current = model.objects.filter(pk=pk).values_list("version", flat=True).first()
        raise VersionConflict(what=what, current_version=current or 0)


def _case_to_see(user, case_id: int) -> tuple[Case, CaseAccess]:
    case = Case.objects.select_related("student").filter(pk=case_id).first()
    return case, access_case(user, case)


def _case_to_manage(user, case_id: int, *, open_only: bool = True) -> tuple[Case, CaseAccess]:
    """The case, if the user may see and manage it; open, unless `open_only` is False."""
    case, access = _case_to_see(user, case_id)
    if not access.manages:
        raise PermissionDenied("Only the case manager, counselors and the principal manage a case.")
    if open_only and case.status != Case.Status.OPEN:
        raise _invalid("case", "The case is closed.")
    return case, access


def _staff(district_id: int, user_id, field: str, errors: dict, roles=None) -> User | None:
    """An active staff member of the district (of `roles`, if given), or an error on `field`."""
    staff = User.objects.filter(pk=user_id, district_id=district_id, is_active=True)
    found = staff.first() if isinstance(user_id, int) else None
    if found is None:
        errors[field] = "No such active staff member in your district."
    elif roles is not None and found.role not in roles:
        errors[field] = f"{found.get_full_name() or found.username} cannot take this role."
    elif not found.may_change_student_data:
        errors[field] = f"{found.get_full_name() or found.username} has read-only access."
    return found


def _current_school(student_id: int, on: dt.date, district_id: int) -> School | None:
    year = current_school_year(district_id, on)
    enrollment = (
        Enrollment.objects.filter(student_id=student_id, school_year=year, entry_date__lte=on)
        .select_related("school")
        .order_by("-entry_date", "-pk")
        .first()
    )
    return enrollment.school if enrollment else None


def _assign_caseload(case: Case, manager: User, on: dt.date) -> None:
    """The case manager sees the student through their caseload while they manage the case."""
    CaseloadAssignment.objects.create(user=manager, student_id=case.student_id, start_date=on)


def _end_caseload(case: Case, manager_id: int | None, on: dt.date) -> None:
    """End the caseload assignment the case gave its manager (those since the case opened)."""
    if manager_id is None:
        return
    CaseloadAssignment.objects.filter(
        user_id=manager_id,
        student_id=case.student_id,
        start_date__gte=case.opened_on,
        start_date__lte=on,
        end_date__isnull=True,
    ).update(end_date=on)


# ---------------------------------------------------------------------------------------
# Cases


def do_open_case(
    user,
    *,
    student_id: int,
    source: str,
    tier: int,
    opened_on: dt.date | None = None,
    source_flag_id: int | None = None,
    referred_by_id: int | None = None,
    case_manager_id: int | None = None,
    note: str = "",
) -> Case:
    """Open a case for a visible student; a counselor opening it becomes its manager unless
    another is named. `source` is a `Case.Source`; a flag or referral names where it came from."""
    if not opens_cases(user):
        raise PermissionDenied("Counselors and principals open cases.")
    access = access_student(user, student_id)
    today = _today(user)
    opened_on = today if opened_on is None else opened_on
    errors: dict[str, str] = {}
    _date(opened_on, "opened_on", errors)
    _not_future(opened_on, today, "opened_on", errors)
    _choice(source, Case.Source, "source", errors)
    if isinstance(tier, bool) or tier not in (1, 2, 3):
        errors["tier"] = "Choose tier 1, 2 or 3."
    school = _current_school(student_id, today, user.district_id)
    if school is None:
        errors["student"] = "The student has no enrollment this school year."
    open_case = Case.objects.filter(student_id=student_id, status=Case.Status.OPEN).first()
    if open_case is not None:
        errors["student"] = f"The student already has an open case (case {open_case.pk})."
    flag = None
    if source == Case.Source.FLAG:
        flag = Flag.objects.filter(pk=source_flag_id, student_id=student_id).first()
        if flag is None:
            errors["source_flag_id"] = "Name one of the student's flags."
    elif source_flag_id is not None:
        errors["source_flag_id"] = "Only a case opened from a flag names one."
    referrer = None
    if source == Case.Source.REFERRAL:
        referrer = _staff(user.district_id, referred_by_id, "referred_by_id", errors)
    elif referred_by_id is not None:
        errors["referred_by_id"] = "Only a case opened from a referral names who referred."
    if case_manager_id is None and user.role == Role.COUNSELOR:
        case_manager_id = user.pk
    manager = None
    if case_manager_id is not None:
        manager = _staff(
            user.district_id, case_manager_id, "case_manager_id", errors, CASE_MANAGER_ROLES
        )
    note = _text(note, "note", errors, required=False)
    _check(errors)
    with transaction.atomic():
        case = Case.objects.create(
            student_id=student_id,
            school=school,
            tier=tier,
            source=source,
            source_flag=flag,
            referred_by=referrer,
            case_manager=manager,
            opened_on=opened_on,
            opened_by=user,
        )
        if manager is not None:
            _assign_caseload(case, manager, opened_on)
        summary = f"Case opened ({case.get_source_display().lower()}, tier {tier})"
        _event(
            user,
            student_id=student_id,
            case=case,
            kind=CaseEvent.Kind.CASE_OPENED,
            on=opened_on,
            summary=summary + (f": {note}" if note else ""),
            source=source,
            tier=tier,
            case_manager_id=case_manager_id,
        )
        _audit(user, access, "case", AuditEntry.Action.CREATE, case_id=case.pk)
    return case


def do_change_case_tier(user, *, case_id: int, version: int, tier: int) -> Case:
    """Move an open case to another tier (its weight in caseloads follows)."""
    case, access = _case_to_manage(user, case_id)
    if isinstance(tier, bool) or tier not in (1, 2, 3):
        raise _invalid("tier", "Choose tier 1, 2 or 3.")
    with transaction.atomic():
        _changed_at_version(Case, case.pk, version, "case", tier=tier)
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.CASE_UPDATED,
            on=_today(user),
            summary=f"Tier {case.tier} -> tier {tier}",
            tier_before=case.tier,
            tier=tier,
        )
        _audit(user, access, "case", AuditEntry.Action.UPDATE, case_id=case.pk, tier=tier)
    case.refresh_from_db()
    return case


def do_assign_case_manager(user, *, case_id: int, version: int, case_manager_id: int) -> Case:
    """Assign or reassign an open case's manager (the principal of the case's school)."""
    case, access = _case_to_see(user, case_id)
    if not access.assigns_manager:
        raise PermissionDenied("The principal of the student's school assigns case managers.")
    errors: dict[str, str] = {}
    if case.status != Case.Status.OPEN:
        errors["case"] = "The case is closed."
    manager = _staff(
        user.district_id, case_manager_id, "case_manager_id", errors, CASE_MANAGER_ROLES
    )
    _check(errors)
    today = _today(user)
    with transaction.atomic():
        _changed_at_version(Case, case.pk, version, "case", case_manager=manager)
        _end_caseload(case, case.case_manager_id, today)
        _assign_caseload(case, manager, today)
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.MANAGER_ASSIGNED,
            on=today,
            summary=f"Case manager: {manager.get_full_name() or manager.username}",
            case_manager_id=manager.pk,
            previous_manager_id=case.case_manager_id,
        )
        _audit(
            user, access, "case manager", AuditEntry.Action.UPDATE, case_id=case.pk, to=manager.pk
        )
    case.refresh_from_db()
    return case


def do_close_case(
    user,
    *,
    case_id: int,
    version: int,
    reason: str,
    note: str = "",
    closed_on: dt.date | None = None,
) -> Case:
    """Close an open case with a reason (`Case.CloseReason`; "other" needs a note). Closing
    with the goal met clears the flag the case was opened from and the case flags."""
    case, access = _case_to_manage(user, case_id)
    today = _today(user)
    closed_on = today if closed_on is None else closed_on
    errors: dict[str, str] = {}
    _date(closed_on, "closed_on", errors)
    _not_future(closed_on, today, "closed_on", errors)
    _not_before_opened(closed_on, case, "closed_on", errors)
    _choice(reason, Case.CloseReason, "reason", errors)
    note = _text(note, "note", errors, required=reason == Case.CloseReason.OTHER)
    _check(errors)
    with transaction.atomic():
        _changed_at_version(
            Case,
            case.pk,
            version,
            "case",
            status=Case.Status.CLOSED,
            closed_on=closed_on,
            close_reason=reason,
            close_note=note,
        )
        _end_caseload(case, case.case_manager_id, today)
        cleared: list[int] = []
        if reason == Case.CloseReason.GOAL_MET:
            flags = Flag.objects.filter(student_id=case.student_id, cleared_on__isnull=True).filter(
                Q(kind__in=CASE_FLAG_KINDS) | Q(pk=case.source_flag_id)
            )
            cleared = list(flags.values_list("pk", flat=True))
            flags.update(cleared_on=today)
        _event(
            user,
            student_id=case.student_id,
            case=case,
            kind=CaseEvent.Kind.CASE_CLOSED,
            on=closed_on,
            summary=f"Case closed: {Case.CloseReason(reason).label}"
            + (f" ({note})" if note else ""),
            reason=reason,
            cleared_flags=cleared,
        )
        _audit(user, access, "case", AuditEntry.Action.UPDATE, case_id=case.pk, closed=reason)
    case.refresh_from_db()
    return case


# ---------------------------------------------------------------------------------------
# Parts of a case


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
            summary=f"Attendance plan: {plan.goal}; review {plan.review_on}",
            plan_id=plan.pk,
        )
        _audit(user, access, "attendance plan", AuditEntry.Action.CREATE, plan_id=plan.pk)
    return plan


def _plan_to_manage(user, plan_id: int) -> tuple[AttendancePlan, Case, CaseAccess]:
    plan = AttendancePlan.objects.filter(pk=plan_id, struck_on__isnull=True).first()
    case, access = _case_to_manage(user, plan.case_id if plan else None)
    return plan, case, access


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
            summary=f"Attendance plan revised: {plan.goal}; review {plan.review_on}",
            plan_id=plan.pk,
        )
        _audit(user, access, "attendance plan", AuditEntry.Action.UPDATE, plan_id=plan.pk)
    return plan


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
        errors["plan"] = f"The plan was reviewed on {plan.reviewed_on} already."
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
        errors["intervention"] = f"It ended on {intervention.ended_on} already."
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
            summary=f"Follow-up due {due_on}: {description}",
            follow_up_id=follow_up.pk,
            owner_id=owner.pk,
        )
        _audit(user, access, "follow-up", AuditEntry.Action.CREATE, id=follow_up.pk)
    return follow_up


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
        errors["follow_up"] = f"It was done on {follow_up.done_on} already."
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
        errors["entry_id"] = f"Struck through on {record.struck_on} already."
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


# ---------------------------------------------------------------------------------------
# Reading a case (a view is audited like a change)


def do_view_case(user, *, case_id: int) -> CaseFile:
    """The case file as `user` may read it, with the view recorded in the audit log."""
    case, access = _case_to_see(user, case_id)
    with transaction.atomic():
        file = case_file(user, case=case, access=access)
        _audit(
            user,
            access.student,
            "case file",
            AuditEntry.Action.VIEW,
            case_id=case.pk,
            confidential_notes=len(file.confidential_notes),
        )
    return file


# ---------------------------------------------------------------------------------------
# Team meetings


@dataclass(frozen=True)
class ActionItemInput:
    """An action item agreed in a team meeting, as the form gives it."""

    description: str
    owner_id: int
    student_id: int | None = None
    due_on: dt.date | None = None


def do_record_team_meeting(
    user,
    *,
    school_id: int,
    held_on: dt.date,
    notes: str = "",
    action_items: Iterable[ActionItemInput] = (),
) -> TeamMeeting:
    """Record a school's attendance team (SART) meeting and the action items agreed, each
    with its owner (principals and counselors of the school)."""
    if not opens_cases(user) or not user.schools.filter(pk=school_id).exists():
        raise PermissionDenied("The school's principal and counselors record its team meetings.")
    errors: dict[str, str] = {}
    _date(held_on, "held_on", errors)
    _not_future(held_on, _today(user), "held_on", errors)
    notes = _text(notes, "notes", errors, required=False)
    items, accesses = [], {}
    for number, item in enumerate(action_items, start=1):
        field = f"action_items[{number}]"
        description = _text(item.description, f"{field}.description", errors, limit=300)
        owner = _staff(user.district_id, item.owner_id, f"{field}.owner_id", errors)
        if item.student_id is not None:
            try:
                accesses[item.student_id] = access_student(user, item.student_id)
            except StudentNotFound:
                errors[f"{field}.student_id"] = "No such student visible to you."
        if item.due_on is not None:
            _date(item.due_on, f"{field}.due_on", errors)
        items.append((description, owner, item))
    _check(errors)
    with transaction.atomic():
        meeting = TeamMeeting.objects.create(
            school_id=school_id, held_on=held_on, recorded_by=user, notes=notes
        )
        ActionItem.objects.bulk_create(
            ActionItem(
                meeting=meeting,
                student_id=item.student_id,
                description=description,
                owner=owner,
                due_on=item.due_on,
            )
            for description, owner, item in items
        )
        for access in accesses.values():
            _audit(user, access, "team meeting", AuditEntry.Action.CREATE, meeting_id=meeting.pk)
        do_log_district_change(
            user=user,
            subject=f"team meeting {meeting.pk}",
            action=AuditEntry.Action.CREATE,
            details={"school_id": school_id, "held_on": held_on.isoformat()},
        )
    return meeting


# ---------------------------------------------------------------------------------------
# The playbook, barriers and partners (district administrators)


def _must_edit_playbook(user) -> None:
    if not edits_district_playbook(user):
        raise PermissionDenied("District administrators edit the playbook and partners.")


def _store_playbook(district: District, playbook: Playbook, *, retire_missing: bool, today) -> dict:
    """Create or update the playbook's entries by key; with `retire_missing`, retire the
    district's entries the playbook does not list (nothing is deleted)."""
    counts = {"created": 0, "updated": 0, "retired": 0}
    barriers = {b.key: b for b in Barrier.objects.filter(district=district)}
    for entry in playbook.barriers:
        fields = {"name": entry.name, "description": entry.description, "retired_on": None}
        barrier = barriers.get(entry.key)
        if barrier is None:
            barriers[entry.key] = Barrier.objects.create(district=district, key=entry.key, **fields)
            counts["created"] += 1
        elif any(getattr(barrier, k) != v for k, v in fields.items()):
            Barrier.objects.filter(pk=barrier.pk).update(**fields)
            counts["updated"] += 1
    types = {t.key: t for t in InterventionType.objects.filter(district=district)}
    for entry in playbook.interventions:
        fields = {
            "name": entry.name,
            "tier1": 1 in entry.tiers,
            "tier2": 2 in entry.tiers,
            "tier3": 3 in entry.tiers,
            "description": entry.description,
            "typical_weeks": entry.typical_weeks,
            "evidence": entry.evidence,
            "retired_on": None,
        }
        kind = types.get(entry.key)
        addressed = {barriers[key].pk for key in entry.barriers}
        if kind is None:
            kind = InterventionType.objects.create(district=district, key=entry.key, **fields)
            kind.barriers.set(addressed)
            counts["created"] += 1
        elif any(getattr(kind, k) != v for k, v in fields.items()) or addressed != set(
            kind.barriers.values_list("pk", flat=True)
        ):
            InterventionType.objects.filter(pk=kind.pk).update(**fields)
            kind.barriers.set(addressed)
            counts["updated"] += 1
    if retire_missing:
        listed = {e.key for e in playbook.interventions}
        retired = InterventionType.objects.filter(district=district, retired_on__isnull=True)
        counts["retired"] += retired.exclude(key__in=listed).update(retired_on=today)
        listed = {e.key for e in playbook.barriers}
        retired = Barrier.objects.filter(district=district, retired_on__isnull=True)
        counts["retired"] += retired.exclude(key__in=listed).update(retired_on=today)
    return counts


def do_install_defaults(district: District) -> dict[str, int]:
    """Install Homeroom's default barriers and playbook for a district, once: entries the
    district already holds (edited or retired) are left as they are. Safe to repeat."""
    playbook = default_playbook()
    held_barriers = set(Barrier.objects.filter(district=district).values_list("key", flat=True))
    held_types = set(
        InterventionType.objects.filter(district=district).values_list("key", flat=True)
    )
    missing = Playbook(
        barriers=[b for b in playbook.barriers if b.key not in held_barriers],
        interventions=[i for i in playbook.interventions if i.key not in held_types],
    )
    if not missing.barriers and not missing.interventions:
        return {"created": 0}
    # A default intervention may address a barrier the district already holds.
    known = held_barriers | {b.key for b in missing.barriers}
    missing = Playbook(
        barriers=missing.barriers,
        interventions=[
            type(i)(**{**i.__dict__, "barriers": tuple(b for b in i.barriers if b in known)})
            for i in missing.interventions
        ],
    )
    with transaction.atomic():
        counts = _store_playbook(
            district, missing, retire_missing=False, today=district_today(district)
        )
    return {"created": counts["created"]}


def do_import_playbook(user, *, text: str) -> dict[str, int]:
    """Replace the district's playbook by a TOML file's (docs/interventions.md): entries are
    created or updated by key, those the file leaves out are retired. `PlaybookError` (a
    `ValidationError` on "playbook") names the line and field of the first mistake."""
    _must_edit_playbook(user)
    try:
        playbook = read_playbook(text)
    except PlaybookError as error:
        raise _invalid("playbook", str(error)) from None
    with transaction.atomic():
        counts = _store_playbook(user.district, playbook, retire_missing=True, today=_today(user))
        do_log_district_change(user=user, subject="playbook", details={"imported": counts})
    return counts


def do_save_barrier(user, *, key: str, name: str, description: str = "") -> Barrier:
    """Add a barrier to the district's list, or rename one (by key); a retired one returns."""
    _must_edit_playbook(user)
    errors: dict[str, str] = {}
    name = _text(name, "name", errors, limit=120)
    description = _text(description, "description", errors, required=False)
    if not isinstance(key, str) or not key or not all(c.isalnum() or c in "-_" for c in key):
        errors["key"] = "Letters, digits, '-' or '_'."
    _check(errors)
    with transaction.atomic():
        barrier, _ = Barrier.objects.update_or_create(
            district=user.district,
            key=key,
            defaults={"name": name, "description": description, "retired_on": None},
        )
        do_log_district_change(user=user, subject=f"barrier {key}")
    return barrier


def do_map_sis_intervention(user, *, code: str, intervention_type_id: int | None) -> None:
    """Show an intervention code of the SIS as a playbook entry (None: remove the mapping, so
    the code is matched by key or name again). Only the mapping changes, never the SIS's
    records."""
    _must_edit_playbook(user)
    errors: dict[str, str] = {}
    code = _text(code, "code", errors, limit=60)
    kind = None
    if intervention_type_id is not None:
        kind = InterventionType.objects.filter(
            pk=intervention_type_id, district_id=user.district_id
        ).first()
        if kind is None:
            errors["intervention_type_id"] = "No such intervention in your district's playbook."
    _check(errors)
    with transaction.atomic():
        if kind is None:
            SisInterventionMapping.objects.filter(district=user.district, code=code).delete()
        else:
            SisInterventionMapping.objects.update_or_create(
                district=user.district, code=code, defaults={"kind": kind}
            )
        do_log_district_change(
            user=user,
            subject=f"SIS intervention code {code}",
            details={"playbook_entry": kind.key if kind else None},
        )


def do_retire(user, *, entry: str, entry_id: int) -> None:
    """Retire a barrier, intervention type or partner: no longer offered, kept in history."""
    _must_edit_playbook(user)
    models = {"barrier": Barrier, "intervention_type": InterventionType, "partner": Partner}
    if entry not in models:
        raise _invalid("entry", f"Choose one of: {', '.join(models)}.")
    rows = models[entry].objects.filter(pk=entry_id, district_id=user.district_id)
    with transaction.atomic():
        if not rows.filter(retired_on__isnull=True).update(retired_on=_today(user)):
            raise _invalid("entry_id", "No such entry still offered in your district.")
        do_log_district_change(user=user, subject=f"{entry} {entry_id}", details={"retired": True})


def do_save_intervention_type(
    user,
    *,
    key: str,
    name: str,
    tiers: Sequence[int],
    barrier_ids: Sequence[int] = (),
    description: str = "",
    typical_weeks: int | None = None,
    evidence: str = "",
) -> InterventionType:
    """Add an intervention type to the district's playbook, or change one (by key)."""
    _must_edit_playbook(user)
    errors: dict[str, str] = {}
    name = _text(name, "name", errors, limit=120)
    if not isinstance(key, str) or not key or not all(c.isalnum() or c in "-_" for c in key):
        errors["key"] = "Letters, digits, '-' or '_'."
    if not tiers or any(isinstance(t, bool) or t not in (1, 2, 3) for t in tiers):
        errors["tiers"] = "Choose one or more of the tiers 1, 2, 3."
    addressed = Barrier.objects.filter(pk__in=list(barrier_ids), district_id=user.district_id)
    if addressed.count() != len(set(barrier_ids)):
        errors["barrier_ids"] = "No such barrier in your district's list."
    if typical_weeks is not None and (
        isinstance(typical_weeks, bool)
        or not isinstance(typical_weeks, int)
        or not 1 <= typical_weeks <= 52
    ):
        errors["typical_weeks"] = "A whole number of weeks from 1 to 52, or empty."
    description = _text(description, "description", errors, required=False)
    evidence = _text(evidence, "evidence", errors, required=False)
    _check(errors)
    with transaction.atomic():
        kind, _ = InterventionType.objects.update_or_create(
            district=user.district,
            key=key,
            defaults={
                "name": name,
                "tier1": 1 in tiers,
                "tier2": 2 in tiers,
                "tier3": 3 in tiers,
                "description": description,
                "typical_weeks": typical_weeks,
                "evidence": evidence,
                "retired_on": None,
            },
        )
        kind.barriers.set(addressed)
        do_log_district_change(user=user, subject=f"intervention type {key}")
    return kind


def do_save_partner(
    user,
    *,
    name: str,
    partner_id: int | None = None,
    version: int | None = None,
    services: str = "",
    barrier_ids: Sequence[int] = (),
    languages: Sequence[str] = (),
    contact_name: str = "",
    phone: str = "",
    email: str = "",
    capacity: int | None = None,
    school_ids: Sequence[int] = (),
) -> Partner:
    """Add a partner to the district's directory (no `partner_id`), or change one at the
    `version` read."""
    _must_edit_playbook(user)
    errors: dict[str, str] = {}
    name = _text(name, "name", errors, limit=200)
    services = _text(services, "services", errors, required=False)
    contact_name = _text(contact_name, "contact_name", errors, required=False, limit=200)
    phone = _text(phone, "phone", errors, required=False, limit=30)
    email = _text(email, "email", errors, required=False, limit=254)
    if email and "@" not in email:
        errors["email"] = "Give an email address."
    unknown = sorted(set(languages) - set(Language.values))
    if unknown:
        errors["languages"] = f"Unknown language code(s): {', '.join(unknown)}."
    if capacity is not None and (
        isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1
    ):
        errors["capacity"] = "A whole number, 1 or more, or empty for no limit."
    barriers = Barrier.objects.filter(pk__in=list(barrier_ids), district_id=user.district_id)
    if barriers.count() != len(set(barrier_ids)):
        errors["barrier_ids"] = "No such barrier in your district's list."
    schools = School.objects.filter(pk__in=list(school_ids), district_id=user.district_id)
    if schools.count() != len(set(school_ids)):
        errors["school_ids"] = "No such school in your district."
    partner = None
    if partner_id is not None:
        partner = Partner.objects.filter(pk=partner_id, district_id=user.district_id).first()
        if partner is None:
            errors["partner_id"] = "No such partner in your district's directory."
    _check(errors)
    fields = {
        "name": name,
        "services": services,
        "languages": sorted(set(languages)),
        "contact_name": contact_name,
        "phone": phone,
        "email": email,
        "capacity": capacity,
    }
    with transaction.atomic():
        if partner is None:
            partner = Partner.objects.create(district=user.district, **fields)
        else:
            _changed_at_version(Partner, partner.pk, version, "partner", **fields)
            partner.refresh_from_db()
        partner.barriers.set(barriers)
        partner.schools.set(schools)
        do_log_district_change(user=user, subject=f"partner {partner.pk}")
    return partner
