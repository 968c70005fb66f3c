"""Reads of impact: days recovered per student, by intervention type, case step, tier,
school and message kind, and the nudge letters' randomized holdout (docs/impact.md).

`impact_estimates(user, ...)` is the public entry: district-wide roles only (the gatekeeper's
`aggregate_scope`), since every row adds up students of every school. It reads the year's
attendance once through the metric definitions (what counts as an absence is theirs), the
dates things started from the interventions and outreach apps, and hands both to the
estimators (`estimators.py`).
"""

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from django.core.exceptions import PermissionDenied

from homeroom.access.gatekeeper import aggregate_scope
from homeroom.core.models import District, SchoolYear
from homeroom.core.selectors import current_school_year, district_today
from homeroom.impact.estimators import NEVER, Attendance, Estimate, Matcher, difference_in_means
from homeroom.impact.models import ImpactEstimate, InterventionCost
from homeroom.interventions.models import (
    AttendancePlan,
    Case,
    FamilyContact,
    Intervention,
    InterventionType,
    Referral,
)
from homeroom.metrics import definitions, display
from homeroom.metrics.engines import database_engine
from homeroom.metrics.rules import load_rule_profile
from homeroom.outreach.models import Message, MessageKind, TriggerHit

DEFAULT_WEEKS = 6
# Messages that went out (the intention to treat: delivered or not, as the holdout is).
SENT = (
    Message.Status.QUEUED,
    Message.Status.SENDING,
    Message.Status.SENT,
    Message.Status.DELIVERED,
    Message.Status.UNDELIVERED,
    Message.Status.UNKNOWN,
)
# Messages that are not outreach to measure: replies and the opt-out confirmations.
NOT_MEASURED = (MessageKind.REPLY, MessageKind.OPTED_OUT, MessageKind.OPTED_IN)

GROUPINGS = (
    ("type", "Intervention type"),
    ("case", "Case steps"),
    ("tier", "Tier at the case's opening"),
    ("school", "School of the case"),
    ("message", "Message kind"),
    ("experiment", "Randomized experiment"),
)


@dataclass(frozen=True)
class ImpactRow:
    """One row of the impact table: what, how many, days recovered and its interval.

    `key` is how costs are recorded (`InterventionCost.key`); `method` is "matched"
    (similar students not yet served) or "randomized" (the nudge holdout).
    """

    grouping: str
    key: str
    label: str
    method: str
    estimate: Estimate
    cost_per_student: Decimal | None = None

    @property
    def treated(self) -> int:
        return self.estimate.treated

    @property
    def comparison(self) -> int:
        return self.estimate.comparison

    @property
    def days_recovered(self) -> float | None:
        return self.estimate.effect

    @property
    def low(self) -> float | None:
        return self.estimate.low

    @property
    def high(self) -> float | None:
        return self.estimate.high

    @property
    def cost_per_day(self) -> float | None:
        """Cost per day of attendance recovered; None without a cost or a positive effect."""
        effect = self.estimate.effect
        if self.cost_per_student is None or effect is None or effect <= 0:
            return None
        return float(self.cost_per_student) / effect

    @property
    def shown(self) -> tuple[str, str]:
        """The estimate and its interval as pages print them (a minus sign, one decimal)."""
        e = self.estimate
        if e.effect is None:
            return "\N{EM DASH}", "\N{EM DASH}"
        return _signed(e.effect), f"{_signed(e.low)} to {_signed(e.high)}"

    @property
    def reading(self) -> str:
        """The row in plain words."""
        e = self.estimate
        students = f"{display.count(e.treated)} student{'s' if e.treated != 1 else ''}"
        if e.effect is None:
            return f"Too few students to estimate ({students} could be compared)."
        more = "more" if e.effect >= 0 else "less"
        text = (
            f"About {_days(abs(e.effect))} {more} attendance per student over {e.weeks} "
            f"weeks, interval {_signed(e.low)} to {_signed(e.high)}, {students}"
        )
        if e.contains_zero:
            text += "; not distinguishable from no effect"
        return text + "."


def _days(value: float) -> str:
    return f"{value:.1f} day" + ("" if f"{value:.1f}" == "1.0" else "s")


def _signed(value: float) -> str:
    return f"{value:.1f}".replace("-", "\N{MINUS SIGN}")


@dataclass(frozen=True)
class ImpactReport:
    """The impact table of a school year as of a day, with what it was computed over."""

    district: District
    school_year: SchoolYear | None
    as_of: dt.date
    weeks: int
    rows: list[ImpactRow]

    def grouped(self) -> list[tuple[str, list[ImpactRow]]]:
        """The rows under their grouping's title, in GROUPINGS' order."""
        titles = dict(GROUPINGS)
        return [
            (titles[name], rows)
            for name in titles
            if (rows := [row for row in self.rows if row.grouping == name])
        ]


