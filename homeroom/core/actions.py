"""Writes of district-level records: districts themselves, and the audit trail.

Audit writers run inside the transaction of the change they record.
"""

from typing import Any

from homeroom.core.models import AuditEntry, District


def do_create_district(*, name: str, timezone: str) -> District:
    """A new district, as the first import into it creates it."""
    return District.objects.create(name=name, timezone=timezone)


def do_log_student_access(
    *,
    user,
    student_id: int,
    subject: str,
    access_reason: str,
    action: str = AuditEntry.Action.VIEW,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record that `user` viewed or changed `subject` of one student, and why it was allowed."""
    return AuditEntry.objects.create(
        user=user,
        action=action,
        student_id=student_id,
        subject=subject,
        access_reason=access_reason,
        details=details or {},
    )


def do_log_import(*, user, run_id: int, details: dict[str, Any]) -> AuditEntry:
    """Record that `user` imported files into the district as run `run_id`."""
    return AuditEntry.objects.create(
        user=user,
        action=AuditEntry.Action.IMPORT,
        student_id=None,
        subject=f"import run {run_id}",
        access_reason=user.get_role_display(),
        details=details,
    )


def do_log_export(*, subject: str, details: dict[str, Any], user=None) -> AuditEntry:
    """Record that student data left Homeroom in bulk (a command's export, by `user` if any)."""
    return AuditEntry.objects.create(
        user=user,
        action=AuditEntry.Action.EXPORT,
        student_id=None,
        subject=subject,
        access_reason=user.get_role_display() if user else "command line",
        details=details,
    )


def do_log_district_change(
    *,
    user,
    subject: str,
    action: str = AuditEntry.Action.UPDATE,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Record that `user` changed a district-wide setting no student owns (e.g. the playbook)."""
    return AuditEntry.objects.create(
        user=user,
        action=action,
        student_id=None,
        subject=subject,
        access_reason=user.get_role_display() if user else "command line",
        details=details or {},
    )
