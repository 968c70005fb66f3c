"""Where the metric definitions run: the application database, DuckDB over Parquet, Spark.

Each engine gives the same fact tables (`definitions.FACT_SCHEMAS`) as Ibis tables of its
backend; the definitions then compile to that backend's SQL. The database engine reads
Django's own tables on Django's own connection (so it sees the request's or test's
transaction); `homeroom export parquet` writes the same facts as Parquet files for DuckDB
and Spark.
"""

import contextlib
import datetime as dt
import itertools
import json
import os
import re
import socket
import tempfile
import urllib.parse
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.dataset as pa_dataset
import pyarrow.parquet as pq
from django.db import connection
from django.utils.text import slugify

from homeroom.core.models import CalendarDate, District
from homeroom.core.selectors import counted_calendars
from homeroom.metrics.definitions import FACT_SCHEMAS, MILLI, Facts, Window
from homeroom.metrics.models import SUMMARY_COLUMNS, StudentSummary

ENGINES = ("db", "duckdb", "spark")
# Ibis 12 asks pandas 3 about an option pandas now deprecates, on every result it converts
# through pandas (Spark's).
warnings.filterwarnings("ignore", message="The 'future.infer_string' option is deprecated")
# Django's field types as Ibis types, for the tables declared from their models.
IBIS_TYPES = {
    "ForeignKey": "int64",
    "SmallIntegerField": "int64",
    "PositiveIntegerField": "int64",
    "FloatField": "float64",
    "BooleanField": "boolean",
    "CharField": "string",
}


def _as_stored(fact: str, key: str) -> dict[str, str]:
    """A fact's columns as its Django table holds them: `id` for the fact's `key`, and the
    district it belongs to."""
    columns = {name: kind for name, kind in FACT_SCHEMAS[fact].items() if name != key}
    return {"id": "int64", "district_id": "int64", **columns}


def _summary_columns() -> dict[str, str]:
    """The summary table's columns (`SUMMARY_COLUMNS`) with their types from the model."""
    fields = {f.column: f for f in StudentSummary._meta.concrete_fields}
    return {name: IBIS_TYPES[fields[name].get_internal_type()] for name in SUMMARY_COLUMNS}


# The columns the facts (and the summaries' refresh) read from Django's tables. Declared,
# not introspected: Ibis's SQLite backend commits the connection's transaction when it
# looks a table up. Where a table holds a fact's columns (or the summaries'), they are
# taken from that one declaration.
DATABASE_COLUMNS: dict[str, dict[str, str]] = {
    "core_schoolyear": _as_stored("school_years", "school_year_id"),
    "core_school": _as_stored("schools", "school_id"),
    "roster_student": _as_stored("students", "student_id"),
    "roster_studentcharacteristic": FACT_SCHEMAS["characteristics"],
    "roster_enrollment": FACT_SCHEMAS["enrollments"],
    "attendance_attendanceevent": {
        "student_id": "int64",
        "school_id": "int64",
        "date": "date",
        "code_id": "int64",
        "day_fraction": "decimal(4, 3)",
    },
    "ingest_importrun_attendance_students": {"importrun_id": "int64", "student_id": "int64"},
    StudentSummary._meta.db_table: _summary_columns(),
    "attendance_attendancecode": {
        "id": "int64",
        "district_id": "int64",
        "category": "string",
        "day_fraction": "decimal(4, 3)",
    },
}


class EngineError(ValueError):
    """An engine that cannot run here or a source that is not usable, said plainly."""


