"""Benchmark: per-student attendance metrics for a 50,000-student district, on every engine.

Run from the repository root:

    .venv/bin/python benchmarks/metrics_50k.py [--workdir DIR] [--database sqlite|postgres|both]

What it does (docs/benchmarks.md, section "Metrics", records the figures):

1. Generates a 50,000-student district with one complete school year (`--today 2026-07-01`)
   and loads it through the import engine (`load_generated_district`) into a fresh SQLite
   file and a fresh PostgreSQL database (reused from `--workdir` when already loaded).
2. Per database, as of the year's last day, times:
   - compute: the per-student metrics (`student_school` staged, then `student_district`)
     executed to Arrow;
   - hand-written: the same per-student numbers as one hand-written SQL statement on the
     same database (`DATABASE_HAND_WRITTEN`, run as an expert would tune it), its rows
     compared with compute's column by column for every student: how fast this database
     computes those numbers at all from the stored facts; then the same statement over a
     table of the absence days the definitions resolve (`STORED_DAYS_TABLE`, built
     untimed), as keeping them between refreshes would allow, compared the same way;
   - refresh: the full recompute of the materialized summaries (`do_refresh_summaries`);
   - next night: the summaries as of the day before the last school day (untimed), a
     one-day exceptions file for the last school day imported (that day's events deleted
     first, untimed), then the incremental refresh as of that day, timed apart;
   - same day: the summaries as of the last day without its events (untimed), the same
     file imported, then the incremental refresh after it, timed;
   - after each, a full refresh, and its rows compared with the incremental one's.
   On PostgreSQL the summaries and events are vacuumed before each night (untimed), as
   autovacuum would have; the benchmark's server runs without it.
3. Exports the facts to Parquet (`export_parquet`), loads them into an in-memory DuckDB,
   builds the full student-day table (every enrolled school day of every student with its
   resolved status and the school's day number, as a warehouse that expands days would
   hold it; untimed), and times, in the same process, the hand-written DuckDB query that
   computes every per-student number of `student_district` from that table (`HAND_WRITTEN`:
   days enrolled, absences by category and weekday, tardies, the last 30 days, the longest
   run, rates, chronic, band and tier) against the definitions (`student_district`) on the
   facts; the two results are compared column by column for every student. The first
   hand-written query, which summed the absences and set the chronic flag only
   (`HAND_WRITTEN_SUMS`), is timed too.
4. Replicates the facts ten times with distinct student ids (500,000 students, the same
   schools and calendars) and times `student_district` on DuckDB.

Each timing runs `--repeat` times; the report gives every run, and the time this machine
takes for 10 million additions in a Python loop, to compare the hosts of two runs.
"""

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 7, 1)
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_NAME = "homeroom_bench_metrics"

