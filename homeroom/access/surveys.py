"""Who builds needs surveys, who reads their roll-up, and who sees one household's answers.

- District administrators build surveys and send their invitations.
- The roll-up by school is read by whoever sees a school's attendance added up
  (`gatekeeper.aggregate_scope`): district roles every school, principals and viewers theirs.
- A household's own answers are tied to it only for the team managing an open case of one
  of its children (`cases.access_case(...).manages`: the case manager, counselors, the
  principal of the case's school); everyone else sees only the roll-up. Asking for the
  answers of a student one may not see raises `StudentNotFound`, as for any student record.
"""

from collections.abc import Iterable

from homeroom.access.cases import CaseLike, access_case
from homeroom.access.gatekeeper import StudentAccess, access_student, aggregate_scope
from homeroom.accounts.models import Role


class NotCaseTeam(Exception):
    """The user sees the student but manages none of their open cases."""


def builds_surveys(user) -> bool:
    """Whether the user builds needs surveys and sends their invitations."""
    if not user.is_authenticated:
        return False
    if not user.is_active:
        return False
    return user.role == Role.DISTRICT_ADMIN


def reads_survey_results(user) -> bool:
    """Whether the user reads the roll-up of answers for at least one whole school."""
    scope = aggregate_scope(user)
    return scope.district or any(scope.sees_school(pk) for pk in scope.schools)


def access_household_answers(
    user, student_id: int, open_cases: Iterable[CaseLike]
) -> StudentAccess:
    """The student if `user` manages one of `open_cases` (the student's open cases);
    `StudentNotFound` if the student is not theirs to see, `NotCaseTeam` otherwise."""
    student = access_student(user, student_id)
    for case in open_cases:
        if access_case(user, case).manages:
            return student
    raise NotCaseTeam()
