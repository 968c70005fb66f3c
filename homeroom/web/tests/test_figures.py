"""How figures read on the page."""

import pytest

from homeroom.web.templatetags.figures import band_label, chronic_label, days, percent


@pytest.mark.parametrize(
    ("value", "shown"),
    [(2.0, "2"), (0, "0"), (2.5, "2.5"), (1 / 3, "0.33"), (18644.57, "18,644.57"), (None, "—")],
)
def test_days(value, shown):
    assert days(value) == shown


def test_percent_band_and_chronic():
    assert percent(0.9712) == "97.1%"
    assert percent(None) == "—"
    assert band_label("at_risk") == "At risk"
    assert band_label("") == "—"
    assert chronic_label(None) == "Not yet counted"
    assert chronic_label(True) == "Yes"
