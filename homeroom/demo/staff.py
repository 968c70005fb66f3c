"""Demo staff accounts: one per role, scoped to real schools, grades, a caseload and sections.

Setting them up twice gives the same accounts, scopes and passwords: every choice is made
from the loaded district in a fixed order, and each password is derived from the
installation's secret key, so it can be printed again without being stored anywhere.
"""

import base64
import csv
import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.db.models import Count, Q
from django.utils.crypto import salted_hmac

from homeroom.accounts.models import CaseloadAssignment, GradeScope, Role, User
from homeroom.core.models import AuditEntry, District, GradeLevel, School, SchoolYear
from homeroom.core.selectors import current_school_year, district_today
from homeroom.demo.loading import (
    GeneratedFileError,
    load_intervention_history,
    read_history,
    teacher_sections,
)
from homeroom.interventions.models import Case
from homeroom.roster.models import Section, SectionEnrollment, Student

CASELOAD_SIZE = 5
COUNSELOR_GRADES = 2


class DemoStaffError(Exception):
    """The demo accounts cannot be set up; the message says why and what to do."""


@dataclass(frozen=True)
class DemoAccount:
    """A demo user and the password to sign in with, and what they serve."""

    user: User
    password: str
    serves: str


# username -> (role, first name, last name)
DEMO_PEOPLE = {
    "demo-admin": (Role.DISTRICT_ADMIN, "Alex", "Morgan"),
    "demo-analyst": (Role.DISTRICT_ANALYST, "Priya", "Shah"),
    "demo-principal": (Role.PRINCIPAL, "Jordan", "Lee"),
    "demo-counselor": (Role.COUNSELOR, "Maria", "Lopez"),
    "demo-teacher": (Role.TEACHER, "", ""),  # named after the real teacher in staff.csv
    "demo-viewer": (Role.VIEWER, "Sam", "Taylor"),
}


def demo_password(username: str) -> str:
    """The demo user's password: stable for this installation, unguessable without its key."""
    digest = salted_hmac("homeroom.demo.password", username, algorithm="sha256").digest()
    letters = base64.b32encode(digest).decode().lower()
    return "-".join(letters[start : start + 4] for start in (0, 4, 8, 12))


def _principal_school(district: District) -> School:
    """The first elementary school (a principal's day is easiest to show there)."""
    schools = district.schools.order_by("local_id")
    return schools.filter(level=School.Level.ELEMENTARY).first() or schools.first()


def _counselor_school(district: District) -> School:
    """The first high school, else the school reaching the highest grade."""
    schools = district.schools.order_by("local_id")
    high = schools.filter(level=School.Level.HIGH).first()
    return high or schools.order_by("-highest_grade", "local_id").first()


def _caseload(school: School, year: SchoolYear, grades: list[int]) -> list[Student]:
    """Students of the school this year outside the counselor's grades, most absences first."""
    this_year = Q(
        attendance_events__date__gte=year.start_date, attendance_events__date__lte=year.end_date
    )
    return list(
        Student.objects.filter(enrollments__school=school, enrollments__school_year=year)
        .exclude(grade__in=grades)
        .annotate(absences=Count("attendance_events", filter=this_year, distinct=True))
        .order_by("-absences", "local_id")
        .distinct()[:CASELOAD_SIZE]
    )


def _staff_names(directory: Path) -> dict[str, dict[str, str]]:
    """staff.csv rows by staff id."""
    try:
        with (directory / "staff.csv").open(newline="", encoding="utf-8-sig") as file:
            return {row["staff_id"]: row for row in csv.DictReader(file)}
    except (OSError, KeyError) as error:
        raise DemoStaffError(f"cannot read staff.csv in {directory}: {error}") from error


