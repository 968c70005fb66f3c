"""`homeroom generate` from the command line: files, summary, loading, clear refusals."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from homeroom.core.models import District
from homeroom.demo.files import FILE_STEMS, HISTORY_FILE
from homeroom.ingest.models import ImportRun
from homeroom.roster.models import Student

SMALL = ["--students", "150", "--schools", "3", "--years", "1", "--seed", "3"]


def generate(*args: str) -> str:
    """Run the command quietly; return what it printed."""
    out = io.StringIO()
    call_command("generate", *args, verbosity=0, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the installed entry point in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "homeroom", "generate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_it_writes_every_file_and_a_summary(tmp_path):
    # when
    printed = generate(*SMALL, "--today", "2025-11-20", "--output", str(tmp_path))

    # then
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted([f"{s}.csv" for s in FILE_STEMS] + [HISTORY_FILE])
    assert "students" in printed and "attendance events" in printed
    assert "1 school years (2025-2026)" in printed
    assert f"16 files in {tmp_path}" in printed


def test_the_same_arguments_give_the_same_files(tmp_path):
    # when
    generate(*SMALL, "--today", "2025-11-20", "--output", str(tmp_path / "a"))
    generate(*SMALL, "--today", "2025-11-20", "--output", str(tmp_path / "b"))

    # then
    for stem in FILE_STEMS:
        a = (tmp_path / "a" / f"{stem}.csv").read_bytes()
        assert a == (tmp_path / "b" / f"{stem}.csv").read_bytes(), stem


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--students", "0"], "--students must be at least 1"),
        (["--students", "-5"], "--students must be at least 1"),
        (["--schools", "0"], "--schools must be at least 1"),
        (["--years", "0"], "--years must be at least 1"),
        (["--seed", "-1"], "--seed must be at least 0"),
        (["--today", "2025-13-01"], "--today '2025-13-01' is not a date"),
        (["--today", "yesterday"], "is not a date in the form YYYY-MM-DD"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        generate(*args, "--output", str(tmp_path))
    assert not any(tmp_path.iterdir())


def test_an_output_path_that_is_a_file_is_refused(tmp_path):
    # given
    taken = tmp_path / "taken.csv"
    taken.write_text("x")

    # when / then
    with pytest.raises(CommandError, match="is a file, not a directory"):
        generate(*SMALL, "--output", str(taken))


def test_load_puts_the_district_in_the_database(db, tmp_path):
    # when
    printed = generate(*SMALL, "--today", "2025-11-20", "--output", str(tmp_path), "--load")

    # then
    district = District.objects.get()
    run = ImportRun.objects.get()
    students = len((tmp_path / "students.csv").read_text().splitlines()) - 1
    assert Student.objects.filter(district=district).count() == students
    assert run.status == ImportRun.Status.SUCCEEDED
    assert f"loaded as import run {run.pk}" in printed

    # and loading it again is refused before anything is generated
    with pytest.raises(CommandError, match="already holds a district named"):
        generate(*SMALL, "--output", str(tmp_path / "again"), "--load")
    assert District.objects.count() == 1


def test_the_command_line_exits_non_zero_without_a_traceback(tmp_path):
    # when
    negative = run_cli("--students", "-5", "--output", str(tmp_path))
    not_a_number = run_cli("--years", "three", "--output", str(tmp_path))

    # then
    assert negative.returncode != 0
    assert "--students must be at least 1" in negative.stderr
    assert not_a_number.returncode != 0
    assert "invalid int value: 'three'" in not_a_number.stderr
    for result in (negative, not_a_number):
        assert "Traceback" not in result.stderr


def test_load_into_an_unmigrated_database_says_to_migrate(tmp_path):
    # given: an empty SQLite database in a fresh data directory
    env = {
        "HOMEROOM_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
    }

    # when
    result = run_cli(*SMALL, "--output", str(tmp_path / "out"), "--load", "-v", "0", env=env)

    # then
    assert result.returncode != 0
    assert "run `homeroom migrate` first" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (Path(tmp_path / "out") / "students.csv").exists()
