"""The matched estimate against the rule worked out one student at a time, in plain Python.

The estimators compare every served student with their whole cell at once (numpy over
pairs); this reference reads the same rule (docs/impact.md, "Matched comparisons") from
the raw spans, school days and absences with loops, on small random districts: several
schools and grades, students who change school mid-year, half days absent."""

import random

import numpy as np
import pytest

from homeroom.impact.estimators import (
    CALIPER,
    MINIMUM_PRIOR_DAYS,
    NEIGHBOURS,
    NEVER,
    RECENT_CALIPER,
    RECENT_DAYS,
    Attendance,
    Matcher,
)

DAYS, SCHOOLS, STUDENTS, WEEKS, LAST_DAY = 120, 3, 240, 3, 110
THRESHOLDS = [(0.1, False), (0.2, False)]


def random_district(seed: int) -> dict:
    rng = random.Random(seed)
    counted = [[int(rng.random() < 0.7) for _ in range(DAYS)] for _ in range(SCHOOLS)]
    spans = []  # (student, school, grade, first, last)
    for student in range(STUDENTS):
        school, grade = rng.randrange(SCHOOLS), rng.randrange(2)
        if rng.random() < 0.2:  # moves school once
            cut = rng.randrange(20, 100)
            spans.append((student, school, grade, 0, cut))
            spans.append((student, rng.randrange(SCHOOLS), grade, cut + 1, DAYS - 1))
        else:
            spans.append((student, school, grade, rng.randrange(0, 10), DAYS - 1))
    absences = {}  # (student, day) -> share of the day
    for student in range(STUDENTS):
        rate = rng.choice([0.0, 0.03, 0.08, 0.15, 0.3])
        for day in range(DAYS):
            if rng.random() < rate:
                absences[(student, day)] = rng.choice([1.0, 1.0, 0.5])
    return {"counted": counted, "spans": spans, "absences": absences}


def attendance_of(world: dict) -> Attendance:
    counted = np.array(world["counted"], dtype=np.int64)
    through = np.concatenate(
        [np.zeros((SCHOOLS, 1), dtype=np.int64), np.cumsum(counted, axis=1)], axis=1
    )
    spans = np.array(world["spans"], dtype=np.int64)
    keys = sorted(world["absences"])
    return Attendance(
        through=through,
        span_student=spans[:, 0],
        span_school=spans[:, 1],
        span_grade=spans[:, 2],
        span_first=spans[:, 3],
        span_last=spans[:, 4],
        absence_student=np.array([s for s, _ in keys], dtype=np.int64),
        absence_day=np.array([d for _, d in keys], dtype=np.int64),
        absence_days=np.array([world["absences"][k] for k in keys], dtype=float),
        students=STUDENTS,
    )


def reference(world: dict, starts: list[tuple[int, int]], served_from: dict[int, int]):
    """(differences, comparison students, unmatched, pending) by the rule, one at a time."""
    length = 7 * WEEKS
    counted, spans, absences = world["counted"], world["spans"], world["absences"]

    def span_on(student, day):
        for s, school, grade, first, last in spans:
            if s == student and first <= day <= last:
                return school, grade
        return None

    def enrolled(student, start, end):
        start, end = max(start, 0), min(end, DAYS)
        return sum(
            counted[school][day]
            for s, school, _, first, last in spans
            if s == student
            for day in range(max(start, first), min(end, last + 1))
        )

    def absent(student, start, end):
        return sum(absences.get((student, day), 0) for day in range(max(start, 0), min(end, DAYS)))

    def measure(student, day, school):
        prior_enrolled, prior_absent = enrolled(student, 0, day), absent(student, 0, day)
        post_enrolled = enrolled(student, day, day + length)
        window = sum(counted[school][day : min(day + length, DAYS)])
        rate = prior_absent / max(prior_enrolled, 1)
        return {
            "rate": rate,
            "recent": absent(student, day - RECENT_DAYS, day),
            "tier": 1 + sum(rate >= threshold - 1e-12 for threshold, _ in THRESHOLDS),
            "prior_ok": prior_enrolled >= MINIMUM_PRIOR_DAYS,
            "post_ok": post_enrolled * 2 >= window and window > 0,
            "after": absent(student, day, day + length) / max(post_enrolled, 1) * window,
        }

    differences, compared, unmatched, pending = [], set(), 0, 0
    for student, day in starts:
        if day + length > LAST_DAY + 1:
            pending += 1
            continue
        place = span_on(student, day)
        if place is None:
            unmatched += 1
            continue
        me = measure(student, day, place[0])
        if not (me["prior_ok"] and me["post_ok"]):
            unmatched += 1
            continue
        candidates = []
        for other in sorted({s for s in range(STUDENTS) if span_on(s, day) == place}):
            if other == student or served_from.get(other, NEVER) <= day:
                continue
            them = measure(other, day, place[0])
            gap = abs(them["rate"] - me["rate"])
            if (
                them["prior_ok"]
                and them["post_ok"]
                and them["tier"] == me["tier"]
                and abs(them["recent"] - me["recent"]) <= RECENT_CALIPER + 1e-9
                and gap <= CALIPER + 1e-12
            ):
                candidates.append((gap, other, them["after"]))
        nearest = sorted(candidates)[:NEIGHBOURS]
        if not nearest:
            unmatched += 1
            continue
        differences.append(sum(after for *_, after in nearest) / len(nearest) - me["after"])
        compared.update(other for _, other, _ in nearest)
    return differences, compared, unmatched, pending


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matched_estimate_follows_the_rule_student_by_student(seed):
    world = random_district(seed)
    rng = random.Random(100 + seed)
    matcher = Matcher(attendance_of(world), weeks=WEEKS, last_day=LAST_DAY, thresholds=THRESHOLDS)
    served = rng.sample(range(STUDENTS), 80)
    starts = [(student, rng.randrange(0, DAYS - 5)) for student in served]
    served_from = dict(starts)
    # a second grouping shares some cells with the first (the cache is reused)
    others = [(student, day) for student, day in starts[::2]]
    everyone = np.full(STUDENTS, NEVER, dtype=np.int64)
    for student, day in starts:
        everyone[student] = day
    for group in (starts, others):
        estimate, values = matcher.estimate(
            np.array([s for s, _ in group]), np.array([d for _, d in group]), everyone
        )
        differences, compared, unmatched, pending = reference(world, group, served_from)
        assert estimate.treated == len(differences) == len(values)
        assert sorted(values) == pytest.approx(sorted(differences), abs=1e-9)
        assert estimate.comparison == len(compared)
        assert (estimate.unmatched, estimate.pending) == (unmatched, pending)
        if len(differences) >= 10:
            mean = sum(differences) / len(differences)
            assert estimate.effect == pytest.approx(mean, abs=1e-9)
            assert estimate.low < estimate.effect < estimate.high
