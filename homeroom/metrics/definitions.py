"""Attendance metrics as Ibis expressions: one definition for every engine.

No Django here. Every function takes the fact tables (`Facts`, see docs/metrics.md for
their columns), a rule profile and a `Window`, and returns an unexecuted Ibis table that
SQLite, PostgreSQL, DuckDB and Spark run alike.

How counting stays proportional to enrollments and events, not student-days:
- days enrolled come from `school_days.through`, the running count of counted days of the
  school's calendar: days counted in [first, last] = through(last) - through(first) +
  counted(first), two equality joins per enrollment span;
- absences are the events, joined to the spans that hold them; a day with no event is a
  present day and never becomes a row.

Absences are kept in thousandths of a day (integers), and every threshold is compared as
an exact fraction, so each engine reaches the same numbers and the same side of 10%.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

from homeroom.metrics.rules import Condition, Level, RuleProfile

MILLI = 1000
RECENT_DAYS = 30  # "absences in the last 30 days"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
# A day with several counted absences takes the largest share; on equal shares the first
# category here names the day.
DAY_CATEGORY_ORDER = ("oss", "unexcused", "excused", "partial")
FACT_SCHEMAS: dict[str, dict[str, str]] = {
    "school_years": {
        "school_year_id": "int64",
        "name": "string",
        "start_date": "date",
        "end_date": "date",
    },
    "schools": {
        "school_id": "int64",
        "local_id": "string",
        "name": "string",
        "recorded_through": "date",
    },
    "school_days": {
        "school_id": "int64",
        "school_year_id": "int64",
        "date": "date",
        "counted": "int64",
        "through": "int64",
    },
    "students": {
        "student_id": "int64",
        "local_id": "string",
        "grade": "int64",
        "gender": "string",
        "race_ethnicity": "string",
        "home_language": "string",
    },
    "characteristics": {
        "student_id": "int64",
        "kind": "string",
        "start_date": "date",
        "end_date": "date",
    },
    "enrollments": {
        "student_id": "int64",
        "school_id": "int64",
        "school_year_id": "int64",
        "grade": "int64",
        "entry_date": "date",
        "exit_date": "date",
    },
    "events": {
        "student_id": "int64",
        "school_id": "int64",
        "date": "date",
        "category": "string",
        "share": "int64",
    },
}
GROUP_TYPES = (
    "district",
    "school",
    "grade",
    "gender",
    "race_ethnicity",
    "home_language",
    "characteristic",
)


def _as_is(table: ir.Table) -> ir.Table:
    return table


@dataclass(frozen=True)
class Facts:
    """The fact tables every metric reads, as Ibis tables of one backend.

    `stage` may store an intermediate result where the definitions say it is reused (the
    database engine writes a temporary table: SQLite plans deep nested queries poorly and
    parses only so many levels); the columnar engines keep the expression as it is.
    """

    school_years: ir.Table
    schools: ir.Table
    school_days: ir.Table
    students: ir.Table
    characteristics: ir.Table
    enrollments: ir.Table
    events: ir.Table
    stage: Callable[[ir.Table], ir.Table] = field(default=_as_is, compare=False)


@dataclass(frozen=True)
class Window:
    """The days measured: from `start` to `as_of`, both inside one school year."""

    school_year_id: int
    start: date
    as_of: date
    year_end: date


def only_students(facts: Facts, student_ids: list[int] | ir.Column) -> Facts:
    """The facts as the per-student metrics of these students read them: only their
    enrollments (events count only inside a span, so the events are left whole, and no
    database checks each of them against the list). `student_ids` is a list or a column
    of another table of the same backend."""
    e = facts.enrollments
    return replace(facts, enrollments=e.filter(e.student_id.isin(student_ids)))


def _holds(condition: Condition, absent: ir.IntegerValue, enrolled: ir.IntegerValue):
    """absent / (enrolled * MILLI) compared with the threshold, in exact integers."""
    left = absent * condition.threshold.denominator
    right = enrolled * (condition.threshold.numerator * MILLI)
    return left > right if condition.strict else left >= right


def _level(levels: tuple[Level, ...], absent, enrolled) -> ir.StringValue:
    branches = [(_holds(lv.when, absent, enrolled), lv.name) for lv in levels if lv.when]
    return ibis.cases(*branches, else_=levels[-1].name)


def classify(table: ir.Table, profile: RuleProfile) -> ir.Table:
    """Rates, counted, chronic, band and tier from `days_enrolled` and `absent_milli`."""
    enrolled, absent = table.days_enrolled, table.absent_milli
    counted = (enrolled >= max(profile.minimum_days_enrolled, 1)) & (
        enrolled * MILLI - absent >= profile.minimum_days_present * MILLI
    )
    rate = absent.cast("float64") / (enrolled * MILLI).nullif(0).cast("float64")
    return table.mutate(
        days_absent=absent.cast("float64") / MILLI,
        absence_rate=rate,
        attendance_rate=1 - rate,
        counted=counted,
        chronic=counted & _holds(profile.chronic, absent, enrolled),
        band=ibis.ifelse(counted, _level(profile.bands, absent, enrolled), ibis.null("string")),
        tier=ibis.ifelse(counted, _level(profile.tiers, absent, enrolled), ibis.null("string")),
    )


def spans(facts: Facts, window: Window) -> ir.Table:
    """Enrollment spans of the year clipped to the window, each with its days enrolled."""
    e = facts.enrollments
    e = e.filter(
        e.school_year_id == window.school_year_id,
        e.entry_date <= window.as_of,
        e.exit_date.isnull() | (e.exit_date >= window.start),
    )
    e = _recorded(facts, e, window)
    e = e.mutate(
        first_day=ibis.greatest(e.entry_date, ibis.literal(window.start)),
        last_day=ibis.least(e.exit_date.fill_null(window.as_of), e.recorded),
    )
    days = facts.school_days
    before = days.select(
        first_school=days.school_id, first_day=days.date, before=days.through - days.counted
    )
    through = days.select(last_school=days.school_id, last_day=days.date, through=days.through)
    joined = e.left_join(
        before, [e.school_id == before.first_school, e.first_day == before.first_day]
    ).left_join(through, [e.school_id == through.last_school, e.last_day == through.last_day])
    return facts.stage(
        joined.select(
            "student_id",
            "school_id",
            "grade",
            "entry_date",
            "exit_date",
            "first_day",
            "last_day",
            # nothing recorded since the span began: no day of it counts yet
            days_enrolled=ibis.ifelse(
                joined.last_day < joined.first_day,
                0,
                joined.through.fill_null(0) - joined.before.fill_null(0),
            ),
        )
    )


def _recorded_days(facts: Facts, window: Window) -> ir.Table:
    """Per school (`recorded_school`), the last day of the window its attendance has been
    recorded for (`recorded`). A day not recorded yet is not a present day; a school no
    import has spoken for yet (no date held) counts to the window's end."""
    s = facts.schools
    as_of = ibis.literal(window.as_of)
    return s.select(
        recorded_school=s.school_id, recorded=ibis.least(s.recorded_through.fill_null(as_of), as_of)
    )


