"""Training, evaluating and applying the forecast on an engine's facts (no Django).

Years: a school year is complete when its last school day is before today *and* the
attendance records reach its last school week; the calendar alone proves nothing (a
district may load next June's calendar with only September's attendance). The year the
records stop in is the current year, never a test year. With three or more complete years
the forecast is trained on the complete years that have a year before them in the data
(last year's attendance is a feature) and tested on the latest complete year, which it
never saw. With two, it is trained on the later one and evaluated by cross-validation
inside it (`CROSS_VALIDATION`), a weaker test that the report names. Every example is a
snapshot as of the end of a school week, so a feature of week 4 is computed from what was
dated by the end of week 4 and nothing later.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from homeroom.metrics import display
from homeroom.metrics.engines import Engine
from homeroom.metrics.rules import RuleProfile
from homeroom.warnings import forecast as f
from homeroom.warnings.flags import find_flags
from homeroom.warnings.rules import WarningRules
from homeroom.warnings.snapshots import (
    Known,
    first_school_day,
    recent_enrollment,
    student_groups,
    take_snapshot,
    week_end,
    year_before,
    year_coverage,
    year_end,
)

# The last absence recorded in a whole year may fall a few days before its last school
# day (nobody absent on the last days of a small school); a week's gap is not a gap.
COVERAGE_SLACK = dt.timedelta(days=7)
FOLDS = 5  # cross-validation folds, when only two complete years are held
SCHOOL_FOLDS_FROM = 3  # schools needed to hold whole schools out (else: students)

LATER_YEAR = "Tested on {test}, a later complete year the forecast never saw (trained on {train})."
CROSS_VALIDATION = (
    "Only two complete school years are held: the earlier gives last year's attendance, so "
    "the forecast is trained on {train} and evaluated by {folds}-fold cross-validation "
    "inside it, grouped by {by}: each {unit}'s students are scored by a model fitted "
    "without them. This is weaker than a test on a later year: the folds share the year's "
    "calendar, events and policies, so it cannot show how the forecast holds up when the "
    "next year differs. Expect next year's figures to be somewhat lower; retrain when a "
    "third year is complete."
)
PLANNED_CROSS_VALIDATION = (
    "Only two complete school years are held: trained on {train} and evaluated by "
    "cross-validation inside it (by school, or by student in a district of fewer than "
    f"{SCHOOL_FOLDS_FROM} schools), weaker than a test on a later year."
)


class ForecastError(ValueError):
    """The forecast cannot be trained or applied on these data, said plainly."""


@dataclass(frozen=True)
class Trained:
    """A trained forecast: per checkpoint week, each method's weights and the one used."""

    parameters: dict  # {week: {"chosen": name, "methods": {name: Fitted.as_dict()}}}
    evaluation: dict  # {"weeks": {week: evaluate_week(...)}, "capacity", "data", ...}
    trained_years: list[str]
    evaluated_year: str


def years_in_data(engine: Engine, today: dt.date) -> list[dict]:
    """Every school year, oldest first, with its `status`: "complete" (over before today
    and recorded to its last school week), "current" (the year the records stop in, or
    that holds today), "incomplete" (an earlier year whose records stop early) or
    "no attendance" (a calendar without records, or a year not begun)."""
    years = year_coverage(engine)
    for year in years:  # what is dated after today is not known today
        if year["recorded_through"] and year["recorded_through"] > today:
            year["recorded_through"] = today
    recorded = [y for y in years if y["recorded_through"] and y["start_date"] <= today]
    current = recorded[-1]["school_year_id"] if recorded else None
    for year in years:
        last_day = year["last_school_day"] or year["end_date"]
        through = year["recorded_through"]
        if through is None or year["start_date"] > today:
            year["status"] = "no attendance"
        elif last_day < today and through >= last_day - COVERAGE_SLACK:
            year["status"] = "complete"
        elif year["school_year_id"] == current or year["start_date"] <= today <= last_day:
            year["status"] = "current"
        else:
            year["status"] = "incomplete"
    return years


def coverage_words(years: list[dict]) -> list[dict]:
    """The years as the report states them (JSON-ready)."""
    return [
        {
            "year": y["name"],
            "status": y["status"],
            "last_school_day": y["last_school_day"] and y["last_school_day"].isoformat(),
            "recorded_through": y["recorded_through"] and y["recorded_through"].isoformat(),
            "words": (
                f"{y['name']}: {y['status']}, attendance recorded through "
                f"{display.date(y['recorded_through'])}"
                + (
                    f" (last school day {display.date(y['last_school_day'])})"
                    if y["last_school_day"]
                    else ""
                )
                if y["recorded_through"]
                else f"{y['name']}: {y['status']}"
            ),
        }
        for y in years
    ]


