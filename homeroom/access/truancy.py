"""Who may see and decide a student's truancy escalation, and who reads a school's queue.

A step is visible exactly when its student is (`gatekeeper.access_student`): asking for a
step that does not exist and one of a student the user may not see raise the same
`StepNotFound`. Beyond seeing it, a step is decided (approved or declined, its meeting
scheduled and recorded) by the roles the district's pack names for that step (never a
viewer), and by a principal only at the step's school. A school's escalation queue is read
by the district-wide roles and by the staff who serve the school; teachers work with the
students they teach, not with the law's escalation. The district's pack is chosen and
edited by its administrators.

The gatekeeper sits below the truancy app and does not import it: a step is any object
with `student_id` and `school_id`.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from django.http import Http404

from homeroom.access.gatekeeper import StudentAccess, StudentNotFound, access_student
from homeroom.accounts.models import Role

QUEUE_ROLES = frozenset({Role.PRINCIPAL, Role.COUNSELOR, Role.VIEWER})


class StepLike(Protocol):
    """What access to a step is decided on."""

    student_id: int
    school_id: int


class StepNotFound(Http404):
    """No such step, or not one the user may see: deliberately the same error."""

    def __init__(self) -> None:
        super().__init__("No truancy step with that id is visible to you.")


@dataclass(frozen=True)
class StepAccess:
    """A step the user may see, and whether they decide it."""

    student: StudentAccess
    decides: bool


def _serves_school(user, school_id: int) -> bool:
    return user.schools.filter(pk=school_id).exists()


def decides_step(user, step: StepLike, *, approvers: frozenset[str]) -> bool:
    """Whether `user` approves or declines `step`, whose pack names `approvers`."""
    if not user.may_change_student_data:
        return False
    if user.role not in approvers:
        return False
    if user.role == Role.PRINCIPAL:
        return _serves_school(user, step.school_id)
    return True


def access_step(
    user, step: StepLike | None, *, approvers: frozenset[str], on: dt.date | None = None
) -> StepAccess:
    """What `user` may do with `step` (None: no step has the id asked for); else
    `StepNotFound`."""
    if step is None:
        raise StepNotFound()
    try:
        student = access_student(user, step.student_id, on=on)
    except StudentNotFound:
        raise StepNotFound() from None
    return StepAccess(student=student, decides=decides_step(user, step, approvers=approvers))


def reads_school_queue(user, school) -> bool:
    """Whether `user` reads the escalation queue of `school` (of the students they see)."""
    if school.district_id != user.district_id:
        return False
    if user.is_district_wide:
        return True
    if user.role not in QUEUE_ROLES:
        return False
    return _serves_school(user, school.pk)


def edits_truancy_pack(user) -> bool:
    """Whether the user chooses and edits the district's truancy pack."""
    if not user.is_active:
        return False
    return user.role == Role.DISTRICT_ADMIN


def reads_a_queue(user) -> bool:
    """Whether the user reads some school's queue (the navigation offers the page)."""
    if user.is_district_wide:
        return True
    if user.role not in QUEUE_ROLES:
        return False
    return user.schools.exists()