def not_recorded(facts: Facts, window: Window) -> ir.Table:
    """The schools whose attendance is recorded to a day before the window's end: their
    later days are not counted (`local_id`, `name`, `recorded_through`)."""
    s = facts.schools
    return s.filter(s.recorded_through < window.as_of).select(
        "local_id", "name", "recorded_through"
    )


def without_school_days(facts: Facts, window: Window) -> ir.Table:
    """The schools whose calendars count no day of the window (`local_id`, `name`): their
    figures are zeros for want of a calendar, not for want of students."""
    d = facts.school_days
    counted = d.filter(d.date >= window.start, d.date <= window.as_of, d.counted > 0)
    s = facts.schools
    return s.filter(~s.school_id.isin(counted.school_id)).select("local_id", "name")


def _recorded(facts: Facts, table: ir.Table, window: Window) -> ir.Table:
    """`table` (with a `school_id`) with its school's `recorded` day (`_recorded_days`)."""
    recorded = _recorded_days(facts, window)
    joined = table.left_join(recorded, table.school_id == recorded.recorded_school)
    return joined.select(table, recorded=joined.recorded.fill_null(ibis.literal(window.as_of)))


def _quotient(value: ir.IntegerValue, divisor: int) -> ir.IntegerValue:
    """value // divisor for value >= 0, without `//`: SQLite runs FLOOR and MOD as Python
    functions, row by row; a cast truncates natively, and below 2**53 it is exact."""
    return (value.cast("float64") / divisor).cast("int64")


def _day_order(day: ir.DateValue) -> ir.IntegerValue:
    """An integer in the order of the dates (not a count of days), under 2,000,000 for any
    year below 5000. Every engine computes it natively; `epoch_days` SQLite runs as a Python
    function, row by row."""
    return day.year().cast("int64") * 372 + (day.month() - 1) * 31 + day.day()


