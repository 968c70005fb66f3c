"""The students table: its columns, its sort orders, and one page of its rows.

Name, id, grade and school sort in the database and only the page shown is measured;
attendance columns measure every student matched, then sort. Students without an
enrollment this year have no attendance and always sort last.
"""

import datetime as dt
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet
from django.http import QueryDict

from homeroom.attendance.selectors import StudentAttendance, student_attendance
from homeroom.core.models import SchoolYear
from homeroom.roster.models import Student

STUDENTS_PER_PAGE = 50


@dataclass(frozen=True)
class Column:
    """A column of the students table and how it sorts."""

    key: str
    label: str
    order_by: tuple[str, ...] = ()
    attendance_field: str = ""
    first_sort: str = ""
    numeric: bool = False

    @property
    def sortable(self) -> bool:
        """Whether the column header offers sorting."""
        return bool(self.order_by or self.attendance_field)


COLUMNS = (
    Column("name", "Student", order_by=("last_name", "first_name", "local_id")),
    Column("id", "Student id", order_by=("local_id",)),
    Column("grade", "Grade", order_by=("grade", "last_name", "first_name", "local_id")),
    Column("school", "School", order_by=("school_name", "last_name", "first_name", "local_id")),
    Column(
        "enrolled",
        "Days enrolled",
        attendance_field="days_enrolled",
        first_sort="-enrolled",
        numeric=True,
    ),
    Column(
        "absent", "Days absent", attendance_field="days_absent", first_sort="-absent", numeric=True
    ),
    Column(
        "rate",
        "Attendance rate",
        attendance_field="attendance_rate",
        first_sort="rate",
        numeric=True,
    ),
    Column("chronic", "Chronically absent"),
    Column("band", "Band"),
)
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}
SORT_CHOICES = [
    (f"{direction}{column.key}", f"{column.label} {words}")
    for column in COLUMNS
    if column.sortable
    for direction, words in (("", "(ascending)"), ("-", "(descending)"))
]


@dataclass(frozen=True)
class StudentRow:
    """A student of the list and their attendance this year (None: not enrolled this year)."""

    student: Student
    attendance: StudentAttendance | None


@dataclass(frozen=True)
class HeaderCell:
    """A column header: its label, the link a click follows, and the current direction."""

    column: Column
    href: str
    aria_sort: str


def _link(query: QueryDict, **changes: str | int) -> str:
    """`query` with some parameters replaced, as a relative link; a new sort starts at page 1."""
    query = query.copy()
    query.pop("page", None)
    for name, value in changes.items():
        query[name] = str(value)
    return f"?{query.urlencode()}"


def header_cells(sort: str, query: QueryDict) -> list[HeaderCell]:
    """The table's headers given the current sort (a click on the sorted column reverses it)."""
    cells = []
    for column in COLUMNS:
        aria_sort = ""
        next_sort = column.first_sort or column.key
        if sort == column.key:
            aria_sort, next_sort = "ascending", f"-{column.key}"
        elif sort == f"-{column.key}":
            aria_sort, next_sort = "descending", column.key
        href = _link(query, sort=next_sort) if column.sortable else ""
        cells.append(HeaderCell(column=column, href=href, aria_sort=aria_sort))
    return cells


def page_links(page: Page, query: QueryDict) -> dict[str, str]:
    """Links to the previous and next pages, keeping the search, filters and sort."""
    links = {}
    if page.has_previous():
        links["previous"] = _link(query, page=page.previous_page_number())
    if page.has_next():
        links["next"] = _link(query, page=page.next_page_number())
    return links


def _attendance_by_student(
    user, students: QuerySet[Student], school_year: SchoolYear | None, as_of: dt.date
) -> dict[int, StudentAttendance]:
    if school_year is None:
        return {}
    rows = student_attendance(user, school_year=school_year, as_of=as_of, students=students)
    return {row.student.pk: row for row in rows}


def student_rows_page(
    user,
    *,
    students: QuerySet[Student],
    sort: str,
    page_number: str | int | None,
    school_year: SchoolYear | None,
    as_of: dt.date,
) -> Page:
    """One page of `students` with their attendance, in the order `sort` names."""
    descending = sort.startswith("-")
    column = COLUMNS_BY_KEY.get(sort.removeprefix("-"), COLUMNS_BY_KEY["name"])
    if not column.attendance_field:
        order = column.order_by or COLUMNS_BY_KEY["name"].order_by
        ordering = [
            F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_last=True)
            for field in order
        ]
        page = Paginator(students.order_by(*ordering), STUDENTS_PER_PAGE).get_page(page_number)
        shown = list(page.object_list)
        attendance = _attendance_by_student(
            user, Student.objects.filter(pk__in=[s.pk for s in shown]), school_year, as_of
        )
        page.object_list = [StudentRow(s, attendance.get(s.pk)) for s in shown]
        return page

    attendance = _attendance_by_student(user, students, school_year, as_of)
    rows = [StudentRow(student, attendance.get(student.pk)) for student in students]

    def order(row: StudentRow) -> tuple:
        value = None if row.attendance is None else getattr(row.attendance, column.attendance_field)
        name = (row.student.last_name, row.student.first_name, row.student.local_id)
        if value is None:
            return (True, 0, *name)
        return (False, -value if descending else value, *name)

    rows.sort(key=order)
    return Paginator(rows, STUDENTS_PER_PAGE).get_page(page_number)
