"""Benchmark: the least any PostgreSQL import of a year's events can take, against a bare COPY.

Run from the repository root, on a database that already holds a year of events (the
metrics benchmark's, for one), with the exceptions file they came from:

    .venv/bin/python benchmarks/storage_floor.py \
        --dsn postgres://postgres@127.0.0.1:5432/homeroom_bench_metrics \
        --file /tmp/mbench/generated/attendance_events.csv [--repeat 2]

The ingest issue asks for an import within 1.5x of a bare `COPY` of the file into an
unindexed table. This measures, in the same run, what storing the rows costs before any
parsing, validation, id lookup or data-quality finding (docs/benchmarks.md, "Storage floor"):

- bare COPY: the file streamed into a new table of text columns (as `import_50k.py` does);
- indexed insert: the events already typed (`INSERT ... SELECT` from the events table) into
  a new table with the events table's columns, constraints and indexes, then the same
  with its deferred student key, committed;
- insert then index: the same rows into the table without indexes, then its indexes built
  (the cheapest order, open only to a first load into an empty table).

Every new table is dropped afterwards; the database's own tables are only read.
"""

import argparse
import time
from pathlib import Path

import psycopg

EVENTS = "attendance_attendanceevent"
FLOOR = "bench_storage_floor"
BARE = "bench_storage_bare"
INDEXES = (
    f"ALTER TABLE {FLOOR} ADD PRIMARY KEY (id)",
    f"CREATE INDEX ON {FLOOR} (school_id, date)",
    f"CREATE INDEX ON {FLOOR} (student_id, date)",
    f"CREATE INDEX ON {FLOOR} (source_run_id)",
    f"CREATE INDEX ON {FLOOR} (section_id) WHERE section_id IS NOT NULL",
)


def timed(conn: psycopg.Connection, statements: list[str]) -> float:
    """Seconds to run the statements and commit."""
    started = time.perf_counter()
    with conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    conn.commit()
    return time.perf_counter() - started


def bare_copy(conn: psycopg.Connection, path: Path) -> float:
    with path.open() as handle:
        columns = handle.readline().strip().split(",")
    timed(conn, [f"DROP TABLE IF EXISTS {BARE}"])
    started = time.perf_counter()
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {BARE} ({', '.join(f'"{c}" text' for c in columns)})")
        with (
            cursor.copy(f"COPY {BARE} FROM STDIN (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as handle,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
    conn.commit()
    seconds = time.perf_counter() - started
    timed(conn, [f"DROP TABLE {BARE}"])
    return seconds


def floor_table(conn: psycopg.Connection, *, indexes: bool, student_key: bool) -> None:
    like = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY"
    statements = [
        f"DROP TABLE IF EXISTS {FLOOR}",
        f"CREATE TABLE {FLOOR} (LIKE {EVENTS} {like}{' INCLUDING INDEXES' if indexes else ''})",
    ]
    if student_key:
        statements.append(
            f"ALTER TABLE {FLOOR} ADD FOREIGN KEY (student_id) REFERENCES roster_student (id)"
            " DEFERRABLE INITIALLY DEFERRED"
        )
    timed(conn, statements)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="a database holding a year of events")
    parser.add_argument("--file", type=Path, required=True, help="the events' CSV file")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    insert = f"INSERT INTO {FLOOR} SELECT * FROM {EVENTS}"
    with psycopg.connect(args.dsn) as conn:
        rows = conn.execute(f"SELECT COUNT(*) FROM {EVENTS}").fetchone()[0]
        print(f"{rows:,} events")
        for _ in range(args.repeat):
            copy_s = bare_copy(conn, args.file)
            floor_table(conn, indexes=True, student_key=False)
            indexed_s = timed(conn, [insert])
            floor_table(conn, indexes=True, student_key=True)
            keyed_s = timed(conn, [insert])
            floor_table(conn, indexes=False, student_key=False)
            unindexed_s = timed(conn, [insert])
            build_s = timed(conn, list(INDEXES))
            timed(conn, [f"DROP TABLE {FLOOR}"])
            print(
                f"bare COPY {copy_s:.2f} s | indexed insert {indexed_s:.2f} s"
                f" ({indexed_s / copy_s:.1f}x), with the student key {keyed_s:.2f} s"
                f" ({keyed_s / copy_s:.1f}x) | insert then index {unindexed_s:.2f}"
                f" + {build_s:.2f} s ({(unindexed_s + build_s) / copy_s:.1f}x)",
                flush=True,
            )


if __name__ == "__main__":
    main()
