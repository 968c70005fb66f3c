"""Flags computed from case data, raised and cleared by the night's "case flags" step.

- `no_follow_up`: a student holding an open early-warning flag, flagged N school days ago
  or more (the district's rules file, `[no_follow_up] days`, 10 by default), with no
  contact with the family logged since the flag was raised (an attempt counts: the measure
  is the school reaching out) and no case closed with its goal met since;
- `follow_up_overdue`: a student whose open case has a follow-up not done by its due date
  (`[follow_up_overdue]`; on unless the rules file turns it off).

The warnings app does not know about cases (it sits below), and its own evaluation leaves
these kinds alone; the pipeline calls `do_evaluate_case_flags` after it. Each is one SQL
query over the district, whatever its size. Like the early-warning flags, a flag that stops
holding is cleared, not deleted, and evaluating the same date twice changes nothing.
"""

import datetime as dt

from django.db import transaction
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Subquery,
)
from django.db.models.functions import Coalesce

from homeroom.core.models import CalendarDate, District
from homeroom.core.selectors import counted_calendars, current_school_year
from homeroom.interventions.models import Case, FamilyContact, FollowUp
from homeroom.roster.models import Enrollment, Student
from homeroom.warnings.models import Flag
from homeroom.warnings.rules import load_warning_rules

CASE_FLAG_KINDS = (Flag.Kind.NO_FOLLOW_UP, Flag.Kind.FOLLOW_UP_OVERDUE)


def school_days_between(school_ref: str, after_ref: str, through: dt.date | str) -> Subquery:
    """The instructional days of the counted calendar of the school `school_ref` names,
    after the date `after_ref` names and through `through` (a date or a field name), as a
    correlated subquery (0 when none)."""
    through_ref = OuterRef(through) if isinstance(through, str) else through
    days = (
        CalendarDate.objects.filter(
            calendar__in=counted_calendars(),
            calendar__school=OuterRef(school_ref),
            kind__in=CalendarDate.COUNTED_KINDS,
            date__gt=OuterRef(after_ref),
            date__lte=through_ref,
        )
        .order_by()
        .values("calendar__school")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(days, output_field=IntegerField()), 0)


def school_of(year_id: int | None, on: dt.date) -> Subquery:
    """The school of a student's (OuterRef "pk") latest enrollment of the year started by `on`."""
    latest = Enrollment.objects.filter(
        student=OuterRef("pk"), school_year_id=year_id, entry_date__lte=on
    ).order_by("-entry_date", "-pk")
    return Subquery(latest.values("school")[:1])


def _no_contact(district: District, as_of: dt.date, days: int, year_id: int) -> dict[int, str]:
    """Students flagged `days` school days ago or more with no family contact since."""
    warning_flags = Flag.objects.filter(student=OuterRef("pk"), cleared_on__isnull=True).exclude(
        kind__in=CASE_FLAG_KINDS
    )
    contacted = FamilyContact.objects.filter(
        student=OuterRef("pk"), struck_on__isnull=True, contacted_on__gte=OuterRef("flagged_on")
    )
    goal_met = Case.objects.filter(
        student=OuterRef("pk"),
        close_reason=Case.CloseReason.GOAL_MET,
        closed_on__gte=OuterRef("flagged_on"),
    )
    students = (
        Student.objects.filter(district=district)
        .annotate(
            flagged_on=Subquery(warning_flags.order_by("raised_on").values("raised_on")[:1]),
            school_id_now=school_of(year_id, as_of),
        )
        .filter(flagged_on__isnull=False, school_id_now__isnull=False)
        .annotate(waited=school_days_between("school_id_now", "flagged_on", as_of))
        .filter(waited__gte=days)
        .exclude(Exists(contacted))
        .exclude(Exists(goal_met))
    )
    return {
        pk: f"Flagged on {flagged_on}: no contact with the family logged in {waited} school days"
        for pk, flagged_on, waited in students.values_list("pk", "flagged_on", "waited")
    }


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
        holding.setdefault(student_id, f"Follow-up overdue since {due_on}: {description}")
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
