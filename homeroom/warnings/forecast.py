"""The forecast: the probability that a student ends the school year chronically absent.

Pure computation (pandas, numpy, scikit-learn; no Django): features from a snapshot
(`snapshots.py`, only what was dated on or before the as-of date), a logistic regression
per school week, the baselines it must beat, its evaluation and each student's factors.

Every method, the model and each baseline, is the same estimator (scikit-learn's
`LogisticRegression` on standardized inputs) over different features, so each gives a
calibrated probability and explains itself the same way: a factor's contribution is its
weight times how far the student's value is from the training average.
"""

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from homeroom.metrics import display
from homeroom.warnings.snapshots import Snapshot

ESTIMATOR = "scikit-learn LogisticRegression (standardized inputs, L2, C=1)"
CHECKPOINT_WEEKS = (2, 4, 6, 10, 20)
MODEL_INPUTS = (
    "absence_rate",
    "unexcused_rate",
    "absent_last_30",
    "longest_run",
    "tardy_rate",
    "oss",
    "prior_rate",
    "prior_chronic",
    "new_student",
    "grade",
    "combined_rate",
)
# The baselines: what a district would do without a model, each ranked by one number. The
# sum is an analyst's first idea (absence rate so far plus last year's); the district's
# flags count the flags its own rules raise (`flags.py`).
BASELINES = {
    "chronic_last_year": ("prior_rate",),
    "september": ("september",),
    "projection": ("absence_rate",),
    "rate_sum": ("rate_sum",),
    "district_flags": ("flags",),
}
# A baseline a night's scores can fall back on: the flags need the rules' own inputs, and
# staff see the flags beside the forecast anyway.
FALLBACKS = ("chronic_last_year", "september", "projection", "rate_sum")
MINIMUM_GROUP = 10  # groups smaller than this are not reported (small-cell suppression)
FAIRNESS_GROUP = 100  # the ROC-AUC gap is reported between groups of at least this size
BOOTSTRAP = 200  # resamples for the confidence interval of a margin


def features(
    snapshot: Snapshot, last_year: pd.DataFrame | None, flags: pd.Series | None = None
) -> pd.DataFrame:
    """Per enrolled student: the raw values the methods read and the words explain.

    `flags`: how many of the district's flags hold per student (the flags baseline's
    input; NaN without it)."""
    s = snapshot.students[snapshot.students["days_enrolled"] > 0]
    enrolled = s["days_enrolled"].astype(float)
    days = snapshot.days
    september = days[pd.to_datetime(days["date"]).dt.month == 9]
    table = pd.DataFrame(
        {
            "days_enrolled": s["days_enrolled"],
            "days_absent": s["days_absent"],
            "absence_rate": s["days_absent"] / enrolled,
            "unexcused": s["unexcused"],
            "unexcused_rate": s["unexcused"] / enrolled,
            "absent_last_30": s["absent_last_30"],
            "longest_run": s["longest_absence_run"].clip(upper=10),
            "tardies": s["tardies"],
            "tardy_rate": s["tardies"] / enrolled,
            "oss": s["oss"],
            "grade": s["grade"],
            "projected_chronic": s["projected_chronic"].astype(bool),
            "september": september.groupby("student_id")["absent"].sum(),
            "flags": flags if flags is not None else np.nan,
        },
        index=s.index,
    )
    table["september"] = table["september"].fillna(0.0)
    if flags is not None:
        table["flags"] = table["flags"].fillna(0.0)
    if last_year is not None:
        before = last_year[last_year["days_enrolled"] > 0]
        table["prior_rate"] = before["absence_rate"].reindex(table.index)
        table["prior_chronic"] = before["chronic"].reindex(table.index).fillna(False).astype(bool)
        history = before.reindex(table.index)
        prior_days = history["days_enrolled"].fillna(0) + history["earlier_days"].fillna(0)
        prior_absent = (history["absence_rate"] * history["days_enrolled"]).fillna(0)
        prior_absent += history["earlier_absent"].fillna(0)
    else:
        table["prior_rate"] = np.nan
        table["prior_chronic"] = False
        prior_days, prior_absent = 0, 0.0
    # this year so far and the two before it as one rate, each day counting once: a rate
    # over 40 days so far says less than last year's over 180, which the rates side by side
    # cannot weigh, and the year before last tells a habit from one bad year (on the
    # generated districts it adds 0.001-0.007 ROC-AUC, enough to beat the sum of this
    # year's and last year's rates at week 10; docs/forecast.md)
    table["combined_rate"] = (table["days_absent"] + prior_absent) / (enrolled + prior_days)
    table["new_student"] = table["prior_rate"].isna()
    # a new student's "last year" is this year so far, as an analyst would fill it
    table["rate_sum"] = table["absence_rate"] + table["prior_rate"].fillna(table["absence_rate"])
    return table