# Counted, chronic, band and tier under attendance-works, from `days_enrolled` and
# `absent_milli`: the end of every hand-written query below.
CLASSIFIED = """       days_enrolled >= 10 AS counted,
       days_enrolled >= 10 AND absent_milli * 10 >= days_enrolled * 1000 AS chronic,
       CASE WHEN days_enrolled < 10 THEN NULL
            WHEN absent_milli * 5 >= days_enrolled * 1000 THEN 'severe'
            WHEN absent_milli * 10 >= days_enrolled * 1000 THEN 'moderate'
            WHEN absent_milli * 20 >= days_enrolled * 1000 THEN 'at_risk'
            ELSE 'satisfactory' END AS band,
       CASE WHEN days_enrolled < 10 THEN NULL
            WHEN absent_milli * 5 >= days_enrolled * 1000 THEN 'tier3'
            WHEN absent_milli * 10 >= days_enrolled * 1000 THEN 'tier2'
            ELSE 'tier1' END AS tier
"""
# The first hand-written query, still timed for comparison: the sums and the chronic flag only.
HAND_WRITTEN_SUMS = """
SELECT student_id,
       COUNT(*) AS days_enrolled,
       SUM(absent_milli) AS absent_milli,
       SUM(CASE WHEN category = 'excused' THEN absent_milli ELSE 0 END) AS excused_milli,
       SUM(CASE WHEN category = 'unexcused' THEN absent_milli ELSE 0 END) AS unexcused_milli,
       SUM(CASE WHEN category = 'oss' THEN absent_milli ELSE 0 END) AS oss_milli,
       SUM(tardy) AS tardies,
       SUM(absent_milli) / (COUNT(*) * 1000.0) AS absence_rate,
       COUNT(*) >= 10 AND SUM(absent_milli) * 10 >= COUNT(*) * 1000 AS chronic
FROM student_days
GROUP BY student_id
"""
# Every per-student number of the metrics issue, as `student_district` gives them under
# attendance-works: days enrolled, absences by category, tardies, rates, chronic, band,
# tier, the last 30 days (from {recent}), absences by weekday and the longest run of
# consecutive school days fully absent (each school's own days: `day_number`).
HAND_WRITTEN = (
    """
WITH islands AS (
    SELECT student_id, school_id,
           day_number - ROW_NUMBER() OVER (
               PARTITION BY student_id, school_id ORDER BY day_number) AS island
    FROM student_days
    WHERE absent_milli >= 1000
), runs AS (
    SELECT student_id, MAX(length) AS longest_absence_run
    FROM (SELECT student_id, COUNT(*) AS length FROM islands
          GROUP BY student_id, school_id, island)
    GROUP BY student_id
), totals AS (
    SELECT student_id,
           COUNT(*) AS days_enrolled,
           SUM(absent_milli) AS absent_milli,
           SUM(CASE WHEN category = 'excused' THEN absent_milli ELSE 0 END) AS excused_milli,
           SUM(CASE WHEN category = 'unexcused' THEN absent_milli ELSE 0 END) AS unexcused_milli,
           SUM(CASE WHEN category = 'oss' THEN absent_milli ELSE 0 END) AS oss_milli,
           SUM(tardy) AS tardies,
           SUM(CASE WHEN date >= DATE '{recent}' THEN absent_milli ELSE 0 END)
               AS absent_last_30_milli,
           SUM(CASE WHEN isodow(date) = 1 THEN absent_milli ELSE 0 END) AS monday_milli,
           SUM(CASE WHEN isodow(date) = 2 THEN absent_milli ELSE 0 END) AS tuesday_milli,
           SUM(CASE WHEN isodow(date) = 3 THEN absent_milli ELSE 0 END) AS wednesday_milli,
           SUM(CASE WHEN isodow(date) = 4 THEN absent_milli ELSE 0 END) AS thursday_milli,
           SUM(CASE WHEN isodow(date) = 5 THEN absent_milli ELSE 0 END) AS friday_milli
    FROM student_days
    GROUP BY student_id
)
SELECT t.*,
       COALESCE(r.longest_absence_run, 0) AS longest_absence_run,
       absent_milli / (days_enrolled * 1000.0) AS absence_rate,
       1 - absent_milli / (days_enrolled * 1000.0) AS attendance_rate,
"""
    + CLASSIFIED
    + """FROM totals t LEFT JOIN runs r USING (student_id)
"""
)

