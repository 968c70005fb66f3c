"""Early-warning flags: which students a district's rules flag as of a date, and why.

Pure computation over a snapshot (`homeroom.warnings.snapshots`): no Django, no database.
Each finding carries its reason in words staff understand, with the numbers behind it.
`homeroom.warnings.actions.do_evaluate_flags` turns findings into flags with a history.

Each kind of flag is one function, registered with `@flag_rule(kind)` under the key the
district's rules file turns it on with; `find_flags` runs those the rules turn on. Runs of
consecutive absences and absences by weekday are the metric definitions'
(`definitions.absence_runs`, `definitions.absences_by_weekday`), run in process by DuckDB
on the snapshot's absence days, so a flag counts as the summaries do.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from homeroom.metrics import definitions as d
from homeroom.metrics import display
from homeroom.metrics.rules import RuleProfile
from homeroom.warnings.rules import WarningRules
from homeroom.warnings.snapshots import Snapshot

# The columns of the snapshot's absence days the definitions read, and their types.
DAY_SCHEMA = ibis.schema(
    {
        "student_id": "int64",
        "school_id": "int64",
        "date": "date",
        "through": "int64",
        "weekday": "int64",
        "absent_milli": "int64",
    }
)


@dataclass(frozen=True)
class Finding:
    """A flag that holds for a student on the as-of date."""

    student_id: int
    kind: str
    variant: str
    reason: str


@dataclass(frozen=True)
class Given:
    """What every flag rule reads: the snapshot, the profile, the absence days of the
    categories the district's rules count (enrolled students only, as an Ibis table), and
    the optional inputs (None when not read)."""

    snapshot: Snapshot
    profile: RuleProfile
    days: ir.Table
    last_year: pd.DataFrame | None
    recent: pd.DataFrame | None


# A rule: what is given and its settings from the rules file -> the findings that hold.
FlagRule = Callable[[Given, dict], Iterable[Finding]]
FLAG_RULES: dict[str, FlagRule] = {}


def flag_rule(kind: str) -> Callable[[FlagRule], FlagRule]:
    """Register a function as the rule that raises flags of `kind` (its rules-file key)."""

    def register(rule: FlagRule) -> FlagRule:
        if kind in FLAG_RULES:
            raise ValueError(f"a flag rule for {kind!r} is registered already")
        FLAG_RULES[kind] = rule
        return rule

    return register


def find_flags(
    snapshot: Snapshot,
    rules: WarningRules,
    profile: RuleProfile,
    *,
    last_year: pd.DataFrame | None = None,
    recent: pd.DataFrame | None = None,
) -> list[Finding]:
    """Every flag that holds as of the snapshot's date under the district's rules.

    `last_year` (the whole previous year per student) feeds the chronic-last-year flag;
    `recent` (days enrolled and absent in the worsening rule's recent days) the worsening
    flag; either rule finds nothing without its input.
    """
    days = snapshot.days
    days = days[
        days["category"].isin(rules.categories) & days["student_id"].isin(snapshot.students.index)
    ]
    given = Given(snapshot, profile, _in_memory(days), last_year, recent)
    return [
        finding
        for kind, rule in FLAG_RULES.items()
        if rules.on(kind)
        for finding in rule(given, rules.rules[kind])
    ]


def _in_memory(days: pd.DataFrame) -> ir.Table:
    """The absence days as an in-memory table the definitions run on (DuckDB)."""
    schema = DAY_SCHEMA.to_pyarrow()
    if days.empty:  # an empty frame's columns have no types to convert from
        return ibis.memtable(schema.empty_table())
    return ibis.memtable(
        pa.Table.from_pandas(days[list(DAY_SCHEMA.names)], schema=schema, preserve_index=False)
    )


def _days(n: float) -> str:
    """'1 absence', '2.5 absences'."""
    text = display.days(n)
    return f"{text} absence" if n == 1 else f"{text} absences"


def _date(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def _percent(rate: float) -> str:
    return display.percent(rate)


def _weekday_counts(days: ir.Table) -> pd.DataFrame:
    """Per student (the index): days absent in all, on Mondays and on Fridays, among `days`."""
    table = d.absences_by_weekday(days).to_pandas().set_index("student_id")
    return pd.DataFrame(
        {
            "all": table["absent_milli"] / d.MILLI,
            "monday": table["monday_milli"] / d.MILLI,
            "friday": table["friday_milli"] / d.MILLI,
        }
    ).sort_index()


def _weekday_note(monday: float, friday: float) -> str:
    """', 2 of them Mondays' when a student's absences gather on Mondays or Fridays."""
    notes = [
        f"{display.days(count)} of them {name}"
        for count, name in ((monday, "Mondays"), (friday, "Fridays"))
        if count >= 2
    ]
    return ", " + " and ".join(notes) if notes else ""


def _absences_among(days: ir.Table, kind: str, least: int, where: str) -> Iterator[Finding]:
    """A finding of `kind` for each student with `least` absences among `days`."""
    counts = _weekday_counts(days)
    for row in counts[counts["all"] >= least].itertuples():
        note = _weekday_note(row.monday, row.friday)
        yield Finding(int(row.Index), kind, "", f"{_days(row.all)} {where}{note}")


@flag_rule("early_absences")
def _early_absences(given: Given, rule: dict) -> Iterator[Finding]:
    """N absences in the first school days of the school's calendar."""
    early = given.days.filter(given.days.through <= rule["school_days"])
    where = f"in the first {rule['school_days']} school days"
    return _absences_among(early, "early_absences", rule["absences"], where)


@flag_rule("recent_absences")
def _recent_absences(given: Given, rule: dict) -> Iterator[Finding]:
    """N absences in the last calendar days."""
    since = given.snapshot.as_of - dt.timedelta(days=rule["calendar_days"] - 1)
    recent = given.days.filter(given.days.date >= since)
    where = f"in the last {rule['calendar_days']} days"
    return _absences_among(recent, "recent_absences", rule["absences"], where)


@flag_rule("band")
def _band(given: Given, rule: dict) -> Iterator[Finding]:
    """Counted, and in any band of the profile but its best."""
    students = given.snapshot.students
    flagged = [level.name for level in given.profile.bands[:-1]]
    counted = students[students["counted"] & students["band"].isin(flagged)]
    labels = {level.name: level.label for level in given.profile.bands}
    for row in counted.itertuples():
        yield Finding(
            int(row.Index),
            "band",
            row.band,
            f"Absent {_percent(row.absence_rate)} of school days so far "
            f"({display.days(row.days_absent)} of {int(row.days_enrolled)}): {labels[row.band]}",
        )


def _runs(given: Given) -> list[dict]:
    """Each run of consecutive full days absent at one school, latest last."""
    runs = d.absence_runs(given.days).to_pyarrow().to_pylist()
    return sorted(runs, key=lambda run: (run["last_day"], run["student_id"], run["school_id"]))


@flag_rule("long_absence")
def _long_absence(given: Given, rule: dict) -> Iterator[Finding]:
    """Absent every school day for N days, up to the as-of date."""
    today = given.snapshot.school_day_index
    for run in _runs(given):
        if run["last_through"] == today.get(run["school_id"]) and run["length"] >= rule["absences"]:
            yield Finding(
                run["student_id"],
                "long_absence",
                "",
                f"Absent every school day since {_date(run['first_day'])} ({run['length']} "
                "school days): possible withdrawal; confirm where the student is",
            )


@flag_rule("consecutive")
def _consecutive(given: Given, rule: dict) -> Iterator[Finding]:
    """A run of N consecutive full days absent that ended in the last days (the latest)."""
    since = given.snapshot.as_of - dt.timedelta(days=rule["within_days"] - 1)
    latest = {
        run["student_id"]: run
        for run in _runs(given)
        if run["length"] >= rule["absences"] and run["last_day"] >= since
    }
    for student_id, run in latest.items():
        yield Finding(
            student_id,
            "consecutive",
            "",
            f"Absent {run['length']} school days in a row "
            f"({_date(run['first_day'])} to {_date(run['last_day'])})",
        )


@flag_rule("weekday_pattern")
def _weekday_pattern(given: Given, rule: dict) -> Iterator[Finding]:
    """N absences, a share of them on Mondays or Fridays."""
    table = _weekday_counts(given.days)
    share = (table["monday"] + table["friday"]) / table["all"]
    hits = table[(table["all"] >= rule["minimum_absences"]) & (share >= rule["share"])]
    for row in hits.itertuples():
        yield Finding(
            int(row.Index),
            "weekday_pattern",
            "",
            f"{display.days(row.monday + row.friday)} of {_days(row.all)} on Mondays or "
            f"Fridays ({display.days(row.monday)} Mondays, {display.days(row.friday)} Fridays)",
        )


@flag_rule("worsening")
def _worsening(given: Given, rule: dict) -> list[Finding]:
    """The recent days' absence rate at least `ratio` times the rate of the days before
    (needs `recent`)."""
    if given.recent is None:
        return []
    students, recent = given.snapshot.students, given.recent
    table = students[["days_enrolled", "days_absent"]].join(
        recent[["days_enrolled", "days_absent"]], suffixes=("", "_recent"), how="inner"
    )
    table = table.assign(
        before_days=table["days_enrolled"] - table["days_enrolled_recent"],
        before_absent=table["days_absent"] - table["days_absent_recent"],
    )
    recent_rate = table["days_absent_recent"] / table["days_enrolled_recent"].where(
        table["days_enrolled_recent"] > 0
    )
    before_rate = table["before_absent"] / table["before_days"].where(table["before_days"] >= 10)
    table = table.assign(recent_rate=recent_rate, before_rate=before_rate)
    hits = table[
        (table["days_absent_recent"] >= rule["minimum_absences"])
        & before_rate.notna()
        & (recent_rate >= rule["ratio"] * before_rate)
    ]
    return [
        Finding(
            int(row.Index),
            "worsening",
            "",
            f"Absent {_percent(row.recent_rate)} of school days in the last "
            f"{rule['recent_days']} days ({display.days(row.days_absent_recent)} of "
            f"{int(row.days_enrolled_recent)}), against {_percent(row.before_rate)} "
            f"before ({display.days(row.before_absent)} of {int(row.before_days)})",
        )
        for row in hits.itertuples()
    ]


@flag_rule("chronic_last_year")
def _chronic_last_year(given: Given, rule: dict) -> Iterator[Finding]:
    """Chronically absent over the whole previous year (needs `last_year`)."""
    if given.last_year is None:
        return
    before = given.last_year
    before = before[before["chronic"] & before.index.isin(given.snapshot.students.index)]
    for row in before.itertuples():
        yield Finding(
            int(row.Index),
            "chronic_last_year",
            "",
            f"Chronically absent last year (absent {_percent(row.absence_rate)} of school days)",
        )
