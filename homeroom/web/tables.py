"""The students table: its columns, its sort orders, and one page of its rows.

Every column sorts in the database, attendance columns on the students' materialized
summaries, and only the page shown is read. Students without a summary (not enrolled
this year) always sort last.
"""

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import F, QuerySet
from django.http import HttpResponse, QueryDict
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from homeroom.core.downloads import table_download
from homeroom.interventions.worklists import (
    CHRONIC,
    EARLY,
    FORECAST_RISE,
    Worklist,
    open_flags_of,
)
from homeroom.metrics.labels import level_label
from homeroom.metrics.models import StudentSummary
from homeroom.metrics.rules import RuleProfile
from homeroom.metrics.selectors import NAME_ORDER, StudentAttendance, student_attendance
from homeroom.roster.models import Student
from homeroom.warnings.models import Flag

STUDENTS_PER_PAGE = 50


@dataclass(frozen=True)
class Column:
    """A column of the students table and how it sorts."""

    key: str
    label: str | Promise
    order_by: tuple[str, ...] = ()
    attendance_field: str = ""
    first_sort: str = ""
    numeric: bool = False

    @property
    def sortable(self) -> bool:
        """Whether the column header offers sorting."""
        return bool(self.order_by or self.attendance_field)


COLUMNS = (
    Column("name", _("Student"), order_by=("last_name", "first_name", "local_id")),
    Column("id", _("Student id"), order_by=("local_id",)),
    Column("grade", _("Grade"), order_by=("grade", "last_name", "first_name", "local_id")),
    Column("school", _("School"), order_by=("school_name", "last_name", "first_name", "local_id")),
    Column(
        "enrolled",
        _("Days enrolled"),
        attendance_field="days_enrolled",
        first_sort="-enrolled",
        numeric=True,
    ),
    Column(
        "absent",
        _("Days absent"),
        attendance_field="days_absent",
        first_sort="-absent",
        numeric=True,
    ),
    Column(
        "rate",
        _("Attendance rate"),
        attendance_field="attendance_rate",
        first_sort="rate",
        numeric=True,
    ),
    Column("chronic", _("Chronically absent")),
    Column("band", _("Band")),
    Column("tier", _("Tier")),
)
# The list opens on who missed the most days: the students it is opened to find.
DEFAULT_SORT = "-absent"
COLUMNS_BY_KEY = {column.key: column for column in COLUMNS}
SORT_CHOICES = [
    (f"{direction}{column.key}", format_lazy("{} {}", column.label, words))
    for column in COLUMNS
    if column.sortable
    for direction, words in (("", _("(ascending)")), ("-", _("(descending)")))
]


@dataclass(frozen=True)
class StudentRow:
    """A student of the list and their attendance this year (None: not enrolled this year)."""

    student: Student
    attendance: StudentAttendance | None
    tier_label: str = ""


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
    user,
    *,
    students: QuerySet[Student],
    sort: str,
    page_number: str | int | None,
    rules: RuleProfile | None = None,
) -> Page:
    """One page of `students` with their attendance, in the order `sort` names.

    The list is read as its ids, in order, in one query, then the page's students by id:
    a count and a page would each ask the gatekeeper of every student of the district.
    """
    ordered = student_rows(user, students=students, sort=sort)
    page = Paginator(list(ordered.values_list("pk", flat=True)), STUDENTS_PER_PAGE).get_page(
        page_number
    )
    shown = {student.pk: student for student in ordered.filter(pk__in=page.object_list)}
    page.object_list = with_attendance(user, [shown[pk] for pk in page.object_list], rules=rules)
    return page


def sort_figure(sort: str) -> str:
    """The summary field a sort orders by ("" for a column of the student's own)."""
    return COLUMNS_BY_KEY.get(sort.removeprefix("-"), COLUMNS_BY_KEY["name"]).attendance_field


def student_rows(user, *, students: QuerySet[Student], sort: str) -> QuerySet[Student]:
    """`students` in the order `sort` names (a bad sort: by name)."""
    descending = sort.startswith("-")
    column = COLUMNS_BY_KEY.get(sort.removeprefix("-"), COLUMNS_BY_KEY["name"])
    if column.attendance_field:
        # `students` carry the figure (`student_list(..., figure=sort_figure(sort))`).
        first = (
            F("sort_figure").desc(nulls_last=True)
            if descending
            else F("sort_figure").asc(nulls_last=True)
        )
        students = students.order_by(first, *NAME_ORDER, "pk")
    else:
        order = column.order_by or COLUMNS_BY_KEY["name"].order_by
        students = students.order_by(
            *(
                F(field).desc(nulls_last=True) if descending else F(field).asc(nulls_last=True)
                for field in order
            )
        )
    return students


def with_attendance(user, shown: list[Student], *, rules: RuleProfile | None) -> list[StudentRow]:
    """Each student with their summary this year (one query), and their tier in words."""
    attendance = {
        row.student.pk: row
        for row in student_attendance(
            user, students=Student.objects.filter(pk__in=[s.pk for s in shown])
        )
    }
    rows = []
    for student in shown:
        figures = attendance.get(student.pk)
        tier = level_label(rules, "tiers", figures.tier) if figures else ""
        rows.append(StudentRow(student, figures, tier))
    return rows