def _demo_teacher_sections(
    district: District,
    year: SchoolYear,
    school: School,
    directory: Path,
    with_cases: set[str] = frozenset(),
) -> tuple[dict[str, str], list[Section]]:
    """The teacher with a homeroom this year, preferring `school`, whose homerooms hold the
    most students of `with_cases` (local ids), then the first by staff id."""
    sections = {
        (s.school.local_id, s.school_year.name, s.local_id): s
        for s in Section.objects.filter(school__district=district).select_related(
            "school", "school_year"
        )
    }

    def has_homeroom(staff_id: str, at: School | None) -> bool:
        return any(
            s.is_homeroom and s.school_year_id == year.pk and (at is None or s.school_id == at.pk)
            for s in taught[staff_id]
        )

    try:
        listed = teacher_sections(directory)
    except GeneratedFileError as error:
        raise DemoStaffError(
            f"the generated files are needed to choose the demo teacher: {error}; "
            "run again with --rebuild"
        ) from error
    taught = {
        staff_id: [sections[key] for key in keys if key in sections]
        for staff_id, keys in listed.items()
    }
    homerooms = [s.pk for at in taught.values() for s in at if s.is_homeroom]
    members = SectionEnrollment.objects.filter(
        section_id__in=homerooms, student__local_id__in=with_cases
    )
    with_case = Counter(members.values_list("section_id", flat=True))
    for at in (school, None):
        candidates = [staff_id for staff_id in sorted(taught) if has_homeroom(staff_id, at)]
        if candidates:
            # max keeps the first of equals: the lowest staff id.
            staff_id = max(
                candidates,
                key=lambda t: sum(
                    with_case[s.pk] for s in taught[t] if s.school_year_id == year.pk
                ),
            )
            staff = _staff_names(directory).get(staff_id, {})
            return staff | {"staff_id": staff_id}, taught[staff_id]
    raise DemoStaffError("the generated district has no homeroom section with a teacher this year")


def _names(person: dict[str, str]) -> dict[str, str]:
    """An account's names and email from a generated staff row (empty: the defaults)."""
    return {
        "first_name": person.get("first_name", ""),
        "last_name": person.get("last_name", ""),
        "email": person.get("email", ""),
    }


def _account(
    username: str, district: District, *, first_name: str, last_name: str, email: str = ""
) -> User:
    role, default_first, default_last = DEMO_PEOPLE[username]
    user = User.objects.filter(username=username).first()
    if user is not None and user.district_id not in (None, district.pk):
        raise DemoStaffError(
            f"a user named '{username}' already belongs to another district; "
            "use a fresh database for the demo"
        )
    user = user or User(username=username)
    user.role = role
    user.district = district
    user.first_name = first_name or default_first
    user.last_name = last_name or default_last
    user.email = email or f"{username}@demo.homeroom.invalid"
    user.is_active = True
    user.is_staff = False
    user.is_superuser = False
    user.set_password(demo_password(username))
    user.save()
    return user


