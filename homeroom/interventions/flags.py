"""Flags computed from case data, raised and cleared by the night's "case flags" step.

- `no_follow_up`: a student holding an open early-warning flag, flagged N school days ago
  or more (the district's rules file, `[no_follow_up] days`, 10 by default), with no
  contact with the family logged since the flag was raised (an attempt counts: the measure
  is the school reaching out) and no case closed with its goal met since;
- `follow_up_overdue`: a student whose open case has a follow-up not done by its due date
  (`[follow_up_overdue]`; on unless the rules file turns it off).

The warnings app does not know about cases (it sits below), and its own evaluation leaves
these kinds alone; the pipeline calls `do_evaluate_case_flags` after it. Each is a few
grouped SQL queries over the district, whatever its size (school days are counted in memory from the
calendars, `SchoolDays`). Like the early-warning flags, a flag that stops
holding is cleared, not deleted, and evaluating the same date twice changes nothing.
"""

import bisect
import datetime as dt

from django.db import transaction
from django.db.models import Max, Min, OuterRef, Subquery

from homeroom.core.models import CalendarDate, District
from homeroom.core.selectors import counted_calendars, current_school_year
from homeroom.interventions.models import Case, FamilyContact, FollowUp
from homeroom.metrics import display
from homeroom.roster.models import Enrollment
from homeroom.warnings.models import Flag
from homeroom.warnings.rules import load_warning_rules

CASE_FLAG_KINDS = (Flag.Kind.NO_FOLLOW_UP, Flag.Kind.FOLLOW_UP_OVERDUE)


class SchoolDays:
    """The instructional days of each school's counted calendar, read once, to count school
    days between two dates by bisection (the calendars of a district are a few thousand
    rows; correlated counts in SQL cost a subquery per student)."""

    def __init__(
        self, district_id: int, *, since: dt.date | None = None, through: dt.date | None = None
    ) -> None:
        """The days after `since` and up to `through` where given: a day after `through`
        is not counted, nor found by `nth_after`."""
        days: dict[int, list[dt.date]] = {}
        listed = CalendarDate.objects.filter(
            calendar__in=counted_calendars(),
            calendar__school__district_id=district_id,
            kind__in=CalendarDate.COUNTED_KINDS,
        )
        if since is not None:
            listed = listed.filter(date__gt=since)
        if through is not None:
            listed = listed.filter(date__lte=through)
        rows = listed.order_by("calendar__school", "date").values_list("calendar__school", "date")
        for school_id, date in rows:
            days.setdefault(school_id, []).append(date)
        self.days = days

    def between(self, school_id: int | None, after: dt.date, through: dt.date) -> int:
        """School days after `after` up to and including `through` (0 for no school)."""
        days = self.days.get(school_id, [])
        return max(0, bisect.bisect_right(days, through) - bisect.bisect_right(days, after))

    def nth_after(self, school_id: int | None, after: dt.date, n: int) -> dt.date | None:
        """The n-th school day after `after` (None when the calendar ends before it)."""
        days = self.days.get(school_id, [])
        index = bisect.bisect_right(days, after) + n - 1
        return days[index] if index < len(days) else None


def school_of(year_id: int | None, on: dt.date) -> Subquery:
    """The school of a student's (OuterRef "pk") latest enrollment of the year started by `on`."""
    latest = Enrollment.objects.filter(
        student=OuterRef("pk"), school_year_id=year_id, entry_date__lte=on
    ).order_by("-entry_date", "-pk")
    return Subquery(latest.values("school")[:1])