def download_links(query: QueryDict) -> dict[str, str]:
    """Links to the current table, with its filters and sort, as CSV and as XLSX."""
    links = {}
    for file_format in ("csv", "xlsx"):
        kept = query.copy()
        kept.pop("page", None)
        kept["download"] = file_format
        links[file_format] = f"?{kept.urlencode()}"
    return links


def list_links(query: QueryDict) -> dict[str, str]:
    """Links to the early-warning page's two lists, keeping the filters."""
    links = {}
    for name, value in ((EARLY, ""), (CHRONIC, CHRONIC)):
        kept = query.copy()
        for parameter in ("page", "list", "download"):
            kept.pop(parameter, None)
        if value:
            kept["list"] = value
        links[name] = f"?{kept.urlencode()}" if kept else "?"
    return links


def _chronic_words(chronic: bool | None) -> str:
    if chronic is None:
        return "Not yet counted"
    return "Yes" if chronic else "No"


STUDENT_EXPORT_HEADER = (
    "Student id",
    "Last name",
    "First name",
    "Grade",
    "School",
    "Days enrolled",
    "Days absent",
    "Attendance rate",
    "Chronically absent",
    "Band",
    "Tier",
)


def students_download(
    user,
    *,
    students: QuerySet[Student],
    sort: str,
    rules: RuleProfile | None,
    file_format: str,
    filters: dict[str, str],
) -> HttpResponse:
    """The whole filtered students table, in the page's order, as a file (two queries)."""
    ordered = list(student_rows(user, students=students, sort=sort))
    figures = {row.student.pk: row for row in student_attendance(user, students=students)}
    rows = []
    for student in ordered:
        row = figures.get(student.pk)
        rows.append(
            (
                student.local_id,
                student.last_name,
                student.first_name,
                student.get_grade_display(),
                student.school_name or "",
                *(
                    (
                        row.days_enrolled,
                        row.days_absent,
                        row.attendance_rate,
                        _chronic_words(row.chronic),
                        level_label(rules, "bands", row.band),
                        level_label(rules, "tiers", row.tier),
                    )
                    if row
                    else ("", "", "", "Not enrolled this school year", "", "")
                ),
            )
        )
    return table_download(
        user=user,
        file_format=file_format,
        subject="students list",
        filename="students",
        header=STUDENT_EXPORT_HEADER,
        rows=rows,
        filters=filters,
    )


@dataclass(frozen=True)
class WorklistRow:
    """A student of a worklist: their summary (with the list's annotations), open flags,
    tier in words, and whether their forecast rose."""

    summary: StudentSummary
    flags: list[Flag]
    tier_label: str

    @property
    def forecast_rose(self) -> bool:
        """Whether the latest forecast rose enough above the one before to count."""
        now, before = self.summary.risk_probability, self.summary.previous_probability
        return now is not None and before is not None and now >= before + FORECAST_RISE


def worklist_rows(rows: list[StudentSummary], *, rules: RuleProfile | None) -> list[WorklistRow]:
    """The page's rows with their open flags (one query) and tier in words."""
    flags = open_flags_of(rows)
    return [
        WorklistRow(row, flags[row.student_id], level_label(rules, "tiers", row.tier))
        for row in rows
    ]


WORKLIST_EXPORT_HEADER = (
    "Student id",
    "Last name",
    "First name",
    "Grade",
    "School",
    "Days enrolled",
    "Days absent",
    "Absence rate",
    "Tier",
    "Forecast",
    "Previous forecast",
    "Open flags",
    "Last family contact",
)


def worklist_download(
    user,
    *,
    worklist: Worklist,
    chosen: str,
    rules: RuleProfile | None,
    file_format: str,
    filters: dict[str, str],
) -> HttpResponse:
    """The list as shown (the worklist to the capacity), as a file (two queries)."""
    rows = []
    for row in worklist_rows(worklist.rows_of(worklist.ids), rules=rules):
        summary, student = row.summary, row.summary.student
        rows.append(
            (
                student.local_id,
                student.last_name,
                student.first_name,
                student.get_grade_display(),
                summary.school_name or "",
                summary.days_enrolled,
                summary.days_absent,
                summary.absence_rate,
                row.tier_label,
                summary.risk_probability,
                summary.previous_probability,
                "; ".join(f"{flag.get_kind_display()}: {flag.reason}" for flag in row.flags),
                summary.last_contact or "",
            )
        )
    name = "chronic-absence" if chosen == CHRONIC else "early-warning-worklist"
    return table_download(
        user=user,
        file_format=file_format,
        subject="chronic absence list" if chosen == CHRONIC else "early-warning worklist",
        filename=name,
        header=WORKLIST_EXPORT_HEADER,
        rows=rows,
        filters=filters,
    )
