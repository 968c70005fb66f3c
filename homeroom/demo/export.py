"""Writes a generated district as SIS-style CSV files, one per entity (docs/generator.md).

`files.COLUMNS` defines the format: the files and their columns, in order. UTF-8, a header row,
ISO dates, empty cells for missing values, `true`/`false` for flags. Each file is written
under a temporary name and renamed when complete, so a directory never holds a half-written
file under its real name.
"""

import csv
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from homeroom.core.spreadsheets import safe_cell
from homeroom.demo.district import GeneratedDistrict
from homeroom.demo.files import COLUMNS, HISTORY_FILE


def _lookup(values: np.ndarray, blank: np.ndarray, render: Callable[[np.ndarray], list[str]]):
    """Text of each value, rendering each distinct value once (columns repeat a lot)."""
    out = np.full(len(values), "", dtype=object)
    present = ~blank
    if present.any():
        distinct, inverse = np.unique(values[present], return_inverse=True)
        out[present] = np.asarray(render(distinct), dtype=object)[inverse]
    return out.tolist()


def _integers(values: np.ndarray, blank: np.ndarray) -> list[str]:
    """Whole numbers; a dense range renders by offset without sorting."""
    if not len(values):
        return []
    low, high = int(values.min()), int(values.max())
    if high - low <= 2 * len(values) + 1000 and not blank.any():
        table = np.array([str(v) for v in range(low, high + 1)], dtype=object)
        return table[values - low].tolist()
    return _lookup(values, blank, lambda distinct: [str(v) for v in distinct.tolist()])


def _decimal(value: float) -> str:
    """A number with at most three decimals and no trailing zeros (1, 0.5, 0.385)."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def format_column(values: np.ndarray) -> list[str]:
    """Render one column of a generated table as CSV cell text."""
    kind = values.dtype.kind
    if kind == "M":
        days = values.astype("datetime64[D]")
        blank = np.isnat(days)
        numbers = days.view("int64")
        return _lookup(
            numbers,
            blank,
            lambda distinct: np.datetime_as_string(distinct.astype("datetime64[D]")).tolist(),
        )
    if kind == "b":
        return np.where(values, "true", "false").tolist()
    if kind in "iu":
        return _integers(values.astype(np.int64), np.zeros(len(values), dtype=bool))
    if kind == "f":
        blank = np.isnan(values)
        return _lookup(
            np.where(blank, 0, values), blank, lambda distinct: [_decimal(v) for v in distinct]
        )
    # Text is made safe for spreadsheets (names are the district's words, not formulas).
    return ["" if v is None else safe_cell(str(v)) for v in values.tolist()]


def write_district_csv(
    district: GeneratedDistrict,
    directory: Path,
    *,
    on_file: Callable[[str, int], None] | None = None,
) -> list[Path]:
    """Write every table of `district` as `<name>.csv` in `directory`; return their paths:
    the export a district's SIS would make, which the import reads. The interventions
    history, which no SIS exports, is written beside them (`HISTORY_FILE`) and not returned.

    Each file has the columns `COLUMNS` gives, in that order; a table part holding other
    columns is a bug in the generator and raises ValueError before its file is written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, columns in COLUMNS.items():
        table = district.tables[stem]
        for part in table.parts:
            if set(part) != set(columns):
                raise ValueError(
                    f"the generated {stem} table has columns {tuple(part)}, the format {columns}"
                )
        path = directory / f"{stem}.csv"
        partial = directory / f".{stem}.csv.partial"
        with partial.open("w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file, lineterminator="\n")
            writer.writerow(columns)
            for part in table.parts:
                cells = [format_column(part[column]) for column in columns]
                writer.writerows(zip(*cells, strict=True))
        os.replace(partial, path)
        paths.append(path)
        if on_file:
            on_file(path.name, table.rows)
    if district.history:
        path = directory / HISTORY_FILE
        partial = directory / f".{HISTORY_FILE}.partial"
        text = json.dumps(district.history, ensure_ascii=False, sort_keys=True)
        partial.write_text(text + "\n", encoding="utf-8")
        os.replace(partial, path)
        if on_file:
            on_file(path.name, len(district.history["cases"]))
    return paths
