"""Benchmark: a state's per-student and per-school metrics on DuckDB and on Spark.

Run from the repository root:

    .venv/bin/python benchmarks/state_5m.py --workdir DIR [--students 5000000]

What it does (docs/benchmarks.md, section "A state on one machine", records the figures):

1. Generates one district of 5,000 students with one complete school year (8 schools,
   `--today 2026-07-01`), loads it through the import engine into a fresh SQLite database
   and exports its facts (`homeroom export parquet`); reused from `--workdir` when there.
2. Builds a state from it by replication, on disk, with DuckDB: as many copies as make
   `--students` students (1,000 copies for 5,000,000), each a district of its own, with its
   own student ids and its own schools (ids offset, local ids suffixed with the copy), the
   school years shared. The seven facts are written as `<fact>.parquet` files.
3. Runs, as separate processes as a state would run them, as of the year's last school
   day under `attendance-works`:
   - `homeroom metrics students --per school` and `homeroom metrics schools` on DuckDB,
     each written as a Parquet dataset (`--output DIR/`);
   - the same two on Spark's local mode (all of this machine's cores, driver memory
     `--spark-memory`), written by Spark's own writer, no row collected to the driver;
   each timed from start to exit, with the peak memory of the whole process tree (the
   command, and for Spark its JVM) sampled every 0.2 s from /proc.
4. Compares the two engines' datasets file for file: the same partition directories, one
   data file in each, and no row of either missing from the other (DuckDB's EXCEPT ALL both
   ways over every file).

It prints the results as JSON and writes them to `state-results.json` in the work
directory, with the load average before each run and the time this machine takes for 10
million additions in a Python loop, to compare hosts.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOMEROOM = [sys.executable, "-m", "homeroom.cli"]
BASE_STUDENTS = 5_000
FACTS = (
    "school_years",
    "schools",
    "school_days",
    "students",
    "characteristics",
    "enrollments",
    "events",
)


def homeroom(env: dict, *args: str) -> None:
    """Run a Homeroom command; stop the benchmark with its output if it fails."""
    done = subprocess.run([*HOMEROOM, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"homeroom {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")


def base_district(workdir: Path) -> Path:
    """The 5,000-student district's facts as Parquet (generated and loaded once)."""
    base = workdir / "base"
    if (base / "events.parquet").exists():
        return base
    env = {**os.environ, "HOMEROOM_DATA_DIR": str(workdir / "db")}
    env.pop("DATABASE_URL", None)
    homeroom(env, "migrate", "--verbosity", "0")
    homeroom(
        env,
        *("generate", "--students", str(BASE_STUDENTS), "--years", "1"),
        *("--today", "2026-07-01", "--output", str(workdir / "generated"), "--load"),
    )
    homeroom(env, "export", "parquet", str(base))
    return base


def replicate(base: Path, state: Path, students: int) -> dict:
    """The base district copied into a state of `students` students; what was built."""
    import duckdb

    copies = math.ceil(students / BASE_STUDENTS)
    built = {"copies": copies}
    if (state / "done.json").exists():
        return json.loads((state / "done.json").read_text())
    state.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    # DuckDB's default, 80% of the machine's memory, is more than a shared host can give
    con.execute(f"SET memory_limit = '{os.environ.get('STATE_DUCKDB_MEMORY', '6GB')}'")
    for fact in FACTS:
        con.execute(f"CREATE VIEW {fact} AS SELECT * FROM read_parquet('{base}/{fact}.parquet')")
    step_student = con.execute("SELECT max(student_id) + 1 FROM students").fetchone()[0]
    step_school = con.execute("SELECT max(school_id) + 1 FROM schools").fetchone()[0]
    con.execute(f"CREATE TABLE copies AS SELECT range AS copy FROM range({copies})")
    offset = {
        "student_id": f"student_id + copy * {step_student}",
        "school_id": f"school_id + copy * {step_school}",
        "local_id": "local_id || '-' || copy",
        "name": "name || ' ' || copy",
    }
    started = time.perf_counter()
    for fact in FACTS:
        columns = [row[0] for row in con.execute(f"DESCRIBE {fact}").fetchall()]
        if fact == "school_years":
            query = f"SELECT * FROM {fact}"
        else:
            expressions = [f"{offset[c]} AS {c}" if c in offset else c for c in columns]
            query = f"SELECT {', '.join(expressions)} FROM {fact} CROSS JOIN copies"
        con.execute(f"COPY ({query}) TO '{state}/{fact}.parquet' (FORMAT parquet)")
        built[fact] = con.execute(
            f"SELECT count(*) FROM read_parquet('{state}/{fact}.parquet')"
        ).fetchone()[0]
    built["replicate_s"] = time.perf_counter() - started
    built["students_enrolled"] = con.execute(
        f"SELECT count(DISTINCT student_id) FROM read_parquet('{state}/enrollments.parquet')"
    ).fetchone()[0]
    built["as_of"] = str(
        con.execute(f"SELECT max(date) FROM read_parquet('{state}/events.parquet')").fetchone()[0]
    )
    (state / "done.json").write_text(json.dumps(built, indent=1))
    return built


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":", 1) for line in stat.read_text().splitlines() if ":" in line
            )
        except OSError:
            continue
        process = int(stat.parent.name)
        children.setdefault(int(fields["PPid"]), []).append(process)
        rss[process] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, stack = 0, [pid]
    while stack:
        process = stack.pop()
        total += rss.get(process, 0)
        stack.extend(children.get(process, []))
    return total