def _inputs(table: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    """The estimator's inputs: rates and counts square-rooted (they are skewed), flags 0/1;
    no prior year counts as a rate of 0 with `new_student` set."""
    columns = []
    for name in names:
        values = table[name].astype(float).fillna(0.0).to_numpy()
        if name in (
            "absence_rate",
            "unexcused_rate",
            "tardy_rate",
            "prior_rate",
            "absent_last_30",
            "oss",
            "september",
            "rate_sum",
            "combined_rate",
        ):
            values = np.sqrt(np.clip(values, 0, None))
        columns.append(values)
    return np.column_stack(columns)


@dataclass(frozen=True)
class Fitted:
    """One method at one week: its inputs, their training mean and scale, and weights."""

    inputs: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def as_dict(self) -> dict:
        return {
            "inputs": list(self.inputs),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Fitted":
        return cls(
            tuple(data["inputs"]),
            tuple(data["mean"]),
            tuple(data["scale"]),
            tuple(data["coef"]),
            float(data["intercept"]),
        )

    def contributions(self, table: pd.DataFrame) -> np.ndarray:
        """Per student and input: weight x standardized value (log-odds it adds)."""
        z = (_inputs(table, self.inputs) - np.array(self.mean)) / np.array(self.scale)
        return z * np.array(self.coef)

    def probability(self, table: pd.DataFrame) -> np.ndarray:
        logit = self.contributions(table).sum(axis=1) + self.intercept
        return 1 / (1 + np.exp(-logit))


def fit(table: pd.DataFrame, labels: pd.Series, inputs: tuple[str, ...]) -> Fitted:
    """Fit one method on training rows (features and the year-end chronic labels)."""
    x = _inputs(table, inputs)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    y = labels.astype(int).to_numpy()
    if len(set(y)) < 2:
        raise ValueError("the training years hold no chronically absent student (or only such)")
    estimator = LogisticRegression(C=1.0, max_iter=2000)
    estimator.fit((x - mean) / scale, y)
    return Fitted(
        inputs,
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        tuple(float(v) for v in estimator.coef_[0]),
        float(estimator.intercept_[0]),
    )


def fit_methods(table: pd.DataFrame, labels: pd.Series) -> dict[str, Fitted]:
    """The model and every baseline, fitted on the same rows."""
    methods = {"model": fit(table, labels, MODEL_INPUTS)}
    for name, inputs in BASELINES.items():
        if table[list(inputs)].notna().any().all():  # the flags only with the rules
            methods[name] = fit(table, labels, inputs)
    return methods


def rule_flags(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The baselines as the yes/no rules districts use."""
    return {
        "chronic_last_year": table["prior_chronic"].to_numpy(bool),
        "september": (table["september"] >= 2).to_numpy(bool),
        "projection": table["projected_chronic"].to_numpy(bool),
        "district_flags": (table["flags"].fillna(0) >= 1).to_numpy(bool),
    }


def _top(probability: np.ndarray, capacity: float) -> np.ndarray:
    """Who staff would reach: the top `capacity` share by probability (ties by order)."""
    reach = max(math.ceil(capacity * len(probability)), 1)
    chosen = np.zeros(len(probability), bool)
    chosen[np.argsort(-probability, kind="stable")[:reach]] = True
    return chosen


def scores_of(truth: np.ndarray, probability: np.ndarray, chosen: np.ndarray) -> dict:
    """ROC-AUC, PR-AUC, Brier, and precision/recall of the students chosen."""
    both = len(set(truth.tolist())) == 2
    hits = int((truth & chosen).sum())
    return {
        "students": len(truth),
        "chronic": int(truth.sum()),
        "roc_auc": float(roc_auc_score(truth, probability)) if both else None,
        "pr_auc": float(average_precision_score(truth, probability)) if both else None,
        "brier": float(brier_score_loss(truth, probability)) if len(truth) else None,
        "precision_at_capacity": hits / int(chosen.sum()) if chosen.sum() else None,
        "recall_at_capacity": hits / int(truth.sum()) if truth.sum() else None,
    }


def calibration(truth: np.ndarray, probability: np.ndarray, bins: int = 10) -> list[dict]:
    """Mean predicted against observed, in bins of predicted probability (empty bins left out)."""
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for low, high in itertools.pairwise(edges):
        inside = (probability >= low) & ((probability < high) | (high == 1))
        if inside.sum():
            rows.append(
                {
                    "from": float(low),
                    "to": float(high),
                    "students": int(inside.sum()),
                    "predicted": float(probability[inside].mean()),
                    "observed": float(truth[inside].mean()),
                }
            )
    return rows


def expected_calibration_error(truth: np.ndarray, probability: np.ndarray) -> float | None:
    """The mean gap between predicted and observed over the ten bins, weighted by their
    students."""
    rows = calibration(truth, probability)
    total = sum(row["students"] for row in rows)
    if not total:
        return None
    return sum(row["students"] * abs(row["predicted"] - row["observed"]) for row in rows) / total


def _weighted_auc(truth: np.ndarray, inverse: np.ndarray, weights: np.ndarray) -> float:
    """ROC-AUC with a weight per student (ties count half), from the rank of each
    student's probability among the distinct ones (`inverse`): a bootstrap resample is a
    student's count of draws, so thousands of resamples cost no sorting."""
    size = int(inverse.max()) + 1
    positive = np.bincount(inverse, weights * truth, size)
    negative = np.bincount(inverse, weights * ~truth, size)
    below = np.cumsum(negative) - negative
    return float((positive * (below + negative / 2)).sum() / (positive.sum() * negative.sum()))


def margins(
    truth: np.ndarray, used: np.ndarray, probabilities: dict[str, np.ndarray], seed: int = 0
) -> dict[str, dict]:
    """Per method: how much higher the used method's ROC-AUC is, with a 95% interval from
    BOOTSTRAP paired resamples of the students (the same students for both)."""
    rng = np.random.default_rng(seed)
    draws = [
        np.bincount(rng.integers(0, len(truth), len(truth)), minlength=len(truth)).astype(float)
        for _ in range(BOOTSTRAP)
    ]
    draws = [w for w in draws if 0 < (w * truth).sum() < w.sum()]
    ones = np.ones(len(truth))
    ranked_used = np.unique(used, return_inverse=True)[1]
    used_auc = [_weighted_auc(truth, ranked_used, w) for w in draws]
    found = {}
    for name, probability in probabilities.items():
        ranked = np.unique(probability, return_inverse=True)[1]
        differences = np.array(
            [u - _weighted_auc(truth, ranked, w) for u, w in zip(used_auc, draws, strict=True)]
        )
        found[name] = {
            "roc_auc": _weighted_auc(truth, ranked_used, ones) - _weighted_auc(truth, ranked, ones),
            "low": float(np.percentile(differences, 2.5)),
            "high": float(np.percentile(differences, 97.5)),
        }
    return found


def gap_by_chance(
    truth: np.ndarray, probability: np.ndarray, counts: list[tuple[int, int]], seed: int = 0
) -> dict:
    """The largest ROC-AUC gap that groups of these sizes show by chance alone, were each
    group a random draw of the students (so ranked exactly as well as all of them).

    `counts`: each group's chronic and other students. A group's ROC-AUC then varies around
    the overall figure with DeLong's variance (from each student's placement among the
    other outcome's), which grows as the group shrinks; the gap between the best and the
    worst of BOOTSTRAP draws of every group's figure gives the median and 95th percentile.
    An observed gap inside them is no evidence that the forecast ranks one group worse than
    another. (Drawn independently: the real groups overlap, a student being in several.)"""
    positive, negative = np.sort(probability[truth]), np.sort(probability[~truth])
    # per chronic student, the share of the others ranked below (ties half); and back
    below = np.searchsorted(negative, positive, "left") + np.searchsorted(negative, positive)
    above = 2 * len(positive) - np.searchsorted(positive, negative, "left")
    above = above - np.searchsorted(positive, negative)
    placed_positive, placed_negative = below / (2 * len(negative)), above / (2 * len(positive))
    errors = [math.sqrt(placed_positive.var() / p + placed_negative.var() / n) for p, n in counts]
    draws = np.random.default_rng(seed).normal(
        placed_positive.mean(), errors, (BOOTSTRAP, len(counts))
    )
    gaps = draws.max(axis=1) - draws.min(axis=1)
    return {"median": float(np.median(gaps)), "high": float(np.percentile(gaps, 95))}


def largest_gap(groups: list[dict], truth: np.ndarray, probability: np.ndarray) -> dict | None:
    """The largest difference in ROC-AUC between two groups of FAIRNESS_GROUP or more, and
    the gap such groups would show by chance (`gap_by_chance`)."""
    large = [g for g in groups if g["students"] >= FAIRNESS_GROUP and g["roc_auc"] is not None]
    if len(large) < 2:
        return None
    low = min(large, key=lambda g: g["roc_auc"])
    high = max(large, key=lambda g: g["roc_auc"])
    return {
        "gap": high["roc_auc"] - low["roc_auc"],
        "lowest": {k: low[k] for k in ("group", "value", "students", "roc_auc")},
        "highest": {k: high[k] for k in ("group", "value", "students", "roc_auc")},
        "by_chance": gap_by_chance(
            truth, probability, [(g["chronic"], g["students"] - g["chronic"]) for g in large]
        ),
    }


def evaluate_week(
    probabilities: dict[str, np.ndarray],
    table: pd.DataFrame,
    labels: pd.Series,
    groups: pd.DataFrame,
    capacity: float,
) -> dict:
    """Every method's figures on rows it was not fitted on (`probabilities`: per method,
    per row of `table`), overall and per student group; the method used and its margin
    over each baseline."""
    truth = labels.astype(bool).to_numpy()
    flags = rule_flags(table)
    result = {"methods": {}}
    group_values = list(_group_values(groups.reindex(table.index)))
    for name, probability in probabilities.items():
        chosen = _top(probability, capacity)
        figures = scores_of(truth, probability, chosen)
        figures["calibration"] = calibration(truth, probability)
        figures["ece"] = expected_calibration_error(truth, probability)
        if name in flags:
            flagged = flags[name]
            hits = int((truth & flagged).sum())
            figures["rule"] = {
                "flagged": int(flagged.sum()),
                "precision": hits / int(flagged.sum()) if flagged.sum() else None,
                "recall": hits / int(truth.sum()) if truth.sum() else None,
            }
        figures["groups"] = [
            {"group": group, "value": value, **scores_of(truth[m], probability[m], chosen[m])}
            for group, value, m in group_values
        ]
        figures["largest_gap"] = (
            largest_gap(figures["groups"], truth, probability) if figures["roc_auc"] else None
        )
        result["methods"][name] = figures
    baselines = [name for name in BASELINES if name in probabilities]
    best = max(baselines, key=lambda n: result["methods"][n]["roc_auc"] or 0)
    fallback = max(
        (n for n in baselines if n in FALLBACKS), key=lambda n: result["methods"][n]["roc_auc"] or 0
    )
    model_auc = result["methods"]["model"]["roc_auc"] or 0
    result["best_baseline"] = best
    result["chosen"] = (
        "model" if model_auc > (result["methods"][fallback]["roc_auc"] or 0) else fallback
    )
    if 0 < truth.sum() < len(truth):
        used = probabilities[result["chosen"]]
        result["margins"] = margins(
            truth, used, {n: probabilities[n] for n in baselines if n != result["chosen"]}
        )
    return result


def _group_values(groups: pd.DataFrame):
    """(group, value, mask) for every group of at least MINIMUM_GROUP students."""
    for column in groups.columns:
        values = groups[column]
        if values.dtype == bool:
            masks = [("yes", values.to_numpy(bool))]
        else:
            kinds = sorted(values.dropna().unique())
            masks = [(str(v), (values == v).to_numpy(bool)) for v in kinds]
        for value, mask in masks:
            if mask.sum() >= MINIMUM_GROUP:
                yield column, value, mask


FACTOR_WORDS = {
    "absence_rate": lambda r: (
        f"Absent {display.percent(r['absence_rate'])} of school days so far "
        f"({display.days(r['days_absent'])} of {r['days_enrolled']})"
    ),
    "unexcused_rate": lambda r: f"{display.days(r['unexcused'])} unexcused absences so far",
    "absent_last_30": lambda r: (
        f"{display.days(r['absent_last_30'])} days absent in the last 30 days"
    ),
    "longest_run": lambda r: f"Missed {display.days(r['longest_run'])} school days in a row",
    "tardy_rate": lambda r: f"{r['tardies']} tardies so far",
    "oss": lambda r: f"{display.days(r['oss'])} days of out-of-school suspension",
    "prior_rate": lambda r: f"Absent {display.percent(r['prior_rate'])} of school days last year",
    "prior_chronic": lambda r: "Chronically absent last year",
    "new_student": lambda r: "New to the district this year: no attendance history here",
    "grade": lambda r: f"In grade {r['grade']}: absences rise through the upper grades",
    "september": lambda r: f"{display.days(r['september'])} absences in September",
    "rate_sum": lambda r: "Absent often so far this year and last year",
    "combined_rate": lambda r: (
        f"Absent {display.percent(r['combined_rate'])} of school days this year and the two before"
    ),
    "flags": lambda r: f"{int(r['flags'])} early-warning flags",
}


def explain(method: Fitted, table: pd.DataFrame, top: int = 3) -> list[list[str]]:
    """Per student: the factors that raise their probability most, in words, largest first."""
    contributions = method.contributions(table)
    rows = table.to_dict("records")
    explained = []
    for row, weights in zip(rows, contributions, strict=True):
        order = [i for i in np.argsort(-weights) if weights[i] > 0.05][:top]
        explained.append([FACTOR_WORDS[method.inputs[i]](row) for i in order])
    return explained


def checkpoint_for(week: int) -> int:
    """The checkpoint whose model serves a school week: the latest at or before it."""
    earlier = [w for w in CHECKPOINT_WEEKS if w <= week]
    return earlier[-1] if earlier else CHECKPOINT_WEEKS[0]
