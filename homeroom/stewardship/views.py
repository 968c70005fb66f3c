"""Pages of the coding audit, for the district's data stewards."""

import datetime as dt

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from homeroom.core.models import AuditEntry
from homeroom.stewardship import selectors
from homeroom.stewardship.findings import PATTERNS, Rows


def coding_audit(request: HttpRequest) -> HttpResponse:
    """Every finding in plain words, grouped by pattern, each linking to its rows."""
    findings = selectors.findings_for(request.user)
    groups = [
        (label, [f for f in findings if f.pattern == pattern])
        for pattern, label in PATTERNS.items()
    ]
    return render(
        request, "stewardship/coding_audit.html", {"groups": groups, "found": len(findings)}
    )


def _rows(request: HttpRequest) -> Rows:
    """The rows a link names; a malformed link is a page that does not exist."""
    try:
        code = request.GET.get("code")
        return Rows(
            school_id=int(request.GET["school"]),
            kind=request.GET["kind"],
            start=dt.date.fromisoformat(request.GET["from"]),
            end=dt.date.fromisoformat(request.GET["to"]),
            code_id=int(code) if code else None,
        )
    except (KeyError, ValueError):
        raise Http404("That link names no rows.") from None


def finding_rows(request: HttpRequest) -> HttpResponse:
    """The attendance rows (or days) behind a finding; each student shown is audited."""
    user = request.user
    rows = _rows(request)
    with transaction.atomic():
        found = selectors.rows_of(user, rows)
        # The fields core.actions.do_log_student_access writes, one per student shown.
        AuditEntry.objects.bulk_create(
            AuditEntry(
                user=user,
                district_id=user.district_id,
                action=AuditEntry.Action.VIEW,
                student_id=student_id,
                subject="coding audit rows",
                access_reason=user.get_role_display(),
                details=rows.as_query(),
            )
            for student_id in sorted({event.student_id for event in found.events})
        )
    return render(request, "stewardship/rows.html", {"found": found})
