"""The month chart's geometry: bars in proportion, a readable axis, no division by zero."""

import datetime as dt

from homeroom.metrics.selectors import MonthAttendance
from homeroom.web.charts import month_absence_chart


def months(*absences: float) -> list[MonthAttendance]:
    """Consecutive months from September with these days absent."""
    return [
        MonthAttendance(
            month=dt.date(2026 + (8 + i) // 12, (8 + i) % 12 + 1, 1),
            days_enrolled=20,
            days_absent=days,
        )
        for i, days in enumerate(absences)
    ]


def test_bars_are_in_proportion_to_days_absent():
    chart = month_absence_chart(months(2, 4, 0))
    two, four, zero = chart.bars
    assert four.height == 2 * two.height
    assert zero.height == 0
    assert two.y + two.height == four.y + four.height == chart.baseline
    assert [bar.label for bar in chart.bars] == ["Sep", "Oct", "Nov"]
    assert two.title == "September 2026: 2 days absent of 20 days enrolled"


def test_axis_steps_are_whole_days_and_cover_the_tallest_bar():
    chart = month_absence_chart(months(0.5, 14.5))
    labels = [int(tick.label) for tick in chart.ticks]
    assert labels[0] == 0
    assert labels[-1] >= 14.5
    assert len(labels) <= 6
    assert chart.bars[1].value_label == "14.5"


def test_a_year_without_absences_or_months_draws_an_empty_axis():
    assert month_absence_chart(months(0, 0)).ticks[-1].label == "1"
    assert month_absence_chart([]).bars == []
