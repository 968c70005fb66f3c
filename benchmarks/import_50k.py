"""Benchmark: import a year of daily attendance for a 50,000-student district.

Run from the repository root:

    .venv/bin/python benchmarks/import_50k.py [--database sqlite|postgres|both] [--repeat 2]

What it does (docs/benchmarks.md, section "Import", records the figures):

1. Generates a 50,000-student district with one school year (`--today 2026-07-01`, so the
   year 2025-2026 is complete) as CSV files, with the Python API of `homeroom generate`.
2. Writes a positive-attendance CSV for the same year from calendar x enrollments + events:
   every instructional day of every enrollment gets a row, the generator's events where it
   has them and code `P` otherwise. Also two nightly files for one school day (every
   student enrolled that day): positive, and exceptions-only.
3. Per database, loads the roster (every generated file but attendance_events.csv) through
   the generic engine (`read_tabular` with the `homeroom-generator` profile + `do_import`)
   into a template database, once. Each measurement then starts from a fresh copy of it
   (`CREATE DATABASE ... TEMPLATE` on PostgreSQL, a file copy on SQLite).
4. Times, each in its own child process (so its peak RSS is the import's own):
   - exceptions: attendance_events.csv (profile `homeroom-generator`);
   - positive: the positive file (profile `positive-daily`);
   - nightly: after each full-year import, the nightly file of the same kind for one day,
     imported on top (that day's events are deleted first, untimed, so the nightly run
     inserts the day as a real nightly run does);
   - copy (PostgreSQL): a bare `COPY ... FROM STDIN (FORMAT csv)` of each file, streamed
     from this client, into an unindexed table of text columns, in the same run.
   Import time = reading (`read_tabular`) + hashing the file (as `homeroom import` records
   its SHA-256) + `do_import`, i.e. what `homeroom import csv` does after Django starts.
   Peak memory = `ru_maxrss` of the child process (Django included).

Every measurement runs `--repeat` times; the summary gives each run and the best.
"""

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 7, 1)  # after the 2025-2026 year ended: the whole year is generated
NIGHTLY_NEAR = dt.date(2026, 3, 10)  # the nightly file is for the school day nearest this
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432"
PG_TEMPLATE = "homeroom_bench_import"
PG_WORK = "homeroom_bench_import_run"
DISTRICT = "Riverbend Public Schools"
EVENT_COLUMNS = "student_id,school_id,date,code,day_fraction,minutes_missed,reason"
ROSTER_SKIP = {"attendance_events.csv", "district.csv", "staff.csv"}
EVENTS_TABLE = "attendance_attendanceevent"


# ---------------------------------------------------------------------------------------
# Files


def generate(directory: Path, students: int, seed: int) -> float:
    """Generate the district's CSV files into `directory`; return the seconds taken."""
    from homeroom.demo.district import DistrictParameters, generate_district
    from homeroom.demo.export import write_district_csv

    started = time.perf_counter()
    params = DistrictParameters(students=students, years=1, seed=seed, today=TODAY)
    write_district_csv(generate_district(params), directory)
    return time.perf_counter() - started