@dataclass(frozen=True)
class Examples:
    """One year's snapshot at one checkpoint week: features, year-end labels, schools."""

    table: pd.DataFrame
    labels: pd.Series
    schools: pd.Series
    as_of: dt.date


def _examples(
    engine: Engine,
    profile: RuleProfile,
    rules: WarningRules | None,
    year: dict,
    weeks,
    say,
) -> dict[int, Examples]:
    """{week: Examples} for one complete year: snapshots at week ends, labelled with the
    year's end (students counted then)."""
    window = engine.window(year["end_date"])
    first = first_school_day(engine, window)
    outcome = year_end(engine, profile, window)
    outcome = outcome[outcome["counted"]]
    before = year_before(engine, profile, window)
    found = {}
    for week in weeks:
        as_of = week_end(first, week)
        if as_of > year["end_date"]:
            continue
        say(f"{year['name']}, week {week}")
        snapshot = take_snapshot(engine, profile, as_of)
        table = f.features(snapshot, before, _flag_counts(engine, profile, rules, snapshot, before))
        table = table[table.index.isin(outcome.index)]
        found[week] = Examples(
            table,
            outcome["chronic"].reindex(table.index).astype(bool),
            snapshot.students["school_id"].reindex(table.index),
            as_of,
        )
    return found


def _flag_counts(engine, profile, rules, snapshot, last_year) -> pd.Series | None:
    """Per student: how many of the district's flags hold on the snapshot's date."""
    if rules is None:
        return None
    recent = None
    if rules.on("worsening"):
        recent = recent_enrollment(
            engine, profile, snapshot.as_of, int(rules.rules["worsening"]["recent_days"])
        )
    findings = find_flags(snapshot, rules, profile, last_year=last_year, recent=recent)
    held = pd.DataFrame([(x.student_id, x.kind) for x in findings], columns=["student", "kind"])
    return held.drop_duplicates().groupby("student")["kind"].count()


def folds_of(schools: pd.Series, labels: pd.Series) -> tuple[str, np.ndarray]:
    """Each row's cross-validation fold (0 to FOLDS-1) and what the folds hold out:
    whole schools when there are SCHOOL_FOLDS_FROM or more (a school's students are
    alike), else students, dealt out within each outcome so every fold holds both."""
    ids = sorted(schools.dropna().unique())
    if len(ids) >= SCHOOL_FOLDS_FROM:
        # the largest schools first, each to the fold with the fewest students so far
        sizes = schools.value_counts()
        count = min(FOLDS, len(ids))
        totals, fold_of = [0] * count, {}
        for school in sorted(ids, key=lambda s: (-sizes[s], s)):
            fold = totals.index(min(totals))
            fold_of[school] = fold
            totals[fold] += int(sizes[school])
        return "school", schools.map(fold_of).fillna(0).astype(int).to_numpy()
    folds = np.zeros(len(labels), int)
    rng = np.random.default_rng(0)
    for outcome in (False, True):
        rows = np.flatnonzero(labels.to_numpy(bool) == outcome)
        folds[rows] = rng.permutation(np.arange(len(rows)) % FOLDS)
    return "student", folds


def _fit(table: pd.DataFrame, labels: pd.Series) -> dict[str, f.Fitted]:
    try:
        return f.fit_methods(table, labels)
    except ValueError as error:
        raise ForecastError(str(error)) from None


def _cross_validated(examples: Examples) -> tuple[dict[str, np.ndarray], str, int]:
    """Every method's out-of-fold probabilities on one year, what the folds held out and
    how many folds there were."""
    by, folds = folds_of(examples.schools, examples.labels)
    probabilities: dict[str, np.ndarray] = {}
    for fold in np.unique(folds):
        inside = folds == fold
        methods = _fit(examples.table[~inside], examples.labels[~inside])
        for name, method in methods.items():
            found = probabilities.setdefault(name, np.zeros(len(folds)))
            found[inside] = method.probability(examples.table[inside])
    return probabilities, by, len(np.unique(folds))


@dataclass(frozen=True)
class Plan:
    """Which complete years a training learns from and how it is tested, decided from the
    records alone (no fitting): what `risk train --dry-run` says."""

    years: list[dict]  # every year with its status (years_in_data)
    training: list[dict]
    held_out: dict | None  # the later year tested on; None: cross-validation

    @property
    def words(self) -> str:
        """How the forecast will be evaluated, in a sentence."""
        train = ", ".join(y["name"] for y in self.training)
        if self.held_out:
            return LATER_YEAR.format(test=self.held_out["name"], train=train)
        return PLANNED_CROSS_VALIDATION.format(train=train)


