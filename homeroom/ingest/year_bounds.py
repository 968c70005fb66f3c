"""Findings for calendars and enrollments whose dates disagree with their school year.

The metrics count only the days of a school year, from its first to its last day
(docs/metrics.md): a school day a calendar lists outside its year, or an enrollment lying
wholly outside the year it names, would drop out of every figure without a word. The SIS's
years and its calendars often disagree by a few days (an early start, make-up days after
the last day), so these are findings, not errors: the rest is imported and counted.
"""

from collections import defaultdict

from homeroom.core.models import CalendarDate
from homeroom.ingest.records import Batch

OUTSIDE_SCHOOL_YEAR = "outside_school_year"


def report_outside_school_years(batch: Batch, years: dict) -> None:
    """A finding per calendar listing school days outside its school year, and per
    enrollment wholly outside the year it names. `years`: the district's school years by
    name, those of the batch included."""
    outside = defaultdict(list)
    for r in batch.calendar_dates:
        year = years.get(r.school_year)
        if year is None or r.kind not in CalendarDate.COUNTED_KINDS:
            continue
        if not year.start_date <= r.date <= year.end_date:
            outside[r.school_id, r.school_year, r.calendar_code].append(r)
    for (school_id, name, _), records in outside.items():
        year, days = years[name], sorted(r.date for r in records)
        batch.finding(
            OUTSIDE_SCHOOL_YEAR,
            f"the calendar lists {len(days)} school day(s) outside school year {name}"
            f" ({year.start_date} to {year.end_date}), from {days[0]} to {days[-1]};"
            " they are not counted",
            records[0].where,
            value=school_id,
            hint="Fix the school year's first and last days, or the calendar's dates.",
        )
    for r in batch.enrollments:
        year = years.get(r.school_year)
        if year is None:
            continue
        if r.entry_date > year.end_date or (r.exit_date and r.exit_date < year.start_date):
            batch.finding(
                OUTSIDE_SCHOOL_YEAR,
                f"the enrollment lies outside school year {r.school_year}"
                f" ({year.start_date} to {year.end_date}), the year it names;"
                " none of its days are counted",
                r.where,
                value=f"{r.student_id} {r.entry_date}",
                hint="Fix the enrollment's school year or its dates.",
            )
