"""Charts drawn on the server as SVG geometry, so pages, PDFs and screen readers agree.

A chart here is only positions and labels; the template draws it, and every chart sits
beside a table holding the same numbers as its text alternative.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from homeroom.metrics import display
from homeroom.metrics.selectors import MonthAttendance

WIDTH = 640
HEIGHT = 220
LEFT = 40
RIGHT = 12
TOP = 16
BOTTOM = 28


@dataclass(frozen=True)
class ChartBar:
    """One bar: its value, where it is drawn, and what it says."""

    label: str
    title: str
    value_label: str
    x: float
    y: float
    width: float
    height: float

    @property
    def center(self) -> float:
        """Horizontal middle of the bar, where its labels go."""
        return self.x + self.width / 2


@dataclass(frozen=True)
class ChartTick:
    """A horizontal grid line of the value axis."""

    label: str
    y: float


@dataclass(frozen=True)
class BarChart:
    """A vertical bar chart's frame, bars and value axis."""

    width: int
    height: int
    left: float
    right: float
    baseline: float
    bars: list[ChartBar]
    ticks: list[ChartTick]


def _axis_step(largest: float) -> int:
    """A 1-2-5 step giving at most five grid lines above zero."""
    for magnitude in (10**power for power in range(7)):
        for factor in (1, 2, 5):
            if largest / (factor * magnitude) <= 5:
                return factor * magnitude
    return 10**7


def month_absence_chart(
    months: Sequence[MonthAttendance], *, places: int | None = None
) -> BarChart:
    """Bars of days absent per month, on a whole-day axis; labels to the page's `places`
    (by default, the months' own: one decimal if any holds a partial day)."""
    if places is None:
        places = display.day_places(month.days_absent for month in months)
    largest = max((month.days_absent for month in months), default=0)
    step = _axis_step(largest)
    top = max(step, math.ceil(largest / step) * step)
    baseline = HEIGHT - BOTTOM
    plot_height = baseline - TOP
    slot = (WIDTH - LEFT - RIGHT) / max(len(months), 1)
    bar_width = min(slot * 0.6, 48)
    bars = []
    for position, month in enumerate(months):
        height = plot_height * month.days_absent / top
        days = display.days(month.days_absent, places)
        bars.append(
            ChartBar(
                label=month.month.strftime("%b"),
                title=(
                    f"{month.month:%B %Y}: {days} days absent "
                    f"of {display.count(month.days_enrolled)} days enrolled"
                ),
                value_label=days,
                x=round(LEFT + slot * position + (slot - bar_width) / 2, 1),
                y=round(baseline - height, 1),
                width=round(bar_width, 1),
                height=round(height, 1),
            )
        )
    ticks = [
        ChartTick(label=str(value), y=round(baseline - plot_height * value / top, 1))
        for value in range(0, top + 1, step)
    ]
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        baseline=baseline,
        bars=bars,
        ticks=ticks,
    )