def timed(command: list[str], env: dict) -> dict:
    """Run a command; its wall time, the peak memory of its process tree, its stderr."""
    started = time.perf_counter()
    running = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(running.stderr.read()))
    reader.start()
    while running.poll() is None:
        peak = max(peak, tree_rss(running.pid))
        time.sleep(0.2)
    reader.join()
    seconds = time.perf_counter() - started
    if running.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{errors[0][-5000:]}")
    summary = [line for line in errors[0].splitlines() if "rows written to" in line]
    return {"seconds": round(seconds, 1), "peak_mb": round(peak / 2**20), "said": summary}


def compare(duck: Path, spark: Path) -> dict:
    """The two datasets compared file for file."""
    import duckdb

    def layout(root: Path) -> dict[str, int]:
        files: dict[str, int] = {}
        for path in root.rglob("*.parquet"):
            if not path.name.startswith("."):
                key = str(path.parent.relative_to(root))
                files[key] = files.get(key, 0) + 1
        return files

    mine, theirs = layout(duck), layout(spark)
    con = duckdb.connect()
    rows = {}
    for name, root in (("duckdb", duck), ("spark", spark)):
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{root}/**/*.parquet', "
            "hive_partitioning = true)"
        )
        rows[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
    only = {
        f"only_{a}": con.execute(
            f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})"
        ).fetchone()[0]
        for a, b in (("duckdb", "spark"), ("spark", "duckdb"))
    }
    return {
        "directories": len(mine),
        "same_directories": sorted(mine) == sorted(theirs),
        "one_file_each": set(mine.values()) == {1} and set(theirs.values()) == {1},
        "rows": rows,
        **only,
    }


def python_loop_seconds() -> float:
    """The time of 10 million additions in a Python loop: compares the hosts of two runs."""
    started, total = time.perf_counter(), 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="data and results go here")
    parser.add_argument("--students", type=int, default=5_000_000)
    parser.add_argument("--spark-memory", default="4g", help="Spark's driver memory (local)")
    parser.add_argument("--engines", default="duckdb,spark", help="comma-separated: duckdb, spark")
    parser.add_argument(
        "--tables", default="students,schools", help="comma-separated: students, schools"
    )
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    results: dict = {"python_loop_s": round(python_loop_seconds(), 2)}
    base = base_district(workdir)
    state = workdir / f"state-{args.students}"
    results["state"] = built = replicate(base, state, args.students)
    env = {**os.environ, "HOMEROOM_DATA_DIR": str(workdir / "db")}
    env.pop("DATABASE_URL", None)
    env["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {args.spark_memory} pyspark-shell"
    env["PYTHONWARNINGS"] = "ignore::FutureWarning"
    homeroom(env, "migrate", "--verbosity", "0")  # the commands log their exports there
    kinds = {"students": ["students", "--per", "school"], "schools": ["schools"]}
    tables = {table: kinds[table] for table in args.tables.split(",")}
    out = workdir / f"out-{args.students}"
    for engine in args.engines.split(","):
        for table, kind in tables.items():
            destination = out / engine / table
            if destination.exists():
                subprocess.run(["rm", "-rf", str(destination)], check=True)
            command = [
                *HOMEROOM,
                "metrics",
                *kind,
                *("--as-of", built["as_of"], "--profile", "attendance-works"),
                *("--engine", engine, "--source", str(state), "--output", f"{destination}/"),
            ]
            results.setdefault("runs", {})[f"{engine}:{table}"] = {
                "load_before": os.getloadavg()[0],
                **timed(command, env),
            }
            print(json.dumps(results["runs"][f"{engine}:{table}"]), flush=True)
    if {"duckdb", "spark"} <= set(args.engines.split(",")):
        results["compared"] = {
            table: compare(out / "duckdb" / table, out / "spark" / table) for table in tables
        }
    results["spark_driver_memory"] = args.spark_memory
    results["cores"] = os.cpu_count()
    print(json.dumps(results, indent=1))
    (workdir / "state-results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