# The same per-student numbers as one statement on the application database, from the
# stored facts (events, codes, enrollments, calendar dates): what an expert would write
# for attendance-works, with no temporary table. Each calendar's days are numbered in a
# CTE (`dense`: every date of the year, `n` counting the school days up to it) so a
# span's days enrolled are two equality lookups, as in the definitions. {greatest},
# {least}, {weekday} and {dates} differ between SQLite and PostgreSQL.
DATABASE_HAND_WRITTEN = (
    """
WITH {recursive} dense AS (
    SELECT g.school_id, g.date, {weekday} AS weekday,
           CASE WHEN d.kind IN ('instructional', 'makeup') THEN 1 ELSE 0 END AS counted,
           SUM(CASE WHEN d.kind IN ('instructional', 'makeup') THEN 1 ELSE 0 END)
               OVER (PARTITION BY g.calendar_id ORDER BY g.date) AS n
    FROM ({dates}) AS g
    LEFT JOIN core_calendardate d ON d.calendar_id = g.calendar_id AND d.date = g.date
), spans AS (
    SELECT student_id, school_id,
           {greatest}(entry_date, %(start)s) AS first_day,
           {least}(COALESCE(exit_date, %(as_of)s), %(as_of)s) AS last_day
    FROM roster_enrollment
    WHERE school_year_id = %(year)s AND entry_date <= %(as_of)s
      AND (exit_date IS NULL OR exit_date >= %(start)s)
), enrolled AS (
    SELECT s.student_id, SUM(b.n - a.n + a.counted) AS days_enrolled
    FROM spans s
    JOIN dense a ON a.school_id = s.school_id AND a.date = s.first_day
    JOIN dense b ON b.school_id = s.school_id AND b.date = s.last_day
    GROUP BY s.student_id
), {days}, sums AS (
    SELECT student_id,
           SUM(absent_milli) AS absent_milli,
           SUM(CASE WHEN category = 2 THEN absent_milli ELSE 0 END) AS excused_milli,
           SUM(CASE WHEN category = 3 THEN absent_milli ELSE 0 END) AS unexcused_milli,
           SUM(CASE WHEN category = 4 THEN absent_milli ELSE 0 END) AS oss_milli,
           SUM(tardy) AS tardies,
           SUM(CASE WHEN date >= %(recent)s THEN absent_milli ELSE 0 END)
               AS absent_last_30_milli,
           SUM(CASE WHEN weekday = 0 THEN absent_milli ELSE 0 END) AS monday_milli,
           SUM(CASE WHEN weekday = 1 THEN absent_milli ELSE 0 END) AS tuesday_milli,
           SUM(CASE WHEN weekday = 2 THEN absent_milli ELSE 0 END) AS wednesday_milli,
           SUM(CASE WHEN weekday = 3 THEN absent_milli ELSE 0 END) AS thursday_milli,
           SUM(CASE WHEN weekday = 4 THEN absent_milli ELSE 0 END) AS friday_milli
    FROM days GROUP BY student_id
), runs AS (
    SELECT student_id, MAX(length) AS longest_absence_run
    FROM (SELECT student_id, COUNT(*) AS length
          FROM (SELECT student_id, school_id,
                       n - ROW_NUMBER() OVER (
                           PARTITION BY student_id, school_id ORDER BY n) AS island
                FROM days WHERE absent_milli >= 1000) AS full_days
          GROUP BY student_id, school_id, island) AS islands
    GROUP BY student_id
), totals AS (
    SELECT en.student_id, en.days_enrolled,
           COALESCE(su.absent_milli, 0) AS absent_milli,
           COALESCE(su.excused_milli, 0) AS excused_milli,
           COALESCE(su.unexcused_milli, 0) AS unexcused_milli,
           COALESCE(su.oss_milli, 0) AS oss_milli,
           COALESCE(su.tardies, 0) AS tardies,
           COALESCE(su.absent_last_30_milli, 0) AS absent_last_30_milli,
           COALESCE(su.monday_milli, 0) AS monday_milli,
           COALESCE(su.tuesday_milli, 0) AS tuesday_milli,
           COALESCE(su.wednesday_milli, 0) AS wednesday_milli,
           COALESCE(su.thursday_milli, 0) AS thursday_milli,
           COALESCE(su.friday_milli, 0) AS friday_milli,
           COALESCE(r.longest_absence_run, 0) AS longest_absence_run
    FROM enrolled en
    LEFT JOIN sums su ON su.student_id = en.student_id
    LEFT JOIN runs r ON r.student_id = en.student_id
)
SELECT t.*,
"""
    + CLASSIFIED
    + """FROM totals t
"""
)
# {days}: each day's absence resolved from the events, as the definitions do ({then} makes
# SQLite find each span's events by student: left to itself it reads the year's events
# through their (school, date) index, at random, several times slower) ...
DAYS_FROM_EVENTS = """keyed AS (
    -- a day's largest share absent, then oss > unexcused > excused > partial
    SELECT e.student_id, e.school_id, c.date, c.n, c.weekday,
           MAX(CASE WHEN k.category IN ('excused', 'unexcused', 'oss', 'partial')
                    AND COALESCE(e.day_fraction, k.day_fraction) > 0
               THEN {least}(CAST(ROUND(COALESCE(e.day_fraction, k.day_fraction) * 1000)
                                 AS INTEGER), 1000) * 10
                    + CASE k.category WHEN 'oss' THEN 4 WHEN 'unexcused' THEN 3
                                      WHEN 'excused' THEN 2 ELSE 1 END
               ELSE 0 END) AS day_key,
           MAX(CASE WHEN k.category = 'tardy' THEN 1 ELSE 0 END) AS tardy
    FROM spans s
    {then} attendance_attendanceevent e ON e.student_id = s.student_id
         AND e.school_id = s.school_id AND e.date >= s.first_day AND e.date <= s.last_day
    JOIN attendance_attendancecode k ON k.id = e.code_id
    JOIN dense c ON c.school_id = e.school_id AND c.date = e.date AND c.counted = 1
    GROUP BY e.student_id, e.school_id, c.date, c.n, c.weekday
), days AS (
    SELECT student_id, school_id, date, n, weekday, tardy,
           day_key / 10 AS absent_milli, day_key %% 10 AS category
    FROM keyed
)"""
# ... or read from a table that keeps them (`STORED_DAYS_TABLE`, built by the script from
# the definitions' absence days, untimed): what keeping resolved absence days between
# refreshes, maintained by the imports, would let a query do.
STORED_DAYS_TABLE = "homeroom_bench_absence_days"
DAYS_FROM_TABLE = f"""days AS (
    SELECT student_id, school_id, date, through AS n, weekday, tardy, absent_milli, category
    FROM {STORED_DAYS_TABLE} WHERE date >= %(start)s AND date <= %(as_of)s
)"""
DIALECTS = {
    "sqlite": {
        "recursive": """RECURSIVE calendar_days (calendar_id, school_id, date, end_date) AS (
            SELECT c.id, c.school_id, y.start_date, y.end_date
            FROM core_calendar c JOIN core_schoolyear y ON y.id = c.school_year_id
            WHERE c.school_year_id = %(year)s
            UNION ALL
            SELECT calendar_id, school_id, date(date, '+1 day'), end_date
            FROM calendar_days WHERE date < end_date
        ),""",
        "dates": "SELECT calendar_id, school_id, date FROM calendar_days",
        "weekday": "(CAST(strftime('%%w', g.date) AS INTEGER) + 6) %% 7",
        "greatest": "MAX",
        "least": "MIN",
        "then": "CROSS JOIN",  # SQLite joins in the order written
    },
    "postgresql": {
        "recursive": "",
        "dates": """SELECT c.id AS calendar_id, c.school_id, CAST(g AS date) AS date
            FROM core_calendar c JOIN core_schoolyear y ON y.id = c.school_year_id,
                 generate_series(y.start_date, y.end_date, interval '1 day') AS g
            WHERE c.school_year_id = %(year)s""",
        "weekday": "CAST(EXTRACT(ISODOW FROM g.date) AS INTEGER) - 1",
        "greatest": "GREATEST",
        "least": "LEAST",
        "then": "JOIN",
        # as an expert would run it: sorts and hashes in memory, no row-by-row lookups
        # and no JIT compiling (the server's defaults sort on disk)
        "settings": ("SET work_mem = '256MB'", "SET jit = off", "SET enable_nestloop = off"),
    },
}