def _latest(value: ir.IntegerValue, day: ir.DateValue) -> ir.IntegerValue:
    """The value on the latest day, the largest value on a tie: the same on every engine."""
    offset, width = 1 << 8, 1 << 32  # offset: grades start at -1 (pre-kindergarten)
    key = (_day_order(day) * width + (value + offset)).max()  # under 2**53: exact as float
    return key - _quotient(key, width) * width - offset


def _counted_share(profile: RuleProfile, category: ir.StringValue, share: ir.IntegerValue):
    """The thousandths of a day an event counts as absent under the profile."""
    if profile.partial_days == "full_days_only":
        share = ibis.ifelse(share >= MILLI, MILLI, 0)
    elif profile.partial_days == "half_or_more":
        share = ibis.ifelse(share * 2 >= MILLI, MILLI, 0)
    else:
        share = ibis.least(share, MILLI)
    return ibis.ifelse(category.isin(sorted(profile.absent_categories)), share, 0)


def absence_days(
    facts: Facts, profile: RuleProfile, window: Window, held: ir.Table | None = None
) -> ir.Table:
    """One row per student, school and counted day with an event: share absent, tardy,
    category and weekday (0 is Monday).

    Only events inside an enrollment span at the event's school and on a counted day of
    its calendar count (the rest are data-quality findings, shown by the import).
    """
    held = spans(facts, window) if held is None else held
    # The spans are clipped to the window, so they bound the events' dates: a filter of
    # its own would lead SQLite to read the year's events through their (school, date)
    # index, at random, slower than finding each span's events by student, and
    # slower still without table statistics (docs/benchmarks.md, "Design figures").
    ev = facts.events
    bounds = held.select(
        span_student=held.student_id,
        span_school=held.school_id,
        first_day=held.first_day,
        last_day=held.last_day,
    )
    inside = ev.join(
        bounds,
        [
            ev.student_id == bounds.span_student,
            ev.school_id == bounds.span_school,
            ev.date >= bounds.first_day,
            ev.date <= bounds.last_day,
        ],
    )
    days = facts.school_days.filter(facts.school_days.counted == 1)
    days = days.select(day_school=days.school_id, day_date=days.date, through=days.through)
    inside = inside.join(days, [inside.school_id == days.day_school, inside.date == days.day_date])
    # Overlapping spans at one school repeat an event; the day's maximum counts it once.
    order = {name: len(DAY_CATEGORY_ORDER) - i for i, name in enumerate(DAY_CATEGORY_ORDER)}
    rank = inside.category.cases(*order.items(), else_=0)
    counted = _counted_share(profile, inside.category, inside.share)
    inside = inside.mutate(
        day_key=counted * 10 + ibis.ifelse(counted > 0, rank, 0),
        tardy=ibis.ifelse(inside.category == "tardy", 1, 0),
    )
    per_day = inside.group_by("student_id", "school_id", "date", "through").aggregate(
        day_key=inside.day_key.max(), tardy=inside.tardy.max()
    )
    categories = dict(enumerate(reversed(DAY_CATEGORY_ORDER), 1))
    absent = _quotient(per_day.day_key, 10)
    return facts.stage(
        per_day.select(
            "student_id",
            "school_id",
            "date",
            "through",
            "tardy",
            absent_milli=absent,
            category=(per_day.day_key - absent * 10).cases(
                *categories.items(), else_=ibis.null("string")
            ),
            weekday=per_day.date.day_of_week.index(),  # stored: SQLite computes it slowly
        )
    )


def _recent(as_of: date) -> date:
    """The first day of the last 30 (calendar days) up to `as_of`."""
    return as_of - timedelta(days=RECENT_DAYS - 1)


def _islands(days: ir.Table) -> ir.Table:
    """The days fully absent, each with `island`: the same for the days of one run of
    consecutive counted days at a school (their running count less their rank)."""
    full = days.filter(days.absent_milli >= MILLI)
    step = ibis.row_number().over(group_by=[full.student_id, full.school_id], order_by=full.through)
    return full.mutate(island=full.through - step)


def absence_runs(days: ir.Table) -> ir.Table:
    """Each run of consecutive counted days fully absent, per student and school: its
    length, first and last dates, and the running count of counted days on its last.

    `days` holds rows of `absence_days` (any subset: the flags pass the categories they
    count).
    """
    full = _islands(days)
    return full.group_by("student_id", "school_id", "island").aggregate(
        length=full.count(),
        first_day=full.date.min(),
        last_day=full.date.max(),
        last_through=full.through.max(),
    )


def _longest_runs(days: ir.Table) -> ir.Table:
    """Longest run of consecutive counted days fully absent, per student and school."""
    full = _islands(days)
    runs = full.group_by("student_id", "school_id", "island").aggregate(length=full.count())
    return runs.group_by("student_id", "school_id").aggregate(longest_absence_run=runs.length.max())


