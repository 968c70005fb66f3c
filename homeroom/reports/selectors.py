"""Reads of the reports: a district's figures as of a kept date, every published table
already through `suppression.suppress`.

Reports add up students; they never list one. They read only materialized figures: the
dashboards' `StandingCell` (standing per school, grade, band and tier as of each Friday
and the same dates last year) and `SchoolDayAttendance` (the weekly trend), the groups'
`GroupMonth` rows, and counts of cases, contacts and messages. Whoever asks must see the
whole district added up (`may_read_reports`); the command runs for the district itself.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum

from homeroom.access.gatekeeper import aggregate_scope
from homeroom.accounts.models import Role, User
from homeroom.core.models import District, School
from homeroom.interventions.models import Case, CaseBarrier, FamilyContact
from homeroom.metrics.dashboards import GROUPS, _daily, _weeks, kept_dates
from homeroom.metrics.engines import year_back
from homeroom.metrics.models import (
    SchoolDayAttendance,
    StandingCell,
    StudentSummary,
    SummaryState,
    TierChange,
)
from homeroom.metrics.rules import RuleProfile
from homeroom.metrics.selectors import summary_rules
from homeroom.outreach.models import Message
from homeroom.reports import allocation as alloc
from homeroom.reports.models import GroupMonth, ReportSettings
from homeroom.reports.suppression import DEFAULT_MINIMUM_CELL, Suppressed, rate, suppress
from homeroom.roster.models import RaceEthnicity, StudentCharacteristic
from homeroom.surveys.selectors import district_barrier_counts

# The groups whose gaps the reports follow (issue 26): the characteristics, by kind.
GAP_GROUPS = (
    StudentCharacteristic.Kind.ENGLISH_LEARNER,
    StudentCharacteristic.Kind.IEP,
    StudentCharacteristic.Kind.ECONOMICALLY_DISADVANTAGED,
    StudentCharacteristic.Kind.HOMELESS,
    StudentCharacteristic.Kind.FOSTER_CARE,
)
POVERTY = StudentCharacteristic.Kind.ECONOMICALLY_DISADVANTAGED
# Who counts as attendance staff of a school for open cases per staff and the current
# allocation: counselors and attendance specialists assigned to it (accounts' schools).
STAFF_ROLE = Role.COUNSELOR
SENT = (Message.Status.SENT, Message.Status.DELIVERED)


class ReportsNotAvailable(Exception):
    """No figures to report yet (no summaries), or no such date: says which."""


def may_read_reports(user) -> None:
    """District-wide roles only: the reports add up every school of the district."""
    if not user.is_authenticated or not aggregate_scope(user).district:
        raise PermissionDenied("Reports add up the whole district: district roles only.")


def minimum_cell(district: District) -> int:
    """The district's minimum count shown in a published table."""
    held = ReportSettings.objects.filter(district=district).first()
    return held.minimum_cell if held else DEFAULT_MINIMUM_CELL


def report_state(district: District) -> SummaryState:
    state = SummaryState.objects.select_related("district", "school_year").filter(district=district)
    found = state.first()
    if found is None:
        raise ReportsNotAvailable(
            "The district's figures have not been computed yet: run the nightly refresh "
            "(homeroom refresh_summaries) first."
        )
    return found


def report_dates(state: SummaryState) -> list[dt.date]:
    """The dates a report can be made as of: each Friday kept so far and the latest."""
    return kept_dates(state)


def checked_date(state: SummaryState, on: dt.date | None) -> dt.date:
    """`on`, or the summaries' date; a date with no kept figures is refused by name."""
    if on is None:
        return state.as_of
    dates = report_dates(state)
    if on not in dates:
        first, last = min(dates), max(dates)
        raise ReportsNotAvailable(
            f"No figures are kept for {on:%b %-d, %Y}: choose a Friday from "
            f"{first:%b %-d, %Y} to {last:%b %-d, %Y}, or {state.as_of:%b %-d, %Y}."
        )
    return on


# ---------------------------------------------------------------- standings


@dataclass(frozen=True)
class Level:
    """A tier or band in a published table: its name, label, count (None: hidden), rate."""

    name: str
    label: str
    students: int | None
    share: float | None


@dataclass(frozen=True)
class PlaceRow:
    """One line of a published table of standings (the district, or a school)."""

    key: str
    label: str
    counted: int | None
    chronic: int | None
    chronic_rate: float | None
    attendance_rate: float | None
    tiers: list[Level]
    last_year_chronic_rate: float | None = None

    @property
    def chronic_change(self) -> float | None:
        if self.chronic_rate is None or self.last_year_chronic_rate is None:
            return None
        return self.chronic_rate - self.last_year_chronic_rate