def columns_that_differ(hand: list[dict], ours: list[dict]) -> list[str]:
    """The columns on which some student's two rows differ ("students" if the two sides do
    not hold the same students): every per-student number of `student_district`."""
    from homeroom.metrics.definitions import SUM_COLUMNS

    compared = ("days_enrolled", *SUM_COLUMNS, "longest_absence_run")
    compared += ("counted", "chronic", "band", "tier")
    hand = {r["student_id"]: r for r in hand}
    ours = {r["student_id"]: r for r in ours}
    if hand.keys() != ours.keys():
        return ["students"]
    differ = {c for s, h in hand.items() for c in compared if h[c] != ours[s][c]}
    return sorted(differ)


def child(spec: dict) -> dict:
    """One database's measurements, in a process with that database configured."""
    os.environ["DATABASE_URL"] = spec["database_url"]
    os.environ["HOMEROOM_DATA_DIR"] = spec["data_dir"]
    os.environ["DJANGO_SETTINGS_MODULE"] = "homeroom.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from homeroom.core.models import District
    from homeroom.demo.loading import load_generated_district
    from homeroom.ingest.adapters.tabular import read_tabular
    from homeroom.ingest.adapters.tabular.profiles import load_profile
    from homeroom.ingest.formats import source_file
    from homeroom.ingest.models import ImportRun
    from homeroom.ingest.sync import do_import
    from homeroom.metrics import definitions
    from homeroom.metrics.actions import do_refresh_summaries
    from homeroom.metrics.engines import database_engine, export_parquet
    from homeroom.metrics.rules import load_rule_profile

    result: dict = {}
    call_command("migrate", verbosity=0)
    if not District.objects.exists():
        started = time.perf_counter()
        load_generated_district(Path(spec["generated"]))
        result["load_s"] = time.perf_counter() - started
    district = District.objects.get()
    profile = load_rule_profile(district.rule_profile)
    as_of = dt.date.fromisoformat(spec["as_of"])
    for _ in range(spec["repeat"]):
        started = time.perf_counter()
        engine = database_engine(district)
        window = engine.window(as_of)
        per_school = engine.facts.stage(definitions.student_school(engine.facts, profile, window))
        rows = engine.run(definitions.student_district(engine.facts, profile, window, per_school))
        result.setdefault("compute_s", []).append(time.perf_counter() - started)
        result["students"] = rows.num_rows
        started = time.perf_counter()
        hand = hand_written_rows(connection, window)
        result.setdefault("hand_written_s", []).append(time.perf_counter() - started)
        result["hand_written_columns_that_differ"] = columns_that_differ(hand, rows.to_pylist())
        started = time.perf_counter()
        state = do_refresh_summaries(district)
        result.setdefault("refresh_s", []).append(time.perf_counter() - started)
        result["summary_students"] = state.students
    store_absence_days(connection, engine, profile, window)
    for _ in range(spec["repeat"]):
        started = time.perf_counter()
        hand = hand_written_rows(connection, window, DAYS_FROM_TABLE)
        result.setdefault("stored_days_hand_written_s", []).append(time.perf_counter() - started)
    result["stored_days_columns_that_differ"] = columns_that_differ(hand, rows.to_pylist())
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {STORED_DAYS_TABLE}")
    nightly = Path(spec["nightly"])
    day_before = dt.date.fromisoformat(spec["day_before"])

    def import_the_day() -> ImportRun:
        batch = read_tabular([nightly], load_profile("homeroom-generator"))
        return do_import(
            batch, district=district, source_format="csv", files=[source_file(nightly)]
        )

    def vacuumed() -> None:
        """On PostgreSQL, what autovacuum (off on the benchmark's server) would have done
        between two nights: the dead rows of the earlier rewrites removed."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE metrics_studentsummary, attendance_attendanceevent")

    def same_as_full() -> bool:
        """Whether the summaries held are those a full refresh writes (which it then does)."""
        incremental = summary_rows(connection)
        do_refresh_summaries(district, as_of=as_of)
        return incremental == summary_rows(connection)

    for _ in range(spec["repeat"]):
        with connection.cursor() as cursor:  # untimed: the day is not held yet
            cursor.execute("DELETE FROM attendance_attendanceevent WHERE date = %s", [as_of])
        # the next night: summaries as of the day before, the day's file, summaries as of it
        do_refresh_summaries(district, as_of=day_before)
        vacuumed()
        started = time.perf_counter()
        run = import_the_day()
        imported = time.perf_counter()
        state = do_refresh_summaries(district, as_of=as_of, incremental=True)
        done = time.perf_counter()
        result.setdefault("nightly_import_s", []).append(imported - started)
        result.setdefault("nightly_refresh_s", []).append(done - imported)
        result["nightly_rows"] = run.counts["attendance"]
        result["nightly_same_as_full"] = same_as_full()
        # the same day: summaries as of the day without its events, then the day's file
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM attendance_attendanceevent WHERE date = %s", [as_of])
        do_refresh_summaries(district, as_of=as_of)
        vacuumed()
        run = import_the_day()
        started = time.perf_counter()
        state = do_refresh_summaries(district, as_of=as_of, incremental=True)
        result.setdefault("same_day_refresh_s", []).append(time.perf_counter() - started)
        result["same_day_same_as_full"] = same_as_full()
        result["state_as_of"] = state.as_of

    if spec.get("parquet"):
        shutil.rmtree(spec["parquet"], ignore_errors=True)
        result["parquet_rows"] = export_parquet(database_engine(district), Path(spec["parquet"]))
    return result


def hand_written_rows(connection, window, days: str = DAYS_FROM_EVENTS) -> list[dict]:
    """`DATABASE_HAND_WRITTEN` executed on the connection, its rows fetched as dicts."""
    from homeroom.metrics.definitions import RECENT_DAYS

    dialect = DIALECTS[connection.vendor]
    query = DATABASE_HAND_WRITTEN.format(days=days.format(**dialect), **dialect)
    params = {
        "year": window.school_year_id,
        "start": window.start,
        "as_of": window.as_of,
        "recent": window.as_of - dt.timedelta(days=RECENT_DAYS - 1),
    }
    with connection.cursor() as cursor:
        for setting in dialect.get("settings", ()):
            cursor.execute(setting)
        cursor.execute(query, params)
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        for setting in dialect.get("settings", ()):
            cursor.execute(f"RESET {setting.split()[1]}")
    return rows


def store_absence_days(connection, engine, profile, window) -> None:
    """`STORED_DAYS_TABLE`: the definitions' absence days of the window, as a table kept
    between refreshes would hold them (category as DAYS_FROM_EVENTS numbers it), indexed."""
    from homeroom.metrics import definitions

    days = definitions.absence_days(engine.facts, profile, window)  # a temporary table
    ranks = " ".join(
        f"WHEN '{name}' THEN {rank}"
        for rank, name in enumerate(reversed(definitions.DAY_CATEGORY_ORDER), 1)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STORED_DAYS_TABLE}")
        cursor.execute(
            f"CREATE TABLE {STORED_DAYS_TABLE} AS SELECT student_id, school_id, date, through,"
            f" weekday, tardy, absent_milli, CASE category {ranks} ELSE 0 END AS category"
            f" FROM {days.get_name()} ORDER BY student_id, school_id, date"
        )
        cursor.execute(
            f"CREATE INDEX {STORED_DAYS_TABLE}_keys"
            f" ON {STORED_DAYS_TABLE} (student_id, school_id, date)"
        )
        cursor.execute(f"ANALYZE {STORED_DAYS_TABLE}")


def python_loop_seconds() -> float:
    """The time of 10 million additions in a Python loop: compares the hosts of two runs."""
    started, total = time.perf_counter(), 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


def summary_rows(connection) -> list:
    """Every summary row, without its id, in a stable order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT student_id, school_id, school_year_id, grade, days_enrolled, days_absent,"
            " excused, unexcused, oss, tardies, absent_last_30, longest_absence_run,"
            " absence_rate, attendance_rate, counted, chronic, band, tier,"
            " projected_days_absent, projected_chronic FROM metrics_studentsummary"
            " ORDER BY student_id, school_id"
        )
        return cursor.fetchall()