def _weekday_sums(days: ir.Table) -> dict[str, ir.IntegerValue]:
    """Thousandths of a day absent on each weekday, as aggregates named `<weekday>_milli`."""
    return {
        f"{name}_milli": ibis.ifelse(days.weekday == number, days.absent_milli, 0).sum()
        for number, name in enumerate(WEEKDAYS)
    }


def absences_by_weekday(days: ir.Table, keys: tuple[str, ...] = ("student_id",)) -> ir.Table:
    """Per `keys`: thousandths of a day absent in all and on each weekday, from rows of
    `absence_days` (any subset of them: the flags count some categories, some dates)."""
    return days.group_by(*keys).aggregate(
        absent_milli=days.absent_milli.sum(), **_weekday_sums(days)
    )


def _absence_sums(days: ir.Table, window: Window) -> ir.Table:
    recent = ibis.literal(_recent(window.as_of))
    sums = {
        "absent_milli": days.absent_milli.sum(),
        "tardies": days.tardy.sum(),
        "absent_last_30_milli": ibis.ifelse(days.date >= recent, days.absent_milli, 0).sum(),
    }
    for name in ("excused", "unexcused", "oss"):
        sums[f"{name}_milli"] = ibis.ifelse(days.category == name, days.absent_milli, 0).sum()
    return days.group_by("student_id", "school_id").aggregate(**sums, **_weekday_sums(days))


SUM_COLUMNS = (
    "absent_milli",
    "excused_milli",
    "unexcused_milli",
    "oss_milli",
    "tardies",
    "absent_last_30_milli",
    *(f"{name}_milli" for name in WEEKDAYS),
)
# What `student_school_update` carries over from earlier rows (summaries keep no weekdays).
CARRIED_COLUMNS = (*SUM_COLUMNS[:6], "longest_absence_run")


def _remaining_days(facts: Facts, held: ir.Table, window: Window) -> ir.Table:
    """Counted days left in the year at each school where a span is still open: after the
    school's last recorded day (the days not recorded yet are still to come)."""
    days = facts.school_days
    end = days.filter(days.date == window.year_end).select(
        end_school=days.school_id, end=days.through
    )
    recorded = _recorded_days(facts, window)
    this_year = days.filter(days.date >= window.start)  # nothing recorded yet: none of it
    now = this_year.join(
        recorded,
        [this_year.school_id == recorded.recorded_school, this_year.date == recorded.recorded],
    ).select(now_school=this_year.school_id, now=this_year.through)
    still = held.filter(held.exit_date.isnull() | (held.exit_date > window.as_of))
    still = still.select("student_id", "school_id").distinct()
    still = still.left_join(now, still.school_id == now.now_school)
    still = still.left_join(end, still.school_id == end.end_school)
    return still.select(
        "student_id",
        "school_id",
        remaining_days=still.end.fill_null(0) - still.now.fill_null(0),
    )


def student_school(
    facts: Facts,
    profile: RuleProfile,
    window: Window,
    held: ir.Table | None = None,
    days: ir.Table | None = None,
) -> ir.Table:
    """Per student and school: days enrolled, absences, rates, flags, band, tier, projection.
    `held` and `days` may pass the window's `spans` and `absence_days` when they are
    computed anyway."""
    held = spans(facts, window) if held is None else held
    days = absence_days(facts, profile, window, held) if days is None else days
    absences = [_absence_sums(days, window), _longest_runs(days)]
    return _per_school(facts, profile, window, held, absences)


def student_school_update(
    facts: Facts, profile: RuleProfile, window: Window, previous: ir.Table, again: ir.Column
) -> ir.Table:
    """`student_school` with the absences of students not in `again` carried over.

    `previous` holds per student and school the CARRIED_COLUMNS of an earlier window of the
    same year, from the same calendars and enrollments and, but for the students in `again`
    (a column of student ids), the same events. `again` must also hold `moved_by_advance`
    of the two windows. Everyone's days enrolled, grade and projection are computed afresh
    from the spans; only `again`'s events are read. Weekday columns are not computed.
    """
    held = spans(facts, window)
    days = absence_days(facts, profile, window, held.filter(held.student_id.isin(again)))
    fresh = _absence_sums(days, window).left_join(_longest_runs(days), ["student_id", "school_id"])
    columns = ("student_id", "school_id", *CARRIED_COLUMNS)
    fresh = fresh.select(*columns)
    kept = previous.filter(~previous.student_id.isin(again)).select(*columns)
    return _per_school(facts, profile, window, held, [fresh.union(kept)])


