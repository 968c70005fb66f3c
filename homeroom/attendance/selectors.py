"""Reads of one student's attendance records: their events, and their days by month.

Totals per student, school and district are not counted here: the pages read them from
the materialized summaries (`homeroom.metrics.selectors`), which the metrics engine
computes under the district's rule profile. The month table of a student's page is
counted here, live, by the same rules, so that its months add up to the summary:

- days enrolled: counted days (instructional and make-up) of the school's calendar
  inside an enrollment span, entry and exit days included, up to the as-of date;
- absent: events of the profile's absent categories, on counted days inside an
  enrollment at the event's school, by their share of the day under the profile's
  partial-day rule; a day with several events counts once, by its largest share.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DateField, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest, Least

from homeroom.access.gatekeeper import StudentAccess
from homeroom.attendance.models import AttendanceEvent
from homeroom.core.models import CalendarDate, SchoolYear
from homeroom.core.selectors import counted_calendars, current_school_year, district_today
from homeroom.metrics.rules import RuleProfile
from homeroom.roster.models import Enrollment

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class MonthAttendance:
    """One student's days enrolled and absent in one month."""

    month: dt.date
    days_enrolled: int
    days_absent: float


def school_year_for(user, on: dt.date | None = None) -> SchoolYear | None:
    """The current school year of the user's district (None without a district)."""
    if user.district_id is None:
        return None
    return current_school_year(user.district_id, on or district_today(user.district))


def _calendar_dates(on_school, on_year) -> QuerySet[CalendarDate]:
    """The dates of the calendar the school's days are counted on."""
    return CalendarDate.objects.filter(
        calendar__in=counted_calendars(), calendar__school=on_school, calendar__school_year=on_year
    )


def _spans(access: StudentAccess, school_year: SchoolYear, as_of: dt.date) -> QuerySet[Enrollment]:
    """The student's enrollment spans of the year, clipped to the year up to `as_of`."""
    return Enrollment.objects.filter(
        Q(exit_date__isnull=True) | Q(exit_date__gte=school_year.start_date),
        student=access.student,
        school_year=school_year,
        entry_date__lte=as_of,
    ).annotate(
        first_day=Greatest("entry_date", Value(school_year.start_date)),
        last_day=Least(
            Coalesce("exit_date", Value(as_of)),
            Value(as_of, output_field=DateField()),
            Value(school_year.end_date, output_field=DateField()),
        ),
    )


def _counted_events(
    access: StudentAccess, school_year: SchoolYear, as_of: dt.date
) -> QuerySet[AttendanceEvent]:
    """Events on counted days of the calendar, inside an enrollment at the event's school."""
    counted_day = _calendar_dates(OuterRef("school"), school_year).filter(
        date=OuterRef("date"), kind__in=CalendarDate.COUNTED_KINDS
    )
    enrolled = Enrollment.objects.filter(
        Q(exit_date__isnull=True) | Q(exit_date__gte=OuterRef("date")),
        student=OuterRef("student"),
        school=OuterRef("school"),
        entry_date__lte=OuterRef("date"),
    )
    return AttendanceEvent.objects.filter(
        Exists(counted_day),
        Exists(enrolled),
        student=access.student,
        date__gte=school_year.start_date,
        date__lte=min(as_of, school_year.end_date),
    )


def _absent_share(profile: RuleProfile, share: Decimal) -> Decimal:
    """The share of a day an absence counts for under the profile's partial-day rule."""
    if profile.partial_days == "full_days_only":
        return ONE if share >= ONE else ZERO
    if profile.partial_days == "half_or_more":
        return ONE if share * 2 >= ONE else ZERO
    return min(share, ONE)


def absences_by_month(
    access: StudentAccess, *, school_year: SchoolYear, as_of: dt.date, profile: RuleProfile
) -> list[MonthAttendance]:
    """One student's days enrolled and absent per month of the year, up to `as_of`."""
    enrolled: dict[dt.date, int] = defaultdict(int)
    spans = list(_spans(access, school_year, as_of))
    # The counted days of every span's school in one query, not one per span (a student
    # who moved often would cost a query a move); each span then counts its own days.
    days_by_school: dict[int, list[dt.date]] = defaultdict(list)
    if spans:
        counted_days = CalendarDate.objects.filter(
            calendar__in=counted_calendars(),
            calendar__school__in={span.school_id for span in spans},
            calendar__school_year=school_year,
            kind__in=CalendarDate.COUNTED_KINDS,
            date__gte=min(span.first_day for span in spans),
            date__lte=max(span.last_day for span in spans),
        )
        for school_id, day in counted_days.values_list("calendar__school_id", "date"):
            days_by_school[school_id].append(day)
    for span in spans:
        for day in days_by_school[span.school_id]:
            if span.first_day <= day <= span.last_day:
                enrolled[day.replace(day=1)] += 1
    # The largest share of each day at each school: one absence a day at most.
    daily: dict[tuple[int, dt.date], Decimal] = {}
    events = _counted_events(access, school_year, as_of).filter(
        code__category__in=sorted(profile.absent_categories)
    )
    for school_id, day, share in events.values_list(
        "school_id", "date", Coalesce(F("day_fraction"), F("code__day_fraction"))
    ):
        counted = _absent_share(profile, Decimal(share))
        daily[school_id, day] = max(daily.get((school_id, day), ZERO), counted)
    absent: dict[dt.date, Decimal] = defaultdict(Decimal)
    for (_, day), share in daily.items():
        absent[day.replace(day=1)] += share
    return [
        MonthAttendance(
            month=month, days_enrolled=enrolled[month], days_absent=float(absent[month])
        )
        for month in sorted(enrolled.keys() | absent.keys())
    ]


def student_events(access: StudentAccess, *, school_year: SchoolYear) -> QuerySet[AttendanceEvent]:
    """Every attendance event of the student in the year, counted or not, newest first."""
    return (
        AttendanceEvent.objects.filter(
            student=access.student,
            date__gte=school_year.start_date,
            date__lte=school_year.end_date,
        )
        .select_related("code", "school")
        .order_by("-date")
    )
