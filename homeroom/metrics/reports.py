"""The tables `homeroom metrics` writes: definitions run on an engine, named for people.

Internal columns (thousandths of a day) are dropped; students and schools are named by
their local ids as the district's SIS knows them, and schools by their names too. CSV,
JSON and Parquet keep every figure at full precision for other programs; the `table`
format is for people, its figures written by `homeroom.metrics.display` as pages write
them.
"""

import datetime as dt
import json
from pathlib import Path
from typing import TextIO

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from homeroom.core.spreadsheets import safe_cell
from homeroom.metrics import definitions as d
from homeroom.metrics import display
from homeroom.metrics.engines import Engine
from homeroom.metrics.rules import RuleProfile

KINDS = ("students", "schools", "groups", "days")
FORMATS = ("table", "csv", "json", "parquet")
STAMP = ("profile", "as_of", "from")
# The database's own keys: people know students and schools by their local ids.
DATABASE_KEYS = ("student_id", "school_id")
NAME_COLUMNS = ("student_local_id", "school_local_id", "school_name")

# Columns counting days, fractional where the profile counts partial days (the `days`
# table's `absent` is the share of that one day).
DAY_COLUMNS = frozenset(
    {
        "days_absent",
        "excused",
        "unexcused",
        "oss",
        "absent_last_30",
        "projected_days_absent",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "absent",
    }
)
# What a person reads of the wide group tables; the other kinds show every column.
_GROUP_FIGURES = (
    "students",
    "counted",
    "days_enrolled",
    "days_absent",
    "attendance_rate",
    "chronic",
    "chronic_rate",
    "chronic_rate_last_year",
)
TABLE_COLUMNS = {
    "schools": ("school_name", "group_value", *_GROUP_FIGURES),
    "groups": ("group_type", "group_value", *_GROUP_FIGURES),
}
HEADINGS = {
    "school_name": "school",
    "group_value": "id",
    "chronic_rate_last_year": "chronic rate last year",
}


def _named(engine: Engine, table: ir.Table) -> ir.Table:
    """Add the student's and the school's local ids (and the school's name)."""
    facts = engine.facts
    if "student_id" in table.columns:
        students = facts.students.select(
            s_id=facts.students.student_id, student_local_id=facts.students.local_id
        )
        table = table.left_join(students, table.student_id == students.s_id).drop("s_id")
    if "school_id" in table.columns:
        schools = facts.schools.select(
            sc_id=facts.schools.school_id,
            school_local_id=facts.schools.local_id,
            school_name=facts.schools.name,
        )
        table = table.left_join(schools, table.school_id == schools.sc_id).drop("sc_id")
    return table


def metrics_table(
    engine: Engine,
    kind: str,
    profile: RuleProfile,
    window: d.Window,
    *,
    per: str | None = None,
    group_type: str | None = None,
    students: list[int] | None = None,
) -> pa.Table:
    """Compute one kind of metrics table and return it, ordered, as Arrow."""
    parts, order = _parts(engine, kind, profile, window, per, group_type, students)
    # One query per part: a union of them all is deeper than SQLite's parser allows.
    table = pa.concat_tables(engine.run(part) for part in parts)
    return table.sort_by([(c, "ascending") for c in order if c in table.column_names])


def write_dataset(
    engine: Engine,
    kind: str,
    profile: RuleProfile,
    window: d.Window,
    destination: str,
    *,
    per: str | None = None,
    group_type: str | None = None,
    students: list[int] | None = None,
) -> tuple[int, list[str]]:
    """Compute one kind of metrics table and write it where the engine runs, as a Parquet
    dataset partitioned by school year (`school_year=2025-2026/`) and, for the tables with
    a row per student, by school (`school=<local id>/`); rows written and the partition
    columns. Every row is stamped as by `with_context`; none comes back to this process."""
    parts, order = _parts(engine, kind, profile, window, per, group_type, students)
    rows = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    years = engine.facts.school_years
    [year] = engine.run(
        years.filter(years.school_year_id == window.school_year_id).select("name")
    ).to_pylist()
    rows = rows.mutate(
        profile=ibis.literal(f"{profile.name}@{profile.version}"),
        as_of=ibis.literal(window.as_of, type="date"),
        **{"from": ibis.literal(window.start, type="date")},
        school_year=ibis.literal(year["name"]),
    )
    partition_by = ["school_year"]
    if kind in ("students", "days") and "school_local_id" in rows.columns:
        rows = rows.mutate(school=rows.school_local_id)
        partition_by.append("school")
    order = [c for c in order if c in rows.columns]
    return engine.write_parquet(rows, destination, partition_by, order), partition_by