def moved_by_advance(facts: Facts, earlier: Window, window: Window) -> ir.Table:
    """The students whose absences may differ between two windows of a year starting on
    the same day, the earlier one ending first, from the same facts: those with an event on
    a day `window` adds or on a day leaving its last 30 days (column `student_id`, each
    student once). A span starting on a day added has no absence but on those days."""
    ev = facts.events
    first, last = _recent(earlier.as_of), _recent(window.as_of)
    moved = ev.filter(
        # by school too (no event is elsewhere): a database then reads the days from its
        # (school, date) index, not every event of the year
        ev.school_id.isin(facts.schools.school_id),
        ev.date >= first,
        ev.date <= window.as_of,
        (ev.date > earlier.as_of) | (ev.date < last),
    )
    return moved.select("student_id").distinct()


def _per_school(
    facts: Facts, profile: RuleProfile, window: Window, held: ir.Table, absences: list[ir.Table]
) -> ir.Table:
    """The spans' days enrolled with their absences (tables per student and school, none
    for a student without absences), classified and projected."""
    table = held.group_by("student_id", "school_id").aggregate(
        days_enrolled=held.days_enrolled.sum(),
        grade=_latest(held.grade, held.first_day),
        first_day=held.first_day.min(),
        last_day=held.last_day.max(),
    )
    keys = ["student_id", "school_id"]
    counts = []
    for part in [*absences, _remaining_days(facts, held, window)]:
        added = [c for c in part.columns if c not in keys]
        table = table.left_join(part, keys).select(table, *[part[c] for c in added])
        counts += added
    table = table.mutate(**{c: table[c].fill_null(0) for c in counts})
    return _finish(table, profile)


def _finish(table: ir.Table, profile: RuleProfile) -> ir.Table:
    """Classify, project to the year's end at the current rate, and name the columns."""
    table = classify(table, profile)
    projected_enrolled = table.days_enrolled + table.remaining_days
    # At the current rate: absent * (enrolled + remaining) / enrolled, kept exact by
    # comparing the rate itself (it does not change) against the profile.
    projected = table.mutate(
        projected_days_enrolled=projected_enrolled,
        projected_days_absent=table.days_absent
        * projected_enrolled.cast("float64")
        / table.days_enrolled.nullif(0).cast("float64"),
        projected_chronic=(projected_enrolled >= max(profile.minimum_days_enrolled, 1))
        & _holds(profile.chronic, table.absent_milli, table.days_enrolled),
    )
    return projected.mutate(
        excused=projected.excused_milli.cast("float64") / MILLI,
        unexcused=projected.unexcused_milli.cast("float64") / MILLI,
        oss=projected.oss_milli.cast("float64") / MILLI,
        absent_last_30=projected.absent_last_30_milli.cast("float64") / MILLI,
        **{
            name: projected[f"{name}_milli"].cast("float64") / MILLI
            for name in WEEKDAYS
            if f"{name}_milli" in projected.columns
        },
    )


def student_district(
    facts: Facts, profile: RuleProfile, window: Window, per_school: ir.Table | None = None
) -> ir.Table:
    """Per student over all their schools: each student once, classified on the totals.

    `per_school` may pass `student_school`'s table when it is computed anyway.
    """
    if per_school is None:
        per_school = student_school(facts, profile, window)
    totals = per_school.group_by("student_id").aggregate(
        days_enrolled=per_school.days_enrolled.sum(),
        grade=_latest(per_school.grade, per_school.last_day),
        school_id=_latest(per_school.school_id, per_school.last_day),
        schools=per_school.count(),
        first_day=per_school.first_day.min(),
        last_day=per_school.last_day.max(),
        remaining_days=per_school.remaining_days.max(),
        longest_absence_run=per_school.longest_absence_run.max(),
        **{c: per_school[c].sum() for c in SUM_COLUMNS if c in per_school.columns},
    )
    return _finish(totals, profile)


