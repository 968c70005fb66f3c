"""Cells that a spreadsheet would run as formulas are written as text."""

import pytest

from homeroom.core.spreadsheets import safe_cell, safe_row


@pytest.mark.parametrize("text", ["=1+2", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_starts_a_formula_gets_an_apostrophe(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["S-1001", "Ana", "", "a=b", 3, -2.5, None])
def test_other_values_are_written_as_they_are(value):
    assert safe_cell(value) == value


def test_a_row_is_escaped_cell_by_cell():
    assert safe_row(["=cmd", 7, "ok"]) == ["'=cmd", 7, "ok"]
