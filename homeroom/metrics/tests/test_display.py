"""How figures are written for people, on pages and in the terminal alike."""

import datetime as dt

import pytest

from homeroom.metrics.display import (
    PARTIAL_DAYS_NOTE,
    count,
    date,
    day_places,
    days,
    percent,
    points,
)


@pytest.mark.parametrize(
    ("values", "places"),
    [
        ([2.0, 0, 14], 0),
        ([2.0, 0.5, 14], 1),
        ([None, 3], 0),
        ([], 0),
        ([0.1 + 0.2 + 0.7], 0),  # float noise on a whole day is still a whole day
        ([2102.523], 1),
    ],
)
def test_day_counts_shown_together_take_one_decimal_only_if_one_is_partial(values, places):
    assert day_places(values) == places


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [
        (2.0, 0, "2"),
        (2.0, 1, "2.0"),
        (19817.95, 1, "19,818.0"),
        (3548.1, 1, "3,548.1"),
        (2.25, 1, "2.3"),  # half up, as people round, though 2.25 is a binary tie
        (0.25, 1, "0.3"),
        (18644.57, None, "18,644.6"),  # alone: its own partial day decides
        (12.0, None, "12"),
        (None, 1, "—"),
    ],
)
def test_days(value, places, shown):
    assert days(value, places) == shown


@pytest.mark.parametrize(
    ("share", "shown"),
    [
        (0.9712, "97.1%"),
        (0.13846, "13.8%"),
        (0.9875, "98.8%"),  # half up
        (1.0, "100.0%"),
        (0, "0.0%"),
        (None, "—"),
    ],
)
def test_percent_has_one_decimal(share, shown):
    assert percent(share) == shown


def test_counts_have_thousands_separators_and_the_note_says_one_decimal():
    assert count(12345) == "12,345"
    assert count(None) == "—"
    assert "to one decimal" in PARTIAL_DAYS_NOTE


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        (None, "—"),
        (0.0525, "+5.3 pts"),  # half up, as by hand
        (-0.0449, "\u22124.5 pts"),
        (0.0004, "0.0 pts"),
        (-0.0004, "0.0 pts"),  # rounds to nothing: no sign
        (0.15, "+15.0 pts"),
    ],
)
def test_growth_points_are_signed_with_one_decimal(change, shown):
    assert points(change) == shown


@pytest.mark.parametrize(
    ("value", "written"),
    [(dt.date(2026, 12, 7), "Dec 7, 2026"), (dt.date(2027, 3, 31), "Mar 31, 2027"), (None, "—")],
)
def test_dates_are_written_as_pages_write_them(value, written):
    assert date(value) == written
