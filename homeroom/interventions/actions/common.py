"""What every action of case management shares: validation, access to a case, its
timeline event and audit entry, the version check."""

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model

from homeroom.access.cases import (
    CaseAccess,
    access_case,
)
from homeroom.access.gatekeeper import StudentAccess
from homeroom.accounts.models import CaseloadAssignment, Role, User
from homeroom.core.actions import do_log_student_access
from homeroom.core.models import School
from homeroom.core.selectors import current_school_year, district_today
from homeroom.interventions.models import (
    Case,
    CaseEvent,
    CaseNote,
)
from homeroom.metrics import display
from homeroom.roster.models import Enrollment

CASE_MANAGER_ROLES = frozenset({Role.COUNSELOR, Role.PRINCIPAL})
# Notes on these topics are always confidential, whatever the writer ticked.
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
        errors.setdefault(
            field, f"Cannot be before the case was opened ({display.date(case.opened_on)})."
        )


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