def write_positive(generated: Path, out: Path) -> dict:
    """The positive file for the year and the two nightly files; return what they hold."""
    instructional: dict[str, list[str]] = defaultdict(list)
    with (generated / "calendar_dates.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["kind"] in ("instructional", "makeup"):
                instructional[row["school_id"]].append(row["date"])
    for days in instructional.values():
        days.sort()
    # The nightly day: the school day of every school nearest NIGHTLY_NEAR.
    common = set.intersection(*(set(days) for days in instructional.values()))
    nightly = min(common, key=lambda d: abs(dt.date.fromisoformat(d) - NIGHTLY_NEAR)).strip()
    events: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    with (generated / "attendance_events.csv").open(newline="") as handle:
        header = handle.readline().strip()
        assert header == EVENT_COLUMNS, header
        for line in handle:
            student, school, date, _ = line.split(",", 3)
            events[student, school].append((date, line))
    out.mkdir(parents=True, exist_ok=True)
    (out / "nightly-positive").mkdir(exist_ok=True)
    (out / "nightly-exceptions").mkdir(exist_ok=True)
    rows = present = event_rows = nightly_rows = nightly_events = 0
    with (
        (out / "positive.csv").open("w", newline="") as year_file,
        (out / "nightly-positive" / "positive.csv").open("w", newline="") as night_file,
        (out / "nightly-exceptions" / "attendance_events.csv").open("w", newline="") as night_ex,
        (generated / "enrollments.csv").open(newline="") as enrollments,
    ):
        for handle in (year_file, night_file, night_ex):
            handle.write(EVENT_COLUMNS + "\n")
        for row in csv.DictReader(enrollments):
            student, school = row["student_id"], row["school_id"]
            first, last = row["entry_date"], row["exit_date"] or "9999-12-31"
            held = defaultdict(list)
            for date, line in events.pop((student, school), ()):
                held[date].append(line)
            prefix = f"{student},{school},"
            lines = []
            for date in instructional[school]:
                if first <= date <= last:
                    if date in held:
                        day = held.pop(date)
                        event_rows += len(day)
                    else:
                        day = [f"{prefix}{date},P,,,\n"]
                        present += 1
                    lines.extend(day)
                    if date == nightly:
                        night_file.writelines(day)
                        nightly_rows += len(day)
                        if day[0][len(prefix) + 11 :].startswith("P,"):
                            continue
                        night_ex.writelines(day)
                        nightly_events += len(day)
            for day in held.values():  # events off the calendar or the enrollment: kept
                lines.extend(day)
                event_rows += len(day)
            year_file.writelines(lines)
            rows += len(lines)
        for (_student, _school), left in events.items():  # events without an enrollment
            year_file.writelines(line for _date, line in left)
            rows += len(left)
            event_rows += len(left)
    return {
        "positive_rows": rows,
        "present_rows": present,
        "event_rows": event_rows,
        "nightly_date": nightly,
        "nightly_positive_rows": nightly_rows,
        "nightly_exception_rows": nightly_events,
    }


def prepare_files(workdir: Path, students: int, seed: int) -> dict:
    """Generated files and the benchmark's own, reused when the work directory has them."""
    info_path = workdir / "files.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("students") == students and info.get("seed") == seed:
            return info
    generated = workdir / "generated"
    shutil.rmtree(generated, ignore_errors=True)
    seconds = generate(generated, students, seed)
    started = time.perf_counter()
    info = write_positive(generated, workdir / "files")
    info |= {
        "students": students,
        "seed": seed,
        "generate_seconds": round(seconds, 1),
        "positive_write_seconds": round(time.perf_counter() - started, 1),
    }
    for name in ("generated/attendance_events.csv", "files/positive.csv"):
        info[f"mb:{name}"] = round((workdir / name).stat().st_size / 1e6, 1)
    info_path.write_text(json.dumps(info, indent=2))
    return info


# ---------------------------------------------------------------------------------------
# Child processes: each measurement runs in a fresh interpreter


def child(args: argparse.Namespace) -> None:
    """Run one step (migrate, import, copy) and print its figures as JSON on the last line."""
    import resource

    spec = json.loads(args.child)
    result: dict = {}
    if spec["step"] == "copy":
        result = bare_copy(spec["dsn"], Path(spec["file"]))
    else:
        os.environ["DATABASE_URL"] = spec["database_url"]
        os.environ["HOMEROOM_DATA_DIR"] = spec["data_dir"]
        os.environ["DJANGO_SETTINGS_MODULE"] = "homeroom.settings"
        import django

        django.setup()
        if spec["step"] == "migrate":
            from django.core.management import call_command

            started = time.perf_counter()
            call_command("migrate", verbosity=0)
            result["seconds"] = time.perf_counter() - started
        else:
            result = timed_import(spec)
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result, default=str))


def timed_import(spec: dict) -> dict:
    """read_tabular + source_file + do_import of the files, timed apart."""
    from django.db import connection

    from homeroom.core.models import District
    from homeroom.ingest.adapters.tabular import read_tabular
    from homeroom.ingest.adapters.tabular.profiles import load_profile
    from homeroom.ingest.formats import files_read, source_file
    from homeroom.ingest.sync import ImportRejected, do_import

    paths = [Path(p) for p in spec["files"]]
    district, _ = District.objects.get_or_create(
        name=DISTRICT, defaults={"timezone": "America/New_York"}
    )
    if spec.get("clear_date"):  # untimed: the nightly day is not held yet
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {EVENTS_TABLE} WHERE date = %s", [spec["clear_date"]])
    started = time.perf_counter()
    batch = read_tabular(paths, load_profile(spec["profile"]))
    read = time.perf_counter()
    files = [source_file(path) for path in files_read(paths)]
    hashed = time.perf_counter()
    status = "succeeded"
    try:
        run = do_import(batch, district=district, source_format="csv", files=files)
    except ImportRejected as rejected:
        run, status = rejected.run, "rejected"
    done = time.perf_counter()
    return {
        "status": status,
        "read_s": read - started,
        "hash_s": hashed - read,
        "sync_s": done - hashed,
        "total_s": done - started,
        "rows_read": sum(batch.rows_read.values()),
        "counts": run.counts,
        "problem_counts": run.problem_counts,
        "first_problems": [p["text"] for p in run.problems[:3]],
    }