def _parts(
    engine: Engine,
    kind: str,
    profile: RuleProfile,
    window: d.Window,
    per: str | None,
    group_type: str | None,
    students: list[int] | None,
) -> tuple[list[ir.Table], list[str]]:
    """The queries of a kind of table, named for people, and the columns ordering its rows."""
    facts = engine.facts
    if kind == "students":
        per = per or profile.counting
        parts = [
            (d.student_school if per == "school" else d.student_district)(facts, profile, window)
        ]
        order = ["student_id", "school_id"]
    elif kind == "days":
        parts = [d.student_days(facts, profile, window, students)]
        order = ["student_id", "date", "school_id"]
    else:
        types = [group_type] if group_type else list(d.GROUP_TYPES)
        if kind == "schools":
            types = ["school"]
        last_year = engine.last_year(window)
        parts = [d.group_summary(facts, profile, window, t, last_year) for t in types]
        order = ["group_type", "group_value"]
    if kind == "schools":
        parts = [_school_names(engine, part) for part in parts]
    return [_readable(engine, part) for part in parts], order


def _school_names(engine: Engine, rows: ir.Table) -> ir.Table:
    """School rows (named by local id) with the school's name beside the id."""
    schools = engine.facts.schools.select(
        named_id=engine.facts.schools.local_id, school_name=engine.facts.schools.name
    )
    joined = rows.left_join(schools, rows.group_value == schools.named_id).drop("named_id")
    first = ["group_type", "group_value", "school_name"]
    return joined.select(*first, *[c for c in joined.columns if c not in first])


def _readable(engine: Engine, rows: ir.Table) -> ir.Table:
    rows = _named(engine, rows)
    return rows.select([c for c in rows.columns if not c.endswith("_milli")])


def with_context(table: pa.Table, profile: RuleProfile, window: d.Window) -> pa.Table:
    """Stamp every row with the profile and the window it was computed under."""
    rows = table.num_rows
    for name, value in (
        ("profile", f"{profile.name}@{profile.version}"),
        ("as_of", window.as_of),
        ("from", window.start),
    ):
        table = table.append_column(name, pa.array([value] * rows))
    return table


def write_table(
    table: pa.Table, output_format: str, output: Path | None, stdout: TextIO, kind: str = ""
) -> None:
    """Write the table for people (aligned text), or as CSV, JSON (a list of objects) or
    Parquet, to a file or stdout."""
    if output_format == "parquet":  # the command requires an output file for it
        pq.write_table(table, output)
        return
    if output_format == "table":
        text = human_table(table, kind)
    elif output_format == "csv":
        sink = pa.BufferOutputStream()
        pacsv.write_csv(spreadsheet_safe(table), sink)
        text = sink.getvalue().to_pybytes().decode()
    else:
        text = json.dumps(table.to_pylist(), indent=1, default=_json_value) + "\n"
    if output is None:
        stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def spreadsheet_safe(table: pa.Table) -> pa.Table:
    """The table with every text cell through `safe_cell` (a local id such as `=1+2` must not
    run as a formula when the CSV is opened); numbers and dates are left as they are."""
    for index, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            cells = [safe_cell(value) for value in table.column(index).to_pylist()]
            table = table.set_column(index, field, pa.array(cells, type=field.type))
    return table


def _json_value(value):
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def human_table(table: pa.Table, kind: str) -> str:
    """The table as aligned text for people: rates as one-decimal percentages, day counts
    whole or all to one decimal (and a note saying so), the profile and dates said once."""
    rows = table.to_pylist()
    # Who or what a row is about comes first, as people scan a table from the left.
    names = [c for c in NAME_COLUMNS if c in table.column_names]
    columns = [
        c
        for c in TABLE_COLUMNS.get(kind, names + table.column_names)
        if c in table.column_names and c not in STAMP and c not in DATABASE_KEYS
    ]
    columns = list(dict.fromkeys(columns))
    places = display.day_places(row[c] for row in rows for c in columns if c in DAY_COLUMNS)
    cells = [[_cell(column, row[column], places) for column in columns] for row in rows]
    numeric = [
        column in DAY_COLUMNS
        or _is_rate(column)
        or pa.types.is_integer(table.schema.field(column).type)
        for column in columns
    ]
    headings = [HEADINGS.get(column, column.replace("_", " ")) for column in columns]
    widths = [
        max(len(text) for text in [heading, *(row[i] for row in cells)])
        for i, heading in enumerate(headings)
    ]

    def line(texts: list[str]) -> str:
        return "  ".join(
            text.rjust(width) if right else text.ljust(width)
            for text, width, right in zip(texts, widths, numeric, strict=True)
        ).rstrip()

    lines = []
    if rows:
        first = rows[0]
        lines.append(
            f"Rule profile {first['profile']}, days from {first['from']} to {first['as_of']}"
        )
    lines += [line(headings), line(["-" * width for width in widths])]
    lines += [line(row) for row in cells]
    if places:
        lines.append(str(display.PARTIAL_DAYS_NOTE))
    return "\n".join(lines) + "\n"


def _is_rate(column: str) -> bool:
    return column.endswith("_rate") or "_rate_" in column


def _cell(column: str, value, places: int) -> str:
    if value is None:
        return display.MISSING
    if column in DAY_COLUMNS:
        return display.days(value, places)
    if _is_rate(column):
        return display.percent(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return display.count(value)
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
