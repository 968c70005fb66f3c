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
ROWS_AT_ONCE = 2_000_000  # rows (spans, pairs) held at once while matching: bounds memory


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
class _Cells:
    """Students enrolled at a school in a grade on a day ("cells"), with their before and
    after, for every cell measured so far. Cell `c`'s students are rows `lo[c]:hi[c]`,
    ordered by student; `row_key` (cell * students + student) is sorted, so a student's
    row in a cell is one binary search."""

    keys: np.ndarray  # the cells' keys (`Matcher._key`), sorted
    ids: np.ndarray  # the cell number of each key
    lo: np.ndarray  # by cell number
    hi: np.ndarray
    row_key: np.ndarray
    students: np.ndarray
    prior_rate: np.ndarray
    recent: np.ndarray
    prior_ok: np.ndarray
    tier: np.ndarray
    post_rate: np.ndarray
    post_ok: np.ndarray

    ROWS = (
        "row_key",
        "students",
        "prior_rate",
        "recent",
        "prior_ok",
        "tier",
        "post_rate",
        "post_ok",
    )

    @classmethod
    def empty(cls) -> "_Cells":
        whole, rate, flag = (np.zeros(0, dtype=kind) for kind in (np.int64, float, bool))
        return cls(whole, whole, whole, whole, whole, whole, rate, rate, flag, whole, rate, flag)


