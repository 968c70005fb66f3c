"""The impact estimators: pure numpy, no Django (docs/impact.md says what they assume).

A school year's attendance is read once into `Attendance` (enrollment spans, the schools'
counted school days as running totals, the absence days the metric definitions count), so
every count here is two lookups, whatever the length of a window: cost grows with spans
and absence events, never with student-days.

- `matched_estimate`: for students who started something on a day, their days absent in
  the weeks after the start against those of similar students not (yet) served that day:
  same school, grade and tier, nearest absence rate before the start.
- `difference_in_means`: a randomized experiment (the nudge letters' holdout).

Days are numbered from the school year's first day (day 0).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

NEVER = np.iinfo(np.int32).max  # the day a student never served is "served from"
NEIGHBOURS = 5  # comparison students per treated student, at most
CALIPER = 0.02  # the largest gap of prior absence rate a comparison student may have
RECENT_DAYS = 14  # "recently": the two weeks (calendar days) before the start
RECENT_CALIPER = 1.0  # the largest gap of days absent recently a comparison student may have
MINIMUM_PRIOR_DAYS = 10  # school days enrolled before the start, to have a prior rate
MINIMUM_STUDENTS = 10  # fewer treated students than this: no estimate is given


@dataclass(frozen=True)
class Attendance:
    """A school year's attendance as the estimators read it (day numbers from day 0).

    `through[s, t]` is school `s`'s counted school days in days [0, t); spans are inclusive
    of their last day; `absence_*` are the days the metric definitions count as absent (a
    share of a day each) per student and day.
    """

    through: np.ndarray  # (schools, days + 1), int
    span_student: np.ndarray
    span_school: np.ndarray
    span_grade: np.ndarray
    span_first: np.ndarray
    span_last: np.ndarray
    absence_student: np.ndarray
    absence_day: np.ndarray
    absence_days: np.ndarray
    students: int
    _spans_of: np.ndarray = field(init=False, repr=False)
    _keys: np.ndarray = field(init=False, repr=False)
    _sums: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Per student, their spans' rows (padded with -1): a student holds a few at most.
        order = np.argsort(self.span_student, kind="stable")
        counts = np.bincount(self.span_student, minlength=self.students)
        width = max(1, int(counts.max(initial=0)))
        spans_of = np.full((self.students, width), -1, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        position = np.arange(len(order)) - np.repeat(starts, counts)
        spans_of[self.span_student[order], position] = order
        # Absences as one sorted key (student, day) with running sums: a window's total is
        # the difference of two running sums found by binary search.
        keys = self.absence_student.astype(np.int64) * self.day_count + self.absence_day
        by_key = np.argsort(keys, kind="stable")
        sums = np.concatenate([[0.0], np.cumsum(self.absence_days[by_key])])
        object.__setattr__(self, "_spans_of", spans_of)
        object.__setattr__(self, "_keys", keys[by_key])
        object.__setattr__(self, "_sums", sums)

    @property
    def day_count(self) -> int:
        """Days of the year (the last day number is one less)."""
        return self.through.shape[1] - 1

    def enrolled(self, students: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Counted school days each student was enrolled in days [start, end)."""
        start, end = np.clip(start, 0, self.day_count), np.clip(end, 0, self.day_count)
        total = np.zeros(len(students), dtype=np.int64)
        for column in range(self._spans_of.shape[1]):
            span = self._spans_of[students, column]
            held = span >= 0
            span = np.where(held, span, 0)
            low = np.maximum(start, self.span_first[span])
            high = np.minimum(end, self.span_last[span] + 1)
            school = self.span_school[span]
            days = self.through[school, np.maximum(high, low)] - self.through[school, low]
            total += np.where(held, days, 0)
        return total

    def absent(self, students: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Days each student was absent in days [start, end) (inside their spans)."""
        base = students.astype(np.int64) * self.day_count
        high = np.searchsorted(self._keys, base + np.clip(end, 0, self.day_count), "left")
        low = np.searchsorted(self._keys, base + np.clip(start, 0, self.day_count), "left")
        return self._sums[high] - self._sums[low]

    def school_days(self, school: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Counted school days of each school in days [start, end)."""
        start, end = np.clip(start, 0, self.day_count), np.clip(end, 0, self.day_count)
        return self.through[school, end] - self.through[school, start]

    def span_on(self, students: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Each student's span holding `day` (-1: not enrolled that day)."""
        found = np.full(len(students), -1, dtype=np.int64)
        for column in range(self._spans_of.shape[1]):
            span = self._spans_of[students, column]
            safe = np.where(span >= 0, span, 0)
            holds = (span >= 0) & (self.span_first[safe] <= day) & (day <= self.span_last[safe])
            found = np.where((found < 0) & holds, span, found)
        return found


@dataclass(frozen=True)
class Estimate:
    """Days recovered per student over `weeks` weeks, its 95% interval and who is behind it.

    `effect` is None when fewer than MINIMUM_STUDENTS treated students could be compared.
    """

    treated: int
    comparison: int
    effect: float | None
    low: float | None
    high: float | None
    weeks: int
    unmatched: int = 0  # treated students with no similar student to compare with
    pending: int = 0  # treated students whose weeks after the start are not over yet

    @property
    def contains_zero(self) -> bool:
        """Whether the interval cannot tell the effect from none."""
        return self.low is not None and self.low <= 0 <= self.high


def tier_of(
    absent: np.ndarray, enrolled: np.ndarray, thresholds: Sequence[tuple[float, bool]]
) -> np.ndarray:
    """The tier number of each rate: 1 + how many thresholds (lowest first) it meets or
    passes (`strict`: passes)."""
    rate = absent / np.maximum(enrolled, 1)
    tier = np.ones(len(rate), dtype=np.int64)
    for threshold, strict in thresholds:
        met = rate > threshold + 1e-12 if strict else rate >= threshold - 1e-12
        tier += met
    return tier


@dataclass
class _Cell:
    """The students enrolled at a school in a grade on a day, with their before and after."""

    students: np.ndarray
    prior_rate: np.ndarray
    recent: np.ndarray
    prior_ok: np.ndarray
    tier: np.ndarray
    post_rate: np.ndarray
    post_ok: np.ndarray


class Matcher:
    """Matched comparisons over one year's attendance; cells computed once are reused by
    every grouping (the same school, grade and day recur across intervention types)."""

    def __init__(
        self,
        attendance: Attendance,
        *,
        weeks: int,
        last_day: int,
        thresholds: Sequence[tuple[float, bool]],
    ) -> None:
        self.attendance = attendance
        self.weeks = weeks
        self.length = 7 * weeks
        self.last_day = last_day  # the last day with attendance: windows must end by it
        self.thresholds = thresholds
        self._cells: dict[tuple[int, int, int], _Cell] = {}
        a = attendance
        order = np.lexsort((a.span_grade, a.span_school))
        self._by_place = order
        self._places = np.stack([a.span_school[order], a.span_grade[order]], axis=1)

    def _cell(self, school: int, grade: int, day: int) -> _Cell:
        key = (school, grade, day)
        if key in self._cells:
            return self._cells[key]
        a = self.attendance
        lo = np.searchsorted(self._places[:, 0], school, "left")
        hi = np.searchsorted(self._places[:, 0], school, "right")
        rows = self._by_place[lo:hi]
        rows = rows[(a.span_grade[rows] == grade)]
        rows = rows[(a.span_first[rows] <= day) & (day <= a.span_last[rows])]
        students = np.unique(a.span_student[rows])
        cell = self._measure(students, np.full(len(students), day), school)
        self._cells[key] = cell
        return cell

    def _measure(self, students: np.ndarray, day: np.ndarray, school: int | np.ndarray) -> _Cell:
        a = self.attendance
        zero = np.zeros(len(students), dtype=np.int64)
        prior_enrolled = a.enrolled(students, zero, day)
        prior_absent = a.absent(students, zero, day)
        end = day + self.length
        post_enrolled = a.enrolled(students, day, end)
        post_absent = a.absent(students, day, end)
        window = a.school_days(np.broadcast_to(school, len(students)), day, end)
        return _Cell(
            students=students,
            prior_rate=prior_absent / np.maximum(prior_enrolled, 1),
            recent=a.absent(students, day - RECENT_DAYS, day),
            prior_ok=prior_enrolled >= MINIMUM_PRIOR_DAYS,
            tier=tier_of(prior_absent, prior_enrolled, self.thresholds),
            post_rate=post_absent / np.maximum(post_enrolled, 1),
            # at least half the window's school days enrolled, to have a rate after
            post_ok=(post_enrolled * 2 >= window) & (window > 0),
        )

    def estimate(
        self, students: np.ndarray, days: np.ndarray, served_from: np.ndarray
    ) -> tuple[Estimate, np.ndarray]:
        """Days recovered by students who started on `days`, against similar students
        whose `served_from` day is after that day; also each compared student's difference.

        Served students are taken a cell (school, grade, day) at a time, all of a cell's
        at once: the comparisons are a matrix of served x enrolled students."""
        a = self.attendance
        students, days = np.asarray(students, dtype=np.int64), np.asarray(days, dtype=np.int64)
        over = days + self.length <= self.last_day + 1
        pending = int((~over).sum())
        students, days = students[over], days[over]
        span = a.span_on(students, days)
        unmatched = int((span < 0).sum())
        students, days, span = students[span >= 0], days[span >= 0], span[span >= 0]
        school, grade = a.span_school[span], a.span_grade[span]
        window = a.school_days(school, days, days + self.length)
        differences: list[np.ndarray] = []
        weights = np.zeros(a.students)  # per comparison student: the sum of 1 / set size
        spreads: list[np.ndarray] = []  # the variance of each matched set's outcomes (2+)
        sizes: list[np.ndarray] = []
        order = np.lexsort((days, grade, school))
        keys = np.stack([school, grade, days], axis=1)[order]
        cuts = np.flatnonzero(np.any(np.diff(keys, axis=0) != 0, axis=1)) + 1
        for group in np.split(order, cuts) if len(order) else []:
            first = group[0]
            day = int(days[first])
            cell = self._cell(int(school[first]), int(grade[first]), day)
            me = np.searchsorted(cell.students, students[group])
            ok = cell.prior_ok[me] & cell.post_ok[me]
            unmatched += int((~ok).sum())
            group, me = group[ok], me[ok]
            if not len(group):
                continue
            base = cell.prior_ok & cell.post_ok & (served_from[cell.students] > day)
            eligible = (
                base[None, :]
                & (cell.tier[None, :] == cell.tier[me][:, None])
                & (np.abs(cell.recent[None, :] - cell.recent[me][:, None]) <= RECENT_CALIPER + 1e-9)
                & (cell.students[None, :] != students[group][:, None])
            )
            gap = np.abs(cell.prior_rate[None, :] - cell.prior_rate[me][:, None])
            gap = np.where(eligible & (gap <= CALIPER + 1e-12), gap, np.inf)
            nearest = np.argsort(gap, axis=1, kind="stable")[:, :NEIGHBOURS]
            kept = np.isfinite(np.take_along_axis(gap, nearest, axis=1))
            found = kept.any(axis=1)
            unmatched += int((~found).sum())
            group, me, nearest, kept = group[found], me[found], nearest[found], kept[found]
            if not len(group):
                continue
            size = kept.sum(axis=1)
            compared = cell.post_rate[nearest] * window[group][:, None]
            mean = np.where(kept, compared, 0).sum(axis=1) / size
            differences.append(mean - cell.post_rate[me] * window[group])
            several = size > 1
            squares = np.where(kept, (compared - mean[:, None]) ** 2, 0).sum(axis=1)
            spreads.append(squares[several] / (size[several] - 1))
            np.add.at(weights, cell.students[nearest][kept], np.repeat(1 / size, size))
            sizes.append(size)
        values = np.concatenate(differences) if differences else np.array([])
        n, compared_with = len(values), int((weights > 0).sum())
        if n < MINIMUM_STUDENTS:
            estimate = Estimate(n, compared_with, None, None, None, self.weeks, unmatched, pending)
            return estimate, values
        # The differences' own variance counts each set's comparison students once; a student
        # in several sets counts more than that (the estimate leans on them more), so the
        # excess of the weights' squares is added with the sets' pooled outcome variance.
        reused = float((weights**2).sum() - (1 / np.concatenate(sizes)).sum())
        pooled = float(np.concatenate(spreads).mean()) if sum(map(len, spreads)) else 0.0
        variance = float(values.var(ddof=1)) / n + pooled * max(reused, 0.0) / (n * n)
        mean, spread = float(values.mean()), math.sqrt(variance)
        quantile = float(stats.t.ppf(0.975, n - 1))
        estimate = Estimate(
            n,
            compared_with,
            mean,
            mean - quantile * spread,
            mean + quantile * spread,
            self.weeks,
            unmatched,
            pending,
        )
        return estimate, values

    def outcomes(self, students: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Days absent in the weeks from each student's day (the rate after, times the school
        days of the window at their school), and whether the student has one."""
        a = self.attendance
        students, days = np.asarray(students, dtype=np.int64), np.asarray(days, dtype=np.int64)
        span = a.span_on(students, days)
        school = a.span_school[np.where(span >= 0, span, 0)]
        end = days + self.length
        enrolled = a.enrolled(students, days, end)
        absent = a.absent(students, days, end)
        window = a.school_days(school, days, end)
        ok = (span >= 0) & (window > 0) & (enrolled * 2 >= window) & (end <= self.last_day + 1)
        return absent / np.maximum(enrolled, 1) * window, ok


def difference_in_means(treated: np.ndarray, control: np.ndarray, weeks: int) -> Estimate:
    """Days recovered by a randomized treatment: the control group's mean days absent minus
    the treated group's, with Welch's 95% interval."""
    treated, control = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    if len(treated) < MINIMUM_STUDENTS or len(control) < MINIMUM_STUDENTS:
        return Estimate(len(treated), len(control), None, None, None, weeks)
    effect = float(control.mean() - treated.mean())
    vt, vc = treated.var(ddof=1) / len(treated), control.var(ddof=1) / len(control)
    spread = math.sqrt(vt + vc)
    if spread == 0:
        return Estimate(len(treated), len(control), effect, effect, effect, weeks)
    freedom = (vt + vc) ** 2 / (vt**2 / (len(treated) - 1) + vc**2 / (len(control) - 1))
    quantile = float(stats.t.ppf(0.975, freedom))
    return Estimate(
        len(treated),
        len(control),
        effect,
        effect - quantile * spread,
        effect + quantile * spread,
        weeks,
    )
