"""The tables `homeroom metrics` writes: definitions run on an engine, named for people.

Internal columns (thousandths of a day) are dropped; students and schools are named by
their local ids as the district's SIS knows them.
"""

import datetime as dt
import json
from pathlib import Path
from typing import TextIO

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from homeroom.metrics import definitions as d
from homeroom.metrics.engines import Engine
from homeroom.metrics.rules import RuleProfile

KINDS = ("students", "schools", "groups", "days")
FORMATS = ("csv", "json", "parquet")


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
    # One query per part: a union of them all is deeper than SQLite's parser allows.
    table = pa.concat_tables(engine.run(_readable(engine, part)) for part in parts)
    return table.sort_by([(c, "ascending") for c in order if c in table.column_names])


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


def write_table(table: pa.Table, output_format: str, output: Path | None, stdout: TextIO) -> None:
    """Write the table as CSV, JSON (a list of objects) or Parquet, to a file or stdout."""
    if output_format == "parquet":  # the command requires an output file for it
        pq.write_table(table, output)
        return
    if output_format == "csv":
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
        text = sink.getvalue().to_pybytes().decode()
    else:
        text = json.dumps(table.to_pylist(), indent=1, default=_json_value) + "\n"
    if output is None:
        stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _json_value(value):
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
