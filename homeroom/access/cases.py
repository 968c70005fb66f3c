"""Who may see and change a student's case, and who reads its confidential notes.

A case is visible exactly when its student is (`gatekeeper.access_student`): asking for a
case that does not exist and one of a student the user may not see raise the same
`CaseNotFound`. Beyond seeing it:

- confidential notes (health, family crisis) are read by the case manager, counselors,
  and the principal of the case's school; never by teachers, viewers or analysts;
- the case is managed (plan, barriers, follow-ups, referrals, notes, closing) by its case
  manager, counselors, and the principal of its school;
- case managers are assigned by the principal of the case's school;
- family contacts are logged by teachers, counselors, principals and administrators, and
  teachers start Tier 1 interventions only;
- the district's playbook, barriers and partners are edited by its administrators.

The gatekeeper sits below the interventions app and does not import it: a case is any
object with `student_id`, `school_id` and `case_manager_id`.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.db.models import QuerySet
from django.http import Http404

from homeroom.access.gatekeeper import (
    StudentAccess,
    StudentNotFound,
    access_student,
    visible_students,
)
from homeroom.accounts.models import Role

CASE_MANAGING_ROLES = frozenset({Role.PRINCIPAL, Role.COUNSELOR})
CONTACT_LOGGING_ROLES = frozenset(
    {Role.DISTRICT_ADMIN, Role.PRINCIPAL, Role.COUNSELOR, Role.TEACHER}
)


class CaseLike(Protocol):
    """What access to a case is decided on."""

    student_id: int
    school_id: int
    case_manager_id: int | None


class CaseNotFound(Http404):
    """No such case, or not one the user may see: deliberately the same error."""

    def __init__(self) -> None:
        super().__init__("No case with that id is visible to you.")


@dataclass(frozen=True)
class CaseAccess:
    """A case the user may see: the student's access, and what else the user may do."""

    student: StudentAccess
    reads_confidential: bool
    manages: bool
    assigns_manager: bool


def _serves_school(user, school_id: int) -> bool:
    return user.schools.filter(pk=school_id).exists()


def _is_manager(user, case: CaseLike) -> bool:
    return case.case_manager_id is not None and case.case_manager_id == user.pk


def _on_case_team(user, case: CaseLike) -> bool:
    """The case manager, counselors, the principal of the case's school: they manage the
    case and read its confidential notes (one rule for both, so they cannot drift apart)."""
    if _is_manager(user, case):
        return True
    if user.role == Role.COUNSELOR:
        return True
    if user.role == Role.PRINCIPAL:
        return _serves_school(user, case.school_id)
    return False


def _assigns_manager(user, case: CaseLike) -> bool:
    if user.role != Role.PRINCIPAL:
        return False
    return _serves_school(user, case.school_id)


def access_case(user, case: CaseLike | None, *, on: dt.date | None = None) -> CaseAccess:
    """What `user` may do with `case` (None: no case has the id asked for); else `CaseNotFound`."""
    if case is None:
        raise CaseNotFound()
    try:
        student = access_student(user, case.student_id, on=on)
    except StudentNotFound:
        raise CaseNotFound() from None
    return CaseAccess(
        student=student,
        reads_confidential=_on_case_team(user, case),
        manages=_on_case_team(user, case),
        assigns_manager=_assigns_manager(user, case),
    )


def of_visible_students(
    user, rows: QuerySet, *, student_field: str = "student", students: QuerySet | None = None
) -> QuerySet:
    """The rows (cases, contacts, ...) whose student `user` may see, filtered in SQL;
    `students` is `visible_students(user)` when the caller built it already."""
    seen = visible_students(user) if students is None else students
    return rows.filter(**{f"{student_field}__in": seen})


def opens_cases(user) -> bool:
    """Whether the user's role opens cases (for students they may see)."""
    return user.role in CASE_MANAGING_ROLES


def refers_for_case(user) -> bool:
    """Whether the user's role asks for a case (a referral by staff) rather than opening one:
    teachers, who see the student every day but do not manage cases."""
    return user.role == Role.TEACHER


def logs_family_contacts(user) -> bool:
    """Whether the user's role logs contacts with families (of students they may see)."""
    return user.role in CONTACT_LOGGING_ROLES


def resolves_unmatched_messages(user) -> bool:
    """Whether the user reads the texts and emails no guardian could be matched to, and
    assigns them to a family or dismisses them: staff who log family contacts for the whole
    district (district administrators), since the words may be about any student."""
    return user.is_district_wide and logs_family_contacts(user)


def resolves_unknown_sends(user) -> bool:
    """Whether the user settles messages whose sending was interrupted (sent or not?):
    confirms them sent, sends them again or gives them up. The same staff as unmatched
    messages, for the same reason: the messages may be about any student of the district."""
    return resolves_unmatched_messages(user)


def starts_interventions(user, *, tiers: Iterable[int]) -> bool:
    """Whether the user starts an intervention serving `tiers` (for a student they may see)."""
    if user.role in CASE_MANAGING_ROLES:
        return True
    if user.role == Role.TEACHER:
        return 1 in set(tiers)
    return False


def edits_district_playbook(user) -> bool:
    """Whether the user edits the district's playbook, barriers and partners."""
    if not user.is_authenticated:
        return False
    if not user.is_active:
        return False
    return user.role == Role.DISTRICT_ADMIN