@dataclass(frozen=True)
class Engine:
    """A backend and the district's fact tables on it."""

    name: str
    backend: ibis.BaseBackend
    facts: Facts

    def run(self, expression: ir.Table) -> pa.Table:
        """Execute an expression and return its rows as Arrow.

        On DuckDB and Spark, Ibis leaves nested selects as they are: those engines' own
        optimizers merge them, and Ibis's merging is a large part of its compile time,
        saved with no loss at run time. The application database keeps the merging:
        without it SQLite and PostgreSQL run a same-day refresh of the summaries slower
        (docs/benchmarks.md, "Design figures"). The database's rows are read
        by COPY on PostgreSQL (`_copied`), straight from the cursor on SQLite (`_fetched`).
        """
        if self.name == "db":
            read = _copied if connection.vendor == "postgresql" else _fetched
            return read(self.backend, expression.as_table())
        with _unfused():
            return self.backend.to_pyarrow(expression)

    def write_parquet(
        self, expression: ir.Table, destination: str, partition_by: list[str], order: list[str]
    ) -> int:
        """Write the rows as a Parquet dataset where the engine computes them; rows written.

        Hive-partitioned (`<column>=<value>/` directories, the partition columns held in the
        directory names only), each partition's rows in one file ordered by `order`: the
        same layout on DuckDB and Spark, so two runs compare directory for directory. On
        Spark the executors write their partitions (to a lake URL, HDFS or a local
        directory) and no row comes back to the driver; the count is read from the written
        files' footers. An existing destination is refused, not merged or replaced.
        """
        if self.name == "spark":
            return self._spark_write(expression, destination, partition_by, order)
        if destination.startswith(TABLE_OUTPUT):
            raise EngineError(
                f"--output {destination}: a table of Spark's catalog is written by --engine "
                f"spark; the {self.name} engine writes a Parquet dataset (--output DIR/), the "
                "same files a catalog can take as an external table"
            )
        if self.name != "duckdb":
            raise EngineError(
                "a Parquet dataset (--output DIR/) is written by the duckdb and spark engines;"
                " export the facts with 'homeroom export parquet' and give --source"
            )
        if "://" in destination:
            raise EngineError(
                f"{destination}: the duckdb engine writes a local directory; give its path, "
                "or write to object storage with --engine spark"
            )
        target = Path(destination)
        _refuse_existing(target)
        query = self._typed_sql(expression, order)
        columns = ", ".join(f'"{c}"' for c in partition_by)
        # Written beside the destination and moved there whole: a failure leaves nothing.
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".homeroom-") as scratch:
            written = Path(scratch) / "dataset"
            quoted = str(written).replace("'", "''")
            try:
                [(rows,)] = self.backend.con.execute(
                    f"COPY ({query}) TO '{quoted}' (FORMAT parquet, PARTITION_BY ({columns}))"
                ).fetchall()
            except duckdb.Error as error:
                raise EngineError(f"{destination}: DuckDB could not write it: {error}") from None
            if target.exists():  # empty, as checked
                target.rmdir()
            written.rename(target)
        return rows

    def _typed_sql(self, expression: ir.Table, order: list[str] | None = None) -> str:
        """The expression's SQL with each column cast to its declared type: the engine's
        own arithmetic may type a column otherwise (a sum of whole days as a double), which
        `run` corrects when it converts to Arrow and a file written in place must too."""
        with _unfused():
            query = self.backend.compile(expression)
        types = self.backend.compiler.type_mapper
        quote = "`" if self.name == "spark" else '"'  # the names are Homeroom's own

        def named(column: str) -> str:
            return f"{quote}{column}{quote}"

        columns = ", ".join(
            f"CAST({named(c)} AS {types.to_string(kind)}) AS {named(c)}"
            for c, kind in expression.schema().items()
        )
        ordered = f" ORDER BY {', '.join(named(c) for c in order)}" if order else ""
        return f"SELECT {columns} FROM ({query}) AS homeroom_rows{ordered}"

    def _spark_write(
        self, expression: ir.Table, destination: str, partition_by: list[str], order: list[str]
    ) -> int:
        table = catalog_table(destination)
        frame = self.backend.raw_sql(self._typed_sql(expression))
        session = frame.sparkSession
        if table is not None:
            if session.catalog.tableExists(table):
                raise EngineError(
                    f"--output {destination}: the table already exists in the catalog; the "
                    "metrics are written to a new table (drop it, or name another)"
                )
        elif "://" not in destination:
            _refuse_existing(Path(destination))
            destination = str(Path(destination).resolve())
        # Each partition's rows gathered in one task and sorted there: one ordered file per
        # directory, and the writer finds its rows already grouped by the partition columns.
        writer = (
            frame.repartition(*partition_by)
            .sortWithinPartitions(*partition_by, *order)
            .write.mode("error")  # Spark Connect knows only this name for it
            .partitionBy(*partition_by)
        )
        if table is not None:  # the catalog's table, its files in the catalog's warehouse
            writer.format("parquet").saveAsTable(table)
            return session.table(table).count()
        writer.parquet(destination)
        return session.read.parquet(destination).count()

    def window(self, as_of: dt.date, start: dt.date | None = None) -> Window:
        """The school year holding `as_of` (in summer, the last one before it), clipped."""
        years = self.facts.school_years
        found = self.run(
            years.filter(years.start_date <= as_of).order_by(years.start_date.desc()).limit(1)
        ).to_pylist()
        if not found:
            raise EngineError(f"no school year starts on or before {as_of}")
        year = found[0]
        start_date, end_date = _as_date(year["start_date"]), _as_date(year["end_date"])
        first = max(start or start_date, start_date)
        last = min(as_of, end_date)
        if first > last and start is not None and start <= as_of:  # both in the summer
            raise EngineError(
                f"no school days from --from {start} to --as-of {as_of}: the school year "
                f"{year['name']} ended on {end_date}"
            )
        if first > last:
            raise EngineError(
                f"--from {start} is after --as-of {as_of} within the year {year['name']}"
            )
        return Window(year["school_year_id"], first, last, end_date)

    def last_year(self, window: Window) -> Window | None:
        """The same dates a year earlier, in the year before, if the facts hold one."""
        try:
            earlier = self.window(year_back(window.as_of), year_back(window.start))
        except EngineError:
            return None
        return None if earlier.school_year_id == window.school_year_id else earlier

    def student_ids(self, local_ids: list[str]) -> list[int]:
        """The ids of the students with these local ids; an error names any not held."""
        students = self.facts.students
        found = self.run(
            students.filter(students.local_id.isin(local_ids)).select("student_id", "local_id")
        ).to_pylist()
        unknown = sorted(set(local_ids) - {row["local_id"] for row in found})
        if unknown:
            raise EngineError(f"no student with local id {', '.join(unknown)}")
        return sorted(row["student_id"] for row in found)


@contextlib.contextmanager
def _unfused() -> Iterator[None]:
    """Ibis's select merging off, for DuckDB and Spark (see `Engine.run`)."""
    fused = ibis.options.sql.fuse_selects
    ibis.options.sql.fuse_selects = False
    try:
        yield
    finally:
        ibis.options.sql.fuse_selects = fused


# `--output table:<database>.<name>`: a table of the Spark session's catalog.
TABLE_OUTPUT = "table:"
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}")


def catalog_table(destination: str) -> str | None:
    """The catalog table an `--output table:<database>.<name>` names (None for a place of
    files); an error for a name the catalog would not take as it is."""
    if not destination.startswith(TABLE_OUTPUT):
        return None
    name = destination.removeprefix(TABLE_OUTPUT)
    if not _TABLE_NAME.fullmatch(name):
        raise EngineError(
            f"--output {destination}: name a table of the catalog as table:<database>.<name>"
            " (or table:<catalog>.<database>.<name>), with letters, digits and '_'"
        )
    return name


