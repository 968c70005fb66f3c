"""THE gatekeeper: every read of student data goes through these functions.

Who may see a student is decided by role and scope, always as a SQL filter:

- district administrators and analysts: every student of their district;
- principals, counselors and viewers: students enrolled this school year at their schools,
  narrowed to some grades where the user has grade scopes at that school;
- teachers: students currently in a section they teach;
- anyone: students currently on their caseload.

Asking for one student raises the same `StudentNotFound` whether the student does not
exist or may not be seen, so the error tells an outsider nothing.
"""

import datetime as dt
import operator
from dataclasses import dataclass
from enum import StrEnum
from functools import reduce

from django.db.models import Q, QuerySet
from django.http import Http404

from homeroom.accounts.models import CaseloadAssignment, GradeScope, Role
from homeroom.core.models import School
from homeroom.core.selectors import current_school_year, district_today
from homeroom.roster.models import Enrollment, SectionEnrollment, Student

SCHOOL_SCOPED_ROLES = frozenset({Role.PRINCIPAL, Role.COUNSELOR, Role.VIEWER})


class Grant(StrEnum):
    """Why a user may see a student, strongest first."""

    DISTRICT = "district-wide"
    SCHOOL = "school"
    GRADE = "grade"
    SECTION = "section"
    CASELOAD = "caseload"


class StudentNotFound(Http404):
    """No such student, or not one the user may see: deliberately the same error."""

    def __init__(self) -> None:
        super().__init__("No student with that id is visible to you.")


@dataclass(frozen=True)
class StudentAccess:
    """A student the user may see, and the strongest reason why."""

    student: Student
    grant: Grant


def _active_on(on: dt.date, start: str = "start_date", end: str = "end_date") -> Q:
    return Q(**{f"{start}__lte": on}) & (Q(**{f"{end}__isnull": True}) | Q(**{f"{end}__gte": on}))


def _grants(user, on: dt.date) -> list[tuple[Grant, Q]]:
    """Each way this user may reach students, as a filter on Student."""
    if user.is_district_wide:
        return [(Grant.DISTRICT, Q())]
    grants = []
    if user.role in SCHOOL_SCOPED_ROLES:
        # The user's few schools and grade scopes are read first and written into the
        # filter as values: as subqueries nested in a per-student EXISTS, they were
        # evaluated again for every enrollment of every student (a counselor's list of a
        # 7,000-student district took 4 s; docs/benchmarks.md, "Lists and downloads").
        # Each grant is `id IN (students of ...)`, not a correlated EXISTS: the database
        # reads the few students once, where an EXISTS let PostgreSQL probe it for each of
        # the 50,000 students the list's own filters kept (3 s at 50,000 students).
        year = current_school_year(user.district_id, on)
        this_year = Enrollment.objects.filter(school_year=year)
        schools = set(user.schools.values_list("pk", flat=True))
        graded: dict[int, list[int]] = {}
        for school_id, grade in GradeScope.objects.filter(user=user).values_list("school", "grade"):
            graded.setdefault(school_id, []).append(grade)
        whole_schools = sorted(schools - set(graded))
        if whole_schools:
            at_schools = this_year.filter(school__in=whole_schools)
            grants.append((Grant.SCHOOL, Q(pk__in=at_schools.values("student"))))
        grades = [Q(school=pk, grade__in=graded[pk]) for pk in sorted(schools & set(graded))]
        if grades:
            in_grades = this_year.filter(reduce(operator.or_, grades))
            grants.append((Grant.GRADE, Q(pk__in=in_grades.values("student"))))
    if user.role == Role.TEACHER:
        taught = SectionEnrollment.objects.filter(_active_on(on), section__teachers=user)
        grants.append((Grant.SECTION, Q(pk__in=taught.values("student"))))
    caseload = CaseloadAssignment.objects.filter(_active_on(on), user=user)
    grants.append((Grant.CASELOAD, Q(pk__in=caseload.values("student"))))
    return grants


def _in_district(user) -> QuerySet[Student]:
    """All students of the user's district; nothing for anonymous or deactivated users."""
    if not user.is_authenticated or not user.is_active or user.district_id is None:
        return Student.objects.none()
    return Student.objects.filter(district_id=user.district_id)


def _scope_date(user, on: dt.date | None) -> dt.date:
    return on if on is not None else district_today(user.district)


def visible_students(user, *, on: dt.date | None = None) -> QuerySet[Student]:
    """The students `user` may see on date `on` (default: today in the district)."""
    students = _in_district(user)
    if not students.query.is_empty():
        conditions = [condition for _, condition in _grants(user, _scope_date(user, on))]
        students = students.filter(reduce(operator.or_, conditions))
    return students


def access_student(user, student_id: int, *, on: dt.date | None = None) -> StudentAccess:
    """The student with this id if `user` may see them, with why; else `StudentNotFound`."""
    students = _in_district(user).filter(pk=student_id)
    if not students.query.is_empty():
        for grant, condition in _grants(user, _scope_date(user, on)):
            student = students.filter(condition).first()
            if student is not None:
                return StudentAccess(student=student, grant=grant)
    raise StudentNotFound()


@dataclass(frozen=True)
class AggregateScope:
    """Whose attendance a user may see added up (dashboards): the district's totals, and
    per school id the grades (None: the whole school)."""

    district: bool
    schools: dict[int, frozenset[int] | None]

    def sees_school(self, school_id: int) -> bool:
        """Whether the user sees every grade of the school added up."""
        return school_id in self.schools and self.schools[school_id] is None

    def sees_grade(self, school_id: int, grade: int) -> bool:
        """Whether the user sees this grade of the school added up."""
        grades = self.schools.get(school_id, frozenset())
        return grades is None or grade in grades


NO_AGGREGATES = AggregateScope(district=False, schools={})


def aggregate_scope(user) -> AggregateScope:
    """The totals `user` may read: those of exactly the students their scope covers whole.

    District-wide roles: the district and every school. Principals, counselors and viewers:
    their schools (narrowed to their grades where they have grade scopes there), whose
    students they see anyway. Teachers and caseloads reach students one by one: no totals.
    """
    if _in_district(user).query.is_empty():
        return NO_AGGREGATES
    if user.is_district_wide:
        schools = School.objects.filter(district_id=user.district_id)
        return AggregateScope(
            district=True, schools=dict.fromkeys(schools.values_list("pk", flat=True))
        )
    if user.role not in SCHOOL_SCOPED_ROLES:
        return NO_AGGREGATES
    graded: dict[int, set[int]] = {}
    for school_id, grade in GradeScope.objects.filter(user=user).values_list("school", "grade"):
        graded.setdefault(school_id, set()).add(grade)
    schools = {
        pk: frozenset(graded[pk]) if pk in graded else None
        for pk in user.schools.values_list("pk", flat=True)
    }
    return AggregateScope(district=False, schools=schools)
