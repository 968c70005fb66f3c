"""The Impact page (`/impact/`): days recovered per student by intervention type, case step,
tier, school and message kind, with the nudge letters' holdout, for district roles only
(docs/impact.md). It reads the table the last refresh stored (the nightly run or `homeroom
impact --refresh`): computing it takes too long for a page."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from homeroom.accounts.models import Role
from homeroom.impact.selectors import impact_report, may_read_impact
from homeroom.metrics.charts import interval_chart


def impact_page(request: HttpRequest) -> HttpResponse:
    """The stored impact table per grouping, each with its chart and the same figures as text."""
    if not may_read_impact(request.user):
        raise PermissionDenied("Impact estimates add up every school: district staff only.")
    report = impact_report(request.user)
    groups = []
    for title, rows in report.grouped() if report else []:
        shown = [row for row in rows if row.days_recovered is not None]
        chart = interval_chart(
            [(row.label, row.days_recovered, row.low, row.high) for row in shown]
        )
        groups.append({"title": title, "rows": rows, "chart": chart if shown else None})
    context = {
        "report": report,
        "groups": groups,
        "weeks": report.weeks if report else None,
        "administrator": request.user.role == Role.DISTRICT_ADMIN,
    }
    return render(request, "web/impact.html", context)