def may_read_impact(user) -> bool:
    """Whether the user may read the impact table (district-wide roles: it adds up every
    school's students)."""
    return user.is_authenticated and aggregate_scope(user).district


@dataclass(frozen=True)
class StoredImpact:
    """The impact table as the last refresh stored it (`do_refresh_impact`)."""

    district: District
    as_of: dt.date
    weeks: int
    computed_at: dt.datetime
    rows: list[ImpactRow]

    def grouped(self) -> list[tuple[str, list[ImpactRow]]]:
        return ImpactReport(self.district, None, self.as_of, self.weeks, self.rows).grouped()


def stored_impact(district: District) -> StoredImpact | None:
    """The district's stored impact table, or None before the first refresh. No access
    check: callers have made theirs (`impact_report`, the board report, the command)."""
    held = list(ImpactEstimate.objects.filter(district=district).order_by("position"))
    if not held:
        return None
    rows = [
        ImpactRow(
            r.grouping,
            r.key,
            r.label,
            r.method,
            Estimate(
                r.treated, r.comparison, r.effect, r.low, r.high, r.weeks, r.unmatched, r.pending
            ),
            r.cost_per_student,
        )
        for r in held
    ]
    first = held[0]
    return StoredImpact(district, first.as_of, first.weeks, first.computed_at, rows)


def impact_report(user) -> StoredImpact | None:
    """The user's district's stored impact table (None before the first refresh);
    PermissionDenied unless they read district totals. Nothing is computed here."""
    if not may_read_impact(user):
        raise PermissionDenied("Impact estimates add up every school: district staff only.")
    return stored_impact(user.district)


def impact_estimates(user) -> list[ImpactRow]:
    """The stored impact table's rows (for a page or a report): see `impact_report`."""
    report = impact_report(user)
    return report.rows if report else []


def district_impact(
    district: District, *, as_of: dt.date | None = None, weeks: int = DEFAULT_WEEKS
) -> ImpactReport:
    """Every grouping's estimate for the school year holding `as_of` (default: today), over
    the days recorded up to the day before it. No access check: callers have made theirs
    (`impact_report`, the command)."""
    as_of = as_of or district_today(district)
    year = current_school_year(district.pk, as_of)
    if year is None:
        return ImpactReport(district, None, as_of, weeks, [])
    attendance, ids, last_day = _attendance(district, year, as_of)
    start = year.start_date

    def day_of(date: dt.date) -> int:
        return (date - start).days

    def index(student_ids: Iterable[int]) -> np.ndarray:
        return np.array([ids.get(pk, -1) for pk in student_ids], dtype=np.int64)

    profile = load_rule_profile(district.rule_profile)
    thresholds = sorted(
        (float(level.when.threshold), level.when.strict)
        for level in profile.tiers
        if level.when is not None
    )
    matcher = Matcher(attendance, weeks=weeks, last_day=last_day, thresholds=thresholds)
    starts = _starts(district, year, as_of)
    served = np.full(attendance.students, NEVER, dtype=np.int64)
    for (grouping, _key, _label), firsts in starts.items():
        if grouping in ("message", "experiment"):
            continue
        for pk, date in firsts.items():
            if pk in ids:
                served[ids[pk]] = min(served[ids[pk]], day_of(date))
    costs = dict(
        InterventionCost.objects.filter(district=district).values_list("key", "cost_per_student")
    )
    placed = {
        row: (index(firsts), np.array([day_of(date) for date in firsts.values()], dtype=np.int64))
        for row, firsts in starts.items()
    }
    # Every grouping's cells measured in one go (most recur across groupings).
    if placed:
        everyone = np.concatenate([students for students, _ in placed.values()])
        every_day = np.concatenate([days for _, days in placed.values()])
        matcher.prepare(everyone[everyone >= 0], every_day[everyone >= 0])
    rows = []
    for (grouping, key, label), (students, days) in placed.items():
        known = students >= 0
        if grouping == "message":
            # Not yet sent this kind of message (whatever else was done for them).
            served_from = np.full(attendance.students, NEVER, dtype=np.int64)
            served_from[students[known]] = days[known]
        else:
            served_from = served
        estimate, _ = matcher.estimate(students[known], days[known], served_from)
        rows.append(ImpactRow(grouping, key, label, "matched", estimate, costs.get(key)))
    rows.extend(_experiments(district, year, as_of, matcher, ids, day_of, costs))
    return ImpactReport(district, year, as_of, weeks, rows)