def _tier_names(rules: RuleProfile | None, held: set[str]) -> list[tuple[str, str]]:
    named = [(level.name, level.label) for level in rules.tiers] if rules else []
    return named + [(name, name) for name in sorted(held - {n for n, _ in named}) if name]


def _standings(cells, key: str) -> dict:
    """Per `key` value: counted, chronic, per tier, days enrolled and absent."""
    out: dict = defaultdict(
        lambda: {
            "students": 0,
            "counted": 0,
            "chronic": 0,
            "tiers": defaultdict(int),
            "enrolled": 0,
            "absent": 0.0,
        }
    )
    rows = cells.values(key, "counted", "chronic", "tier").annotate(
        n=Sum("students"), enrolled=Sum("days_enrolled"), absent=Sum("days_absent")
    )
    for row in rows.order_by():
        held = out[row[key]]
        held["students"] += row["n"]
        held["enrolled"] += row["enrolled"] or 0
        held["absent"] += row["absent"] or 0.0
        if row["counted"]:
            held["counted"] += row["n"]
            held["chronic"] += row["n"] if row["chronic"] else 0
            held["tiers"][row["tier"]] += row["n"]
    return out


def _place_rows(
    labels: list[tuple[object, str, str]],
    held: dict,
    last: dict,
    rules: RuleProfile | None,
    minimum: int,
) -> tuple[list[PlaceRow], Suppressed, Suppressed]:
    """Rows of (key in `held`, row key, label), their chronic and tier counts suppressed as
    two tables (rows x [chronic, not chronic] and rows x tiers, with totals)."""
    tiers = _tier_names(rules, {t for h in held.values() for t in h["tiers"]})
    chronic = suppress(
        [[held[k]["chronic"], held[k]["counted"] - held[k]["chronic"]] for k, _, _ in labels],
        minimum,
    )
    by_tier = suppress(
        [[held[k]["tiers"].get(t, 0) for t, _ in tiers] for k, _, _ in labels], minimum
    )
    # Last year's table is published too (as rates): suppressed on its own, over the
    # places that had students then.
    before = [k for k, _, _ in labels if k in last]
    then = suppress(
        [[last[k]["chronic"], last[k]["counted"] - last[k]["chronic"]] for k in before], minimum
    )
    last_rates = {k: rate(then.cells[i][0], then.row_totals[i]) for i, k in enumerate(before)}
    rows = []
    for i, (k, key, label) in enumerate(labels):
        counted = chronic.row_totals[i]
        last_rate = last_rates.get(k)
        enrolled, absent = held[k]["enrolled"], held[k]["absent"]
        rows.append(
            PlaceRow(
                key=key,
                label=label,
                counted=counted,
                chronic=chronic.cells[i][0],
                chronic_rate=rate(chronic.cells[i][0], counted),
                # a rate over student-days: shown for the places whose students are shown
                attendance_rate=(1 - absent / enrolled) if enrolled and counted else None,
                tiers=[
                    Level(
                        t, tl, by_tier.cells[i][j], rate(by_tier.cells[i][j], by_tier.row_totals[i])
                    )
                    for j, (t, tl) in enumerate(tiers)
                ],
                last_year_chronic_rate=last_rate,
            )
        )
    return rows, chronic, by_tier


@dataclass(frozen=True)
class Week:
    monday: dt.date
    attendance_rate: float | None
    last_year: float | None


@dataclass(frozen=True)
class GroupGap:
    """A student group's chronic absence rate month by month against the district's."""

    key: str
    label: str
    months: list[tuple[dt.date, float | None, float | None]]  # (as of, group, district)
    counted: int | None  # at the latest month (None: hidden)

    @property
    def latest_gap(self) -> float | None:
        _, group, whole = self.months[-1] if self.months else (None, None, None)
        return None if group is None or whole is None else group - whole


@dataclass(frozen=True)
class Process:
    """Process measures per month: cases opened, family contacts logged, messages sent."""

    months: list[dt.date]
    cases_opened: list[int | None]
    contacts: list[int | None]
    messages: list[int | None]
    totals: tuple[int | None, int | None, int | None]


@dataclass(frozen=True)
class TierMoves:
    """Students whose tier rose and fell between refreshes this year (counts)."""

    raised: int | None
    lowered: int | None


