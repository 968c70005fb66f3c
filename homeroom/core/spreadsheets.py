"""Cells Homeroom writes to CSV and XLSX files, made safe to open in a spreadsheet.

A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (OWASP, "CSV Injection"); a student id of
`=HYPERLINK(...)` in an export would run when a staff member opens it. Every file Homeroom
writes passes its cells through `safe_cell`: such text gets a leading apostrophe, which
spreadsheets show as text and do not evaluate. Numbers stay numbers (a negative number is a
value, not a formula).
"""

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value` as a spreadsheet will show it: text that would start a formula is escaped."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """A row of cells, each through `safe_cell`."""
    return [safe_cell(value) for value in values]
