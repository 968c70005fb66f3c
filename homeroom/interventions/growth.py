"""Educator growth: how the attendance of a staff member's students changed after the
interventions they started (or that were started on the cases they manage).

For each such intervention started in the window: the student's attendance rate over the
20 school days before the start, and over the school days from the start on (the start
day included, up to 20, only days whose attendance has been recorded, up to `as_of`), and
the change in percentage points. Fewer than 5 school days since the start: too early to
tell, no change is given. School days and absences are the metrics' own
(`metrics.selectors.school_days_of_students`), within the school year of the start.

Overall, each student counts once, on their earliest listed intervention with a change:
how many, the mean change, and how many improved. It is a before-and-after reading with
no comparison group, not an estimate of what the intervention caused. It is shown only to
the staff member themselves, never beside or ranked against anyone else.
"""

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from django.db.models import Q

from homeroom.access.gatekeeper import visible_students
from homeroom.core.models import SchoolYear
from homeroom.core.selectors import district_today
from homeroom.interventions.models import Intervention
from homeroom.metrics.selectors import SchoolDay, school_days_of_students

DAYS_BEFORE = 20
MOST_DAYS_AFTER = 20
FEWEST_DAYS_AFTER = 5
MILLI = 1000


def _rate(days: list[SchoolDay]) -> Fraction | None:
    """Days present over school days, exact (absences are whole thousandths of a day)."""
    if not days:
        return None
    absent = sum(round(day.absent * MILLI) for day in days)
    return 1 - Fraction(absent, len(days) * MILLI)


@dataclass(frozen=True)
class GrowthRow:
    """One intervention: the student's attendance before and since its start."""

    intervention: Intervention
    days_before: int
    days_after: int
    exact_before: Fraction | None
    exact_after: Fraction | None

    @property
    def too_early(self) -> bool:
        return self.days_after < FEWEST_DAYS_AFTER

    @property
    def rate_before(self) -> float | None:
        return None if self.exact_before is None else float(self.exact_before)

    @property
    def rate_after(self) -> float | None:
        return None if self.exact_after is None or self.too_early else float(self.exact_after)

    @property
    def exact_change(self) -> Fraction | None:
        if self.too_early or self.exact_before is None:
            return None
        return self.exact_after - self.exact_before

    @property
    def change(self) -> float | None:
        """After less before, as a share (0.05 is 5 percentage points); None: none yet."""
        change = self.exact_change
        return None if change is None else float(change)


@dataclass(frozen=True)
class Growth:
    """The user's interventions in the window, in start order, and the overall reading."""

    start: dt.date
    end: dt.date
    as_of: dt.date
    rows: list[GrowthRow]
    students: int
    mean_change: float | None
    improved: int
    too_early: int


def _school_year(day: dt.date, years: list[SchoolYear]) -> SchoolYear | None:
    for year in years:
        if year.start_date <= day <= year.end_date:
            return year
    return None


def my_growth(user, *, start: dt.date, end: dt.date, as_of: dt.date | None = None) -> Growth:
    """The interventions started in the window by `user` or on the cases `user` manages,
    for the students `user` sees, with their attendance before and since the start."""
    as_of = as_of or district_today(user.district)
    students = visible_students(user, on=as_of)
    interventions = list(
        Intervention.objects.filter(
            Q(owner=user) | Q(case__case_manager=user),
            student__in=students.values("pk"),
            struck_on__isnull=True,
            started_on__gte=start,
            started_on__lte=min(end, as_of),
        )
        .select_related("student", "kind")
        .order_by("started_on", "student__last_name", "student__first_name", "pk")
    )
    years = list(SchoolYear.objects.filter(district_id=user.district_id))
    by_year: dict[int, list[Intervention]] = defaultdict(list)
    year_of: dict[int, SchoolYear] = {}
    for intervention in interventions:
        year = _school_year(intervention.started_on, years)
        if year is not None:
            by_year[year.pk].append(intervention)
            year_of[year.pk] = year
    computed: dict[int, GrowthRow] = {}
    for year_id, listed in by_year.items():
        # The whole year from its first day: 20 school days before a start may reach back
        # over a break, and the calendar alone says how far.
        days = school_days_of_students(
            user,
            sorted({i.student_id for i in listed}),
            school_year=year_of[year_id],
            start=year_of[year_id].start_date,
            as_of=as_of,
        )
        for intervention in listed:
            own = days.get(intervention.student_id, [])
            before = [d for d in own if d.date < intervention.started_on][-DAYS_BEFORE:]
            after = [d for d in own if d.date >= intervention.started_on][:MOST_DAYS_AFTER]
            computed[intervention.pk] = GrowthRow(
                intervention=intervention,
                days_before=len(before),
                days_after=len(after),
                exact_before=_rate(before),
                exact_after=_rate(after),
            )
    # An intervention outside every school year of the district has no school days.
    rows = [computed[i.pk] for i in interventions if i.pk in computed]
    counted: dict[int, Fraction] = {}
    for row in rows:  # in start order: each student's earliest intervention with a change
        if row.exact_change is not None:
            counted.setdefault(row.intervention.student_id, row.exact_change)
    changes = list(counted.values())
    return Growth(
        start=start,
        end=end,
        as_of=as_of,
        rows=rows,
        students=len(changes),
        mean_change=float(statistics.mean(changes)) if changes else None,
        improved=sum(1 for change in changes if change > 0),
        too_early=sum(1 for row in rows if row.too_early),
    )
