"""The Impact page (`/impact/`): days recovered per student by intervention type, case step,
tier, school and message kind, with the nudge letters' holdout, for district roles only
(docs/impact.md). The estimates are `homeroom.impact.selectors`'; this parses and renders."""

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from homeroom.impact.selectors import DEFAULT_WEEKS, impact_report, may_read_impact
from homeroom.metrics.charts import interval_chart

WEEKS = (4, 6, 8, 12)


class ImpactForm(forms.Form):
    """How many weeks after each start to count; read from GET."""

    weeks = forms.TypedChoiceField(
        label="Weeks after the start",
        choices=[(w, f"{w} weeks") for w in WEEKS],
        coerce=int,
        required=False,
        empty_value=DEFAULT_WEEKS,
    )


def impact_page(request: HttpRequest) -> HttpResponse:
    """The impact table per grouping, each with its chart and the same figures as text."""
    if not may_read_impact(request.user):
        raise PermissionDenied("Impact estimates add up every school: district staff only.")
    form = ImpactForm(request.GET or None, initial={"weeks": DEFAULT_WEEKS})
    weeks = form.cleaned_data["weeks"] if form.is_valid() else DEFAULT_WEEKS
    report = impact_report(request.user, weeks=weeks)
    groups = []
    for title, rows in report.grouped():
        shown = [row for row in rows if row.days_recovered is not None]
        chart = interval_chart(
            [(row.label, row.days_recovered, row.low, row.high) for row in shown]
        )
        groups.append({"title": title, "rows": rows, "chart": chart if shown else None})
    context = {"report": report, "groups": groups, "form": form, "weeks": weeks}
    return render(
        request,
        "web/impact.html",
        context,
        status=200 if form.is_valid() or not request.GET else 400,
    )