@dataclass
class Figures:
    """Everything a report shows, as of one date, suppressed."""

    district: District
    state: SummaryState
    rules: RuleProfile | None
    as_of: dt.date
    minimum: int
    district_row: PlaceRow
    last_year_as_of: dt.date | None
    schools: list[PlaceRow]
    weeks: list[Week]
    groups: list[GroupGap]
    races: list[GroupGap]
    process: Process
    tier_moves: TierMoves
    improvement: list["SchoolChange"] = field(default_factory=list)


def figures(district: District, *, on: dt.date | None = None, rules=None) -> Figures:
    """The district's figures as of `on` (a kept date; default the summaries' date)."""
    state = report_state(district)
    on = checked_date(state, on)
    rules = rules if rules is not None else summary_rules(state)
    minimum = minimum_cell(district)
    kept = StandingCell.objects.filter(school_year__district=district)
    now = kept.filter(school_year=state.school_year_id, as_of=on)
    then = kept.exclude(school_year=state.school_year_id).filter(as_of=year_back(on))
    whole_now = _standings(now.filter(school__isnull=True), "school_year")
    whole_then = _standings(then.filter(school__isnull=True), "school_year")
    year_key = state.school_year_id
    if year_key not in whole_now:
        raise ReportsNotAvailable(f"No figures are kept for {on:%b %-d, %Y}.")
    district_rows, _, _ = _place_rows(
        [(year_key, "district", district.name)],
        whole_now,
        {year_key: next(iter(whole_then.values()))} if whole_then else {},
        rules,
        minimum,
    )
    by_school = _standings(now.filter(school__isnull=False), "school")
    last_by_school = _standings(then.filter(school__isnull=False), "school")
    names = dict(School.objects.filter(pk__in=by_school).values_list("pk", "name"))
    labels = sorted(((pk, str(pk), names[pk]) for pk in by_school), key=lambda r: r[2])
    schools, _, _ = _place_rows(labels, by_school, last_by_school, rules, minimum)
    days = SchoolDayAttendance.objects.filter(school_year__district=district)
    weeks = [
        Week(w.monday, w.attendance_rate, w.last_year)
        for w in _weeks(_daily(days, state, on), state)
    ]
    groups, races = group_gaps(district, state, on, minimum)
    result = Figures(
        district=district,
        state=state,
        rules=rules,
        as_of=on,
        minimum=minimum,
        district_row=district_rows[0],
        last_year_as_of=year_back(on) if whole_then else None,
        schools=schools,
        weeks=weeks,
        groups=groups,
        races=races,
        process=process_measures(district, state, on, minimum),
        tier_moves=tier_moves(district, state, on, minimum),
    )
    result.improvement = improvement(result.schools)
    return result


# ---------------------------------------------------------------- groups over time


def month_ends(state: SummaryState, on: dt.date) -> list[dt.date]:
    """The last day of each month of the year to `on`, and `on` itself."""
    dates, day = [], state.school_year.start_date
    while True:
        following = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        end = following - dt.timedelta(days=1)
        if end >= on:
            break
        dates.append(end)
        day = following
    return [*dates, on]


def group_gaps(
    district: District, state: SummaryState, on: dt.date, minimum: int
) -> tuple[list[GroupGap], list[GroupGap]]:
    """Per characteristic group and per race/ethnicity, chronic rate per month against the
    district's, from `GroupMonth`, each month's table suppressed (a group's complement is
    the rest of the district, so it is a row of the table too)."""
    rows = GroupMonth.objects.filter(
        district=district, school_year=state.school_year_id, as_of__lte=on
    )
    held: dict[tuple[dt.date, str, str], GroupMonth] = {
        (r.as_of, r.group_type, r.group_value): r for r in rows
    }
    # months in which the district counted someone (the first weeks count no one yet)
    months = sorted(r.as_of for r in held.values() if r.group_type == "district" and r.counted)
    whole_rates = {}
    for month in months:
        whole = held[(month, "district", "all")]
        # The district's rate is published with the district's counts: suppressed as a
        # table of one row, like any other.
        t = suppress([[whole.chronic, whole.counted - whole.chronic]], minimum)
        whole_rates[month] = rate(t.cells[0][0], t.row_totals[0])

    def gaps(kind: str, keys: list[tuple[str, str]], partition: bool) -> list[GroupGap]:
        series: dict[str, list] = {key: [] for key, _ in keys}
        latest: dict[str, int | None] = {key: None for key, _ in keys}
        for month in months:
            whole = held[(month, "district", "all")]
            present = [k for k, _ in keys if (month, kind, k) in held]
            if partition:  # race groups add up to the district: one table of them all
                table = [
                    [
                        held[(month, kind, k)].chronic,
                        held[(month, kind, k)].counted - held[(month, kind, k)].chronic,
                    ]
                    for k in present
                ]
                s = suppress(table, minimum)
                shown = {k: (s.cells[i][0], s.row_totals[i]) for i, k in enumerate(present)}
            else:  # a group and the rest of the district
                shown = {}
                for k in present:
                    g = held[(month, kind, k)]
                    rest = (
                        whole.chronic - g.chronic,
                        whole.counted - g.counted - whole.chronic + g.chronic,
                    )
                    s = suppress([[g.chronic, g.counted - g.chronic], list(rest)], minimum)
                    shown[k] = (s.cells[0][0], s.row_totals[0])
            for k, _ in keys:
                chronic, counted = shown.get(k, (None, None))
                series[k].append((month, rate(chronic, counted), whole_rates[month]))
                latest[k] = counted
        return [
            GroupGap(key=k, label=label, months=series[k], counted=latest[k])
            for k, label in keys
            if any((month, kind, k) in held for month in months)
        ]

    groups = gaps("characteristic", [(k.value, GROUPS[k.value]) for k in GAP_GROUPS], False)
    races = gaps("race_ethnicity", list(RaceEthnicity.choices), True)
    return groups, races