def _attendance(
    district: District, year: SchoolYear, as_of: dt.date
) -> tuple[Attendance, dict[int, int], int]:
    """The year's spans, counted days and absence days, as the metric definitions count them
    up to the day before `as_of`; the students' positions; the last day number."""
    engine = database_engine(district, since=year.start_date)
    through = min(as_of - dt.timedelta(days=1), year.end_date)
    window = definitions.Window(
        school_year_id=year.pk, start=year.start_date, as_of=through, year_end=year.end_date
    )
    profile = load_rule_profile(district.rule_profile)
    facts = engine.facts
    staged = definitions.spans(facts, window)  # staged once: the absences are read within it
    spans = engine.run(staged.select("student_id", "school_id", "grade", "first_day", "last_day"))
    absent = definitions.absence_days(facts, profile, window, staged)
    absent = absent.filter(absent.absent_milli > 0)
    # One row per student, "date:thousandths" of each day absent: a row a day (about a
    # million in a 50,000-student year) would cost more to send than to compute.
    token = absent.date.cast("string") + ":" + absent.absent_milli.cast("string")
    absences = engine.run(absent.group_by("student_id").aggregate(days=token.group_concat(" ")))
    days = facts.school_days
    days = engine.run(
        days.filter(days.school_year_id == year.pk, days.counted == 1).select("school_id", "date")
    )
    start = np.datetime64(year.start_date, "D")
    count = (year.end_date - year.start_date).days + 1

    # Columns straight to numpy (no Python object per row: a 50,000-student year has
    # about a million absence days).
    def day_numbers(column) -> np.ndarray:
        return (np.asarray(column.to_numpy()).astype("datetime64[D]") - start).astype(np.int64)

    def numbers(column, kind=np.int64) -> np.ndarray:
        return np.asarray(column.to_numpy(), dtype=kind)

    span_students = numbers(spans.column("student_id"))
    span_schools = numbers(spans.column("school_id"))
    student_ids = np.unique(span_students)
    ids = {int(pk): k for k, pk in enumerate(student_ids.tolist())}
    school_ids = np.unique(span_schools)
    counted = np.zeros((len(school_ids), count), dtype=np.int64)
    day_school = numbers(days.column("school_id"))
    day_number = day_numbers(days.column("date"))
    held = np.isin(day_school, school_ids) & (day_number >= 0) & (day_number < count)
    counted[np.searchsorted(school_ids, day_school[held]), day_number[held]] = 1
    through_days = np.concatenate(
        [np.zeros((len(school_ids), 1), dtype=np.int64), np.cumsum(counted, axis=1)], axis=1
    )
    per_student = absences.column("days").to_pylist()
    counts = np.array([text.count(" ") + 1 for text in per_student], dtype=np.int64)
    tokens = " ".join(per_student).split(" ") if per_student else []
    absent_students = np.repeat(numbers(absences.column("student_id")), counts)
    absent_dates = np.array([token[:10] for token in tokens], dtype="datetime64[D]")
    absent_milli = np.array([token[11:] for token in tokens], dtype=float)
    known = np.isin(absent_students, student_ids)
    attendance = Attendance(
        through=through_days,
        span_student=np.searchsorted(student_ids, span_students),
        span_school=np.searchsorted(school_ids, span_schools),
        span_grade=numbers(spans.column("grade")),
        span_first=day_numbers(spans.column("first_day")),
        span_last=day_numbers(spans.column("last_day")),
        absence_student=np.searchsorted(student_ids, absent_students[known]),
        absence_day=(absent_dates - start).astype(np.int64)[known],
        absence_days=absent_milli[known] / 1000,
        students=len(student_ids),
    )
    return attendance, ids, (through - year.start_date).days


def _first(rows: Iterable[tuple[int, dt.date]]) -> dict[int, dt.date]:
    """Each student's first date among the rows."""
    first: dict[int, dt.date] = {}
    for pk, date in rows:
        if pk not in first or date < first[pk]:
            first[pk] = date
    return first


