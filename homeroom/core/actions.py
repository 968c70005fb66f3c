"""Writes of district-level records: districts themselves, and the audit trail.

Audit writers run inside the transaction of the change they record. An entry names who:
the signed-in user, or the command and the server's user who ran it (`CommandLine`).
"""

import functools
import getpass
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import translation

from homeroom.core.models import AuditEntry, District


@dataclass(frozen=True)
class CommandLine:
    """A command run on the server, as an audit entry names it: `homeroom import` by the
    operating system's user who ran it."""

    command: str
    system_user: str = field(default_factory=lambda: _system_user())


def _system_user() -> str:
    try:
        return getpass.getuser()
    except OSError:  # no name for the process's uid (a bare container)
        return "unknown"


def do_create_district(*, name: str, timezone: str) -> District:
    """A new district, as the first import into it creates it."""
    return District.objects.create(name=name, timezone=timezone)


def _entry(
    *,
    user,
    action: str,
    subject: str,
    district: District | int | None = None,
    via: CommandLine | None = None,
    access_reason: str = "",
    **fields: Any,
) -> AuditEntry:
    """One audit entry; its district is the user's unless given."""
    district_id = district.pk if isinstance(district, District) else district
    if district_id is None and user is not None:
        district_id = user.district_id
    if not access_reason:
        access_reason = user.get_role_display() if user else "command line"
    return AuditEntry.objects.create(
        user=user,
        district_id=district_id,
        command=via.command if via else "",
        system_user=via.system_user if via else "",
        action=action,
        subject=subject,
        access_reason=access_reason,
        **fields,
    )


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
    return _entry(
        user=user,
        action=action,
        student_id=student_id,
        subject=subject,
        access_reason=access_reason,
        details=details or {},
    )


def do_log_denied_student(
    *, user, student_id: int | None, subject: str, details: dict[str, Any] | None = None
) -> AuditEntry:
    """Record that `user` asked for a student record they may not see (or that does not
    exist: the answer is the same, and so is the entry)."""
    return _entry(
        user=user,
        action=AuditEntry.Action.DENIED,
        student_id=student_id,
        subject=subject,
        access_reason="not visible to this user",
        details=details or {},
    )


def do_log_import(
    *,
    district: District,
    run_id: int,
    count: int,
    details: dict[str, Any],
    user=None,
    via: CommandLine | None = None,
) -> AuditEntry:
    """Record that `user` (or a command) imported files into the district as run `run_id`,
    changing `count` records."""
    return _entry(
        user=user,
        district=district,
        via=via,
        action=AuditEntry.Action.IMPORT,
        subject=f"import run {run_id}",
        count=count,
        details=details,
    )


def do_log_export(
    *,
    subject: str,
    count: int,
    details: dict[str, Any],
    district: District | None = None,
    user=None,
    via: CommandLine | None = None,
) -> AuditEntry:
    """Record that `count` rows of student data left Homeroom in bulk (a page's download by
    `user`, or a command's export)."""
    return _entry(
        user=user,
        district=district,
        via=via,
        action=AuditEntry.Action.EXPORT,
        subject=subject,
        count=count,
        details=details,
    )


def do_log_district_change(
    *,
    user,
    subject: str,
    action: str = AuditEntry.Action.UPDATE,
    details: dict[str, Any] | None = None,
    district: District | None = None,
    via: CommandLine | None = None,
) -> AuditEntry:
    """Record that `user` changed a district-wide setting no student owns (e.g. the playbook)."""
    return _entry(
        user=user, district=district, via=via, action=action, subject=subject, details=details or {}
    )


def in_records_language(function):
    """Runs a write in the language records are kept in (settings.LANGUAGE_CODE): the text
    it stores (a timeline line, frozen evidence) reads the same whoever wrote it, whatever
    language they read Homeroom in (docs/languages.md)."""

    @functools.wraps(function)
    def in_records_language(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return function(*args, **kwargs)

    return in_records_language