# ---------------------------------------------------------------- process measures


def _months_of(state: SummaryState, on: dt.date) -> list[dt.date]:
    first = state.school_year.start_date.replace(day=1)
    months, month = [], first
    while month <= on:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return months


def process_measures(district: District, state: SummaryState, on: dt.date, minimum: int) -> Process:
    """Cases opened, family contacts logged and messages sent to families, per month of
    the year to `on` (a table with the year's totals; small months hidden)."""
    start = state.school_year.start_date
    months = _months_of(state, on)

    def per_month(values) -> list[int]:
        counts = defaultdict(int)
        for day in values:
            counts[day.replace(day=1)] += 1
        return [counts[m] for m in months]

    cases = Case.objects.filter(
        school__district=district, opened_on__gte=start, opened_on__lte=on
    ).values_list("opened_on", flat=True)
    contacts = FamilyContact.objects.filter(
        student__district=district,
        struck_on__isnull=True,
        contacted_on__gte=start,
        contacted_on__lte=on,
    ).values_list("contacted_on", flat=True)
    tz = district.timezone
    sent = Message.objects.filter(
        district=district, direction=Message.Direction.OUT, status__in=SENT, sent_at__isnull=False
    ).values_list("sent_at", flat=True)
    sent_days = [_local_day(at, tz) for at in sent]
    sent_days = [d for d in sent_days if start <= d <= on]
    columns = [per_month(cases), per_month(contacts), per_month(sent_days)]
    table = [[columns[c][m] for c in range(3)] for m in range(len(months))]
    s = suppress(table, minimum, row_totals=False, zero_shown=True)
    return Process(
        months=months,
        cases_opened=[row[0] for row in s.cells],
        contacts=[row[1] for row in s.cells],
        messages=[row[2] for row in s.cells],
        totals=tuple(s.column_totals),
    )


def _local_day(at: dt.datetime, tz) -> dt.date:
    return at.astimezone(ZoneInfo(tz)).date() if tz else at.date()


def tier_moves(district: District, state: SummaryState, on: dt.date, minimum: int) -> TierMoves:
    """Students moved to a more and to a less intensive tier this year to `on`."""
    moves = TierChange.objects.filter(
        school_year=state.school_year_id, student__district=district, on__lte=on
    ).aggregate(
        up=Count("student", filter=Q(raised=True), distinct=True),
        down=Count("student", filter=Q(raised=False), distinct=True),
    )
    s = suppress([[moves["up"], moves["down"]]], minimum, row_totals=False)
    return TierMoves(raised=s.cells[0][0], lowered=s.cells[0][1])


# ---------------------------------------------------------------- improvement vs level


@dataclass(frozen=True)
class SchoolChange:
    key: str
    label: str
    chronic_rate: float
    last_year: float

    @property
    def change(self) -> float:
        return self.chronic_rate - self.last_year


def improvement(schools: list[PlaceRow]) -> list[SchoolChange]:
    """The schools with both rates shown (this year and last at the same date)."""
    return [
        SchoolChange(row.key, row.label, row.chronic_rate, row.last_year_chronic_rate)
        for row in schools
        if row.chronic_rate is not None and row.last_year_chronic_rate is not None
    ]


