"""The backup and restore docs/deployment.md gives: dump the database, restore it into a new
one, and the restored copy holds the same figures (students, events, the summaries pages
read, the audit trail). Run on whichever database the tests use (SQLite or PostgreSQL)."""

import datetime as dt
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from homeroom.conftest import add_absence, school_day
from homeroom.core.actions import do_log_student_access
from homeroom.metrics.actions import do_refresh_summaries

# What a restore must give back: the figures staff read, recomputed by SQL on each copy.
FIGURES = {
    "students": "SELECT count(*) FROM roster_student",
    "events": "SELECT count(*), min(date), max(date) FROM attendance_attendanceevent",
    "summaries": "SELECT count(*), sum(days_enrolled), sum(days_absent),"
    " sum(CASE WHEN chronic THEN 1 ELSE 0 END) FROM metrics_studentsummary",
    "audit": "SELECT count(*), max(student_id) FROM core_auditentry",
}


def figures(cursor) -> dict[str, tuple]:
    result = {}
    for name, sql in FIGURES.items():
        cursor.execute(sql)
        result[name] = tuple(str(value) for value in cursor.fetchone())
    return result


@pytest.fixture
def district(transactional_db, cast):
    """The cast with absences, summaries and an audit entry, committed (a dump run by
    another process sees only what is committed)."""
    for n, pupil in enumerate((cast.ana, cast.ben, cast.carla)):
        school = cast.central if pupil is cast.carla else cast.lincoln
        for day in range(1, n + 3):
            add_absence(cast, pupil, school, school_day(cast, school, day))
    do_refresh_summaries(cast.district)
    do_log_student_access(
        user=cast.admin,
        student_id=cast.ana.pk,
        subject="student page",
        access_reason="district-wide",
    )
    return cast


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


def test_a_dump_restored_into_a_new_database_holds_the_same_figures(district, tmp_path):
    with connection.cursor() as cursor:
        before = figures(cursor)
    assert before["events"][0] == str(2 + 3 + 4)  # the absences written above
    assert int(before["summaries"][0]) > 0
    if connection.vendor == "postgresql":
        after = _postgres_round_trip(tmp_path)
    else:
        after = _sqlite_round_trip(tmp_path)
    assert after == before


def _sqlite_round_trip(tmp_path: Path) -> dict[str, tuple]:
    # the documented online backup (safe while Homeroom runs: WAL mode), then the copy put
    # in place of a database file, as a restore does
    # The test database may be in memory (the suite's default): it is first written to a
    # file, standing for Homeroom's database file, with the same online backup API.
    database = tmp_path / "homeroom.sqlite3"
    with sqlite3.connect(database) as live:
        connection.connection.backup(live)
    live.close()
    backup = tmp_path / f"homeroom-{dt.date.today()}.sqlite3"
    run("sqlite3", str(database), f".backup '{backup}'")
    restored = tmp_path / "restored" / "homeroom.sqlite3"
    restored.parent.mkdir()
    backup.rename(restored)
    with sqlite3.connect(restored) as copy:
        run("sqlite3", str(restored), "PRAGMA integrity_check")
        return figures(copy.cursor())


def _postgres_round_trip(tmp_path: Path) -> dict[str, tuple]:
    settings = connection.settings_dict
    server = f"postgresql://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}"
    dump = tmp_path / f"homeroom-{dt.date.today()}.dump"
    restored = f"{settings['NAME']}_restored"
    # the documented dump, and a restore into a new, empty database
    run("pg_dump", "--format=custom", f"--file={dump}", f"{server}/{settings['NAME']}")
    run("dropdb", "--if-exists", f"--maintenance-db={server}/postgres", restored)
    run("createdb", f"--maintenance-db={server}/postgres", restored)
    try:
        run("pg_restore", "--no-owner", f"--dbname={server}/{restored}", str(dump))
        with psycopg.connect(f"{server}/{restored}") as copy:
            return figures(copy.cursor())
    finally:
        run("dropdb", f"--maintenance-db={server}/postgres", restored)
