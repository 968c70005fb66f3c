"""Benchmark: a nightly full re-export of a 50,000-student district, imported again.

Run from the repository root:

    .venv/bin/python benchmarks/reimport_50k.py [--database sqlite|postgres|both] [--repeat 2]

What it does (docs/benchmarks.md, section "Re-import", records the figures):

1. Generates a 50,000-student district with one school year, part done (`--today
   2026-03-11`: the year 2025-2026 has attendance through 2026-03-10), as CSV files, with
   the Python API of `homeroom generate`. The generated files are the "new day" export;
   the "base" export is the same files with the attendance of the last day (2026-03-10,
   a school day everywhere) left out: last night's export. An "update" export is the base
   one changed as a SIS's corrections would change it: every 20th event row deleted, the
   code of every 10th changed (a deletion and an insertion: the code is part of an
   event's key), the reason of every 25th changed (an update) and every 100th student
   renamed.
2. Per database, imports the base export (every file but `district.csv` and `staff.csv`,
   which the `homeroom-generator` profile ignores) with `do_import_files`, the function
   `homeroom import csv` calls, then refreshes the summaries as of its last day
   (`do_refresh_summaries(incremental=True)`, the nightly pipeline's metrics step), into
   a template database, once. Each measurement then starts from a fresh copy of it
   (`CREATE DATABASE ... TEMPLATE` on PostgreSQL, a file copy on SQLite), gathered
   statistics included.
3. Times, each in its own child process:
   - unchanged: the base export again, every file identical;
   - new day: the export with one more school day of attendance, every file;
   - update: the update export;
   then the refresh that follows an import (as of the export's last day: the same day for
   unchanged and update, the next day for new day), timed apart. Import time is
   `do_import_files` (reading, hashing and the sync engine), split by the stages the
   import reports (`on_stage`), with the child's own CPU time (the whole import on
   SQLite; without the server's work on PostgreSQL); peak memory is `ru_maxrss` of the
   child (Django included).

Every measurement runs `--repeat` times; the summary gives each run and the best, and
whether the targets (issue 19: unchanged under 30 s, new day under 60 s) are met.
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
TODAY = dt.date(2026, 3, 11)  # the year 2025-2026 is generated through 2026-03-10
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432"
PG_TEMPLATE = "homeroom_bench_reimport"
PG_WORK = "homeroom_bench_reimport_run"
DISTRICT = "Riverbend Public Schools"
TIMEZONE = "America/New_York"
PROFILE = "homeroom-generator"
SKIPPED = {"district.csv", "staff.csv"}  # the profile ignores them: not imported
EVENTS = "attendance_events.csv"
CODE_CHANGES = {"A": "U", "U": "A", "E": "ILL", "ILL": "E", "T": "TE", "TE": "T"}
TARGETS = {"unchanged": 30.0, "new day": 60.0}  # seconds, the import alone


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


def write_exports(generated: Path, workdir: Path) -> dict:
    """The base and update exports beside the generated one; return what they hold."""
    new_day = max(row["date"] for row in _rows(generated / EVENTS))
    base, update = workdir / "base", workdir / "update"
    for directory in (base, update):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
    for path in generated.glob("*.csv"):
        if path.name not in SKIPPED | {EVENTS, "students.csv"}:
            shutil.copyfile(path, base / path.name)
            shutil.copyfile(path, update / path.name)
    shutil.copyfile(generated / "students.csv", base / "students.csv")
    with (generated / "students.csv").open(newline="") as source:
        reader = csv.DictReader(source)
        with (update / "students.csv").open("w", newline="") as out:
            writer = csv.DictWriter(out, reader.fieldnames, lineterminator="\n")
            writer.writeheader()
            renamed = 0
            for n, row in enumerate(reader):
                if n % 100 == 0:
                    row["last_name"] += "-Renamed"
                    renamed += 1
                writer.writerow(row)
    info = {"new_day": new_day, "renamed": renamed}
    counts = defaultdict(int)
    with (generated / EVENTS).open(newline="") as source:
        reader = csv.DictReader(source)
        with (
            (base / EVENTS).open("w", newline="") as base_file,
            (update / EVENTS).open("w", newline="") as update_file,
        ):
            writers = [
                csv.DictWriter(f, reader.fieldnames, lineterminator="\n")
                for f in (base_file, update_file)
            ]
            for writer in writers:
                writer.writeheader()
            for row in reader:
                if row["date"] == new_day:
                    counts["new_day_rows"] += 1
                    continue
                counts["base_rows"] += 1
                writers[0].writerow(row)
                n = counts["base_rows"]
                if n % 20 == 0:
                    counts["deleted"] += 1
                    continue
                if n % 10 == 5 and row["code"] in CODE_CHANGES:
                    row["code"] = CODE_CHANGES[row["code"]]
                    counts["code_changed"] += 1
                elif n % 25 == 3:
                    row["reason"] = "Corrected by the office"
                    counts["reason_changed"] += 1
                writers[1].writerow(row)
    return info | counts


def _rows(path: Path):
    with path.open(newline="") as handle:
        yield from csv.DictReader(handle)


def prepare_files(workdir: Path, students: int, seed: int) -> dict:
    """Generated files and the exports made from them, reused when the work directory has
    them."""
    info_path = workdir / "files.json"
    if info_path.exists():
        info = json.loads(info_path.read_text())
        if info.get("students") == students and info.get("seed") == seed:
            return info
    generated = workdir / "generated"
    shutil.rmtree(generated, ignore_errors=True)
    seconds = generate(generated, students, seed)
    info = write_exports(generated, workdir)
    info |= {"students": students, "seed": seed, "generate_seconds": round(seconds, 1)}
    info["base_day"] = max(row["date"] for row in _rows(workdir / "base" / EVENTS))
    info_path.write_text(json.dumps(info, indent=2))
    return info


def export_files(workdir: Path, name: str) -> list[str]:
    """The files of an export, as a nightly job would give them to `homeroom import`."""
    directory = {"base": "base", "new day": "generated", "update": "update"}[name]
    return sorted(str(p) for p in (workdir / directory).glob("*.csv") if p.name not in SKIPPED)


# ---------------------------------------------------------------------------------------
# Child processes: each measurement runs in a fresh interpreter


def child(args: argparse.Namespace) -> None:
    """Run one step (migrate, import) and print its figures as JSON on the last line."""
    import resource

    spec = json.loads(args.child)
    sys.path.insert(0, str(ROOT))  # this checkout's code, whatever the environment installed
    os.environ["DATABASE_URL"] = spec["database_url"]
    os.environ["HOMEROOM_DATA_DIR"] = spec["data_dir"]
    os.environ["DJANGO_SETTINGS_MODULE"] = "homeroom.settings"
    import django

    django.setup()
    result: dict = {}
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
    """do_import_files of the export's files, then the refresh, timed apart."""
    from homeroom.core.models import District
    from homeroom.ingest.actions import NewDistrict, do_import_files
    from homeroom.ingest.sync import IMPORT_STAGES
    from homeroom.metrics.actions import do_refresh_summaries

    district = District.objects.filter(name=DISTRICT).first() or NewDistrict(DISTRICT, TIMEZONE)
    marks: list[tuple[str, float]] = []
    cpu = time.process_time()  # this process's CPU: less bent by others' load than the clock
    started = time.perf_counter()
    run = do_import_files(
        [Path(p) for p in spec["files"]],
        district=district,
        source_format="csv",
        profile=PROFILE,
        on_stage=lambda name: marks.append((name, time.perf_counter())),
    )
    imported = time.perf_counter()
    import_cpu = time.process_time() - cpu
    stages = {"reading": marks[0][1] - started}
    for (name, begun), (_, ended) in zip(marks, [*marks[1:], ("end", imported)], strict=True):
        stages[name] = ended - begun
    assert list(stages)[1:] == list(IMPORT_STAGES), stages
    state = do_refresh_summaries(
        run.district, as_of=dt.date.fromisoformat(spec["as_of"]), incremental=True
    )
    refreshed = time.perf_counter()
    return {
        "import_s": imported - started,
        "import_cpu_s": import_cpu,
        "refresh_s": refreshed - imported,
        "stages": stages,
        "sync_s": run.duration_seconds,
        "counts": run.counts,
        "problem_counts": run.problem_counts,
        "attendance_students": run.attendance_students.count(),
        "summarized_students": state.students,
    }