def group_summary(
    facts: Facts,
    profile: RuleProfile,
    window: Window,
    group_type: str = "school",
    last_year: Window | None = None,
) -> ir.Table:
    """Per group: students, counted, ADA, chronic absence, bands; change on `last_year`.

    `school` groups count each student at each school (as federal files do); the others
    count each student once, on their totals across schools.
    """
    current = _group_rows(facts, profile, window, group_type)
    if last_year is None:
        return current.mutate(
            chronic_rate_last_year=ibis.null("float64"),
            attendance_rate_last_year=ibis.null("float64"),
            chronic_rate_change=ibis.null("float64"),
            attendance_rate_change=ibis.null("float64"),
        )
    before = _group_rows(facts, profile, last_year, group_type).select(
        prior_value=ibis._.group_value,
        chronic_rate_last_year=ibis._.chronic_rate,
        attendance_rate_last_year=ibis._.attendance_rate,
    )
    joined = current.left_join(before, current.group_value == before.prior_value)
    return joined.select(
        current,
        joined.chronic_rate_last_year,
        joined.attendance_rate_last_year,
        chronic_rate_change=joined.chronic_rate - joined.chronic_rate_last_year,
        attendance_rate_change=joined.attendance_rate - joined.attendance_rate_last_year,
    )


def _count(condition: ir.BooleanValue) -> ir.IntegerValue:
    """How many rows meet the condition (PostgreSQL casts no boolean to bigint)."""
    return ibis.ifelse(condition, 1, 0).sum()


def _group_rows(facts: Facts, profile: RuleProfile, window: Window, group_type: str):
    if group_type not in GROUP_TYPES:
        raise ValueError(f"unknown group type {group_type!r}; use one of {GROUP_TYPES}")
    if group_type == "school":
        rows = student_school(facts, profile, window)
    else:
        rows = student_district(facts, profile, window)
    if group_type == "school":  # named by the school's local id, as the SIS knows it
        s = facts.schools.select(s_school=facts.schools.school_id, group_value="local_id")
        rows = rows.join(s, rows.school_id == s.s_school)
    elif group_type == "district":
        rows = rows.mutate(group_value=ibis.literal("all"))
    elif group_type == "grade":
        rows = rows.mutate(group_value=rows.grade.cast("string"))
    elif group_type == "characteristic":
        c = facts.characteristics
        active = c.filter(
            c.start_date <= window.as_of, c.end_date.isnull() | (c.end_date >= window.as_of)
        ).select(c_student=c.student_id, group_value=c.kind)
        rows = rows.join(active.distinct(), rows.student_id == active.c_student)
    else:
        s = facts.students.select(s_student=facts.students.student_id, group_value=group_type)
        rows = rows.join(s, rows.student_id == s.s_student)
    bands = {f"band_{level.name}": _count(rows.band == level.name) for level in profile.bands}
    summary = rows.group_by("group_value").aggregate(
        students=rows.count(),
        counted=_count(rows.counted),
        days_enrolled=rows.days_enrolled.sum(),
        absent_milli=rows.absent_milli.sum(),
        chronic=_count(rows.chronic),
        **bands,
    )
    ada = 1 - summary.absent_milli.cast("float64") / (summary.days_enrolled * MILLI).nullif(0).cast(
        "float64"
    )
    return summary.mutate(
        group_type=ibis.literal(group_type),
        days_absent=summary.absent_milli.cast("float64") / MILLI,
        attendance_rate=ada,
        chronic_rate=summary.chronic.cast("float64") / summary.counted.nullif(0).cast("float64"),
    )


def _listed_days(
    facts: Facts, profile: RuleProfile, window: Window, students: list[int] | None
) -> ir.Table:
    """Per student, school and calendar day of the window while enrolled: whether the day
    is counted, and its absence (thousandths of a day, category, tardy) if it has one."""
    held = spans(facts, window)
    if students is not None:
        held = held.filter(held.student_id.isin(students))
    days = facts.school_days
    days = days.select(day_school=days.school_id, date=days.date, counted=days.counted)
    listed = held.join(
        days,
        [
            held.school_id == days.day_school,
            days.date >= held.first_day,
            days.date <= held.last_day,
        ],
    ).select("student_id", "school_id", "date", "counted")
    listed = listed.distinct()
    absences = absence_days(facts, profile, window, held).select(
        a_student="student_id",
        a_school="school_id",
        a_date="date",
        absent_milli="absent_milli",
        category="category",
        tardy="tardy",
    )
    joined = listed.left_join(
        absences,
        [
            listed.student_id == absences.a_student,
            listed.school_id == absences.a_school,
            listed.date == absences.a_date,
        ],
    )
    return joined.select(
        "student_id",
        "school_id",
        "date",
        "counted",
        "category",
        absent_milli=joined.absent_milli.fill_null(0),
        tardy=joined.tardy.fill_null(0),
    )


