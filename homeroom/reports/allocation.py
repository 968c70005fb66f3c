"""Needs-based allocation: each school's need score and a suggested share of a staffing
budget. Pure arithmetic over per-school figures (no database), so the rule can be read,
tested and explained on its own; `selectors.allocation` gathers the figures.

The need score is a weighted sum of shares (docs/reports.md, "Needs-based allocation"):

    need(school) = sum over measures m of  WEIGHTS[m] * figure(school, m) / figure(district, m)

where the district's figure is the sum over its schools. Each term is the school's share of
the district's total of that measure, so the scores of all schools add up to 1 (100%) and
read as "this school holds 14% of the district's need". A measure no school has (all zero,
e.g. no barriers recorded yet) drops out and the other weights are scaled up to fill it.

The suggested allocation gives a budget of whole staff by the largest remainder method:
each school's quota is budget x need; each gets the whole part of its quota, and the staff
left over go one each to the largest fractional parts (ties: the larger need, then name).
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The weights, in one place. They add up to 1. Chronic absence (how many, and how severe)
# carries most of the weight because it is what the staff are for; open cases per staff
# member measures how stretched the people already there are; the share of economically
# disadvantaged students and the barriers recorded say how hard the work is.
WEIGHTS: dict[str, float] = {
    "chronic": 0.30,  # chronically absent students
    "severe": 0.20,  # students in the most severe band (Attendance Works: 20%+ absent)
    "tier3": 0.10,  # students in the most intensive MTSS tier
    "cases_per_staff": 0.15,  # open cases per staff member serving the school
    "poverty": 0.15,  # economically disadvantaged students
    "barriers": 0.10,  # barriers recorded in open cases (and, later, survey answers)
}
MEASURE_LABELS = {
    "chronic": "chronically absent students",
    "severe": "students with severe chronic absence",
    "tier3": "students in the most intensive tier",
    "cases_per_staff": "open cases per staff member",
    "poverty": "economically disadvantaged students",
    "barriers": "barriers recorded",
}


@dataclass(frozen=True)
class SchoolNeed:
    """One school's figures, need score, current and suggested staff."""

    school_id: int
    name: str
    figures: dict[str, float]
    shares: dict[str, float]  # the school's share of each measure's district total
    need: float
    quota: float
    suggested: int
    current: int | None  # None: no staff assignments recorded

    def reasons(self, weights: Mapping[str, float]) -> list[str]:
        """The largest contributions to the need score, in words."""
        parts = sorted(
            ((weights[m] * self.shares.get(m, 0.0), m) for m in weights if weights[m]),
            reverse=True,
        )
        return [
            f"{share * 100:.0f}% of the district's {MEASURE_LABELS[m]}"
            for contribution, m in parts[:3]
            if contribution > 0
            for share in [self.shares[m]]
        ]


def effective_weights(totals: Mapping[str, float]) -> dict[str, float]:
    """The weights of the measures some school has, scaled to add up to 1."""
    held = {m: w for m, w in WEIGHTS.items() if totals.get(m, 0) > 0}
    whole = sum(held.values())
    return {m: (held.get(m, 0.0) / whole if whole else 0.0) for m in WEIGHTS}


def largest_remainder(quotas: Sequence[float], budget: int, tie_order: Sequence) -> list[int]:
    """Whole numbers adding up to `budget` (the quotas' sum) by the largest remainder
    method; `tie_order` ranks equal remainders (smaller first wins)."""
    floors = [math.floor(q + 1e-9) for q in quotas]
    left = budget - sum(floors)
    order = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - floors[i]), tie_order[i]))
    for i in order[: max(left, 0)]:
        floors[i] += 1
    return floors


def allocate(
    schools: Sequence[tuple[int, str, dict[str, float], int | None]], budget: int
) -> tuple[list[SchoolNeed], dict[str, float]]:
    """Need scores and the suggested allocation of `budget` staff over `schools`
    (id, name, figures per measure of WEIGHTS, current staff or None); with the weights
    used. Schools come back by need, highest first."""
    if budget < 0:
        raise ValueError("the staffing budget cannot be negative")
    totals = {m: sum(figures.get(m, 0.0) for _, _, figures, _ in schools) for m in WEIGHTS}
    weights = effective_weights(totals)
    shares = [
        {m: (figures.get(m, 0.0) / totals[m] if totals[m] else 0.0) for m in WEIGHTS}
        for _, _, figures, _ in schools
    ]
    needs = [sum(weights[m] * share[m] for m in WEIGHTS) for share in shares]
    quotas = [budget * need for need in needs]
    if not any(needs):  # nothing to go on: no suggestion
        suggested = [0] * len(schools)
    else:
        rank = [(-need, name) for need, (_, name, _, _) in zip(needs, schools, strict=True)]
        suggested = largest_remainder(quotas, budget, rank)
    result = [
        SchoolNeed(
            school_id=pk,
            name=name,
            figures=dict(figures),
            shares=share,
            need=need,
            quota=quota,
            suggested=given,
            current=current,
        )
        for (pk, name, figures, current), share, need, quota, given in zip(
            schools, shares, needs, quotas, suggested, strict=True
        )
    ]
    return sorted(result, key=lambda s: (-s.need, s.name)), weights