class Matcher:
    """Matched comparisons over one year's attendance.

    Everything is computed for many students at once (numpy over arrays), never a Python
    loop per student or per cell: a 50,000-student district has tens of thousands of
    (school, grade, day) cells. Cells measured once are reused by every grouping (the same
    school, grade and day recur across intervention types); `district_impact` measures all
    of its starts' cells first (`prepare`)."""

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
        a = attendance
        self._grade_low = int(a.span_grade.min(initial=0))
        self._grades = int(a.span_grade.max(initial=0)) - self._grade_low + 1
        self._day_span = a.day_count + 1
        places = self._place(a.span_school, a.span_grade)
        # by place, then by student: a cell's students come out in order, without a sort
        self._by_place = np.lexsort((a.span_student, places))
        self._places = places[self._by_place]
        self._cells = _Cells.empty()

    def _place(self, school: np.ndarray, grade: np.ndarray) -> np.ndarray:
        return school.astype(np.int64) * self._grades + (grade - self._grade_low)

    def _key(self, school: np.ndarray, grade: np.ndarray, day: np.ndarray) -> np.ndarray:
        return self._place(school, grade) * self._day_span + day

    def prepare(self, students: np.ndarray, days: np.ndarray) -> None:
        """Measure the cells of these starts (the student's school and grade that day) not
        measured yet, all at once."""
        a = self.attendance
        students, days = np.asarray(students, dtype=np.int64), np.asarray(days, dtype=np.int64)
        inside = (days >= 0) & (days + self.length <= self.last_day + 1)
        students, days = students[inside], days[inside]
        span = a.span_on(students, days)
        held = span >= 0
        span, days = span[held], days[held]
        keys = np.unique(self._key(a.span_school[span], a.span_grade[span], days))
        self._add(keys[~np.isin(keys, self._cells.keys)])

    def _add(self, keys: np.ndarray) -> None:
        """Measure the cells `keys` (sorted, new) and append them."""
        if not len(keys):
            return
        a, held = self.attendance, self._cells
        first_id = len(held.lo)
        day = keys % self._day_span
        place = keys // self._day_span
        school = place // self._grades
        lo = np.searchsorted(self._places, place, "left")
        counts = np.searchsorted(self._places, place, "right") - lo
        members: list[np.ndarray] = []
        # Spans of each cell's school and grade, a bounded number at a time (memory).
        for chunk in _chunks(counts, ROWS_AT_ONCE):
            cell = np.repeat(chunk, counts[chunk])
            rows = self._by_place[_ranges(lo[chunk], counts[chunk])]
            on = (a.span_first[rows] <= day[cell]) & (day[cell] <= a.span_last[rows])
            members.append((cell[on] + first_id) * a.students + a.span_student[rows[on]])
        row_key = np.concatenate(members)
        # sorted already; a student twice in a cell (two spans holding the day) counts once
        row_key = row_key[np.diff(row_key, prepend=-1) != 0]
        cell, students = row_key // a.students, row_key % a.students
        local = cell - first_id
        measured = self._measure(students, day[local], school[local])
        per_cell = np.bincount(local, minlength=len(keys))
        hi = len(held.students) + np.cumsum(per_cell)
        every = np.concatenate([held.keys, keys])
        ids = np.concatenate([held.ids, first_id + np.arange(len(keys))])
        order = np.argsort(every, kind="stable")
        rows = dict(row_key=row_key, students=students, **measured)
        self._cells = _Cells(
            keys=every[order],
            ids=ids[order],
            lo=np.concatenate([held.lo, hi - per_cell]),
            hi=np.concatenate([held.hi, hi]),
            **{name: np.concatenate([getattr(held, name), rows[name]]) for name in _Cells.ROWS},
        )

    def _measure(self, students: np.ndarray, day: np.ndarray, school: np.ndarray) -> dict:
        a = self.attendance
        zero = np.zeros(len(students), dtype=np.int64)
        prior_enrolled = a.enrolled(students, zero, day)
        prior_absent = a.absent(students, zero, day)
        end = day + self.length
        post_enrolled = a.enrolled(students, day, end)
        post_absent = a.absent(students, day, end)
        window = a.school_days(school, day, end)
        return dict(
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

        Each served student is compared with every student of their cell (school, grade,
        day) at once, as (served, enrolled) pairs, a bounded number of pairs at a time:
        the pairs kept are those eligible and within the calipers, then the NEIGHBOURS
        nearest by prior absence rate (ties: the lower student number)."""
        a = self.attendance
        students, days = np.asarray(students, dtype=np.int64), np.asarray(days, dtype=np.int64)
        over = days + self.length <= self.last_day + 1
        pending = int((~over).sum())
        students, days = students[over], days[over]
        span = a.span_on(students, days)
        unmatched = int((span < 0).sum())
        students, days, span = students[span >= 0], days[span >= 0], span[span >= 0]
        school, grade = a.span_school[span], a.span_grade[span]
        # the order of cells (school, grade, day): the differences in a fixed order
        order = np.lexsort((days, grade, school))
        students, days, school, grade = students[order], days[order], school[order], grade[order]
        window = a.school_days(school, days, days + self.length)
        keys = self._key(school, grade, days)
        self._add(np.unique(keys[~np.isin(keys, self._cells.keys)]))
        c = self._cells
        cell = c.ids[np.searchsorted(c.keys, keys)]
        me = np.searchsorted(c.row_key, cell * a.students + students)
        ok = c.prior_ok[me] & c.post_ok[me]
        unmatched += int((~ok).sum())
        students, days, window, cell, me = (x[ok] for x in (students, days, window, cell, me))
        lo, counts = c.lo[cell], c.hi[cell] - c.lo[cell]
        served: list[np.ndarray] = []  # per pair kept: the served student's position
        compared: list[np.ndarray] = []  # and the row of the student compared with them
        for chunk in _chunks(counts, ROWS_AT_ONCE):
            t = np.repeat(chunk, counts[chunk])
            m = _ranges(lo[chunk], counts[chunk])
            mine = me[t]
            gap = np.abs(c.prior_rate[m] - c.prior_rate[mine])
            keep = (
                c.prior_ok[m]
                & c.post_ok[m]
                & (served_from[c.students[m]] > days[t])
                & (c.tier[m] == c.tier[mine])
                & (np.abs(c.recent[m] - c.recent[mine]) <= RECENT_CALIPER + 1e-9)
                & (c.students[m] != students[t])
                & (gap <= CALIPER + 1e-12)
            )
            t, m, gap = t[keep], m[keep], gap[keep]
            nearest = np.lexsort((m, gap, t))
            t, m = t[nearest], m[nearest]
            first = np.flatnonzero(np.concatenate([[True], t[1:] != t[:-1]])) if len(t) else t
            rank = np.arange(len(t)) - np.repeat(first, np.diff(np.append(first, len(t))))
            served.append(t[rank < NEIGHBOURS])
            compared.append(m[rank < NEIGHBOURS])
        t = np.concatenate(served) if served else np.zeros(0, dtype=np.int64)
        m = np.concatenate(compared) if compared else np.zeros(0, dtype=np.int64)
        size = np.bincount(t, minlength=len(students))
        found = size > 0
        unmatched += int((~found).sum())
        outcome = c.post_rate[m] * window[t]
        mean = np.bincount(t, weights=outcome, minlength=len(students)) / np.maximum(size, 1)
        values = (mean - c.post_rate[me] * window)[found]
        squares = np.bincount(t, weights=(outcome - mean[t]) ** 2, minlength=len(students))
        several = size > 1
        spreads = squares[several] / (size[several] - 1)
        # per comparison student: the sum of 1 / the size of each set they are in
        weights = np.bincount(c.students[m], weights=1 / size[t], minlength=a.students)
        n, compared_with = len(values), int((weights > 0).sum())
        if n < MINIMUM_STUDENTS:
            estimate = Estimate(n, compared_with, None, None, None, self.weeks, unmatched, pending)
            return estimate, values
        # The differences' own variance counts each set's comparison students once; a student
        # in several sets counts more than that (the estimate leans on them more), so the
        # excess of the weights' squares is added with the sets' pooled outcome variance.
        reused = float((weights**2).sum() - (1 / size[found]).sum())
        pooled = float(spreads.mean()) if len(spreads) else 0.0
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


def _chunks(counts: np.ndarray, limit: int) -> list[np.ndarray]:
    """Positions of `counts` in consecutive runs whose counts add up to about `limit` at
    most (a single count over it is a run of its own)."""
    if not len(counts):
        return []
    run = np.cumsum(counts) // max(limit, 1)
    cuts = np.flatnonzero(np.diff(run)) + 1
    return np.split(np.arange(len(counts)), cuts)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The integers start, start + 1, ... (count of them) of every pair, one after another."""
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + np.arange(total) - offsets
