"""Cases: opening, tier, case manager, closing; reading a case; team meetings."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q

from homeroom.access.cases import (
    opens_cases,
    refers_for_case,
)
from homeroom.access.gatekeeper import StudentNotFound, access_student
from homeroom.accounts.models import Role
from homeroom.core.actions import do_log_district_change, in_records_language
from homeroom.core.models import AuditEntry
from homeroom.interventions.actions.common import (
    CASE_MANAGER_ROLES,
    _assign_caseload,
    _audit,
    _case_to_manage,
    _case_to_see,
    _changed_at_version,
    _check,
    _choice,
    _current_school,
    _date,
    _end_caseload,
    _event,
    _invalid,
    _not_before_opened,
    _not_future,
    _staff,
    _text,
    _today,
)
from homeroom.interventions.flags import CASE_FLAG_KINDS
from homeroom.interventions.models import (
    ActionItem,
    Case,
    CaseEvent,
    TeamMeeting,
)
from homeroom.interventions.selectors import CaseFile, case_file
from homeroom.warnings.models import Flag


@in_records_language
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
    return _open_case(
        user,
        student_id=student_id,
        source=source,
        tier=tier,
        opened_on=opened_on,
        source_flag_id=source_flag_id,
        referred_by_id=referred_by_id,
        case_manager_id=case_manager_id,
        note=note,
    )


@in_records_language
def do_refer_for_case(user, *, student_id: int, reason: str) -> Case:
    """A teacher asks for a case for a student they teach: it opens as their referral, at
    tier 2 (the case team sets the tier it finds), with no manager yet, so it waits among the
    school's cases awaiting a manager on the principal's caseload page."""
    if not refers_for_case(user):
        raise PermissionDenied("Teachers ask for a case; counselors and principals open one.")
    errors: dict[str, str] = {}
    reason = _text(reason, "reason", errors)
    _check(errors)
    return _open_case(
        user,
        student_id=student_id,
        source=Case.Source.REFERRAL,
        tier=2,
        referred_by_id=user.pk,
        note=reason,
    )


def _open_case(
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


@in_records_language
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


@in_records_language
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


@in_records_language
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


@in_records_language
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
