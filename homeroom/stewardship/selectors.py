"""Reads of the coding audit: the findings, and the rows behind one of them.

Both are for the district's data stewards (`access.stewardship.reads_coding_audit`); the
rows of students pass the gatekeeper (`visible_students`) like any student data, and the
page that shows them audits each student shown (`views.finding_rows`).
"""

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from homeroom.access.gatekeeper import visible_students
from homeroom.access.stewardship import reads_coding_audit
from homeroom.attendance.models import AttendanceEvent, Category
from homeroom.core.models import CalendarDate, District, School
from homeroom.core.selectors import counted_calendars, current_school_year, district_today
from homeroom.stewardship.findings import (
    ABSENT,
    Finding,
    Rows,
    coding_audit,
    gather,
    period_rows_without_daily,
)

ROWS_SHOWN = 500  # rows a page lists; the count says how many there are in all
ROW_KINDS = ("absent", "excused", "unexcused", "period", "late", "code", "days")


def _stewards_only(user) -> None:
    if not reads_coding_audit(user):
        raise PermissionDenied("The coding audit is for the district's data stewards.")


def district_findings(district: District, *, as_of: dt.date | None = None) -> list[Finding]:
    """Every finding of the district's school year holding `as_of` (default today)."""
    as_of = as_of or district_today(district)
    year = current_school_year(district.pk, as_of)
    if year is None:
        return []
    return coding_audit(gather(district, year, as_of))


def findings_for(user, *, as_of: dt.date | None = None) -> list[Finding]:
    """The coding audit of the user's district, for its data stewards."""
    _stewards_only(user)
    return district_findings(user.district, as_of=as_of)


@dataclass(frozen=True)
class FindingRows:
    """The rows behind a finding: attendance rows (students the user may see), or days."""

    school: School
    rows: Rows
    events: list[AttendanceEvent]
    total: int
    days: list[tuple[dt.date, str]]


def _events(district: District, rows: Rows) -> QuerySet[AttendanceEvent]:
    if rows.kind == "period":
        found = period_rows_without_daily(district, rows.start, rows.end)
    else:
        found = AttendanceEvent.objects.filter(date__gte=rows.start, date__lte=rows.end)
        daily = Q(period="", section__isnull=True)
        found = found.filter(
            {
                "absent": daily & Q(code__category__in=ABSENT),
                "excused": daily & Q(code__category=Category.EXCUSED),
                "unexcused": daily & Q(code__category=Category.UNEXCUSED),
                "late": Q(minutes_missed__gt=0) & ~Q(code__category=Category.TARDY),
                "code": Q(code_id=rows.code_id),
            }[rows.kind]
        )
    return found.filter(school_id=rows.school_id)


def rows_of(user, rows: Rows) -> FindingRows:
    """The rows a finding links to; a school outside the user's district does not exist."""
    _stewards_only(user)
    school = School.objects.filter(pk=rows.school_id, district_id=user.district_id).first()
    if school is None or rows.kind not in ROW_KINDS:
        raise Http404("No such school in your district.")
    if rows.kind == "days":
        counted = CalendarDate.objects.filter(
            calendar__in=counted_calendars().filter(school=school),
            kind__in=CalendarDate.COUNTED_KINDS,
            date__gte=rows.start,
            date__lte=rows.end,
        )
        recorded = set(
            AttendanceEvent.objects.filter(
                school=school, date__gte=rows.start, date__lte=rows.end
            ).values_list("date", flat=True)
        )
        days = [
            (day, CalendarDate.Kind(kind).label)
            for day, kind in counted.order_by("date").values_list("date", "kind")
            if day not in recorded
        ]
        return FindingRows(school=school, rows=rows, events=[], total=len(days), days=days)
    found = _events(user.district, rows).filter(student__in=visible_students(user))
    events = list(
        found.select_related("student", "code").order_by("date", "student__last_name", "pk")[
            :ROWS_SHOWN
        ]
    )
    return FindingRows(school=school, rows=rows, events=events, total=found.count(), days=[])
