"""Who is eligible for which step of a pack: the whole district at once, from its absences.

`next_steps` takes the counted absences of the school year (read once, set-wise, by
`selectors.counted_absences`), each student's steps so far and the characteristics that
block a step, and returns the step each student has newly reached. Work grows with the
absences and the steps recorded, never with students x school days. No Django imports: the
boundary tests of every pack run it on plain data, and the nightly step on the database's.

The rules, one place each:
- a step is reached only after the previous one was sent (a meeting: held); a declined or
  pending step stops the student's escalation where it is;
- `absences` counts days in the step's window: the school year so far, or any run of N
  weeks (28 days for 4 weeks: the 1st and the 28th are within, the 1st and the 29th not)
  or N months (the same day N months later is outside);
- `more_since_previous` counts days after the previous step was sent;
- `unexcused_rate` compares the year's counted days with the days enrolled;
- a day counts once however many events it has.
"""

import calendar
import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from homeroom.truancy.packs import Pack, Step, Window

DONE = "sent"  # the status of a step that lets the next one be reached


class Absence(NamedTuple):
    """One counted attendance event, with where it came from (the evidence of a step). A
    named tuple: the nightly run makes one per unexcused event of the district's year."""

    student_id: int
    event_id: int
    date: dt.date
    code: str
    category: str
    minutes_missed: int | None
    school_id: int
    run_id: int | None = None  # the import that recorded it, its file and line
    file: str = ""
    line: int | None = None


class Recorded(NamedTuple):
    """A step already recorded for a student: its status and when it was sent or held (a
    named tuple: the nightly run reads one per step of the district's year)."""

    status: str
    done_on: dt.date | None


@dataclass(frozen=True)
class Finding:
    """A student newly eligible for a step: since when, on which absences, and what blocks it."""

    student_id: int
    step: Step
    eligible_on: dt.date
    absences: tuple[Absence, ...]
    blocked_by: tuple[str, ...]


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` earlier (the month's last day where it has fewer days)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# Cached: a night asks it for every counted day of tens of thousands of students, and
# their days are the same hundred or so school days.
@functools.lru_cache(maxsize=4096)
def window_start(window: Window, end: dt.date) -> dt.date:
    """The first day of the rolling window that ends on `end`."""
    if window.weeks:
        return end - dt.timedelta(weeks=window.weeks) + dt.timedelta(days=1)
    return months_before(end, window.months) + dt.timedelta(days=1)


def one_a_day(absences: Iterable[Absence]) -> list[Absence]:
    """A student's counted days, in date order: the first event of each date (full days
    were sorted before part days by the reader)."""
    days: dict[dt.date, Absence] = {}
    for absence in absences:
        days.setdefault(absence.date, absence)
    return [days[day] for day in sorted(days)]


def _reached(
    step: Step,
    days: list[Absence],
    previous_done: dt.date | None,
    days_enrolled: int | None,
    as_of: dt.date,
) -> tuple[dt.date, tuple[Absence, ...]] | None:
    """When the student reached `step` and on which days, or None if not yet."""
    reached_on = previous_done or dt.date.min
    evidence = days
    if step.absences and step.window.rolling:
        found = None
        for last in range(step.absences - 1, len(days)):
            end = days[last].date
            if days[last - step.absences + 1].date >= window_start(step.window, end):
                found = end
                break
        if found is None:
            return None
        start = window_start(step.window, found)
        evidence = [day for day in days if start <= day.date <= found]
        reached_on = max(reached_on, found)
    elif step.absences:
        if len(days) < step.absences:
            return None
        reached_on = max(reached_on, days[step.absences - 1].date)
    if step.more_since_previous:
        later = [day for day in days if previous_done is not None and day.date > previous_done]
        if len(later) < step.more_since_previous:
            return None
        reached_on = max(reached_on, later[step.more_since_previous - 1].date)
    if step.unexcused_rate is not None:
        if not days_enrolled or Fraction(len(days), days_enrolled) < step.unexcused_rate:
            return None
        reached_on = max(reached_on, as_of)
    if reached_on == dt.date.min:  # a step with no condition of its own: the first day
        reached_on = days[0].date if days else as_of
    return reached_on, tuple(evidence)


def blocking(step: Step, held: set[str]) -> tuple[str, ...]:
    """The characteristics a student holds that bar them from `step` (in the pack's order)."""
    return tuple(kind for kind in step.blocked_by if kind in held)


def next_step(
    pack: Pack,
    days: list[Absence],
    recorded: Mapping[str, Recorded],
    *,
    as_of: dt.date,
    days_enrolled: int | None = None,
) -> tuple[Step, dt.date, tuple[Absence, ...]] | None:
    """The step one student has newly reached (after every earlier step was sent), or None."""
    previous_done = None
    for step in pack.steps:
        earlier = recorded.get(step.key)
        if earlier is not None:
            if earlier.status != DONE:
                return None  # waiting for approval, declined, blocked or under review
            previous_done = earlier.done_on
            continue
        reached = _reached(step, days, previous_done, days_enrolled, as_of)
        return None if reached is None else (step, *reached)
    return None  # every step taken


def next_steps(
    pack: Pack,
    absences: Iterable[Absence],
    recorded: Mapping[int, Mapping[str, Recorded]],
    *,
    as_of: dt.date,
    days_enrolled: Mapping[int, int] | None = None,
    characteristics: Mapping[int, set[str]] | None = None,
) -> list[Finding]:
    """Every student's newly reached step, from the year's counted absences up to `as_of`."""
    by_student: dict[int, list[Absence]] = {}
    for absence in absences:
        if absence.date <= as_of:
            by_student.setdefault(absence.student_id, []).append(absence)
    findings = []
    for student_id in sorted(by_student.keys() | recorded.keys()):
        days = one_a_day(by_student.get(student_id, ()))
        if not days:
            continue
        found = next_step(
            pack,
            days,
            recorded.get(student_id, {}),
            as_of=as_of,
            days_enrolled=(days_enrolled or {}).get(student_id),
        )
        if found is None:
            continue
        step, eligible_on, evidence = found
        held = (characteristics or {}).get(student_id, set())
        findings.append(Finding(student_id, step, eligible_on, evidence, blocking(step, held)))
    return findings