def _refuse_existing(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise EngineError(
            f"{directory}: already exists; the metrics are written to a new directory "
            "(remove it, or give another --output)"
        )


def open_engine(name: str, source: Path | str, *, remote: str | None = None) -> Engine:
    """The DuckDB or Spark engine over the Parquet files in `source` (Spark's session
    through Spark Connect at `remote`, if given)."""
    if name == "duckdb":
        return duckdb_engine(source)
    if name == "spark":
        return spark_engine(source, remote=remote)
    raise EngineError(f"the {name} engine reads the database, not files")


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def year_back(day: dt.date) -> dt.date:
    """The same date a year earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _arrow_schema(name: str) -> pa.Schema:
    return ibis.schema(FACT_SCHEMAS[name]).to_pyarrow()


def database_engine(district: District, *, since: dt.date | None = None) -> Engine:
    """The district's facts read from the application database, on Django's connection.

    With `since`, only the school years ending on or after it and what is dated in them
    (the nightly's flags and forecast read three years, not the district's whole history).
    """
    backend = _connection_backend()
    if connection.vendor == "postgresql":
        # Ibis reads results through a server-side cursor, which PostgreSQL plans for a
        # fast first 10% of the rows; every row is read, so plan for all of them (without
        # statistics, right after a large import, the fast-start plan of the enrollments
        # is a nested loop, orders of magnitude slower: docs/benchmarks.md, "Design
        # figures").
        with connection.cursor() as cursor:
            cursor.execute("SET cursor_tuple_fraction = 1.0")
    elif connection.vendor == "sqlite":
        # Ibis turns LIKE case-sensitive for the whole connection; Django's icontains
        # (the students search) relies on SQLite's default.
        connection.connection.execute("PRAGMA case_sensitive_like = OFF")
    else:  # pragma: no cover - settings allow only these two
        raise EngineError(f"the database engine does not run on {connection.vendor}")
    _make_school_days(district, since)
    # The facts' expressions depend on the district and `since` alone: built once per
    # connection (the same values as built again, for a fraction of a refresh's time).
    facts = _remember(
        _kept(backend, "facts"),
        (district.pk, since),
        lambda: _database_facts(backend, district.pk, since),
    )
    return Engine("db", backend, facts)


def _connection_backend() -> ibis.BaseBackend:
    """Ibis on Django's connection, one backend for as long as the connection lasts: the
    tables of expressions built on it are then the same tables each time, so that an
    expression built again (by the next refresh of the same district and day) is equal to
    the last, and `compiled` finds its SQL instead of compiling it again."""
    connection.ensure_connection()
    raw = connection.connection
    held = getattr(connection, "homeroom_ibis", None)
    if held is not None and held[0] is raw:
        return held[1]
    if connection.vendor == "postgresql":
        backend = ibis.postgres.from_connection(raw)
    elif connection.vendor == "sqlite":
        backend = ibis.sqlite.from_connection(raw)
    else:  # pragma: no cover - settings allow only these two
        raise EngineError(f"the database engine does not run on {connection.vendor}")
    connection.homeroom_ibis = (raw, backend)
    return backend


# How many compiled statements and stage names a connection's backend keeps (the most
# recently used): a refresh compiles about 20, a page a few.
_KEPT_PER_BACKEND = 512


def _kept(backend: ibis.BaseBackend, kind: str) -> OrderedDict:
    """The backend's `kind` memo (expression -> value), least recently used first."""
    memos = backend.__dict__.setdefault("homeroom_memos", {})
    return memos.setdefault(kind, OrderedDict())


def _remember(memo: OrderedDict, key, make):
    """The memo's value for `key`, made by `make()` the first time (the oldest forgotten
    beyond _KEPT_PER_BACKEND)."""
    if key in memo:
        memo.move_to_end(key)
        return memo[key]
    value = memo[key] = make()
    if len(memo) > _KEPT_PER_BACKEND:
        memo.popitem(last=False)
    return value


def compiled(backend: ibis.BaseBackend, table: ir.Table) -> str:
    """The SQL of an expression on a database backend, compiled once per expression.

    Ibis takes about as long to compile the metric definitions (hundreds of operations)
    as the database takes to run them on a school's data, and the same definitions are
    compiled again by every refresh of the same year and day. Expressions are values
    (equal when built the same way from the same tables and literals), so an equal one
    has the same SQL; `_connection_backend` keeps the tables the same."""
    return _remember(_kept(backend, "sql"), table.op(), lambda: backend.compile(table))


def database_table(engine: Engine, name: str) -> ir.Table:
    """One of Django's tables (DATABASE_COLUMNS) on a database engine's backend."""
    return _declared(engine.backend, name, DATABASE_COLUMNS[name])


def _database_facts(
    backend: ibis.BaseBackend,
    district_id: int,
    since: dt.date | None,
    stage: Callable[[ir.Table], ir.Table] | None = None,
) -> Facts:
    """The district's facts as Ibis tables of Django's (and the calendar's temporary)
    tables; staged by `stage_table` unless `stage` says otherwise (a `Script`'s)."""

    def table(name: str) -> ir.Table:
        return _declared(backend, name, DATABASE_COLUMNS[name])

    years = table("core_schoolyear")
    years = years.filter(years.district_id == district_id).select(
        school_year_id=years.id,
        name=years.name,
        start_date=years.start_date,
        end_date=years.end_date,
    )
    schools = table("core_school")
    schools = schools.filter(schools.district_id == district_id).select(
        school_id=schools.id,
        local_id=schools.local_id,
        name=schools.name,
        recorded_through=schools.recorded_through,
    )
    students = table("roster_student")
    students = students.filter(students.district_id == district_id)
    ids = students.select(district_student=students.id)
    characteristics = table("roster_studentcharacteristic")
    characteristics = characteristics.join(
        ids, characteristics.student_id == ids.district_student
    ).select(
        student_id=characteristics.student_id,
        kind=characteristics.kind,
        start_date=characteristics.start_date,
        end_date=characteristics.end_date,
    )
    enrollments = table("roster_enrollment")
    enrollments = enrollments.join(ids, enrollments.student_id == ids.district_student).select(
        "student_id", "school_id", "school_year_id", "grade", "entry_date", "exit_date"
    )
    events = table("attendance_attendanceevent")
    codes = table("attendance_attendancecode")
    codes = codes.filter(codes.district_id == district_id).select(
        code_pk=codes.id, category=codes.category, code_fraction=codes.day_fraction
    )
    events = events.join(codes, events.code_id == codes.code_pk)
    share = events.day_fraction.cast("float64").fill_null(events.code_fraction.cast("float64"))
    events = events.select(
        "student_id",
        "school_id",
        "date",
        "category",
        share=(share * MILLI).round().cast("int64"),
    )
    if since is not None:
        years = years.filter(years.end_date >= since)
        enrollments = enrollments.filter(enrollments.school_year_id.isin(years.school_year_id))
        # On SQLite through COALESCE: on the bare column SQLite skip-scans the (school,
        # date) index and reads the rows at random, several times slower than reading
        # them in table order (docs/benchmarks.md, "Design figures").
        day = events.date
        if connection.vendor == "sqlite":
            day = ibis.coalesce(day, day)
        events = events.filter(day >= since)
        held = characteristics.end_date
        characteristics = characteristics.filter(held.isnull() | (held >= since))
    facts = {
        "school_years": years,
        "schools": schools,
        "students": students.select(
            student_id=students.id,
            local_id=students.local_id,
            grade=students.grade,
            gender=students.gender,
            race_ethnicity=students.race_ethnicity,
            home_language=students.home_language,
        ),
        "characteristics": characteristics,
        "enrollments": enrollments,
        "events": events,
        "school_days": _declared(
            backend, SCHOOL_DAYS_TABLE, FACT_SCHEMAS["school_days"], temporary=True
        ),
    }
    typed = {name: _typed(name, t) for name, t in facts.items()}
    if stage is None:

        def stage(table: ir.Table) -> ir.Table:
            return stage_table(backend, table)

    return Facts(**typed, stage=stage)


_stage_numbers = itertools.count(1)


def stage_table(
    backend: ibis.BaseBackend, table: ir.Table, *, nested_loops: bool = False
) -> ir.Table:
    """Store an intermediate result as an indexed temporary table on Django's connection.

    On PostgreSQL the statement plans no nested-loop join and sorts in memory, unless
    `nested_loops` (a stage that looks a few rows up by index, such as a day's events by
    school and date, asks for them). Stages join thousands to millions of rows, and
    PostgreSQL underestimates the join of events to spans: it multiplies the selectivities
    of the student and the school, though the school follows from the student, expects
    a few hundred rows where there are hundreds of thousands, then looks each event's day
    up one at a time and sorts them on disk (docs/benchmarks.md, "Design figures").
    """
    staged, statements = _stage_statements(backend, table, nested_loops)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return staged


def _stage_statements(
    backend: ibis.BaseBackend, table: ir.Table, nested_loops: bool
) -> tuple[ir.Table, list[str]]:
    """The statements `stage_table` runs, and the stored table as an expression."""
    # The same expression is staged under the same name (dropped and made again first),
    # so that what is built on it is the same expression again (`compiled`).
    name = _remember(
        _kept(backend, "stages"), table.op(), lambda: f"homeroom_stage_{next(_stage_numbers)}"
    )
    keys = [c for c in ("student_id", "school_id") if c in table.columns]
    postgresql = connection.vendor == "postgresql"
    statements = [f"DROP TABLE IF EXISTS {name}"]
    if postgresql and not nested_loops:  # a failure rolls the settings back too
        statements += ["SET enable_nestloop = off", "SET work_mem = '64MB'"]
    statements.append(f"CREATE TEMPORARY TABLE {name} AS {compiled(backend, table)}")
    if postgresql and not nested_loops:
        statements += ["RESET enable_nestloop", "RESET work_mem"]
    if keys:
        statements.append(f"CREATE INDEX {name}_keys ON {name} ({', '.join(keys)})")
    if postgresql:  # a sample of 3,000 rows, not 30,000, will do
        statements += [
            "SET default_statistics_target = 10",
            f"ANALYZE {name}",
            "RESET default_statistics_target",
        ]
    else:
        statements.append(f"ANALYZE {name}")
    return _declared(backend, name, table.schema(), temporary=True), statements


# Stand-ins for the ids in a kept script's statements (`Script`): numbers no table holds
# (19 digits, none a part of another), replaced by the district's and years' own ids each
# time the script runs.
STAND_INS = {
    "district": 7_301_000_000_000_000_101,
    "year": 7_302_000_000_000_000_203,
    "last_year": 7_303_000_000_000_000_307,
}


@dataclass
class Script:
    """SQL statements built from the metric definitions, to run in order: stages (the
    statements `stage_table` would run) and inserts.

    Building the definitions' expressions costs Ibis about a second whatever the data;
    running them on a small district costs a fraction of that. A script is built once with
    its facts for stand-in ids (`STAND_INS`, `Script.facts`) and kept per connection and
    per what shapes it (`kept_script`): the next refresh of any district with the same
    rule profile and dates runs the same statements with its own ids in them.
    """

    backend: ibis.BaseBackend
    statements: list[str] = field(default_factory=list)

    def stage(self, table: ir.Table, *, nested_loops: bool = False) -> ir.Table:
        """Add the statements that store `table`; the stored table, to build on."""
        staged, statements = _stage_statements(self.backend, table, nested_loops)
        self.statements += statements
        return staged

    def insert(self, db_table: str, rows: ir.Table) -> None:
        """Add the statement inserting the expression's rows into one of Django's tables."""
        columns = ", ".join(rows.columns)
        self.statements.append(f"INSERT INTO {db_table} ({columns}) {compiled(self.backend, rows)}")

    def facts(self, district_id: int) -> Facts:
        """The district's facts on the database (as `database_engine` gives them), staged
        by this script's statements."""
        return _database_facts(self.backend, district_id, None, stage=self.stage)

    def run(self, ids: dict[int, int] | None = None) -> None:
        """Run the statements, each stand-in id (key) replaced by its id (value)."""
        with connection.cursor() as cursor:
            for statement in self.statements:
                for stand_in, value in (ids or {}).items():
                    statement = statement.replace(str(stand_in), str(int(value)))
                cursor.execute(statement)


def kept_script(backend: ibis.BaseBackend, key, build: Callable[["Script"], None]) -> Script:
    """The script `build` writes, built once per connection and `key` (the 512 most recent).

    `key` must hold everything the statements depend on but the stand-in ids: the rule
    profile, the windows' dates, what is staged and written. `build` must build on
    `Script.facts(STAND_INS["district"])` and write every other id as its stand-in.
    """

    def made() -> Script:
        script = Script(backend)
        build(script)
        return script

    return _remember(_kept(backend, "scripts"), key, made)


def _declared(backend: ibis.BaseBackend, name: str, schema, *, temporary: bool = False):
    """A table of the database with the columns and types we know it has."""
    database = "temp" if temporary and connection.vendor == "sqlite" else None
    return ops.DatabaseTable(
        name, schema=ibis.schema(schema), source=backend, namespace=ops.Namespace(database=database)
    ).to_expr()


SCHOOL_DAYS_TABLE = "homeroom_school_days"


def _make_school_days(district: District, since: dt.date | None) -> None:
    """Every date of each school's calendar (see `Calendar`), counted or not, with its running
    count.

    Dense from each year's first to last day (schools x days: the calendar's size, never
    the students'), so a span's days are two equality lookups on any date, listed or not.
    Built by one statement into a temporary table (private to this connection, inside the
    caller's transaction) with its lookup index; the facts read it by name
    (`SCHOOL_DAYS_TABLE`).
    """
    name = SCHOOL_DAYS_TABLE
    next_day = "days.date + 1" if connection.vendor == "postgresql" else "date(days.date, '+1 day')"
    counted = ", ".join(f"'{kind}'" for kind in CalendarDate.COUNTED_KINDS)
    calendars, calendar_params = counted_calendars().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        cursor.execute(
            f"""CREATE TEMPORARY TABLE {name} AS
            WITH RECURSIVE days (calendar_id, school_id, school_year_id, date, end_date) AS (
                SELECT c.id, c.school_id, c.school_year_id, y.start_date, y.end_date
                FROM core_calendar AS c JOIN core_schoolyear AS y ON y.id = c.school_year_id
                WHERE y.district_id = %s AND y.end_date >= %s AND c.id IN ({calendars})
                UNION ALL
                SELECT calendar_id, school_id, school_year_id, {next_day}, end_date
                FROM days WHERE days.date < days.end_date
            ), marked AS (
                SELECT days.calendar_id, days.school_id, days.school_year_id, days.date,
                       CASE WHEN d.kind IN ({counted}) THEN 1 ELSE 0 END AS counted
                FROM days LEFT JOIN core_calendardate AS d
                     ON d.calendar_id = days.calendar_id AND d.date = days.date
            )
            SELECT school_id, school_year_id, date, counted,
                   SUM(counted) OVER (PARTITION BY calendar_id ORDER BY date) AS through
            FROM marked""",
            [district.pk, since or dt.date.min, *calendar_params],
        )
        # covering: a lookup of an event's or a span's day reads the index alone
        cursor.execute(f"CREATE INDEX {name}_lookup ON {name} (school_id, date, counted, through)")
        cursor.execute(f"ANALYZE {name}")


def _typed(name: str, table: ir.Table) -> ir.Table:
    """The table with exactly the fact's columns and types (SQLite keeps dates as text)."""
    return table.select(
        **{column: table[column].cast(kind) for column, kind in FACT_SCHEMAS[name].items()}
    )


def export_parquet(engine: Engine, directory: Path) -> dict[str, int]:
    """Write every fact table as `<name>.parquet` in `directory`; rows written per table."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in FACT_SCHEMAS:
        table = getattr(engine.facts, name)
        rows = engine.run(table).cast(_arrow_schema(name))
        pq.write_table(rows, directory / f"{name}.parquet")
        written[name] = rows.num_rows
    return written


# The lake layout (`export_lake`): its version, where each district's manifest is, and the
# facts partitioned by school year.
LAKE_SCHEMA_VERSION = 2
LAKE_MANIFESTS = "_manifests"  # Spark and DuckDB skip names starting with "_"
OLD_MANIFEST = "_manifest.json"  # layout 1: one manifest, ids not qualified by district
BY_YEAR = ("school_years", "school_days", "enrollments", "events")
# A district key names its files (`<key>-0.parquet`) and prefixes its local ids in results
# (`<key>.<local id>`): letters, digits, '-' and '_', no '.'.
DISTRICT_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# Student and school ids read from a lake are the district's own id plus its number (its
# place among the lake's keys) times this: one district's id 42 never meets another's.
DISTRICT_ID_SPAN = 10**12


def district_key(district: District, given: str | None = None) -> str:
    """The key naming a district's part of a lake: the one given, or its state id, or its
    name as a file name."""
    key = given or district.state_id or slugify(district.name) or f"district-{district.pk}"
    if not DISTRICT_KEY.fullmatch(key):
        raise EngineError(
            f"{key!r} cannot be a district key: use letters, digits, '-' and '_' (up to 64,"
            " no '.'), e.g. --district-key grand-bend"
        )
    return key


def export_lake(
    engine: Engine,
    directory: Path,
    district: District,
    *,
    as_of: dt.date,
    key: str | None = None,
) -> dict[str, int]:
    """Write the district's facts into a lake a state shares: `<fact>/` directories, the
    yearly facts partitioned by school year (`school_year=2025-2026/`), each district's
    rows in files named after its key (`<key>-0.parquet`) with the key in a `district`
    column, and `_manifests/<key>.json` saying what the district wrote (schema version,
    rule profile, as-of date, school years, rows per fact).

    Districts exported from separate Homeroom databases may hold the same ids: the engines
    qualify every id by the district (`read_lake`). A key another district holds is
    refused; exporting the same district again replaces its files and leaves the others'.
    Everything is written beside the lake first and moved in at the end: a failure leaves
    the lake as it was. Rows written per fact.
    """
    key = district_key(district, key)
    manifests = directory / LAKE_MANIFESTS
    if (directory / OLD_MANIFEST).exists():
        raise EngineError(
            f"{directory}: a lake of layout 1 ({OLD_MANIFEST}, ids not qualified by "
            f"district); this Homeroom writes layout {LAKE_SCHEMA_VERSION}: export every "
            "district into a new directory"
        )
    for path in sorted(manifests.glob("*.json")) if manifests.is_dir() else []:
        held = _manifest(path)
        if held.get("schema_version") != LAKE_SCHEMA_VERSION:
            raise EngineError(
                f"{directory}: {path.name} is of layout {held.get('schema_version')}; this "
                f"Homeroom writes layout {LAKE_SCHEMA_VERSION}: export every district into "
                "a new directory"
            )
        if held.get("district") == key and (held.get("name"), held.get("state_id")) != (
            district.name,
            district.state_id,
        ):
            raise EngineError(
                f"{directory}: the district key {key!r} is held by {held.get('name')!r} "
                f"(state id {held.get('state_id') or 'none'}); give {district.name!r} a key "
                "of its own (--district-key)"
            )
    facts = engine.facts
    years = facts.school_years.select(
        year_id="school_year_id", school_year="name", first="start_date", last="end_date"
    )
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    with tempfile.TemporaryDirectory(dir=directory, prefix=".homeroom-") as scratch:
        for fact in FACT_SCHEMAS:
            table = getattr(facts, fact)
            if fact == "events":  # an event belongs to the year whose days hold its date
                table = table.left_join(
                    years, (table.date >= years.first) & (table.date <= years.last)
                ).drop("year_id", "first", "last")
            elif fact in BY_YEAR:
                table = table.left_join(years, table.school_year_id == years.year_id).drop(
                    "year_id", "first", "last"
                )
            rows = engine.run(table)
            schema = _arrow_schema(fact).append(pa.field("district", pa.string()))
            if fact in BY_YEAR:
                schema = schema.append(pa.field("school_year", pa.string()))
            rows = rows.append_column("district", pa.array([key] * rows.num_rows, pa.string()))
            rows = rows.select(schema.names).cast(schema)
            if fact in BY_YEAR:
                pa_dataset.write_dataset(
                    rows,
                    Path(scratch) / fact,
                    format="parquet",
                    partitioning=["school_year"],
                    partitioning_flavor="hive",
                    basename_template=f"{key}-{{i}}.parquet",
                )
            else:  # a file even when empty (a district without characteristics)
                (Path(scratch) / fact).mkdir()
                pq.write_table(rows, Path(scratch) / fact / f"{key}-0.parquet")
            written[fact] = rows.num_rows
        school_years = engine.run(facts.school_years).to_pylist()
        fresh = {path.relative_to(scratch) for path in Path(scratch).rglob("*.parquet")}
        for path in sorted(fresh):
            final = directory / path
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(Path(scratch) / path, final)
        # the district's files of an earlier export that this one did not write (a year
        # it no longer holds)
        for path in _lake_files(directory):
            if _file_district(path) == key and path.relative_to(directory) not in fresh:
                path.unlink()
    manifests.mkdir(exist_ok=True)
    manifest = {
        "schema_version": LAKE_SCHEMA_VERSION,
        "district": key,
        "name": district.name,
        "state_id": district.state_id,
        "rule_profile": district.rule_profile,
        "as_of": as_of.isoformat(),
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "partitioned_by": {fact: ["school_year"] for fact in BY_YEAR},
        "school_years": {
            year["name"]: [
                _as_date(year["start_date"]).isoformat(),
                _as_date(year["end_date"]).isoformat(),
            ]
            for year in school_years
        },
        "rows": written,
    }
    path = manifests / f"{key}.json"
    new = path.with_name(f".{path.name}.new")
    new.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(new, path)
    return written


def _manifest(path: Path | str, text: str | None = None) -> dict:
    """A district's manifest, or an error naming the file."""
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8") if text is None else text)
    except (OSError, ValueError) as error:
        raise EngineError(f"{path}: not a readable lake manifest ({error})") from None
    if not isinstance(manifest, dict):
        raise EngineError(f"{path}: not a lake manifest (a JSON object)")
    return manifest


def _lake_files(directory: Path) -> list[Path]:
    """The data files of a local lake."""
    return sorted(
        path
        for fact in FACT_SCHEMAS
        if (directory / fact).is_dir()
        for path in (directory / fact).rglob("*.parquet")
        if not path.name.startswith((".", "_"))
    )


def _file_district(path: Path | str) -> str:
    """The key of the district a lake's data file belongs to (`<key>-<n>.parquet`)."""
    return re.sub(r"-\d+\.parquet$", "", Path(str(path)).name)


@dataclass(frozen=True)
class Lake:
    """What the manifests of a lake say: its districts' keys, in order (a district's
    number is its place, from 1), and the school years with the lake's id for each."""

    keys: tuple[str, ...]
    years: dict[str, int]


def read_lake(manifests: dict[str, str], data_files: list[Path] | None = None) -> Lake:
    """The lake the manifests (file name: text) describe, checked: one layout version, each
    district key claimed once, the same dates for a school year in every district, and (for
    a local lake) no data file of a district without a manifest."""
    read = {name: _manifest(name, text) for name, text in sorted(manifests.items())}
    versions = {name: m.get("schema_version") for name, m in read.items()}
    if set(versions.values()) != {LAKE_SCHEMA_VERSION}:
        said = ", ".join(f"{Path(n).name}: {v}" for n, v in versions.items())
        raise EngineError(
            f"the lake's manifests disagree on the schema version or are not of version "
            f"{LAKE_SCHEMA_VERSION} ({said}): export those districts again with this Homeroom"
        )
    claimed: dict[str, str] = {}
    for name, manifest in read.items():
        key = manifest.get("district")
        if not isinstance(key, str) or not DISTRICT_KEY.fullmatch(key):
            raise EngineError(f"{name}: names no district key ('district')")
        if key in claimed:
            raise EngineError(
                f"two parts of the lake claim the district key {key!r} ({Path(claimed[key]).name}"
                f" and {Path(name).name}): their ids would be taken for one district's; "
                "export one of them again with a key of its own (--district-key)"
            )
        claimed[key] = name
    keys = tuple(sorted(claimed))
    if data_files is not None:
        orphans = sorted({_file_district(p) for p in data_files} - set(keys))
        if orphans:
            raise EngineError(
                f"the lake holds files of {', '.join(map(repr, orphans))} without a manifest "
                f"({LAKE_MANIFESTS}/<key>.json): export that district with 'homeroom export "
                "parquet --lake', or remove its files"
            )
    dates: dict[str, dict[tuple, list[str]]] = {}
    for key in keys:
        for year, span in (read[claimed[key]].get("school_years") or {}).items():
            dates.setdefault(year, {}).setdefault(tuple(span), []).append(key)
    for year, spans in sorted(dates.items()):
        if len(spans) > 1:
            said = "; ".join(
                f"{', '.join(held)}: {first} to {last}" for (first, last), held in spans.items()
            )
            raise EngineError(
                f"the lake's districts hold the school year {year} with different dates "
                f"({said}): the metrics measure one window for the whole lake, so its "
                "districts must share the year's first and last day"
            )
    return Lake(keys, {year: number for number, year in enumerate(sorted(dates), 1)})


def _from_lake(fact: str, table: ir.Table, lake: Lake) -> ir.Table:
    """A lake's fact with its ids qualified by district: student and school ids offset by
    the district's number (`DISTRICT_ID_SPAN`), local ids `<key>.<local id>`, and the
    school year's id the lake's own for its name."""
    number = ibis.cases(*((table.district == key, n) for n, key in enumerate(lake.keys, 1)))
    changed = {}
    for column in ("student_id", "school_id"):
        if column in table.columns:
            changed[column] = table[column] + number.cast("int64") * DISTRICT_ID_SPAN
    if fact in ("students", "schools"):
        changed["local_id"] = table.district.concat(".", table.local_id)
    if "school_year_id" in FACT_SCHEMAS[fact]:
        changed["school_year_id"] = ibis.cases(
            *((table.school_year == name, n) for name, n in lake.years.items())
        ).cast("int64")
    table = table.mutate(**changed)
    if fact == "school_years":  # each district's copy of a year, alike (`read_lake`)
        table = _typed(fact, table).distinct()
    return table


def _copied(backend: ibis.BaseBackend, table: ir.Table) -> pa.Table:
    """A table's rows from PostgreSQL as Arrow, by COPY into a temporary file.

    Ibis fetches PostgreSQL's rows one Python tuple at a time; COPY streams them as text,
    which Arrow parses in C++, several times faster for large results (docs/benchmarks.md,
    "Design figures"). Only an unquoted empty field is NULL: a quoted one is an empty
    string, and words like "NA" stay words; an empty line is a row (one column, NULL).
    """
    schema = table.schema().to_pyarrow()
    query = f"COPY ({compiled(backend, table)}) TO STDOUT (FORMAT csv, HEADER)"
    with tempfile.TemporaryFile() as scratch:
        with connection.cursor() as cursor:
            cursor.execute("SET DateStyle = ISO")
            with cursor.copy(query) as copy:
                for block in copy:
                    scratch.write(block)
        scratch.seek(0)
        return pa_csv.read_csv(
            scratch,
            parse_options=pa_csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=schema,
                include_columns=schema.names,
                null_values=[""],
                true_values=["t"],
                false_values=["f"],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )


def _fetched(backend: ibis.BaseBackend, table: ir.Table) -> pa.Table:
    """A table's rows from SQLite as Arrow, column by column from the cursor.

    Ibis converts SQLite's rows through pandas, which costs more than building the Arrow
    columns directly (docs/benchmarks.md, "Design figures"). Each column is cast to its
    type, refusing any value that would change; computed dates come as text, which Arrow
    parses.
    """
    schema = table.schema().to_pyarrow()
    with connection.cursor() as cursor:
        cursor.execute(compiled(backend, table))
        rows = cursor.fetchall()
    values = zip(*rows, strict=True) if rows else ([] for _ in schema)
    arrays = [pa.array(column).cast(f.type) for column, f in zip(values, schema, strict=True)]
    return pa.Table.from_arrays(arrays, schema=schema)


def _parquet_files(directory: Path | str) -> dict[str, Path | str]:
    """Where each fact is: `<fact>.parquet` (a file, or on object storage maybe a directory
    of part files), or a `<fact>/` directory of the lake layout (`export_lake`)."""
    if "://" in str(directory):  # object storage: Spark finds (or misses) the files itself
        return {name: f"{str(directory).rstrip('/')}/{name}.parquet" for name in FACT_SCHEMAS}
    directory = Path(directory)
    found: dict[str, Path | str] = {}
    for name in FACT_SCHEMAS:
        if (directory / f"{name}.parquet").is_file():
            found[name] = directory / f"{name}.parquet"
        elif (directory / name).is_dir():
            found[name] = directory / name
    missing = [n for n in FACT_SCHEMAS if n not in found]
    if missing:
        raise EngineError(
            f"{directory}: missing {', '.join(f'{n}.parquet' for n in missing)}; write them "
            "with 'homeroom export parquet DIR'"
        )
    return found


def duckdb_engine(directory: Path) -> Engine:
    """The facts in Parquet files, run on an in-process DuckDB."""
    if "://" in str(directory):
        raise EngineError("the duckdb engine reads a local directory; give its path")
    backend = ibis.duckdb.connect()
    files = _parquet_files(directory)
    lake = _local_lake(Path(directory))
    facts = {}
    for name, path in files.items():
        table = (
            backend.read_parquet(path / "**" / "*.parquet", hive_partitioning=True)
            if path.is_dir()
            else backend.read_parquet(path)
        )
        facts[name] = _typed(name, _from_lake(name, table, lake) if lake else table)
    return Engine("duckdb", backend, Facts(**facts))


def _local_lake(directory: Path) -> Lake | None:
    """The lake in a local directory, checked (`read_lake`), or None for plain facts."""
    if (directory / OLD_MANIFEST).exists():
        raise EngineError(
            f"{directory}: a lake of layout 1 ({OLD_MANIFEST}), whose ids are not qualified "
            f"by district; export its districts again with this Homeroom (layout "
            f"{LAKE_SCHEMA_VERSION}) into a new directory"
        )
    manifests = sorted((directory / LAKE_MANIFESTS).glob("*.json"))
    if not manifests:
        return None
    texts = {str(path): path.read_text(encoding="utf-8") for path in manifests}
    return read_lake(texts, _lake_files(directory))


def _spark_lake(session, directory: str) -> Lake | None:
    """The lake at a URL, its manifests read by Spark, or None where there are none."""
    from pyspark.sql import functions as F

    try:
        found = (
            session.read.text(f"{directory.rstrip('/')}/{LAKE_MANIFESTS}", wholetext=True)
            .select(F.input_file_name().alias("name"), "value")
            .collect()
        )
    except Exception as error:
        if any(words in str(error) for words in _MISSING_FILE):
            return None
        raise
    return read_lake({row["name"]: row["value"] for row in found}) if found else None


def spark_engine(directory: Path | str, *, remote: str | None = None) -> Engine:
    """The facts in Parquet files, run on Apache Spark.

    The session is the one PySpark builds from its environment (local mode unless
    PYSPARK_SUBMIT_ARGS or spark-defaults say otherwise), or a Spark Connect session at
    `remote` (or SPARK_REMOTE), e.g. sc://spark.example.org:15002. A Connect server's
    application (its name, its web UI) was started by whoever runs it: only the session's
    SQL options are asked of it.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(
            "the spark engine needs PySpark: pip install 'homeroom[spark]' (and Java 17+)"
        ) from None
    remote = remote or os.environ.get("SPARK_REMOTE")
    files = _parquet_files(directory)
    builder = SparkSession.builder
    if remote:
        try:
            import pyspark.sql.connect.session  # noqa: F401 - needs grpcio and its kin
        except ImportError as error:
            raise EngineError(
                f"Spark Connect ({remote}) needs PySpark's Connect client: "
                f"pip install 'homeroom[spark]' ({error})"
            ) from None
        _reach(remote)
        builder = builder.remote(remote)
    else:
        builder = (
            builder.appName("homeroom-metrics")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
        )
    with spark_failures(remote):
        session = builder.config("spark.sql.session.timeZone", "UTC").getOrCreate()
        backend = ibis.pyspark.connect(session)
        if "://" in str(directory):
            lake = _spark_lake(session, str(directory))
            if lake:  # read as the lake's <fact>/ directories, not <fact>.parquet first
                files = {n: f"{str(directory).rstrip('/')}/{n}" for n in FACT_SCHEMAS}
        else:
            lake = _local_lake(Path(directory))
        facts = {}
        for name, path in files.items():
            table = _spark_read(backend, path)
            facts[name] = _typed(name, _from_lake(name, table, lake) if lake else table)
    return Engine("spark", backend, Facts(**facts))


def _reach(remote: str) -> None:
    """Fail at once, in words, when nothing listens at a Spark Connect address: PySpark's
    client retries an unreachable server with growing pauses for many minutes."""
    address = urllib.parse.urlsplit(remote)
    if address.scheme != "sc":  # "local" (a server PySpark starts itself) or a mistake
        if remote.startswith("local"):
            return
        raise EngineError(
            f"{remote} is not a Spark Connect address: write it sc://HOST:PORT "
            "(e.g. sc://spark.example.org:15002)"
        )
    host, port = address.hostname or "localhost", address.port or 15002
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as error:
        raise EngineError(
            f"cannot reach the Spark Connect server at {remote} "
            f"({error.strerror or error} at {host}:{port}): {CONNECT_ADVICE}"
        ) from None


CONNECT_TIMEOUT = 10  # seconds
CONNECT_ADVICE = (
    "check the address (--spark-remote or SPARK_REMOTE, sc://HOST:15002) and that the "
    "server is running (sbin/start-connect-server.sh)"
)


def _spark_read(backend: ibis.BaseBackend, path: Path | str) -> ir.Table:
    """A fact on Spark; on object storage `<fact>.parquet`, or else the lake's `<fact>/`."""
    try:
        return backend.read_parquet(str(path))
    except Exception as error:
        lake = str(path).removesuffix(".parquet")
        if "://" not in str(path) or "PATH_NOT_FOUND" not in str(error):
            raise
        try:
            return backend.read_parquet(lake)
        except Exception:
            raise error from None


# What Spark's failures mean and which setting to change, by the words of Spark's message
# (a Java exception's text, through Py4J or Spark Connect).
_OUT_OF_MEMORY = ("OutOfMemoryError", "Java heap space", "GC overhead limit exceeded")
_LOST_EXECUTOR = ("ExecutorLostFailure", "Lost executor", "executor lost")
_MISSING_FILE = ("PATH_NOT_FOUND", "Path does not exist", "FileNotFoundException")
MEMORY_ADVICE = (
    "give the driver more memory (spark.driver.memory; the default is 1g: e.g. "
    "PYSPARK_SUBMIT_ARGS='--driver-memory 8g pyspark-shell', or spark-defaults.conf), or "
    "write the result where it is computed (--output DIR/ or a s3a://, hdfs:// URL) so that "
    "no rows come back to the driver"
)


@contextlib.contextmanager
def spark_failures(remote: str | None) -> Iterator[None]:
    """Spark's failures as an `EngineError` saying what happened and what to change."""
    try:
        yield
    except EngineError:
        raise
    except Exception as error:
        said = spark_failure(error, remote)
        if said is None and type(error).__module__.startswith(("pyspark", "py4j", "grpc")):
            # Spark's own error, said by Spark: its first line, not its stack
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            said = f"Spark: {lines[0] if lines else type(error).__name__}"
        if said is None:
            raise
        raise EngineError(said) from error


def spark_failure(error: BaseException, remote: str | None = None) -> str | None:
    """What a failure of Spark means, in words, or None for errors that are not Spark's."""
    module = type(error).__module__
    text = str(error)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    connect = module.startswith(("pyspark.errors.exceptions.connect", "grpc"))
    if any(words in text for words in _OUT_OF_MEMORY):
        return f"Spark ran out of memory ({_quoted(text, _OUT_OF_MEMORY)}): {MEMORY_ADVICE}"
    if any(words in text for words in _LOST_EXECUTOR):
        return (
            f"Spark lost an executor ({_quoted(text, _LOST_EXECUTOR)}); most often the "
            "cluster manager ended it for using more memory than it was given: raise "
            "spark.executor.memory or spark.executor.memoryOverhead, or split the work "
            "into more, smaller tasks (spark.sql.shuffle.partitions)"
        )
    if any(words in text for words in _MISSING_FILE):
        path = _quoted(text, ("Path does not exist:", "File ", "PATH_NOT_FOUND"))
        return (
            f"Spark found no Parquet file where the facts should be ({path}): check --source,"
            " and write the facts there with 'homeroom export parquet DIR'"
        )
    if "PATH_ALREADY_EXISTS" in text:
        path = re.search(r"Path (\S+) already exists", text)
        return (
            f"{path.group(1) if path else 'the --output'}: already exists; the metrics are "
            "written to a new place (remove it, or give another --output)"
        )
    if connect and ("UNAVAILABLE" in text or "failed to connect" in text.lower()):
        return (
            f"lost the Spark Connect server at {remote or 'SPARK_REMOTE'} ({first}): "
            f"{CONNECT_ADVICE}"
        )
    if "JAVA_GATEWAY_EXITED" in text:
        return (
            "Spark's driver (its Java process) did not start: check that Java 17 or later is "
            "installed (JAVA_HOME) and that the machine has the memory asked for "
            "(spark.driver.memory); its own message is on standard error above"
        )
    # A Java exception is Spark's own error, said by Spark; the others mean the JVM is gone.
    java = type(error).__name__ == "Py4JJavaError"
    gone = isinstance(error, ConnectionError) or (module.startswith("py4j") and not java)
    if gone and not connect:
        return (
            "Spark's driver (its Java process) stopped while Homeroom waited for it "
            f"({first or type(error).__name__}); most often it ran out of memory and the "
            "JVM or the operating system ended it (its own log, on standard error above, "
            f"says why): {MEMORY_ADVICE}"
        )
    return None


def _quoted(text: str, words: tuple[str, ...]) -> str:
    """The line of Spark's message holding the first of these words, shortened."""
    for line in text.splitlines():
        if any(w in line for w in words):
            line = line.strip()
            return line if len(line) <= 200 else line[:197] + "..."
    return words[0]
