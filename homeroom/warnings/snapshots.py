"""What was known about every student on a date: the inputs of the flags and the forecast.

A snapshot runs the metric definitions (`homeroom.metrics.definitions`) for a window that
ends on the as-of date, so it sees only records dated on or before it: events after it are
filtered out and enrollment spans are clipped to it, even when the database already holds
later ones. No Django here; the engine decides where the definitions run.
"""

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from homeroom.metrics import definitions as d
from homeroom.metrics.engines import Engine
from homeroom.metrics.models import SUMMARY_COLUMNS
from homeroom.metrics.rules import RuleProfile

# Per student: the summaries' columns (a summary's year is the window's) and the weekdays,
# which the summaries do not keep.
STUDENT_COLUMNS = (*(c for c in SUMMARY_COLUMNS if c != "school_year_id"), *d.WEEKDAYS)

# The absence days' columns (`definitions.absence_days`), and their share of a day in days.
DAY_COLUMNS = (
    "student_id",
    "school_id",
    "date",
    "through",
    "category",
    "weekday",
    "absent_milli",
    "absent",
)


@dataclass(frozen=True)
class Snapshot:
    """Per student (district-wide totals) and per absence day, as of one date."""

    window: d.Window
    first_school_day: dt.date
    students: pd.DataFrame  # indexed by student_id; STUDENT_COLUMNS
    days: pd.DataFrame  # DAY_COLUMNS: each day with an absence (`absent`: in days)
    school_day_index: dict[int, int] = field(default_factory=dict)  # school -> counted days

    @property
    def as_of(self) -> dt.date:
        return self.window.as_of

    @property
    def week(self) -> int:
        """The school week holding the as-of date (week 1 starts on the first school day)."""
        return max((self.as_of - self.first_school_day).days // 7 + 1, 1)


def first_school_day(engine: Engine, window: d.Window) -> dt.date:
    """The first counted school day of the year at any school (the start of week 1)."""
    days = engine.facts.school_days
    found = engine.run(
        days.filter(days.school_year_id == window.school_year_id, days.counted == 1).aggregate(
            first=days.date.min()
        )
    ).to_pylist()[0]["first"]
    return _as_date(found) if found is not None else window.start


def week_end(first_day: dt.date, week: int) -> dt.date:
    """The last calendar day of school week `week`."""
    return first_day + dt.timedelta(days=7 * week - 1)


def take_snapshot(engine: Engine, profile: RuleProfile, as_of: dt.date) -> Snapshot:
    """Every student's year so far as of `as_of`, computed from what is dated up to it."""
    window = engine.window(as_of)
    facts = engine.facts
    per_student = d.student_district(facts, profile, window)
    students = engine.run(per_student.select(*STUDENT_COLUMNS)).to_pandas()
    days = d.absence_days(facts, profile, window)
    days = days.filter(days.absent_milli > 0).select(
        *DAY_COLUMNS[:-1], absent=days.absent_milli.cast("float64") / d.MILLI
    )
    school_days = facts.school_days
    index = school_days.filter(
        school_days.school_year_id == window.school_year_id, school_days.date <= window.as_of
    )
    index = index.group_by("school_id").aggregate(through=index.through.max())
    return Snapshot(
        window=window,
        first_school_day=first_school_day(engine, window),
        students=students.set_index("student_id").sort_index(),
        days=_dated(engine.run(days).to_pandas()),
        school_day_index={
            row["school_id"]: row["through"] for row in engine.run(index).to_pylist()
        },
    )


def recent_enrollment(engine: Engine, profile: RuleProfile, as_of: dt.date, days: int):
    """Per student: days enrolled and days absent in the `days` calendar days up to `as_of`."""
    start = as_of - dt.timedelta(days=days - 1)
    window = engine.window(as_of)
    window = engine.window(as_of, max(start, window.start))
    table = d.student_district(engine.facts, profile, window)
    return (
        engine.run(table.select("student_id", "days_enrolled", "days_absent"))
        .to_pandas()
        .set_index("student_id")
    )


def year_end(engine: Engine, profile: RuleProfile, window: d.Window) -> pd.DataFrame:
    """Every student's whole year holding `window` (its last day): absence rate, chronic."""
    end = engine.window(window.year_end)
    table = d.student_district(engine.facts, profile, end).select(
        "student_id", "absence_rate", "counted", "chronic", "days_enrolled"
    )
    return engine.run(table).to_pandas().set_index("student_id")


def year_before(engine: Engine, profile: RuleProfile, window: d.Window) -> pd.DataFrame | None:
    """The whole previous school year, if the facts hold one (else None), with the days
    enrolled and absent of the year before it (`earlier_days`, `earlier_absent`: 0 when the
    facts hold no such year or the student was not enrolled in it)."""
    years = engine.facts.school_years
    earlier = engine.run(
        years.filter(years.end_date < window.start)
        .order_by(years.end_date.desc())
        .limit(2)
        .select("end_date")
    ).to_pylist()
    if not earlier:
        return None
    last = year_end(engine, profile, engine.window(_as_date(earlier[0]["end_date"])))
    last["earlier_days"] = 0
    last["earlier_absent"] = 0.0
    if len(earlier) == 2:
        older = year_end(engine, profile, engine.window(_as_date(earlier[1]["end_date"])))
        older = older[older["days_enrolled"] > 0].reindex(last.index)
        last["earlier_days"] = older["days_enrolled"].fillna(0).astype(int)
        last["earlier_absent"] = (older["absence_rate"] * older["days_enrolled"]).fillna(0.0)
    return last


@dataclass(frozen=True)
class Known:
    """What was known on a date: the year so far and, if the facts hold it, the year before
    (read once by the nightly for both the flags and the forecast)."""

    snapshot: Snapshot
    last_year: pd.DataFrame | None


def known_on(engine: Engine, profile: RuleProfile, as_of: dt.date) -> Known:
    """The snapshot as of `as_of` and the whole year before it."""
    snapshot = take_snapshot(engine, profile, as_of)
    return Known(snapshot, year_before(engine, profile, snapshot.window))


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as `datetime.date` whatever the engine returned (SQLite: text)."""
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


def school_years(engine: Engine) -> list[dict]:
    """The school years the facts hold, oldest first: id, name, start_date, end_date."""
    years = engine.facts.school_years
    rows = engine.run(years.order_by(years.start_date)).to_pylist()
    for row in rows:
        row["start_date"], row["end_date"] = _as_date(row["start_date"]), _as_date(row["end_date"])
    return rows


def student_groups(engine: Engine, as_of: dt.date) -> pd.DataFrame:
    """Per student: gender, race/ethnicity, home language, and each characteristic held on
    `as_of` (one True/False column per kind): the groups fairness is reported for."""
    facts = engine.facts
    students = engine.run(
        facts.students.select("student_id", "gender", "race_ethnicity", "home_language")
    ).to_pandas()
    held = facts.characteristics
    held = held.filter(
        held.start_date <= as_of, held.end_date.isnull() | (held.end_date >= as_of)
    ).select("student_id", "kind")
    held = engine.run(held.distinct()).to_pandas()
    table = students.set_index("student_id")
    for kind in sorted(held["kind"].unique()):
        table[kind] = table.index.isin(held.loc[held["kind"] == kind, "student_id"])
    return table


def year_coverage(engine: Engine) -> list[dict]:
    """The school years oldest first, each with its last counted school day and the last
    date its attendance records reach (None when it has none): what the data cover, which
    the forecast trusts over the calendar."""
    facts = engine.facts
    days = facts.school_days
    last_days = engine.run(
        days.filter(days.counted == 1)
        .group_by("school_year_id")
        .aggregate(last_school_day=days.date.max())
    ).to_pylist()
    last_day = {row["school_year_id"]: _as_date(row["last_school_day"]) for row in last_days}
    events, years = facts.events, facts.school_years
    joined = events.join(years, (events.date >= years.start_date) & (events.date <= years.end_date))
    reached = engine.run(
        joined.group_by("school_year_id").aggregate(recorded_through=joined.date.max())
    ).to_pylist()
    through = {row["school_year_id"]: _as_date(row["recorded_through"]) for row in reached}
    rows = school_years(engine)
    for row in rows:
        row["last_school_day"] = last_day.get(row["school_year_id"])
        row["recorded_through"] = through.get(row["school_year_id"])
    return rows