def plan(engine: Engine, today: dt.date) -> Plan:
    """The years to train and test on as of `today`; an error when too few are complete."""
    years = years_in_data(engine, today)
    complete = [y for y in years if y["status"] == "complete"]
    if len(complete) < 2:
        current = [y for y in years if y["status"] == "current"]
        raise ForecastError(
            "the forecast needs two complete school years before the current date (one "
            "to learn from and the year before it for last year's attendance); the data "
            f"hold {len(complete)} ({', '.join(y['name'] for y in complete) or 'none'})"
            + (
                f"; {current[-1]['name']} is current (attendance recorded through "
                f"{display.date(current[-1]['recorded_through'])})"
                if current and current[-1]["recorded_through"]
                else ""
            )
        )
    if len(complete) >= 3:
        return Plan(years, training=complete[1:-1], held_out=complete[-1])
    return Plan(years, training=complete[1:], held_out=None)


def train(
    engine: Engine,
    profile: RuleProfile,
    today: dt.date,
    capacity: float,
    say: Callable[[str], None] = lambda message: None,
    rules: WarningRules | None = None,
) -> Trained:
    """Fit on the training years and evaluate on data not trained on, per checkpoint.

    `rules`: the district's warning rules, whose flags are a baseline (none without)."""
    planned = plan(engine, today)
    years, training, held_out = planned.years, planned.training, planned.held_out
    checkpoints = f.CHECKPOINT_WEEKS
    how = planned.words
    pooled: dict[int, list[Examples]] = {week: [] for week in checkpoints}
    for year in training:
        for week, examples in _examples(engine, profile, rules, year, checkpoints, say).items():
            pooled[week].append(examples)
    tests = (
        _examples(engine, profile, rules, held_out, checkpoints, say)
        if held_out
        else {week: parts[0] for week, parts in pooled.items() if parts}
    )
    parameters, weeks = {}, {}
    for week, parts in pooled.items():
        if not parts or week not in tests:
            continue
        table = pd.concat([p.table for p in parts])
        labels = pd.concat([p.labels for p in parts])
        methods = _fit(table, labels)
        test = tests[week]
        if held_out:
            probabilities = {name: m.probability(test.table) for name, m in methods.items()}
        else:
            probabilities, by, folds = _cross_validated(test)
            how = CROSS_VALIDATION.format(
                train=training[0]["name"],
                folds=folds,
                by=by,
                unit=by,
            )
        groups = student_groups(engine, test.as_of)
        groups["grade"] = test.table["grade"].reindex(groups.index).astype("Int64")
        result = f.evaluate_week(probabilities, test.table, test.labels, groups, capacity)
        result |= {"as_of": test.as_of.isoformat(), "trained_on": len(table)}
        weeks[str(week)] = result
        parameters[str(week)] = {
            "chosen": result["chosen"],
            "methods": {name: method.as_dict() for name, method in methods.items()},
        }
    if not parameters:
        raise ForecastError("no school week of the training years could be used")
    evaluated = held_out["name"] if held_out else training[0]["name"]
    return Trained(
        parameters=parameters,
        evaluation={
            "weeks": weeks,
            "capacity": capacity,
            "evaluated_year": evaluated,
            "evaluation": "later year" if held_out else "cross-validation",
            "evaluation_words": how,
            "data": coverage_words(years),
            "today": today.isoformat(),
        },
        trained_years=[y["name"] for y in training],
        evaluated_year=evaluated,
    )


def score(known: Known, parameters: dict) -> pd.DataFrame:
    """Every enrolled student's probability and factors from what was known on a date,
    indexed by student_id."""
    snapshot = known.snapshot
    table = f.features(snapshot, known.last_year)
    checkpoint = str(f.checkpoint_for(snapshot.week))
    chosen = parameters[checkpoint]["chosen"]
    method = f.Fitted.from_dict(parameters[checkpoint]["methods"][chosen])
    flags = f.rule_flags(table)
    result = pd.DataFrame(
        {
            "probability": method.probability(table) if len(table) else np.array([]),
            "method": chosen,
            "factors": f.explain(method, table) if len(table) else [],
            "chronic_last_year": flags["chronic_last_year"],
            "absent_two_in_september": flags["september"],
            "projected_chronic": flags["projection"],
            "school_id": snapshot.students["school_id"].reindex(table.index),
            "grade": table["grade"],
        },
        index=table.index,
    )
    return result
