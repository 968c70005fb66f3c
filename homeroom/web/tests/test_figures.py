"""How figures read on the page."""

import pytest

from homeroom.metrics.rules import Condition
from homeroom.web.templatetags.figures import (
    band_label,
    chronic_label,
    chronic_rule,
    days,
    percent,
)


@pytest.mark.parametrize(
    ("value", "places", "shown"),
    [(2.0, 0, "2"), (2.0, 1, "2.0"), (2.5, 1, "2.5"), (1 / 3, 1, "0.3"), (None, 1, "—")],
)
def test_days_to_the_pages_places(value, places, shown):
    assert days(value, places) == shown


def test_days_without_the_pages_places_go_by_the_value():
    # a template without `day_places` in its context passes the empty string
    assert days(18644.57, "") == "18,644.6"
    assert days(3.0, "") == "3"


def test_percent_band_and_chronic():
    assert percent(0.9712) == "97.1%"
    assert percent(None) == "—"
    assert band_label("at_risk") == "At risk"
    assert band_label("") == "—"
    assert band_label("early_warning") == "Early warning"  # a band of another profile
    assert chronic_label(None) == "Not yet counted"
    assert chronic_label(True) == "Yes"


@pytest.mark.parametrize(
    ("condition", "words"),
    [
        ("absence_rate >= 0.10", "absent 10.0% or more of days enrolled"),
        ("attendance_rate < 0.90", "absent more than 10.0% of days enrolled"),
        ("absence_rate >= 0.125", "absent 12.5% or more of days enrolled"),
    ],
)
def test_chronic_rule_in_words(condition, words):
    assert chronic_rule(Condition.parse(condition, "test")) == words