def student_days(
    facts: Facts, profile: RuleProfile, window: Window, students: list[int] | None = None
) -> ir.Table:
    """Per student, school and calendar day of the window while enrolled: the day's status.

    The only definition that lists days: bounded by the window (and the students asked
    for), it feeds the student page's months (`student_months`) and lets anyone audit a
    total day by day.
    """
    days = _listed_days(facts, profile, window, students)
    absent = days.absent_milli
    status = ibis.cases(
        (days.counted == 0, "not_instructional"),
        (absent >= MILLI, "absent"),
        (absent > 0, "partial"),
        (days.tardy == 1, "tardy"),
        else_="present",
    )
    return days.select(
        "student_id",
        "school_id",
        "date",
        instructional=days.counted == 1,
        status=status,
        absent=absent.cast("float64") / MILLI,
        category=days.category,
    ).order_by("student_id", "date", "school_id")


def student_months(
    facts: Facts, profile: RuleProfile, window: Window, students: list[int] | None = None
) -> ir.Table:
    """Per student and month (`year`, `month`) with a counted day enrolled: days enrolled
    and absent, the days of `student_days` added up (a day at two schools counts at each,
    as in `student_district`)."""
    days = _listed_days(facts, profile, window, students)
    days = days.filter(days.counted == 1)
    months = days.group_by(
        "student_id", year=days.date.year().cast("int64"), month=days.date.month().cast("int64")
    ).aggregate(days_enrolled=days.count(), absent_milli=days.absent_milli.sum())
    return months.mutate(days_absent=months.absent_milli.cast("float64") / MILLI).order_by(
        "student_id", "year", "month"
    )


def school_grade_days(
    facts: Facts,
    profile: RuleProfile,
    window: Window,
    held: ir.Table | None = None,
    absent: ir.Table | None = None,
) -> ir.Table:
    """Per school, grade and counted day of the window with anyone enrolled: students
    enrolled that day (`enrolled`) and thousandths of a day absent (`absent_milli`).

    The days of `student_days` added up per school and grade, without listing a student's
    days: a day's enrolled count is the spans begun by then less those ended before it (a
    running sum over the calendar), and its absences are `absence_days` on it. Cost grows
    with spans, events and calendar days, not with student-days. A student's day counts at
    the grade of the span holding it. `held` and `absent` may pass the window's `spans`
    and `absence_days` when they are computed anyway.
    """
    held = spans(facts, window) if held is None else held
    absent = absence_days(facts, profile, window, held) if absent is None else absent
    held = held.filter(held.last_day >= held.first_day)
    starts = held.group_by(
        s_school=held.school_id, s_grade=held.grade, s_date=held.first_day
    ).aggregate(starts=held.count())
    ends = held.group_by(
        e_school=held.school_id, e_grade=held.grade, e_date=held.last_day
    ).aggregate(ends=held.count())
    pairs = held.select(p_school=held.school_id, p_grade=held.grade).distinct()
    d = facts.school_days
    d = d.filter(d.date >= window.start, d.date <= window.as_of)
    grid = pairs.join(d, pairs.p_school == d.school_id).select(
        school_id=pairs.p_school, grade=pairs.p_grade, date=d.date, counted=d.counted
    )
    grid = grid.left_join(
        starts,
        [
            grid.school_id == starts.s_school,
            grid.grade == starts.s_grade,
            grid.date == starts.s_date,
        ],
    ).select(grid, starts=ibis.coalesce(starts.starts, 0))
    grid = grid.left_join(
        ends,
        [grid.school_id == ends.e_school, grid.grade == ends.e_grade, grid.date == ends.e_date],
    ).select(grid, ends=ibis.coalesce(ends.ends, 0))
    so_far = ibis.cumulative_window(group_by=[grid.school_id, grid.grade], order_by=grid.date)
    grid = grid.mutate(
        # begun up to today, less ended up to yesterday
        enrolled=grid.starts.sum().over(so_far) - grid.ends.sum().over(so_far) + grid.ends
    )
    grid = facts.stage(grid.filter(grid.counted == 1, grid.enrolled > 0))
    bounds = held.select(
        b_student=held.student_id,
        b_school=held.school_id,
        b_grade=held.grade,
        b_first=held.first_day,
        b_last=held.last_day,
    )
    absent = absent.filter(absent.absent_milli > 0).join(
        bounds,
        [
            absent.student_id == bounds.b_student,
            absent.school_id == bounds.b_school,
            absent.date >= bounds.b_first,
            absent.date <= bounds.b_last,
        ],
    )
    absent = absent.group_by(
        a_school=absent.school_id, a_grade=absent.b_grade, a_date=absent.date
    ).aggregate(absent_milli=absent.absent_milli.sum())
    joined = grid.left_join(
        absent,
        [
            grid.school_id == absent.a_school,
            grid.grade == absent.a_grade,
            grid.date == absent.a_date,
        ],
    )
    return joined.select(
        "school_id",
        "grade",
        "date",
        "enrolled",
        absent_milli=ibis.coalesce(joined.absent_milli, 0),
    )