def bare_copy(dsn: str, path: Path) -> dict:
    """COPY the CSV file into a new unindexed table of text columns; the seconds taken."""
    import psycopg

    with path.open("rb") as handle:
        columns = handle.readline().decode().strip().split(",")
    definition = ", ".join(f'"{c}" text' for c in columns)
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_bare_copy")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE TABLE bench_bare_copy ({definition})")
            with (
                cursor.copy("COPY bench_bare_copy FROM STDIN (FORMAT csv, HEADER true)") as copy,
                path.open("rb") as handle,
            ):
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            rows = cursor.rowcount
        conn.commit()
        seconds = time.perf_counter() - started
        with conn.cursor() as cursor:
            cursor.execute("DROP TABLE bench_bare_copy")
        conn.commit()
    return {"total_s": seconds, "rows": rows}


def run_child(spec: dict) -> dict:
    """Run a step in a child process and return its figures (or raise with its output)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"step {spec['step']} failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - started
    return result


# ---------------------------------------------------------------------------------------
# Databases


class Postgres:
    """A template database with the roster, copied fresh for each measurement."""

    name = "postgres"

    def __init__(self, base_url: str, workdir: Path):
        self.base_url, self.workdir = base_url.rstrip("/"), workdir

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.base_url}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def create_template(self) -> str:
        self.execute(f"DROP DATABASE IF EXISTS {PG_WORK}")
        self.execute(f"DROP DATABASE IF EXISTS {PG_TEMPLATE}")
        self.execute(f"CREATE DATABASE {PG_TEMPLATE}")
        return self.url(PG_TEMPLATE)

    def settle(self) -> None:
        """Statistics for the roster, as autovacuum would have gathered them by now."""
        import psycopg

        with psycopg.connect(self.url(PG_TEMPLATE), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

    def fresh(self) -> str:
        self.execute(f"DROP DATABASE IF EXISTS {PG_WORK}")
        self.execute(f"CREATE DATABASE {PG_WORK} TEMPLATE {PG_TEMPLATE}")
        return self.url(PG_WORK)

    def drop(self) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {PG_WORK}")
        self.execute(f"DROP DATABASE IF EXISTS {PG_TEMPLATE}")


class Sqlite:
    """A template SQLite file with the roster, copied fresh for each measurement."""

    name = "sqlite"

    def __init__(self, workdir: Path):
        self.template = workdir / "sqlite" / "roster.sqlite3"
        self.work = workdir / "sqlite" / "run.sqlite3"

    def create_template(self) -> str:
        shutil.rmtree(self.template.parent, ignore_errors=True)
        self.template.parent.mkdir(parents=True)
        return f"sqlite:///{self.template}"

    def settle(self) -> None:
        """Statistics for the query planner, as `homeroom migrate` leaves none."""
        with sqlite3.connect(self.template) as conn:
            conn.execute("ANALYZE")

    def fresh(self) -> str:
        with sqlite3.connect(self.template) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.work}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.template, self.work)
        return f"sqlite:///{self.work}"

    def drop(self) -> None:
        shutil.rmtree(self.template.parent, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# The benchmark


def benchmark(database, workdir: Path, info: dict, repeat: int, only: set[str], keep: bool) -> dict:
    """Every measurement on one database; return the raw results."""
    data_dir = str(workdir / "data")
    generated, files = workdir / "generated", workdir / "files"
    results: dict[str, list] = defaultdict(list)

    def step(url: str, **spec) -> dict:
        return run_child({"database_url": url, "data_dir": data_dir, **spec})

    url = database.create_template()
    results["migrate"].append(step(url, step="migrate"))
    roster = sorted(p for p in generated.glob("*.csv") if p.name not in ROSTER_SKIP)
    roster_run = step(
        url, step="import", profile="homeroom-generator", files=[str(p) for p in roster]
    )
    results["roster"].append(roster_run)
    database.settle()
    print(f"  roster: {brief(roster_run)}", flush=True)
    scenarios = [
        (
            "exceptions",
            "homeroom-generator",
            generated / "attendance_events.csv",
            files / "nightly-exceptions" / "attendance_events.csv",
        ),
        (
            "positive",
            "positive-daily",
            files / "positive.csv",
            files / "nightly-positive" / "positive.csv",
        ),
    ]
    for attempt in range(repeat):
        for name, profile, year_file, night_file in scenarios:
            if name not in only:
                continue
            url = database.fresh()
            run = step(url, step="import", profile=profile, files=[str(year_file)])
            results[name].append(run)
            print(f"  {name} #{attempt + 1}: {brief(run)}", flush=True)
            if "nightly" in only:
                run = step(
                    url,
                    step="import",
                    profile=profile,
                    files=[str(night_file)],
                    clear_date=info["nightly_date"],
                )
                results[f"nightly-{name}"].append(run)
                print(f"  nightly-{name} #{attempt + 1}: {brief(run)}", flush=True)
            if database.name == "postgres" and "copy" in only:
                for label, path in ((name, year_file), (f"nightly-{name}", night_file)):
                    run = run_child({"step": "copy", "dsn": url, "file": str(path)})
                    results[f"copy-{label}"].append(run)
                    print(f"  copy {label} #{attempt + 1}: {run['total_s']:.1f} s", flush=True)
    if not keep:
        database.drop()
    return dict(results)


def brief(run: dict) -> str:
    """One line about an import run."""
    counts = run.get("counts", {}).get("attendance", {})
    shown = ", ".join(f"{k} {v:,}" for k, v in counts.items() if v)
    return (
        f"{run['status']}, read {run['read_s']:.1f} s + hash {run['hash_s']:.1f} s + sync"
        f" {run['sync_s']:.1f} s = {run['total_s']:.1f} s, max RSS {run['max_rss_mb']:.0f} MB"
        f" [{shown}] {run['problem_counts']}"
    )


def summary(name: str, results: dict) -> list[str]:
    """Markdown lines: each measurement's runs, best, and the ratio to a bare COPY."""
    lines = [
        f"### {name}",
        "",
        "| measurement | runs (import s) | best | read / hash / sync of best | max RSS |",
        "|---|---|---|---|---|",
    ]
    for key, runs in results.items():
        if key in ("migrate",) or key.startswith("copy-"):
            continue
        best = min(runs, key=lambda r: r["total_s"])
        lines.append(
            f"| {key} | {', '.join(f'{r["total_s"]:.1f}' for r in runs)} | {best['total_s']:.1f}"
            f" | {best['read_s']:.1f} / {best['hash_s']:.1f} / {best['sync_s']:.1f}"
            f" | {max(r['max_rss_mb'] for r in runs):.0f} MB |"
        )
    for key, runs in results.items():
        if not key.startswith("copy-"):
            continue
        label = key.removeprefix("copy-")
        best = min(r["total_s"] for r in runs)
        ratio = ""
        if label in results:
            ratio = f", import/COPY {min(r['total_s'] for r in results[label]) / best:.2f}x"
        lines.append(
            f"| bare COPY {label} | {', '.join(f'{r["total_s"]:.1f}' for r in runs)} |"
            f" {best:.2f} | {runs[0]['rows']:,} rows{ratio} | |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--only",
        default="exceptions,positive,nightly,copy",
        help="comma-separated subset of exceptions, positive, nightly, copy",
    )
    parser.add_argument("--postgres", default=PG_DEFAULT, help="server URL, no database name")
    parser.add_argument(
        "--workdir", type=Path, help="keep files here (and reuse generated ones); default: temp"
    )
    parser.add_argument(
        "--keep-databases", action="store_true", help="keep the roster and last run databases"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(ROOT))
    temporary = None
    if args.workdir is None:
        temporary = tempfile.TemporaryDirectory(prefix="homeroom-import-bench-")
        args.workdir = Path(temporary.name)
    args.workdir.mkdir(parents=True, exist_ok=True)
    try:
        print(f"load average: {os.getloadavg()}", flush=True)
        info = prepare_files(args.workdir, args.students, args.seed)
        print(json.dumps(info, indent=2), flush=True)
        only = set(args.only.split(","))
        databases = []
        if args.database in ("sqlite", "both"):
            databases.append(Sqlite(args.workdir))
        if args.database in ("postgres", "both"):
            databases.append(Postgres(args.postgres, args.workdir))
        report = {"files": info, "load_before": os.getloadavg()}
        for database in databases:
            print(f"{database.name}:", flush=True)
            report[database.name] = benchmark(
                database, args.workdir, info, args.repeat, only, args.keep_databases
            )
        report["load_after"] = os.getloadavg()
        (args.workdir / "results.json").write_text(json.dumps(report, indent=2, default=str))
        print()
        for database in databases:
            print("\n".join(summary(database.name, report[database.name])))
            print()
        print(f"load average before {report['load_before']}, after {report['load_after']}")
    finally:
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    main()