def _no_contact(district: District, as_of: dt.date, days: int, year_id: int) -> dict[int, str]:
    """Students flagged `days` school days ago or more with no family contact since.

    Four grouped queries over the district (first open flag, latest contact, latest goal
    met, current school per student), joined by student on the rows: correlated
    subqueries per student were planned up to a hundred times slower by PostgreSQL at
    50,000 students.
    """
    warning_flags = Flag.objects.filter(
        student__district=district, cleared_on__isnull=True
    ).exclude(kind__in=CASE_FLAG_KINDS)
    flagged = dict(
        warning_flags.order_by()
        .values("student")
        .annotate(on=Min("raised_on"))
        .values_list("student", "on")
    )
    flagged_students = warning_flags.values("student")
    contacted = dict(
        FamilyContact.objects.filter(student__in=flagged_students, struck_on__isnull=True)
        .order_by()
        .values("student")
        .annotate(on=Max("contacted_on"))
        .values_list("student", "on")
    )
    goal_met = dict(
        Case.objects.filter(student__in=flagged_students, close_reason=Case.CloseReason.GOAL_MET)
        .order_by()
        .values("student")
        .annotate(on=Max("closed_on"))
        .values_list("student", "on")
    )
    schools = dict(
        Enrollment.objects.filter(
            student__in=flagged_students, school_year_id=year_id, entry_date__lte=as_of
        )
        .order_by("student", "entry_date", "pk")
        .values_list("student", "school")
    )  # the latest enrollment of each student comes last and wins
    calendar = SchoolDays(district.pk)
    holding = {}
    for student_id, flagged_on in flagged.items():
        if student_id not in schools:
            continue
        if contacted.get(student_id, dt.date.min) >= flagged_on:
            continue
        if goal_met.get(student_id, dt.date.min) >= flagged_on:
            continue
        waited = calendar.between(schools[student_id], flagged_on, as_of)
        if waited >= days:
            holding[student_id] = (
                f"Flagged on {display.date(flagged_on)}: no contact with the family logged in "
                f"{waited} school days"
            )
    return holding


def _overdue(district: District, as_of: dt.date) -> dict[int, str]:
    """Students whose open case has a follow-up past its due date and not done."""
    overdue = (
        FollowUp.objects.filter(
            case__student__district=district,
            case__status=Case.Status.OPEN,
            struck_on__isnull=True,
            done_on__isnull=True,
            due_on__lt=as_of,
        )
        .order_by("case__student_id", "due_on", "pk")
        .values_list("case__student_id", "due_on", "description")
    )
    holding: dict[int, str] = {}
    counts: dict[int, int] = {}
    for student_id, due_on, description in overdue:
        counts[student_id] = counts.get(student_id, 0) + 1
        holding.setdefault(
            student_id, f"Follow-up overdue since {display.date(due_on)}: {description}"
        )
    return {
        student_id: reason
        + (f" (and {counts[student_id] - 1} more)" if counts[student_id] > 1 else "")
        for student_id, reason in holding.items()
    }


def do_evaluate_case_flags(district: District, *, as_of: dt.date) -> dict[str, int]:
    """Raise the case flags that hold as of `as_of`, clear those that no longer do; returns
    counts: raised, cleared, active."""
    rules = load_warning_rules(district.warning_rules)
    year = current_school_year(district.pk, as_of)
    holding: dict[tuple[int, str], str] = {}
    if year is not None and rules.on("no_follow_up"):
        days = int(rules.rules["no_follow_up"]["days"])
        for student_id, reason in _no_contact(district, as_of, days, year.pk).items():
            holding[student_id, Flag.Kind.NO_FOLLOW_UP] = reason
    if year is not None and rules.on("follow_up_overdue"):
        for student_id, reason in _overdue(district, as_of).items():
            holding[student_id, Flag.Kind.FOLLOW_UP_OVERDUE] = reason
    active, year_id = len(holding), year.pk if year else None
    with transaction.atomic():
        open_flags = Flag.objects.filter(
            student__district=district, cleared_on__isnull=True, kind__in=CASE_FLAG_KINDS
        )
        cleared = []
        for flag in open_flags:
            reason = holding.pop((flag.student_id, flag.kind), None)
            if reason is None or flag.school_year_id != year_id:
                cleared.append(flag.pk)
                if reason is not None:  # a new year starts a new flag
                    holding[flag.student_id, flag.kind] = reason
            elif reason != flag.reason:
                Flag.objects.filter(pk=flag.pk).update(reason=reason)
        Flag.objects.filter(pk__in=cleared).update(cleared_on=as_of)
        open_flags.exclude(pk__in=cleared).update(checked_on=as_of)
        Flag.objects.bulk_create(
            Flag(
                student_id=student_id,
                school_year=year,
                kind=kind,
                variant="",
                raised_on=as_of,
                checked_on=as_of,
                reason=reason,
            )
            for (student_id, kind), reason in holding.items()
        )
    return {"raised": len(holding), "cleared": len(cleared), "active": active}