def standing_cells(
    facts: Facts,
    profile: RuleProfile,
    window: Window,
    dates: list[date],
    held: ir.Table | None = None,
    absent: ir.Table | None = None,
) -> ir.Table:
    """The students of the window as of each of `dates` (`as_of`; days after the window's
    end are not counted), per school (`school_id`; null: over all their schools, each
    student once), grade, counted, chronic, band and tier: how many, their days enrolled
    and thousandths of a day absent. Any dashboard figure as of one of the dates is a sum
    of these cells; as of the window's end they add up to `student_school` and
    `student_district`.

    Set-wise for all dates at once: each span's days enrolled to a date are two lookups
    of the running count (as in `spans`), and absences to a date a running sum of the
    absences between dates; cost grows with spans x dates and absences, not student-days.
    `held` and `absent` may pass the window's `spans` and `absence_days`.
    """
    held = spans(facts, window) if held is None else held
    absent = absence_days(facts, profile, window, held) if absent is None else absent
    d = facts.school_days
    wanted = [day for day in dates if window.start <= day <= window.as_of]
    ends = d.filter(d.date.isin(wanted)).select(as_of=d.date).distinct()
    cut = held.join(ends, held.first_day <= ends.as_of)
    cut = cut.mutate(last_cut=ibis.least(cut.last_day, cut.as_of))
    before = d.select(b_school=d.school_id, b_day=d.date, before=d.through - d.counted)
    through = d.select(t_school=d.school_id, t_day=d.date, through=d.through)
    cut = cut.left_join(
        before, [cut.school_id == before.b_school, cut.first_day == before.b_day]
    ).left_join(through, [cut.school_id == through.t_school, cut.last_cut == through.t_day])
    cut = cut.select(
        "student_id",
        "school_id",
        "grade",
        "first_day",
        "as_of",
        last_day=cut.last_cut,
        # nothing recorded since the span began: no day of it counts yet (as in `spans`)
        days_enrolled=ibis.ifelse(
            cut.last_cut < cut.first_day, 0, cut.through.fill_null(0) - cut.before.fill_null(0)
        ),
    )
    per_school = cut.group_by("student_id", "school_id", "as_of").aggregate(
        days_enrolled=cut.days_enrolled.sum(),
        grade=_latest(cut.grade, cut.first_day),
        last_day=cut.last_day.max(),
    )
    # Each absence counts from the first date kept on or after it: summed per student,
    # school and that date, then a running sum over the dates (no absence x date join).
    absent = absent.filter(absent.absent_milli > 0)
    bucket = ibis.cases(
        *[(absent.date <= ibis.literal(day), ibis.literal(day)) for day in sorted(wanted)],
        else_=ibis.null("date"),
    )
    absent = (
        absent.mutate(bucket=bucket)
        .group_by(a_student="student_id", a_school="school_id", a_as_of="bucket")
        .aggregate(new_milli=absent.absent_milli.sum())
    )
    per_school = per_school.left_join(
        absent,
        [
            per_school.student_id == absent.a_student,
            per_school.school_id == absent.a_school,
            per_school.as_of == absent.a_as_of,
        ],
    )
    so_far = ibis.cumulative_window(
        group_by=[per_school.student_id, per_school.school_id], order_by=per_school.as_of
    )
    per_school = facts.stage(
        per_school.select(
            "student_id",
            "school_id",
            "as_of",
            "days_enrolled",
            "grade",
            "last_day",
            absent_milli=per_school.new_milli.fill_null(0).sum().over(so_far),
        )
    )
    overall = per_school.group_by("student_id", "as_of").aggregate(
        days_enrolled=per_school.days_enrolled.sum(),
        absent_milli=per_school.absent_milli.sum(),
        grade=_latest(per_school.grade, per_school.last_day),
    )
    overall = overall.mutate(school_id=ibis.null("int64"))
    columns = ("as_of", "school_id", "grade", "days_enrolled", "absent_milli")
    rows = classify(per_school.select(*columns).union(overall.select(*columns)), profile)
    keys = ("as_of", "school_id", "grade", "counted", "chronic", "band", "tier")
    rows = rows.mutate(band=rows.band.fill_null(""), tier=rows.tier.fill_null(""))
    return rows.group_by(*keys).aggregate(
        students=rows.count(),
        days_enrolled=rows.days_enrolled.sum(),
        absent_milli=rows.absent_milli.sum(),
    )
