"""The students table: its columns, its sort orders, and one page of its rows.

Every column sorts in the database, attendance columns on the students' materialized
summaries, and only the page shown is read. Students without a summary (not enrolled
this year) always sort last.
"""

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet
from django.http import QueryDict

from homeroom.metrics.selectors import StudentAttendance, order_by_attendance, student_attendance
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


def student_rows_page(
    user, *, students: QuerySet[Student], sort: str, page_number: str | int | None
) -> Page:
    """One page of `students` with their attendance, in the order `sort` names."""
    descending = sort.startswith("-")
    column = COLUMNS_BY_KEY.get(sort.removeprefix("-"), COLUMNS_BY_KEY["name"])
    if column.attendance_field:
        students = order_by_attendance(
            user, students, figure=column.attendance_field, descending=descending
        )
    else:
        order = column.order_by or COLUMNS_BY_KEY["name"].order_by
        students = students.order_by(
            *(
                F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_last=True)
                for field in order
            )
        )
    page = Paginator(students, STUDENTS_PER_PAGE).get_page(page_number)
    shown = list(page.object_list)
    attendance = {
        row.student.pk: row
        for row in student_attendance(
            user, students=Student.objects.filter(pk__in=[s.pk for s in shown])
        )
    }
    page.object_list = [StudentRow(s, attendance.get(s.pk)) for s in shown]
    return page
