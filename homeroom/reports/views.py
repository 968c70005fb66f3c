"""Pages of the reports: choose a date and download the board and annual reports, the
student groups' gaps, the needs-based allocation, improvement against level, and the
district's suppression setting. District roles only (`selectors.may_read_reports`)."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from homeroom.core.downloads import table_download
from homeroom.reports import actions, documents, selectors
from homeroom.reports.allocation import MEASURE_LABELS
from homeroom.reports.selectors import ReportsNotAvailable

DEFAULT_BUDGET = 6
MAXIMUM_BUDGET = 1000


class AsOfForm(forms.Form):
    as_of = forms.TypedChoiceField(label="As of", required=False, coerce=dt.date.fromisoformat)

    def __init__(self, dates: list[dt.date], *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["as_of"].choices = [(d.isoformat(), f"{d:%b %-d, %Y}") for d in dates]


class BudgetForm(forms.Form):
    budget = forms.IntegerField(
        label="Staff to place", min_value=0, max_value=MAXIMUM_BUDGET, initial=DEFAULT_BUDGET
    )


class MinimumCellForm(forms.Form):
    minimum_cell = forms.IntegerField(
        label="Smallest count shown", min_value=1, max_value=actions.MAXIMUM_CELL
    )


def _as_of(request: HttpRequest, state) -> tuple[AsOfForm, dt.date]:
    """The chosen date (a kept one), or the latest; a bad choice is a 400 with the reason."""
    dates = selectors.report_dates(state)
    form = AsOfForm(dates, request.GET or None)
    if request.GET.get("as_of") and not form.is_valid():
        raise ReportsNotAvailable(
            "Choose one of the dates listed: the figures are kept for each Friday of the year."
        )
    on = form.cleaned_data.get("as_of") if form.is_bound and form.is_valid() else None
    return form, on or state.as_of


def _answer(request, respond) -> HttpResponse:
    """Check the user, find the date asked and answer with `respond(district, form, on)`;
    no figures or a bad date: a page saying so (400)."""
    selectors.may_read_reports(request.user)
    district = request.user.district
    try:
        state = selectors.report_state(district)
        form, on = _as_of(request, state)
        return respond(district, form, on)
    except ReportsNotAvailable as error:
        return render(
            request,
            "reports/unavailable.html",
            {"message": str(error), "current": "reports"},
            status=400,
        )


def _page(request, template: str, build) -> HttpResponse:
    """A reports page: `build(district, on)` gives its context."""
    return _answer(
        request,
        lambda district, form, on: render(
            request,
            template,
            {"form": form, "as_of": on, "current": "reports", **build(district, on)},
        ),
    )


def index(request: HttpRequest) -> HttpResponse:
    def build(district, on):
        return {
            "minimum": selectors.minimum_cell(district),
            "settings_form": MinimumCellForm(
                initial={"minimum_cell": selectors.minimum_cell(district)}
            ),
            "kinds": documents.KINDS,
            "tables": documents.PUBLIC_TABLES,
        }

    return _page(request, "reports/index.html", build)


def _fresh_figures(district, on):
    if not actions.group_months_fresh(district):
        actions.do_refresh_group_months(district)
    return selectors.figures(district, on=on)


def report_pdf(request: HttpRequest, kind: str) -> HttpResponse:
    """The board or annual report as a PDF download (audit-logged)."""
    selectors.may_read_reports(request.user)
    if kind not in documents.KINDS:
        raise Http404("No such report.")

    def respond(district, form, on):
        pdf = documents.render(kind, _fresh_figures(district, on))
        actions.do_log_report(kind=kind, district=district, as_of=on, user=request.user)
        response = HttpResponse(pdf, content_type="application/pdf")
        filename = f"{kind}-report-{on.isoformat()}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    return _answer(request, respond)


def public_csv(request: HttpRequest, kind: str) -> HttpResponse:
    """A report's table as a public CSV (suppressed like the PDF; audit-logged)."""
    selectors.may_read_reports(request.user)
    if kind not in documents.PUBLIC_TABLES:
        raise Http404("No such table.")

    def respond(district, form, on):
        header, rows = documents.public_table(kind, _fresh_figures(district, on))
        return table_download(
            user=request.user,
            file_format="csv",
            subject=f"public table: {kind}",
            filename=f"{kind}-{on.isoformat()}",
            header=header,
            rows=rows,
            filters={"as_of": on.isoformat()},
        )

    return _answer(request, respond)


def groups(request: HttpRequest) -> HttpResponse:
    def build(district, on):
        figures = _fresh_figures(district, on)
        section = documents.groups_section(figures)
        return {"f": figures, "body": documents.body(section, figures) if section else ""}

    return _page(request, "reports/groups.html", build)


def improvement(request: HttpRequest) -> HttpResponse:
    def build(district, on):
        figures = selectors.figures(district, on=on)
        section = documents.improvement_section(figures)
        return {"f": figures, "body": documents.body(section, figures) if section else ""}

    return _page(request, "reports/improvement.html", build)


def allocation(request: HttpRequest) -> HttpResponse:
    budget_form = BudgetForm({"budget": request.GET.get("budget", DEFAULT_BUDGET)})
    budget = budget_form.cleaned_data["budget"] if budget_form.is_valid() else DEFAULT_BUDGET

    def build(district, on):
        schools, weights = selectors.allocation(district, budget=budget, on=on)
        return {
            "budget_form": budget_form,
            "budget": budget,
            "schools": [(s, s.reasons(weights)) for s in schools],
            "weights": [(MEASURE_LABELS[m], w) for m, w in weights.items()],
            "recorded": any(s.current is not None for s in schools),
            "current_total": sum(s.current or 0 for s in schools),
        }

    response = _page(request, "reports/allocation.html", build)
    if not budget_form.is_valid() and response.status_code == 200:
        response.status_code = 400
    return response


def settings(request: HttpRequest) -> HttpResponse:
    """A district administrator sets the smallest count shown (audited)."""
    selectors.may_read_reports(request.user)
    if request.method != "POST":
        return redirect(reverse("reports:index"))
    if request.user.role != "district_admin":
        raise PermissionDenied("Only the district's administrators change what it publishes.")
    form = MinimumCellForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            f"The smallest count shown must be a whole number from 1 to {actions.MAXIMUM_CELL}: "
            "nothing was changed.",
        )
        return redirect(reverse("reports:index"))
    actions.do_set_minimum_cell(
        user=request.user, district=request.user.district, minimum=form.cleaned_data["minimum_cell"]
    )
    messages.success(
        request, f"Published tables now hide counts below {form.cleaned_data['minimum_cell']}."
    )
    return redirect(reverse("reports:index"))
