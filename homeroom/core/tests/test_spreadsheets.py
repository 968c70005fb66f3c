"""Cells that a spreadsheet would run as formulas are written as text."""

import re
from pathlib import Path

import numpy as np
import pytest

from homeroom.core.spreadsheets import safe_cell, safe_row
from homeroom.demo.export import format_column


@pytest.mark.parametrize("text", ["=1+2", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_starts_a_formula_gets_an_apostrophe(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["S-1001", "Ana", "", "a=b", 3, -2.5, None])
def test_other_values_are_written_as_they_are(value):
    assert safe_cell(value) == value


def test_a_row_is_escaped_cell_by_cell():
    assert safe_row(["=cmd", 7, "ok"]) == ["'=cmd", 7, "ok"]


# What writes a CSV or XLSX file, and what makes its cells safe.
WRITERS = re.compile(r"csv\.writer|csv\.DictWriter|write_csv\(|\.to_csv\(|\.to_excel\(|Workbook\(")
SAFE = re.compile(r"safe_cell|safe_row|spreadsheet_safe")
PACKAGE = Path(__file__).resolve().parents[2]


def test_every_module_that_writes_a_spreadsheet_makes_its_cells_safe():
    # given every module of the apps (tests write files to check them, and are left out)
    writers = [
        path
        for path in PACKAGE.rglob("*.py")
        if "tests" not in path.parts and WRITERS.search(path.read_text(encoding="utf-8"))
    ]
    # then each one passes its cells through the one home for the rule
    assert writers, "the pattern finds the writers (the metrics, risk and generator exports)"
    unsafe = [
        str(path.relative_to(PACKAGE.parent))
        for path in writers
        if not SAFE.search(path.read_text(encoding="utf-8"))
    ]
    assert unsafe == []


def test_the_generated_districts_text_is_written_safe():
    # given a generated column of text, one of it a formula, and one of numbers
    names = np.array(["Ana", "=1+2", "@me", None], dtype=object)
    numbers = np.array([-3, 4])
    # then the formula is text, and negative numbers stay numbers
    assert format_column(names) == ["Ana", "'=1+2", "'@me", ""]
    assert format_column(numbers) == ["-3", "4"]