def _starts(
    district: District, year: SchoolYear, as_of: dt.date
) -> dict[tuple[str, str, str], dict[int, dt.date]]:
    """Per row of the table (grouping, key, label): each student's first start this year."""
    within = {"gte": year.start_date, "lt": as_of}

    def dated(queryset, field: str):
        return queryset.filter(
            **{f"{field}__{op}": value for op, value in within.items()}
        ).order_by()

    starts: dict[tuple[str, str, str], dict[int, dt.date]] = {}
    interventions = dated(
        Intervention.objects.filter(student__district=district, struck_on__isnull=True),
        "started_on",
    ).values_list("kind_id", "student_id", "started_on")
    by_kind: dict[int, list[tuple[int, dt.date]]] = {}
    for kind, student, date in interventions:
        by_kind.setdefault(kind, []).append((student, date))
    for kind in InterventionType.objects.filter(pk__in=by_kind).order_by("name"):
        starts[("type", f"type:{kind.key}", kind.name)] = _first(by_kind[kind.pk])

    cases = list(
        dated(Case.objects.filter(student__district=district), "opened_on").values_list(
            "student_id", "opened_on", "tier", "school_id", "school__name"
        )
    )
    starts[("case", "case", "Case opened")] = _first((s, d) for s, d, *_ in cases)
    plans = dated(
        AttendancePlan.objects.filter(case__student__district=district, struck_on__isnull=True),
        "written_on",
    ).values_list("case__student_id", "written_on")
    starts[("case", "plan", "Attendance plan written")] = _first(plans)
    referrals = dated(
        Referral.objects.filter(case__student__district=district, struck_on__isnull=True),
        "made_on",
    ).values_list("case__student_id", "made_on")
    starts[("case", "referral", "Referral to a partner")] = _first(referrals)
    contacts = dated(
        FamilyContact.objects.filter(
            student__district=district, struck_on__isnull=True, recorded_by__isnull=False
        ),
        "contacted_on",
    ).values_list("student_id", "contacted_on")
    starts[("case", "contact", "Family contact by staff")] = _first(contacts)
    for tier in sorted({t for _, _, t, _, _ in cases}):
        starts[("tier", f"tier:{tier}", f"Cases at Tier {tier}")] = _first(
            (s, d) for s, d, t, *_ in cases if t == tier
        )
    for school, name in sorted({(school, name) for *_, school, name in cases}, key=lambda x: x[1]):
        starts[("school", f"school:{school}", f"Cases at {name}")] = _first(
            (s, d) for s, d, _, k, _ in cases if k == school
        )

    zone = zoneinfo.ZoneInfo(district.timezone)
    links = Message.students.through.objects.filter(
        message__district=district,
        message__direction=Message.Direction.OUT,
        message__status__in=SENT,
    ).exclude(message__kind__in=(*NOT_MEASURED, MessageKind.NUDGE))
    by_message: dict[str, list[tuple[int, dt.date]]] = {}
    for kind, student, at in links.values_list(
        "message__kind", "student_id", "message__created_at"
    ):
        date = at.astimezone(zone).date()
        if year.start_date <= date < as_of:
            by_message.setdefault(kind, []).append((student, date))
    labels = dict(MessageKind.choices)
    for kind in sorted(by_message, key=lambda k: labels[k]):
        starts[("message", f"message:{kind}", labels[kind])] = _first(by_message[kind])
    return {key: value for key, value in starts.items() if value}


def _experiments(
    district: District,
    year: SchoolYear,
    as_of: dt.date,
    matcher: Matcher,
    ids: dict[int, int],
    day_of,
    costs: dict[str, Decimal],
) -> list[ImpactRow]:
    """The nudge letters' holdout, a round at a time: the households drawn to get the letter
    against those drawn to be held out (intention to treat: sent or not, read or not),
    days absent in the weeks from the round's first decision."""
    zone = zoneinfo.ZoneInfo(district.timezone)
    hits = TriggerHit.objects.filter(
        student__district=district, kind=MessageKind.NUDGE, mark__startswith=f"{year.name}:"
    ).values_list("mark", "student_id", "held_out", "at")
    rounds: dict[str, list[tuple[int, bool, dt.date]]] = {}
    for mark, student, held_out, at in hits:
        rounds.setdefault(mark, []).append((student, held_out, at.astimezone(zone).date()))
    rows = []
    for mark in sorted(rounds):
        members = [(s, h) for s, h, _ in rounds[mark] if s in ids]
        if not members:
            continue
        day = day_of(min(date for _, _, date in rounds[mark]))
        students = np.array([ids[s] for s, _ in members], dtype=np.int64)
        held = np.array([h for _, h in members], dtype=bool)
        outcome, ok = matcher.outcomes(students, np.full(len(students), day))
        estimate = difference_in_means(outcome[ok & ~held], outcome[ok & held], matcher.weeks)
        round_name = mark.rsplit(":", 1)[-1]
        rows.append(
            ImpactRow(
                "experiment",
                "message:nudge",
                f"Nudge letter, round {round_name} (randomized holdout)",
                "randomized",
                estimate,
                costs.get("message:nudge"),
            )
        )
    return rows