def do_set_up_demo_staff(
    district: District, *, directory: Path, on: dt.date | None = None
) -> list[DemoAccount]:
    """Create or refresh the six demo accounts of the district, with their scopes."""
    on = on or district_today(district)
    year = current_school_year(district.pk, on)
    if year is None:
        raise DemoStaffError(f"the district '{district.name}' has no school year")
    principal_school = _principal_school(district)
    counselor_school = _counselor_school(district)
    if principal_school is None or counselor_school is None:
        raise DemoStaffError(f"the district '{district.name}' has no schools")
    grades = list(range(counselor_school.highest_grade, counselor_school.lowest_grade - 1, -1))
    counselor_grades = sorted(grades[:COUNSELOR_GRADES])
    # The generated history names the schools' counselors and principals: the demo
    # counselor and principal are those of their schools, so the cases line up with them.
    try:
        history = read_history(directory) or {"staff": [], "cases": []}
    except GeneratedFileError as error:
        raise DemoStaffError(f"the interventions history cannot be read: {error}") from error

    def person(role: str, school: School) -> dict[str, str]:
        people = [
            row
            for row in history["staff"]
            if row["role"] == role and row["school_id"] == school.local_id
        ]
        return min(people, key=lambda row: row["staff_id"], default={})

    counselor_person = person(Role.COUNSELOR, counselor_school)
    principal_person = person(Role.PRINCIPAL, principal_school)
    with_cases = {
        case["student_id"]
        for case in history["cases"]
        if case["opened_on"] >= year.start_date.isoformat()
    }

    with transaction.atomic():
        admin = _account("demo-admin", district, first_name="", last_name="")
        analyst = _account("demo-analyst", district, first_name="", last_name="")

        principal = _account("demo-principal", district, **_names(principal_person))
        principal.schools.set([principal_school])

        counselor = _account("demo-counselor", district, **_names(counselor_person))
        counselor.schools.set([counselor_school])
        GradeScope.objects.filter(user=counselor).delete()
        GradeScope.objects.bulk_create(
            GradeScope(user=counselor, school=counselor_school, grade=grade)
            for grade in counselor_grades
        )

        known = User.objects.filter(username="demo-teacher", district=district).first()
        if known is not None and known.sections.filter(school_year=year).exists():
            staff = {"first_name": known.first_name, "last_name": known.last_name}
            staff["email"] = known.email
            taught = list(known.sections.select_related("school"))
        else:
            staff, taught = _demo_teacher_sections(
                district, year, principal_school, directory, with_cases
            )
        teacher = _account(
            "demo-teacher",
            district,
            first_name=staff.get("first_name", ""),
            last_name=staff.get("last_name", ""),
            email=staff.get("email", ""),
        )
        teacher.sections.set(taught)

        # The history acts through the demo accounts where it names their people; a second
        # run finds the cases there and leaves them.
        accounts = {
            row["staff_id"]: user
            for row, user in (
                (counselor_person, counselor),
                (principal_person, principal),
                (staff, teacher),
            )
            if row.get("staff_id")
        }
        try:
            load_intervention_history(district, directory, accounts=accounts)
        except GeneratedFileError as error:
            raise DemoStaffError(f"the interventions history was not loaded: {error}") from error
        managed = Case.objects.filter(case_manager=counselor, status=Case.Status.OPEN)
        if managed.exists():
            # The caseload is the counselor's open cases (the history assigned them).
            caseload = list(
                Student.objects.filter(cases__in=managed).distinct().order_by("local_id")
            )
        else:
            CaseloadAssignment.objects.filter(user=counselor).delete()
            caseload = _caseload(counselor_school, year, counselor_grades)
            CaseloadAssignment.objects.bulk_create(
                CaseloadAssignment(user=counselor, student=student, start_date=year.start_date)
                for student in caseload
            )

        viewer = _account("demo-viewer", district, first_name="", last_name="")
        viewer.schools.set([counselor_school])

        AuditEntry.objects.create(
            district=district,
            action=AuditEntry.Action.UPDATE,
            subject="demo staff accounts",
            details={
                "district": district.name,
                "usernames": sorted(DEMO_PEOPLE),
                "caseload_student_ids": [student.pk for student in caseload],
            },
        )

    this_year = [s for s in taught if s.school_year_id == year.pk]
    grade_names = ", ".join(str(GradeLevel(grade).label) for grade in counselor_grades)
    return [
        DemoAccount(admin, demo_password(admin.username), f"all of {district.name}"),
        DemoAccount(analyst, demo_password(analyst.username), f"all of {district.name}"),
        DemoAccount(principal, demo_password(principal.username), principal_school.name),
        DemoAccount(
            counselor,
            demo_password(counselor.username),
            f"{counselor_school.name}, grades {grade_names}, "
            f"and a caseload of {len(caseload)} students",
        ),
        DemoAccount(
            teacher,
            demo_password(teacher.username),
            ", ".join(f"{s.name} ({s.school.name})" for s in this_year) or "no sections this year",
        ),
        DemoAccount(viewer, demo_password(viewer.username), f"{counselor_school.name}, read-only"),
    ]
