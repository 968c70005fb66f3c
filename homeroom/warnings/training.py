"""Training, evaluating and applying the forecast on an engine's facts (no Django).

Years: the forecast is trained on complete school years that have a year before them in
the data (last year's attendance is a feature), and evaluated on the latest complete year,
which it never saw. Every example is a snapshot as of the end of a school week, so a
feature of week 4 is computed from what was dated by the end of week 4 and nothing later.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from homeroom.metrics.engines import Engine
from homeroom.metrics.rules import RuleProfile
from homeroom.warnings import forecast as f
from homeroom.warnings.snapshots import (
    Known,
    first_school_day,
    school_years,
    student_groups,
    take_snapshot,
    week_end,
    year_before,
    year_end,
)


class ForecastError(ValueError):
    """The forecast cannot be trained or applied on these data, said plainly."""


@dataclass(frozen=True)
class Trained:
    """A trained forecast: per checkpoint week, each method's weights and the one used."""

    parameters: dict  # {week: {"chosen": name, "methods": {name: Fitted.as_dict()}}}
    evaluation: dict  # {"weeks": {week: evaluate_week(...)}, "capacity": ...}
    trained_years: list[str]
    evaluated_year: str


def _examples(engine: Engine, profile: RuleProfile, year: dict, weeks, say) -> dict:
    """{week: (features, labels, as_of)} for one complete year: snapshots at week ends,
    labelled with the year's end (students counted then)."""
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
        table = f.features(take_snapshot(engine, profile, as_of), before)
        table = table[table.index.isin(outcome.index)]
        found[week] = (table, outcome["chronic"].reindex(table.index).astype(bool), as_of)
    return found


def train(
    engine: Engine,
    profile: RuleProfile,
    today: dt.date,
    capacity: float,
    say: Callable[[str], None] = lambda message: None,
) -> Trained:
    """Fit on the training years, evaluate on the latest complete year, per checkpoint."""
    years = school_years(engine)
    complete = [y for y in years if y["end_date"] < today]
    if len(complete) < 3:
        raise ForecastError(
            "the forecast needs three complete school years before the current date: one "
            "to learn from (with the year before it for last year's attendance) and a "
            f"later one to test on; the data hold {len(complete)} "
            f"({', '.join(y['name'] for y in complete) or 'none'})"
        )
    held_out, training = complete[-1], complete[1:-1]
    pooled: dict[int, list] = {week: [] for week in f.CHECKPOINT_WEEKS}
    for year in training:
        for week, (table, labels, _) in _examples(
            engine, profile, year, f.CHECKPOINT_WEEKS, say
        ).items():
            pooled[week].append((table, labels))
    tests = _examples(engine, profile, held_out, f.CHECKPOINT_WEEKS, say)
    parameters, weeks = {}, {}
    for week, parts in pooled.items():
        if not parts or week not in tests:
            continue
        table = pd.concat([t for t, _ in parts])
        labels = pd.concat([lab for _, lab in parts])
        try:
            methods = f.fit_methods(table, labels)
        except ValueError as error:
            raise ForecastError(str(error)) from None
        test_table, test_labels, as_of = tests[week]
        groups = student_groups(engine, as_of)
        groups["grade"] = test_table["grade"].reindex(groups.index)
        result = f.evaluate_week(methods, test_table, test_labels, groups, capacity)
        result |= {"as_of": as_of.isoformat(), "trained_on": len(table)}
        weeks[str(week)] = result
        parameters[str(week)] = {
            "chosen": result["chosen"],
            "methods": {name: method.as_dict() for name, method in methods.items()},
        }
    if not parameters:
        raise ForecastError("no school week of the training years could be used")
    return Trained(
        parameters=parameters,
        evaluation={"weeks": weeks, "capacity": capacity, "evaluated_year": held_out["name"]},
        trained_years=[y["name"] for y in training],
        evaluated_year=held_out["name"],
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