def most_improved(changes: list[SchoolChange], count: int = 5) -> list[SchoolChange]:
    """Largest falls in the chronic absence rate first (only schools whose rate fell)."""
    return sorted((c for c in changes if c.change < 0), key=lambda c: (c.change, c.label))[:count]


def most_declined(changes: list[SchoolChange], count: int = 5) -> list[SchoolChange]:
    """Largest rises in the chronic absence rate first (only schools whose rate rose)."""
    return sorted((c for c in changes if c.change > 0), key=lambda c: (-c.change, c.label))[:count]


# ---------------------------------------------------------------- allocation


def _survey_barriers(district: District, school_year_id: int) -> dict[int, int]:
    """Barriers families named in the year's needs surveys, per school (homeroom.surveys)."""
    counts = district_barrier_counts(district, school_year_id)
    return {school: sum(held.barriers.values()) for school, held in counts.items()}


def _case_barriers(district: District, on: dt.date) -> dict[int, int]:
    rows = (
        CaseBarrier.objects.filter(
            case__school__district=district, case__status=Case.Status.OPEN, struck_on__isnull=True
        )
        .values("case__school")
        .annotate(n=Count("pk"))
    )
    return {row["case__school"]: row["n"] for row in rows}


def allocation(district: District, *, budget: int, on: dt.date | None = None):
    """Per school its need figures, score and suggested staff out of `budget`, beside the
    staff assigned now (None for every school where no assignment is recorded)."""
    state = report_state(district)
    on = checked_date(state, on)
    rules = summary_rules(state)
    severe = rules.bands[0].name if rules else None
    tier3 = rules.tiers[0].name if rules else None
    cells = StandingCell.objects.filter(
        school_year=state.school_year_id, as_of=on, school__isnull=False, counted=True
    )
    per_school = defaultdict(lambda: defaultdict(float))
    for row in cells.values("school", "chronic", "band", "tier").annotate(n=Sum("students")):
        held = per_school[row["school"]]
        held["counted"] += row["n"]
        held["chronic"] += row["n"] if row["chronic"] else 0
        held["severe"] += row["n"] if row["band"] == severe else 0
        held["tier3"] += row["n"] if row["tier"] == tier3 else 0
    poverty = (
        StudentSummary.objects.filter(
            school_year=state.school_year_id,
            school__isnull=False,
            counted=True,
            student__characteristics__kind=POVERTY,
            student__characteristics__start_date__lte=on,
        )
        .filter(
            Q(student__characteristics__end_date__isnull=True)
            | Q(student__characteristics__end_date__gte=on)
        )
        .values("school")
        .annotate(n=Count("student", distinct=True))
    )
    for row in poverty:
        per_school[row["school"]]["poverty"] = row["n"]
    open_cases = (
        Case.objects.filter(school__district=district, status=Case.Status.OPEN)
        .values("school")
        .annotate(n=Count("pk"))
    )
    cases = {row["school"]: row["n"] for row in open_cases}
    staff = _staff_per_school(district)
    barriers = defaultdict(int)
    # barriers recorded in open cases and named in the year's needs surveys
    for counts in (
        _case_barriers(district, on),
        _survey_barriers(district, state.school_year_id),
    ):
        for school, n in counts.items():
            barriers[school] += n
    names = dict(School.objects.filter(district=district).values_list("pk", "name"))
    recorded = bool(staff)
    schools = []
    for pk in sorted(per_school, key=lambda pk: names.get(pk, "")):
        held = per_school[pk]
        staffed = staff.get(pk, 0)
        figures_ = {
            "chronic": held["chronic"],
            "severe": held["severe"],
            "tier3": held["tier3"],
            # no one assigned: the cases are counted as one person's load
            "cases_per_staff": cases.get(pk, 0) / max(staffed, 1),
            "poverty": held["poverty"],
            "barriers": barriers.get(pk, 0),
            "counted": held["counted"],
            "open_cases": cases.get(pk, 0),
            "staff": staffed,
        }
        schools.append((pk, names.get(pk, str(pk)), figures_, staffed if recorded else None))
    return alloc.allocate(schools, budget)


def _staff_per_school(district: District) -> dict[int, int]:
    """Active counselors and attendance specialists assigned to each school."""
    rows = (
        User.objects.filter(district=district, role=STAFF_ROLE, is_active=True)
        .values("schools")
        .annotate(n=Count("pk"))
    )
    return {row["schools"]: row["n"] for row in rows if row["schools"] is not None}
