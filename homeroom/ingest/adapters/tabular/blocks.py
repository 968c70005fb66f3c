"""Blocks of attendance lines taken a run at a time: the tabular reader's fast path.

A block (consecutive CSV lines without quotes) that only an attendance mapping reads is
sorted row by row into kinds (`attendance_rows`): PLAIN rows `_Reader.record` would hold
compactly, SIMPLE rows it would only make into an AttendanceRecord, and SLOW rows it must
see. `take_run` adds a run of plain and simple rows to the batch at once, as `record` would
add them one by one.
"""

import contextlib
from itertools import compress, repeat
from typing import Any

from homeroom.ingest.adapters.tabular.cells import FileMapping
from homeroom.ingest.adapters.tabular.fields import OMIT, CellError, SkipRow
from homeroom.ingest.records import PLAIN_FIELDS, AttendanceRecord, AttendanceRows, Where

# Attendance fields other than PLAIN_FIELDS, at the values a record has when they are unset
PLAIN_DEFAULTS = {"day_fraction": None, "minutes_missed": None, "period": "", "reason": ""}
SLOW, PLAIN, SIMPLE = 0, 1, 2  # kinds of rows for _Reader.read_block


def attendance_rows(
    mappings: list[FileMapping], rows: list[list[str]], width: int, present_codes: frozenset[str]
) -> tuple[dict[str, list[Any]], list[int]] | None:
    """For a file only an attendance mapping reads: each field's values in the rows, and
    each row's kind: PLAIN (`record` would hold it compactly), SIMPLE (`record` would
    make an AttendanceRecord of the values and do nothing else) or SLOW (anything else
    may happen: `record` must see it). None when every row is SLOW.

    Values come from the converters' caches, filled first with each value of the block
    not seen before (converting has no side effect but the caching); a row with a value
    that cannot be converted or cached is SLOW.
    """
    if len(mappings) != 1:
        return None
    mapping = mappings[0]
    source = mapping.source
    plain = bool(present_codes) and source.scope is None  # as `record` finds
    simple = not mapping.checked
    if (
        not (plain or simple)
        or source.entity != "attendance"
        or source.periods is not None
        or source.distinct
        or any(index is None or cache is None for _m, index, _c, cache in mapping.fields)
    ):
        return None
    if set(map(len, rows)) != {width}:
        filler = [None] * width  # no cache holds None: such a row is SLOW
        rows = [row if len(row) == width else filler for row in rows]
    columns = list(zip(*rows, strict=True))
    values: dict[str, list[Any]] = {}
    found: list[bool] | None = None  # whether each row's values are all converted
    for field_mapping, index, convert_cell, cache in mapping.fields:
        new = [raw for raw in set(columns[index]) if raw not in cache]
        for raw in new:  # converted once, as `record` would (no side effect but caching)
            if raw is not None:
                with contextlib.suppress(CellError, SkipRow):
                    convert_cell(raw)
        if failed := {raw for raw in new if raw not in cache}:
            found = [
                raw not in failed and (found is None or found[i])
                for i, raw in enumerate(columns[index])
            ]
            values[field_mapping.field] = list(map(cache.get, columns[index]))
        else:
            values[field_mapping.field] = list(map(cache.__getitem__, columns[index]))
    is_plain = [False] * len(rows)
    if plain:
        is_plain = [code in present_codes for code in values["code"]]
        for field_name, default in PLAIN_DEFAULTS.items():
            column = values.get(field_name)
            if column is not None and column.count(OMIT) != len(column):
                is_plain = [
                    p and (v is OMIT or (v is not None and v == default))
                    for p, v in zip(is_plain, column, strict=True)
                ]
    other = SIMPLE if simple else SLOW
    kinds = [PLAIN if p else other for p in is_plain]
    if found is not None:
        kinds = [k if f else SLOW for k, f in zip(kinds, found, strict=True)]
    return (values, kinds) if kinds.count(SLOW) != len(kinds) else None


def take_run(
    plain_rows: AttendanceRows,
    values: dict[str, list[Any]],
    kinds: list[int],
    start: int,
    end: int,
    first: int,
    name: str,
) -> None:
    """Add rows `start` to `end` of a block (all PLAIN or SIMPLE; the block's first line is
    `first`) to the batch's attendance, as `record` would add them one by one."""
    plain = list(map(PLAIN.__eq__, kinds[start:end]))
    full = list(map(SIMPLE.__eq__, kinds[start:end]))
    lines = range(first + start, first + end)
    records = map(
        AttendanceRecord,
        *(compress(values[f][start:end], full) for f in PLAIN_FIELDS),
        [Where(name, line) for line in compress(lines, full)],
        *(
            [default if v is OMIT else v for v in compress(values[f][start:end], full)]
            if f in values
            else repeat(default)
            for f, default in PLAIN_DEFAULTS.items()
        ),
    )
    plain_rows.extend_block(
        plain,
        list(records),
        *(values[f][start:end] for f in PLAIN_FIELDS),
        name,
        lines,
    )