def run_child(spec: dict) -> dict:
    """Run a step in a child process and return its figures (or raise with its output)."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"step {spec['step']} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# Databases


class Postgres:
    """A template database with the base export, copied fresh for each measurement."""

    name = "postgres"

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.base_url}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def create_template(self) -> str:
        self.execute(f"DROP DATABASE IF EXISTS {PG_WORK}")
        self.execute(f"DROP DATABASE IF EXISTS {PG_TEMPLATE}")
        self.execute(f"CREATE DATABASE {PG_TEMPLATE}")
        return f"{self.base_url}/{PG_TEMPLATE}"

    def settle(self) -> None:
        """Statistics and visibility maps, as autovacuum would have left them by night."""
        import psycopg

        with psycopg.connect(f"{self.base_url}/{PG_TEMPLATE}", autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

    def fresh(self) -> str:
        self.execute(f"DROP DATABASE IF EXISTS {PG_WORK}")
        self.execute(f"CREATE DATABASE {PG_WORK} TEMPLATE {PG_TEMPLATE}")
        return f"{self.base_url}/{PG_WORK}"

    def drop(self) -> None:
        self.execute(f"DROP DATABASE IF EXISTS {PG_WORK}")
        self.execute(f"DROP DATABASE IF EXISTS {PG_TEMPLATE}")


class Sqlite:
    """A template SQLite file with the base export, copied fresh for each measurement."""

    name = "sqlite"

    def __init__(self, workdir: Path):
        self.template = workdir / "sqlite" / "base.sqlite3"
        self.work = workdir / "sqlite" / "run.sqlite3"

    def create_template(self) -> str:
        shutil.rmtree(self.template.parent, ignore_errors=True)
        self.template.parent.mkdir(parents=True)
        return f"sqlite:///{self.template}"

    def settle(self) -> None:
        """The import analyzed what it changed; only the WAL is folded into the file."""
        with sqlite3.connect(self.template) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def fresh(self) -> str:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.work}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.template, self.work)
        return f"sqlite:///{self.work}"

    def drop(self) -> None:
        shutil.rmtree(self.template.parent, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# The benchmark


def benchmark(database, workdir: Path, info: dict, repeat: int, only: list[str], keep: bool):
    """Every measurement on one database; return the raw results."""
    data_dir = str(workdir / "data")
    results: dict[str, list] = defaultdict(list)

    def step(url: str, **spec) -> dict:
        return run_child({"database_url": url, "data_dir": data_dir, **spec})

    url = database.create_template()
    step(url, step="migrate")
    first = step(url, step="import", files=export_files(workdir, "base"), as_of=info["base_day"])
    results["first load"].append(first)
    database.settle()
    print(f"  first load: {brief(first)}", flush=True)
    as_of = {"unchanged": info["base_day"], "new day": info["new_day"], "update": info["base_day"]}
    for attempt in range(repeat):
        for name in only:
            files = export_files(workdir, "base" if name == "unchanged" else name)
            run = step(database.fresh(), step="import", files=files, as_of=as_of[name])
            results[name].append(run)
            print(f"  {name} #{attempt + 1}: {brief(run)}", flush=True)
    if not keep:
        database.drop()
    return dict(results)


def brief(run: dict) -> str:
    """One line about an import and its refresh."""
    changed = {
        entity: {k: v for k, v in counts.items() if k in ("inserted", "updated", "deleted") and v}
        for entity, counts in run["counts"].items()
    }
    changed = {entity: counts for entity, counts in changed.items() if counts}
    slow = sorted(run["stages"].items(), key=lambda kv: -kv[1])[:3]
    return (
        f"import {run['import_s']:.1f} s (CPU {run['import_cpu_s']:.1f} s;"
        f" {', '.join(f'{k} {v:.1f}' for k, v in slow)}),"
        f" refresh {run['refresh_s']:.1f} s, max RSS {run['max_rss_mb']:.0f} MB,"
        f" changed {changed},"
        f" students {run['attendance_students']:,}"
    )


def summary(name: str, results: dict) -> list[str]:
    """Markdown lines: each measurement's runs, best, stages of the best, target."""
    lines = [
        f"### {name}",
        "",
        "| measurement | import runs (s) | best import (its CPU) | refresh runs (s) | best import +"
        " refresh | slowest stages of the best | max RSS | target (import) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, runs in results.items():
        best = min(runs, key=lambda r: r["import_s"])
        both = min(r["import_s"] + r["refresh_s"] for r in runs)
        slow = sorted(best["stages"].items(), key=lambda kv: -kv[1])[:3]
        target = ""
        if key in TARGETS:
            met = "met" if best["import_s"] < TARGETS[key] else "not met"
            target = f"< {TARGETS[key]:.0f} s: {met}"
        lines.append(
            f"| {key} | {', '.join(f'{r["import_s"]:.1f}' for r in runs)}"
            f" | {best['import_s']:.1f} ({best['import_cpu_s']:.1f})"
            f" | {', '.join(f'{r["refresh_s"]:.1f}' for r in runs)}"
            f" | {both:.1f} | {', '.join(f'{k} {v:.1f}' for k, v in slow)}"
            f" | {max(r['max_rss_mb'] for r in runs):.0f} MB | {target} |"
        )
    lines += ["", "Counts (inserted / updated / deleted / unchanged) of the last run:", ""]
    for key, runs in results.items():
        shown = [
            f"{entity} {c['inserted']}/{c['updated']}/{c['deleted']}/{c['unchanged']}"
            for entity, c in runs[-1]["counts"].items()
        ]
        lines.append(f"- {key}: {'; '.join(shown)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--only",
        default="unchanged,new day,update",
        help="comma-separated subset of: unchanged, new day, update",
    )
    parser.add_argument("--postgres", default=PG_DEFAULT, help="server URL, no database name")
    parser.add_argument(
        "--workdir", type=Path, help="keep files here (and reuse generated ones); default: temp"
    )
    parser.add_argument(
        "--keep-databases", action="store_true", help="keep the template and last run databases"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    sys.path.insert(0, str(ROOT))
    temporary = None
    if args.workdir is None:
        temporary = tempfile.TemporaryDirectory(prefix="homeroom-reimport-bench-")
        args.workdir = Path(temporary.name)
    args.workdir.mkdir(parents=True, exist_ok=True)
    try:
        print(f"load average: {os.getloadavg()}", flush=True)
        info = prepare_files(args.workdir, args.students, args.seed)
        print(json.dumps(info, indent=2), flush=True)
        only = [name.strip() for name in args.only.split(",")]
        databases = []
        if args.database in ("sqlite", "both"):
            databases.append(Sqlite(args.workdir))
        if args.database in ("postgres", "both"):
            databases.append(Postgres(args.postgres))
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
