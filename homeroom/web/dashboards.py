"""Dashboards: the district, a school, a grade of a school and a student group, in one
shape (docs/dashboards.md). Figures are read by `homeroom.metrics.dashboards` from the
materialized summaries and aggregates; who may see which totals is the gatekeeper's
`aggregate_scope`. Users with no totals to see (teachers) are sent to their students.
"""

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from homeroom.access.gatekeeper import aggregate_scope
from homeroom.attendance.selectors import school_year_for
from homeroom.metrics import display
from homeroom.metrics.charts import line_chart, share_bar_chart
from homeroom.metrics.dashboards import (
    GROUPS,
    MINIMUM_CELL,
    Dashboard,
    DashboardNotFound,
    Place,
    Row,
    dashboard,
    grade_label,
    kept_dates,
    place_for,
    students_of,
)
from homeroom.metrics.display import day_places
from homeroom.metrics.labels import words
from homeroom.metrics.selectors import summary_rules, summary_state
from homeroom.web import views

# sort key -> (what the column says, the row's value); rows without figures sort last
SORTS = {
    "name": lambda row: row.label,
    "students": lambda row: row.standing.students,
    "attendance": lambda row: row.standing.attendance_rate,
    "chronic": lambda row: row.standing.chronic,
    "change": lambda row: row.chronic_change,
}

SORT_COLUMNS = (
    ("name", _("Name")),
    ("students", _("Students")),
    ("attendance", _("Attendance rate")),
    ("chronic", _("Chronically absent")),
)
# Bar labels of the patterns too long to stand under a bar (the table gives them whole).
SHORT = {
    "Day before a break": _("Before"),
    "Day after a break": _("After"),
    "Other school days": _("Other"),
}


def home(request: HttpRequest) -> HttpResponse:
    """The first page: the district's dashboard for district-wide roles, the school's for
    someone serving one whole school, else the overview of their students and schools."""
    scope = aggregate_scope(request.user)
    if scope.district:
        return _render(request, Place())
    whole = [pk for pk in scope.schools if scope.sees_school(pk)]
    if len(whole) == 1 and len(scope.schools) == 1:
        url = reverse("web:school_dashboard", args=[whole[0]])
        query = request.GET.urlencode()  # a date or a toggle chosen on the way
        return redirect(f"{url}?{query}" if query else url)
    return views.overview(request)


def school_dashboard(request: HttpRequest, school_id: int) -> HttpResponse:
    """One school's dashboard."""
    return _open(request, school_id=school_id)


def grade_dashboard(request: HttpRequest, school_id: int, grade: str) -> HttpResponse:
    """One grade of a school."""
    try:
        number = int(grade)
    except ValueError:
        raise DashboardNotFound() from None
    return _open(request, school_id=school_id, grade=number)


def group_dashboard(request: HttpRequest, group: str, school_id: int | None = None) -> HttpResponse:
    """A student group of the district, or of one school."""
    return _open(request, school_id=school_id, group=group)


def _open(request: HttpRequest, **where) -> HttpResponse:
    scope = aggregate_scope(request.user)
    if not scope.district and not scope.schools:  # teachers: their students one by one
        return redirect("web:students")
    place, _ = place_for(request.user, **where)
    return _render(request, place)


def _sorted(rows: list[Row], sort: str) -> list[Row]:
    key = SORTS.get(sort.lstrip("-"), SORTS["name"])
    shown = [row for row in rows if row.standing is not None]
    hidden = [row for row in rows if row.standing is None]

    def value(row):
        held = key(row)
        return (held is None, held if held is not None else 0)

    shown.sort(key=value, reverse=sort.startswith("-"))
    if sort.startswith("-"):  # missing figures still last
        shown.sort(key=lambda row: key(row) is None)
    return shown + hidden


def _title(place: Place) -> str:
    parts = [place.school.name if place.school else gettext("District")]
    if place.grade is not None:
        parts.append(grade_label(place.grade))
    if place.group:
        parts.append(str(GROUPS[place.group]))
    return " · ".join(parts)


def _charts(board: Dashboard, compare: bool) -> dict:
    weeks = board.weeks
    # a week's Monday under the chart, e.g. "Dec 7" ("7 dic")
    labels = [dateformat.format(week.monday, pgettext("chart axis", "M j")) for week in weeks]
    series = [(gettext("This year"), [week.attendance_rate for week in weeks])]
    if compare:
        series.insert(0, (gettext("Last year"), [week.last_year for week in weeks]))
    charts = {
        "trend": line_chart(
            labels,
            series,
            titles=[
                gettext("week of %(date)s") % {"date": display.date(week.monday)} for week in weeks
            ],
            label_every=max(1, -(-len(weeks) // 7)),  # seven labels at most
        )
        if weeks
        else None,
    }
    for name, patterns in (
        ("weekdays", board.weekdays),
        ("months", board.months),
        ("holidays", board.holidays),
    ):
        charts[name] = share_bar_chart(
            [p.absence_rate for p in patterns],
            [SHORT.get(p.label) or gettext(p.label)[:3] for p in patterns],
            [
                gettext("%(day)s: %(share)s of student-days absent")
                % {"day": gettext(p.label), "share": display.percent(p.absence_rate)}
                for p in patterns
            ],
        )
    return charts


def _level_tables(board: Dashboard) -> list[tuple]:
    """The bands and the tiers, each level beside last year's share of it."""
    tables = []
    for heading, kind in ((gettext("Attendance bands"), "bands"), (gettext("MTSS tiers"), "tiers")):
        now = getattr(board.standing, kind)
        before = {share.name: share for share in getattr(board.last_year, kind, [])}
        pairs = [(share, before.get(share.name)) for share in now]
        tables.append((heading, pairs, kind[:-1], board.last_year))
    return tables


def _chosen_date(text: str | None, dates: list[dt.date]) -> tuple[dt.date | None, str]:
    """The date asked for if figures are kept for it (None: the latest), and the text
    asked for when none are (to say so)."""
    if not text:
        return None, ""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None, text
    return (day, "") if day in dates else (None, text)


def _render(request: HttpRequest, place: Place) -> HttpResponse:
    user = request.user
    state = summary_state(user)
    context = {
        "place": place,
        "title": _title(place),
        "state": state,
        "school_year": state.school_year if state else school_year_for(user),
    }
    if state is None:
        return render(request, "web/dashboard.html", context)
    rules = summary_rules(state)
    dates = kept_dates(state)
    on, unknown_date = _chosen_date(request.GET.get("as_of"), dates)
    board = dashboard(user, place, state=state, rules=rules, on=on)
    compare = request.GET.get("compare", "1") != "0"
    sort = request.GET.get("sort", "name")
    rows = board.schools if place.school is None else board.grades
    if place.grade is not None:
        rows = []
    context |= {
        "board": board,
        "rules": rules,
        "compare": compare,
        "sort": sort,
        "rows": _sorted(rows, sort),
        "rows_are": "schools" if place.school is None else "grades",
        "students": students_of(user, place, state=state)
        if place.grade is not None and board.current
        else None,
        "dates": dates,
        "unknown_date": unknown_date,
        "charts": _charts(board, compare),
        "level_tables": _level_tables(board),
        "tier_levels": [
            {"name": tier.name, "short": words(tier.label).split(":")[0]}
            for tier in board.standing.tiers[:-1]
        ],
        "sort_columns": SORT_COLUMNS,
        "minimum_cell": MINIMUM_CELL,
    }
    if context["students"] is not None:
        context["student_places"] = day_places(row.days_absent for row in context["students"])
    return render(request, "web/dashboard.html", context)
