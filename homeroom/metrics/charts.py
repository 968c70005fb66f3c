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


def _bar_chart(
    values: Sequence[float],
    labels: Sequence[str],
    titles: Sequence[str],
    value_labels: Sequence[str],
    *,
    top: float,
    ticks: Sequence[tuple[str, float]],
) -> BarChart:
    """Bars of `values` on an axis from 0 to `top`, with grid lines at `ticks` (label, value)."""
    baseline = HEIGHT - BOTTOM
    plot_height = baseline - TOP
    slot = (WIDTH - LEFT - RIGHT) / max(len(values), 1)
    bar_width = min(slot * 0.6, 48)
    bars = []
    for position, value in enumerate(values):
        height = plot_height * value / top if top else 0
        bars.append(
            ChartBar(
                label=labels[position],
                title=titles[position],
                value_label=value_labels[position],
                x=round(LEFT + slot * position + (slot - bar_width) / 2, 1),
                y=round(baseline - height, 1),
                width=round(bar_width, 1),
                height=round(height, 1),
            )
        )
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        baseline=baseline,
        bars=bars,
        ticks=[
            ChartTick(label=label, y=round(baseline - plot_height * value / top, 1))
            for label, value in ticks
        ],
    )


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
    days = [display.days(month.days_absent, places) for month in months]
    return _bar_chart(
        [month.days_absent for month in months],
        [month.month.strftime("%b") for month in months],
        [
            f"{month.month:%B %Y}: {shown} days absent "
            f"of {display.count(month.days_enrolled)} days enrolled"
            for month, shown in zip(months, days, strict=True)
        ],
        days,
        top=top,
        ticks=[(str(value), value) for value in range(0, top + 1, step)],
    )


def _share_axis(largest: float) -> tuple[float, list[tuple[str, float]]]:
    """An axis of whole percentages from 0 holding `largest` (a share), 1-2-5 steps."""
    step = _axis_step(max(largest * 100, 1)) / 100
    top = max(step, math.ceil(round(largest / step, 9)) * step)
    count = round(top / step)
    return top, [(f"{round(step * n * 100)}%", step * n) for n in range(count + 1)]


def share_bar_chart(
    shares: Sequence[float | None], labels: Sequence[str], titles: Sequence[str]
) -> BarChart:
    """Bars of shares (0 to 1; None: no bar), e.g. the share of days absent per weekday,
    on a percentage axis from 0 so that the bars compare honestly."""
    values = [share or 0.0 for share in shares]
    top, ticks = _share_axis(max(values, default=0))
    return _bar_chart(
        values,
        labels,
        titles,
        [display.percent(share) for share in shares],
        top=top,
        ticks=ticks,
    )


@dataclass(frozen=True)
class LinePoint:
    """A point of a line: where it is drawn and what it says."""

    x: float
    y: float
    title: str


@dataclass(frozen=True)
class LineSeries:
    """One line: its name, its SVG path (a break where a value is missing) and points."""

    name: str
    path: str
    points: list[LinePoint]


@dataclass(frozen=True)
class XLabel:
    """A label under the horizontal axis."""

    label: str
    x: float


@dataclass(frozen=True)
class LineChart:
    """A line chart's frame, lines (the first drawn behind) and axes."""

    width: int
    height: int
    left: float
    right: float
    top: float
    baseline: float
    series: list[LineSeries]
    ticks: list[ChartTick]
    x_labels: list[XLabel]


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    titles: Sequence[str] | None = None,
    label_every: int = 1,
    top: float = 1.0,
) -> LineChart:
    """Lines of shares (0 to 1) over the same points of `labels`, e.g. this year's weekly
    attendance rate and last year's. The value axis runs from a whole 5% below the
    smallest value to `top` (100%, where attendance rates live; lower for rates that stay
    low, e.g. chronic absence); missing values break a line."""
    values = [value for _, line in series for value in line if value is not None]
    low = math.floor(min(values, default=0.9) * 20) / 20  # to the 5% below
    low = min(low, top - 0.05)
    baseline = HEIGHT - BOTTOM
    plot_height = baseline - TOP
    span = max(len(labels) - 1, 1)
    left = LEFT + 12  # room for "100%", drawn larger on a phone

    def x_of(position: int) -> float:
        return round(left + (WIDTH - left - RIGHT) * position / span, 1)

    def y_of(value: float) -> float:
        return round(baseline - plot_height * (value - low) / (top - low), 1)

    lines = []
    for name, line in series:
        points, path, pen_down = [], [], False
        for position, value in enumerate(line):
            if value is None:
                pen_down = False
                continue
            x, y = x_of(position), y_of(value)
            path.append(f"{'L' if pen_down else 'M'}{x} {y}")
            pen_down = True
            title = titles[position] if titles else labels[position]
            points.append(LinePoint(x=x, y=y, title=f"{name}, {title}: {display.percent(value)}"))
        lines.append(LineSeries(name=name, path=" ".join(path), points=points))
    steps = round((top - low) / 0.05)
    every = 2 if steps > 6 else 1
    ticks = [
        ChartTick(label=f"{round((low + 0.05 * n) * 100)}%", y=y_of(low + 0.05 * n))
        for n in range(0, steps + 1, every)
    ]
    return LineChart(
        width=WIDTH,
        height=HEIGHT,
        left=left,
        right=WIDTH - RIGHT,
        top=TOP,
        baseline=baseline,
        series=lines,
        ticks=ticks,
        x_labels=[
            XLabel(label=label, x=x_of(position))
            for position, label in enumerate(labels)
            if position % label_every == 0
        ],
    )


