"""Reads of the audit trail: who viewed, changed or exported which student's record.

District administrators read their district's trail on the web (`/audit/`); whoever runs
the server reads any district's with `homeroom audit`. Both read it through here, with the
same filters and the same words (labels, never stored codes; docs/access.md).
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from homeroom.access.gatekeeper import Grant
from homeroom.accounts.models import Role, User
from homeroom.core.models import AuditEntry, District
from homeroom.roster.models import Student

# The `who` filter's value for entries written by a command rather than a signed-in user.
COMMAND_LINE = "command-line"
# The columns of the trail as a CSV file, in order.
CSV_COLUMNS = (
    "When",
    "Who",
    "Role or reason",
    "Action",
    "Student id",
    "Student",
    "What",
    "How many",
    "Address",
)
# Why a view was allowed (the gatekeeper's grant), as the trail says it to a reader.
GRANT_LABELS = {
    Grant.DISTRICT: "Role covers the whole district",
    Grant.SCHOOL: "Serves the student's school",
    Grant.GRADE: "Serves the student's grade",
    Grant.SECTION: "Teaches the student's section",
    Grant.CASELOAD: "Student on their caseload",
}


class AuditNotFound(Http404):
    """The audit page, for anyone who may not read it: as if there were none."""

    def __init__(self) -> None:
        super().__init__("There is no such page.")


def may_read_audit(user) -> bool:
    """Whether the user reads the district's audit trail (active district administrators)."""
    return user.is_active and user.district_id is not None and user.role == Role.DISTRICT_ADMIN


@dataclass(frozen=True)
class AuditFilters:
    """What to show of the trail; every part optional. `who` is a username or COMMAND_LINE;
    `student` a student's local id or part of their name; dates are whole days, both
    included, in the district's timezone."""

    who: str = ""
    student: str = ""
    action: str = ""
    start: dt.date | None = None
    end: dt.date | None = None


def audit_entries(district: District, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The district's entries that match the filters, newest first."""
    entries = AuditEntry.objects.filter(district=district).select_related("user")
    if filters.who == COMMAND_LINE:
        entries = entries.filter(user=None)
    elif filters.who:
        entries = entries.filter(user__username=filters.who)
    if filters.student:
        text = filters.student.strip()
        named = Student.objects.filter(district=district).filter(
            Q(local_id=text) | Q(first_name__icontains=text) | Q(last_name__icontains=text)
        )
        entries = entries.filter(student_id__in=named.values("pk"))
    if filters.action:
        entries = entries.filter(action=filters.action)
    zone = timezone.get_current_timezone()
    if filters.start:
        entries = entries.filter(at__gte=dt.datetime.combine(filters.start, dt.time(), zone))
    if filters.end:
        after = filters.end + dt.timedelta(days=1)
        entries = entries.filter(at__lt=dt.datetime.combine(after, dt.time(), zone))
    return entries.order_by("-at", "-pk")


def district_audit(user, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The trail of the user's district for an administrator; `AuditNotFound` otherwise."""
    if not may_read_audit(user):
        raise AuditNotFound
    return audit_entries(user.district, filters)


def staff_choices(district: District) -> list[tuple[str, str]]:
    """Whom the trail may be filtered by: the district's staff, and the command line."""
    people = User.objects.filter(district=district).order_by("last_name", "first_name")
    return [(COMMAND_LINE, "Command line"), *((u.username, _person(u)) for u in people)]


@dataclass(frozen=True)
class AuditRow:
    """One entry as people read it."""

    at: dt.datetime
    who: str
    reason: str
    action: str
    student_local_id: str
    student: str
    subject: str
    count: int | None
    address: str

    def cells(self) -> list:
        """The row's cells for the CSV file, in CSV_COLUMNS' order."""
        when = timezone.localtime(self.at).isoformat(timespec="seconds")
        count = "" if self.count is None else self.count
        return [
            when,
            self.who,
            self.reason,
            self.action,
            self.student_local_id,
            self.student,
            self.subject,
            count,
            self.address,
        ]


def _person(user: User) -> str:
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


def _who(entry: AuditEntry) -> str:
    if entry.command:
        return f"{entry.command} (system user {entry.system_user or 'unknown'})"
    if entry.user is not None:
        return _person(entry.user)
    return "Homeroom"


def audit_rows(entries) -> list[AuditRow]:
    """The entries with people's and students' names and the actions' labels."""
    entries = list(entries)
    ids = {entry.student_id for entry in entries if entry.student_id is not None}
    students = {s.pk: s for s in Student.objects.filter(pk__in=ids)}
    rows = []
    for entry in entries:
        student = students.get(entry.student_id)
        if student is not None:
            local_id, name = student.local_id, f"{student.first_name} {student.last_name}"
        elif entry.student_id is not None:
            local_id, name = "", f"student #{entry.student_id} (no longer held)"
        else:
            local_id, name = "", ""
        rows.append(
            AuditRow(
                at=entry.at,
                who=_who(entry),
                reason=GRANT_LABELS.get(entry.access_reason, entry.access_reason),
                action=entry.get_action_display(),
                student_local_id=local_id,
                student=name,
                subject=entry.subject,
                count=entry.count,
                address=entry.address or "",
            )
        )
    return rows
