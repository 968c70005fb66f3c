"""The month chart's geometry: bars in proportion, a readable axis, no division by zero."""

import datetime as dt

from homeroom.metrics.charts import line_chart, month_absence_chart, share_bar_chart
from homeroom.metrics.selectors import MonthAttendance


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


def test_line_chart_breaks_a_line_where_a_week_is_missing():
    # given two weeks of last year, a missing one, and this year's first week
    chart = line_chart(
        ["Sep 1", "Sep 8", "Sep 15"],
        [("Last year", [0.95, None, 0.90]), ("This year", [1.0, None, None])],
    )
    # then last year's line lifts the pen over the gap (two moves, no line across)
    before, now = chart.series
    assert before.path.count("M") == 2 and "L" not in before.path
    # and the axis runs from the 5% below the lowest value to 100%, top to bottom
    assert [tick.label for tick in chart.ticks] == ["90%", "95%", "100%"]
    assert now.points[0].y == chart.top  # 100% at the top
    assert before.points[1].y == chart.baseline  # 90% on the baseline
    assert now.points[0].title == "This year, Sep 1: 100.0%"


def test_share_bars_stand_on_a_percentage_axis_from_zero():
    # given the share of days absent on three kinds of day
    chart = share_bar_chart([0.06, 0.03, None], ["Before", "After", "Other"], ["a", "b", "c"])
    # then the axis steps by 2% up to the tallest bar (6%), and a missing share has no bar
    assert [tick.label for tick in chart.ticks] == ["0%", "2%", "4%", "6%"]
    assert [bar.value_label for bar in chart.bars] == ["6.0%", "3.0%", "—"]
    assert chart.bars[0].height == 2 * chart.bars[1].height
    assert chart.bars[2].height == 0