def duckdb_measurements(parquet: Path, as_of: dt.date, repeat: int) -> dict:
    """Definitions against the hand-written query on the student-day table; 500k students."""
    import django
    import ibis

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")
    django.setup()
    from homeroom.metrics import definitions
    from homeroom.metrics.engines import Engine, duckdb_engine
    from homeroom.metrics.rules import load_rule_profile

    profile = load_rule_profile("attendance-works")
    files = duckdb_engine(parquet)
    backend = files.backend
    tables = {
        name: backend.create_table(name, getattr(files.facts, name))
        for name in definitions.FACT_SCHEMAS
    }
    engine = Engine("duckdb", backend, definitions.Facts(**tables))
    window = engine.window(as_of)
    days = definitions.absence_days(engine.facts, profile, window)
    held = definitions.spans(engine.facts, window)
    backend.create_table("resolved", days)
    backend.create_table("held", held)
    started = time.perf_counter()
    backend.con.sql(
        """
        CREATE TABLE student_days AS
        SELECT h.student_id, h.school_id, d.date, d.through AS day_number,
               COALESCE(r.absent_milli, 0) AS absent_milli, r.category,
               COALESCE(r.tardy, 0) AS tardy
        FROM held h
        JOIN school_days d ON d.school_id = h.school_id AND d.counted = 1
             AND d.date BETWEEN h.first_day AND h.last_day
        LEFT JOIN resolved r ON r.student_id = h.student_id AND r.school_id = h.school_id
             AND r.date = d.date
        """
    )
    result: dict = {"student_day_build_s": time.perf_counter() - started}
    result["student_days"] = backend.con.sql("SELECT COUNT(*) FROM student_days").fetchall()[0][0]
    recent = window.as_of - dt.timedelta(days=definitions.RECENT_DAYS - 1)
    hand_written = HAND_WRITTEN.format(recent=recent.isoformat())
    for _ in range(repeat):
        started = time.perf_counter()
        backend.con.sql(HAND_WRITTEN_SUMS).to_arrow_table()
        result.setdefault("hand_written_sums_s", []).append(time.perf_counter() - started)
        started = time.perf_counter()
        hand = backend.con.sql(hand_written).to_arrow_table()
        result.setdefault("hand_written_s", []).append(time.perf_counter() - started)
        started = time.perf_counter()
        ours = engine.run(definitions.student_district(engine.facts, profile, window))
        result.setdefault("definitions_s", []).append(time.perf_counter() - started)
    result["columns_that_differ"] = columns_that_differ(hand.to_pylist(), ours.to_pylist())
    # 500,000 students: ten copies of the district, each with its own student ids.
    step = int(backend.con.sql("SELECT MAX(student_id) FROM students").fetchall()[0][0]) + 1
    big = {}
    for name in definitions.FACT_SCHEMAS:
        table = tables[name]
        if "student_id" in table.columns:
            copies = ibis.memtable({"copy": list(range(10))})
            table = (
                table.cross_join(copies)
                .mutate(student_id=ibis._.student_id + ibis._.copy * step)
                .drop("copy")
            )
        big[name] = backend.create_table(f"big_{name}", table)
    big_engine = Engine("duckdb", backend, definitions.Facts(**big))
    result["big_students"] = backend.con.sql(
        "SELECT COUNT(DISTINCT student_id) FROM big_enrollments"
    ).fetchall()[0][0]
    for _ in range(repeat):
        started = time.perf_counter()
        rows = big_engine.run(definitions.student_district(big_engine.facts, profile, window))
        result.setdefault("big_definitions_s", []).append(time.perf_counter() - started)
    result["big_rows"] = rows.num_rows
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep generated files and databases here")
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgres", "both", "none"],
        default="both",
        help="none: DuckDB only, on the Parquet files of an earlier run in --workdir",
    )
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=PG_SERVER, help="server URL, no database name")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child)), default=str))
        return
    sys.path.insert(0, str(ROOT))
    temporary = None
    if args.workdir is None:
        temporary = tempfile.TemporaryDirectory(prefix="homeroom-metrics-bench-")
        args.workdir = Path(temporary.name)
    workdir = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    generated = workdir / "generated"
    if not (generated / "attendance_events.csv").exists():
        from homeroom.demo.district import DistrictParameters, generate_district
        from homeroom.demo.export import write_district_csv

        params = DistrictParameters(students=args.students, years=1, seed=0, today=TODAY)
        write_district_csv(generate_district(params), generated)
    as_of, day_before, nightly = last_school_days(generated, workdir)
    report: dict = {
        "as_of": as_of.isoformat(),
        "load_before": os.getloadavg(),
        "python_loop_s": python_loop_seconds(),
    }
    targets = []
    if args.database in ("sqlite", "both"):
        targets.append(("sqlite", f"sqlite:///{workdir / 'sqlite' / 'homeroom.sqlite3'}"))
        (workdir / "sqlite").mkdir(exist_ok=True)
    if args.database in ("postgres", "both"):
        targets.append(("postgres", f"{args.postgres}/{PG_NAME}"))
        ensure_pg_database(args.postgres)
    for name, url in targets:
        spec = {
            "database_url": url,
            "data_dir": str(workdir / "data"),
            "generated": str(generated),
            "nightly": str(nightly),
            "as_of": as_of.isoformat(),
            "day_before": day_before.isoformat(),
            "repeat": args.repeat,
            "parquet": str(workdir / "parquet") if name == targets[0][0] else None,
        }
        done = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(spec)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if done.returncode:
            raise SystemExit(f"{name} failed:\n{done.stdout}\n{done.stderr}")
        report[name] = json.loads(done.stdout.strip().splitlines()[-1])
        print(name, json.dumps(report[name], indent=1), flush=True)
    report["duckdb"] = duckdb_measurements(workdir / "parquet", as_of, args.repeat)
    print("duckdb", json.dumps(report["duckdb"], indent=1), flush=True)
    report["load_after"] = os.getloadavg()
    (workdir / "metrics-results.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"load average before {report['load_before']}, after {report['load_after']}")
    print(f"this machine's speed: 10 million Python additions in {report['python_loop_s']:.2f} s")
    if temporary is not None:
        temporary.cleanup()


def last_school_days(generated: Path, workdir: Path) -> tuple[dt.date, dt.date, Path]:
    """The last two days every school held class, and a one-day exceptions file for the last."""
    import csv

    days: dict[str, set[str]] = {}
    with (generated / "calendar_dates.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["kind"] in ("instructional", "makeup"):
                days.setdefault(row["school_id"], set()).add(row["date"])
    *_, before, last = sorted(set.intersection(*days.values()))
    nightly = workdir / "nightly" / "attendance_events.csv"
    nightly.parent.mkdir(exist_ok=True)
    with (generated / "attendance_events.csv").open() as source, nightly.open("w") as out:
        out.write(source.readline())
        out.writelines(line for line in source if line.split(",", 3)[2] == last)
    return dt.date.fromisoformat(last), dt.date.fromisoformat(before), nightly


def ensure_pg_database(server: str) -> None:
    """Create the benchmark's PostgreSQL database if it is missing."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_NAME]).fetchone():
            conn.execute(f"CREATE DATABASE {PG_NAME}")


if __name__ == "__main__":
    main()