@dataclass(frozen=True)
class ScatterPoint:
    """A labelled point: where it is drawn and what it says."""

    label: str
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class ScatterChart:
    """A scatter chart's frame, points, axes and the line of no change."""

    width: int
    height: int
    left: float
    right: float
    top: float
    baseline: float
    zero: float
    points: list[ScatterPoint]
    x_ticks: list[XLabel]
    ticks: list[ChartTick]


def scatter_chart(points: Sequence[tuple[str, float, float]]) -> ScatterChart:
    """Points of (label, share, change in points), e.g. schools by chronic absence rate
    (across) and its change since last year (up: worse), on a share axis from 0 and a
    change axis even about 0."""
    height = HEIGHT + 60
    baseline = height - BOTTOM
    plot_height = baseline - TOP
    left = LEFT + 12
    x_top, x_ticks = _share_axis(max((x for _, x, _ in points), default=0.1))
    reach = max((abs(y) for _, _, y in points), default=0.01)
    y_step = _axis_step(max(reach * 100, 1)) / 100
    y_top = max(y_step, math.ceil(round(reach / y_step, 9)) * y_step)

    def x_of(value: float) -> float:
        return round(left + (WIDTH - left - RIGHT) * value / x_top, 1)

    def y_of(value: float) -> float:
        return round(baseline - plot_height * (value + y_top) / (2 * y_top), 1)

    count = round(y_top / y_step)
    return ScatterChart(
        width=WIDTH,
        height=height,
        left=left,
        right=WIDTH - RIGHT,
        top=TOP,
        baseline=baseline,
        zero=y_of(0),
        points=[
            ScatterPoint(
                label=label,
                x=x_of(x),
                y=y_of(y),
                title=f"{label}: {display.percent(x)} chronically absent, "
                f"{display.points(y)} since last year",
            )
            for label, x, y in points
        ],
        x_ticks=[XLabel(label=label, x=x_of(value)) for label, value in x_ticks],
        ticks=[
            ChartTick(label=display.points(y_step * n), y=y_of(y_step * n))
            for n in range(-count, count + 1)
        ],
    )


@dataclass(frozen=True)
class IntervalMark:
    """One estimate drawn as a dot with its interval as a line, on a row of its own."""

    label: str
    title: str
    y: float
    x: float
    low: float
    high: float


@dataclass(frozen=True)
class IntervalChart:
    """Estimates with their intervals, one row each, around a line at zero."""

    width: int
    height: int
    left: float
    right: float
    top: float
    baseline: float
    zero: float
    marks: list[IntervalMark]
    ticks: list[XLabel]  # the value axis's vertical grid lines


INTERVAL_LEFT = 220  # room for the rows' labels
INTERVAL_ROW = 26


def interval_chart(
    estimates: Sequence[tuple[str, float, float, float]], *, unit: str = "days"
) -> IntervalChart:
    """Rows of (label, estimate, low, high) on one axis that holds zero and every interval,
    so that "no effect" is a line to compare each interval with."""
    smallest = min([0.0, *(low for _, _, low, _ in estimates)])
    largest = max([0.0, *(high for _, _, _, high in estimates)])
    step = _axis_step(max(largest - smallest, 1e-9))
    bottom = math.floor(round(smallest / step, 9)) * step
    top = max(math.ceil(round(largest / step, 9)) * step, bottom + step)
    right = WIDTH - RIGHT
    height = TOP + INTERVAL_ROW * max(len(estimates), 1) + BOTTOM

    def x_of(value: float) -> float:
        return round(INTERVAL_LEFT + (right - INTERVAL_LEFT) * (value - bottom) / (top - bottom), 1)

    marks = [
        IntervalMark(
            label=label,
            title=f"{label}: {value:.1f} {unit} (interval {low:.1f} to {high:.1f})",
            y=TOP + INTERVAL_ROW * position + INTERVAL_ROW / 2,
            x=x_of(value),
            low=x_of(low),
            high=x_of(high),
        )
        for position, (label, value, low, high) in enumerate(estimates)
    ]
    count = round((top - bottom) / step)
    ticks = [
        XLabel(
            label=f"{bottom + step * n:g}".replace("-", "\N{MINUS SIGN}"), x=x_of(bottom + step * n)
        )
        for n in range(count + 1)
    ]
    return IntervalChart(
        width=WIDTH,
        height=height,
        left=INTERVAL_LEFT,
        right=right,
        top=TOP,
        baseline=height - BOTTOM,
        zero=x_of(0.0),
        marks=marks,
        ticks=ticks,
    )
