"""Period attendance rolled up to days: the reader holds each student-day's period rows
(`PeriodRow`) until the last file, then `roll_up` makes one daily row of them by the
profile's rule (docs/import.md, "Period attendance").
"""

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from homeroom.attendance.models import Category
from homeroom.ingest.adapters.tabular.fields import ABSENT_CATEGORIES
from homeroom.ingest.adapters.tabular.mappings import Profile, Source
from homeroom.ingest.records import AttendanceRecord, Batch, Where


@dataclass
class PeriodRow:
    """One period row waiting for its student-day to be rolled up."""

    code: str
    category: str
    where: Where
    minutes: int | None = None
    reason: str = ""


def roll_up(
    profile: Profile, source: Source, days: dict[tuple, dict[str, PeriodRow]], batch: Batch
) -> None:
    """One daily row per student-day from its period rows, by the profile's rule."""
    rollup = source.periods
    order = list(profile.codes)
    for (student, school, date), periods in days.items():
        rows = list(periods.values())
        taken = [r for r in rows if r.category != Category.NOT_TAKEN]
        first = rows[0].where
        if not taken:
            batch.attendance.append(AttendanceRecord(student, school, date, rows[0].code, first))
            continue
        missed = [r for r in taken if r.category in ABSENT_CATEGORIES]
        total = len(taken)
        if source.mode == "exceptions":
            total = max(rollup.periods_per_day or 1, len(taken))
        if rollup.rule == "all_periods":
            absent = len(missed) >= total
        elif rollup.rule == "half_or_more":
            absent = bool(missed) and 2 * len(missed) >= total
        else:
            absent = bool(missed)
        if not absent:
            if rollup.present_code:
                batch.attendance.append(
                    AttendanceRecord(student, school, date, rollup.present_code, first)
                )
            continue
        counts = Counter(r.code for r in missed)
        code = rollup.absent_code or min(
            counts, key=lambda c: (-counts[c], order.index(c) if c in order else len(order))
        )
        minutes = [r.minutes for r in missed if r.minutes is not None]
        fraction = None
        if rollup.rule == "fraction":
            fraction = (Decimal(len(missed)) / total).quantize(Decimal("0.001"))
        batch.attendance.append(
            AttendanceRecord(
                student,
                school,
                date,
                code,
                first,
                day_fraction=fraction,
                minutes_missed=min(sum(minutes), 1440) if minutes else None,
                reason=next((r.reason for r in missed if r.reason), ""),
            )
        )
