"""Reads of roster data: finding the students a user may see, and one student's record.

Lists start from `visible_students(user)`; one student's details take the `StudentAccess`
the gatekeeper granted, so nothing here reaches a student the user may not see.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from homeroom.access.gatekeeper import StudentAccess, visible_students
from homeroom.core.models import School, SchoolYear
from homeroom.core.selectors import district_today
from homeroom.roster.models import (
    Enrollment,
    Student,
    StudentCharacteristic,
    StudentGuardian,
)


def find_students(
    user,
    *,
    school_year: SchoolYear | None,
    text: str = "",
    school: School | None = None,
    grade: int | None = None,
    group: str = "",
    enrolled_only: bool = False,
) -> QuerySet[Student]:
    """Visible students matching every word of `text` (name or id), a school this year, a
    grade, a group (a characteristic held today); with `enrolled_only`, only those enrolled
    at some time in the school year.

    Each student carries `school_name`: the school of their latest enrollment that year.
    """
    students = visible_students(user)
    for word in text.split():
        students = students.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(local_id__icontains=word)
            | Q(state_id__icontains=word)
        )
    this_year = Enrollment.objects.filter(student=OuterRef("pk"), school_year=school_year)
    if school is not None:
        students = students.filter(Exists(this_year.filter(school=school)))
    if grade is not None:
        students = students.filter(grade=grade)
    if enrolled_only:
        students = students.filter(Exists(this_year))
    if group:
        today = district_today(user.district)
        held = StudentCharacteristic.objects.filter(
            Q(end_date__isnull=True) | Q(end_date__gte=today),
            student=OuterRef("pk"),
            kind=group,
            start_date__lte=today,
        )
        students = students.filter(Exists(held))
    latest = this_year.order_by("-entry_date", "-pk").values("school__name")[:1]
    return students.annotate(school_name=Subquery(latest))


def menus_of_visible_students(
    user, *, school_year: SchoolYear | None
) -> tuple[QuerySet[School], list[int]]:
    """What a list's school and grade menus offer, asking the gatekeeper once (it is the
    costly part of a list for a counselor with grade scopes): the schools where students
    the user may see are enrolled in the school year, by name; their grades, lowest first.
    """
    pairs = set(
        visible_students(user)
        .order_by()
        .values_list("grade", "enrollments__school", "enrollments__school_year")
        .distinct()
    )
    year = school_year.pk if school_year else None
    schools = {school for _, school, in_year in pairs if school and in_year == year}
    grades = sorted({grade for grade, _, _ in pairs})
    return School.objects.filter(pk__in=schools).order_by("name"), grades


def student_characteristics(access: StudentAccess) -> list[StudentCharacteristic]:
    """The student's characteristics (IEP, English learner, ...), current and past."""
    return list(access.student.characteristics.order_by("-start_date", "kind"))


def student_guardians(access: StudentAccess) -> list[StudentGuardian]:
    """The student's guardians and contacts, in contact priority order."""
    return list(
        StudentGuardian.objects.filter(student=access.student)
        .select_related("guardian")
        .order_by("contact_priority", "guardian__last_name", "guardian__first_name")
    )


def student_enrollments(access: StudentAccess) -> list[Enrollment]:
    """Every enrollment span of the student, most recent first."""
    return list(
        Enrollment.objects.filter(student=access.student)
        .select_related("school", "school_year")
        .order_by("-entry_date", "-pk")
    )
