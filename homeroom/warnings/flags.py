"""Early-warning flags: which students a district's rules flag as of a date, and why.

Pure computation over a snapshot (`homeroom.warnings.snapshots`): no Django, no database.
Each finding carries its reason in words staff understand, with the numbers behind it.
`homeroom.warnings.actions.do_evaluate_flags` turns findings into flags with a history.
"""

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from homeroom.metrics.rules import RuleProfile
from homeroom.warnings.rules import WarningRules
from homeroom.warnings.snapshots import Snapshot

MONDAY, FRIDAY = 0, 4


@dataclass(frozen=True)
class Finding:
    """A flag that holds for a student on the as-of date."""

    student_id: int
    kind: str
    variant: str
    reason: str


def _days(n: float) -> str:
    """'1 absence', '2.5 absences'."""
    text = f"{n:g}"
    return f"{text} absence" if n == 1 else f"{text} absences"


def _date(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def _percent(rate: float) -> str:
    return f"{rate:.0%}" if rate >= 0.1 or rate == 0 else f"{rate:.1%}"


def _weekday_counts(rows: pd.DataFrame) -> pd.DataFrame:
    """Per student: absences on Mondays and on Fridays among `rows`."""
    weekday = pd.to_datetime(rows["date"]).dt.day_of_week
    return (
        pd.DataFrame(
            {
                "student_id": rows["student_id"],
                "all": rows["absent"],
                "monday": rows["absent"].where(weekday == MONDAY, 0),
                "friday": rows["absent"].where(weekday == FRIDAY, 0),
            }
        )
        .groupby("student_id")
        .sum()
    )


def _weekday_note(monday: float, friday: float) -> str:
    """', 2 of them Mondays' when a student's absences gather on Mondays or Fridays."""
    notes = [
        f"{count:g} of them {name}"
        for count, name in ((monday, "Mondays"), (friday, "Fridays"))
        if count >= 2
    ]
    return ", " + " and ".join(notes) if notes else ""


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
    flag; either rule is skipped without its input.
    """
    students = snapshot.students
    days = snapshot.days[snapshot.days["category"].isin(rules.categories)]
    days = days[days["student_id"].isin(students.index)]
    found: list[Finding] = []

    def add(student_id, kind: str, reason: str, variant: str = "") -> None:
        found.append(Finding(int(student_id), kind, variant, reason))

    if rules.on("early_absences"):
        rule = rules.rules["early_absences"]
        early = days[days["through"] <= rule["school_days"]]
        counts = _weekday_counts(early)
        for row in counts[counts["all"] >= rule["absences"]].itertuples():
            add(
                row.Index,
                "early_absences",
                f"{_days(row.all)} in the first {rule['school_days']} school days"
                f"{_weekday_note(row.monday, row.friday)}",
            )
    if rules.on("recent_absences"):
        rule = rules.rules["recent_absences"]
        since = snapshot.as_of - dt.timedelta(days=rule["calendar_days"] - 1)
        counts = _weekday_counts(days[days["date"] >= since])
        for row in counts[counts["all"] >= rule["absences"]].itertuples():
            add(
                row.Index,
                "recent_absences",
                f"{_days(row.all)} in the last {rule['calendar_days']} days"
                f"{_weekday_note(row.monday, row.friday)}",
            )
    if rules.on("band"):
        flagged = [level.name for level in profile.bands[:-1]]  # all but the best
        counted = students[students["counted"] & students["band"].isin(flagged)]
        labels = {level.name: level.label for level in profile.bands}
        for row in counted.itertuples():
            add(
                row.Index,
                "band",
                f"Absent {_percent(row.absence_rate)} of school days so far "
                f"({row.days_absent:g} of {int(row.days_enrolled)}): {labels[row.band]}",
                variant=row.band,
            )
    if rules.on("consecutive") or rules.on("long_absence"):
        found += _runs(snapshot, days, rules)
    if rules.on("weekday_pattern"):
        rule = rules.rules["weekday_pattern"]
        table = _weekday_counts(days)
        share = (table["monday"] + table["friday"]) / table["all"]
        hits = table[(table["all"] >= rule["minimum_absences"]) & (share >= rule["share"])]
        for row in hits.itertuples():
            add(
                row.Index,
                "weekday_pattern",
                f"{row.monday + row.friday:g} of {_days(row.all)} on Mondays or "
                f"Fridays ({row.monday:g} Mondays, {row.friday:g} Fridays)",
            )
    if rules.on("worsening") and recent is not None:
        found += _worsening(students, recent, rules.rules["worsening"])
    if rules.on("chronic_last_year") and last_year is not None:
        before = last_year[last_year["chronic"] & last_year.index.isin(students.index)]
        for row in before.itertuples():
            add(
                row.Index,
                "chronic_last_year",
                f"Chronically absent last year (absent {_percent(row.absence_rate)} of "
                "school days)",
            )
    return found


def _runs(snapshot: Snapshot, days: pd.DataFrame, rules: WarningRules) -> list[Finding]:
    """Consecutive full days absent at one school: recent runs, and runs up to today."""
    full = days[days["absent"] >= 1].sort_values(["student_id", "school_id", "through"])
    if full.empty:
        return []
    step = full.groupby(["student_id", "school_id"]).cumcount()
    full = full.assign(island=full["through"] - step)
    runs = full.groupby(["student_id", "school_id", "island"]).agg(
        length=("through", "size"),
        first=("date", "first"),  # sorted: a run's days are in order
        last=("date", "last"),
        last_index=("through", "max"),
    )
    runs = runs.reset_index().sort_values("last")
    found = []
    if rules.on("long_absence"):
        rule = rules.rules["long_absence"]
        today = runs["school_id"].map(snapshot.school_day_index)
        ongoing = runs[(runs["last_index"] == today) & (runs["length"] >= rule["absences"])]
        for row in ongoing.itertuples():
            found.append(
                Finding(
                    int(row.student_id),
                    "long_absence",
                    "",
                    f"Absent every school day since {_date(row.first)} ({row.length} school "
                    "days): possible withdrawal; confirm where the student is",
                )
            )
    if rules.on("consecutive"):
        rule = rules.rules["consecutive"]
        since = snapshot.as_of - dt.timedelta(days=rule["within_days"] - 1)
        recent = runs[(runs["length"] >= rule["absences"]) & (runs["last"] >= since)]
        latest = recent.drop_duplicates("student_id", keep="last")
        for row in latest.itertuples():
            found.append(
                Finding(
                    int(row.student_id),
                    "consecutive",
                    "",
                    f"Absent {row.length} school days in a row "
                    f"({_date(row.first)} to {_date(row.last)})",
                )
            )
    return found


def _worsening(students: pd.DataFrame, recent: pd.DataFrame, rule: dict) -> list[Finding]:
    """The recent days' absence rate at least `ratio` times the rate of the days before."""
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
            f"{rule['recent_days']} days ({row.days_absent_recent:g} of "
            f"{int(row.days_enrolled_recent)}), against {_percent(row.before_rate)} "
            f"before ({row.before_absent:g} of {int(row.before_days)})",
        )
        for row in hits.itertuples()
    ]
