"""Benchmark: the nightly truancy evaluation of a 50,000-student district (PostgreSQL, or
SQLite with --sqlite).

Run from the repository root:

    .venv/bin/python benchmarks/truancy_50k.py [--repeat N] [--postgres URL] [--template DB]
        [--sqlite FILE] [--packs california,texas] [--profile] [--floor]

What it does (docs/benchmarks.md, section "Truancy", records the figures):

1. Uses the generated 50,000-student district of benchmarks/interventions_50k.py (two
   school years, ~1.16 million attendance events), building it first if it is not there
   (untimed); with --sqlite, a copy of a SQLite database the same generator loaded.
2. Copies it into a fresh database and applies this branch's migrations.
3. For each shipped state pack (California, Texas, North Carolina): chooses it, then times
   `do_find_eligible` (the nightly step) as of the last day with attendance:
   - "first night": every student is new to the pack, so the first step of each one who
     reached it is created, with its evidence frozen;
   - "quiet night": the same night again: nothing changed, nobody is evaluated;
   - "next steps": after every pending step is marked sent (untimed), the night evaluates
     those students' next step (a heavy night: thousands of steps written);
   - "school night": 2,000 students' excused absences of the last four weeks re-coded as
     unexcused (untimed, as an import would), and the night that evaluates them.
   The quiet night and next steps are timed `--repeat` times (median and max). --profile
   prints cProfile's top functions of each kind of night's first run; --floor (PostgreSQL)
   times the COPY alone of each first night's rows into an empty table like the steps'.

Prints a Markdown table, the load average and the time of 10 million Python additions.
"""

import argparse
import cProfile
import datetime as dt
import importlib.util
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_WORK = "homeroom_bench_truancy"
PACKS = ("california", "texas", "north-carolina")


def _interventions_benchmark():
    """The interventions benchmark's module: its district template is reused."""
    spec = importlib.util.spec_from_file_location(
        "interventions_50k", ROOT / "benchmarks" / "interventions_50k.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    bench = _interventions_benchmark()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=bench.PG_SERVER, help="server URL, no database")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--today", type=dt.date.fromisoformat, help="generate up to this date")
    parser.add_argument(
        "--template", default=bench.PG_TEMPLATE, help="the generated district's database"
    )
    parser.add_argument(
        "--sqlite",
        type=Path,
        help="run on a copy of this SQLite database holding a generated district instead "
        "(`homeroom generate --students 50000 --years 2 --load` into it)",
    )
    parser.add_argument("--packs", default=",".join(PACKS), help="comma-separated")
    parser.add_argument(
        "--profile", action="store_true", help="print cProfile's top functions of each first run"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="PostgreSQL: also time the COPY alone of each first night's rows (the floor)",
    )
    args = parser.parse_args()
    bench.PG_TEMPLATE = args.template
    server = args.postgres.rstrip("/")
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "homeroom.settings"
    os.environ.setdefault("HOMEROOM_DATA_DIR", tempfile.mkdtemp(prefix="homeroom-bench-"))
    load_before = os.getloadavg()
    if args.sqlite:
        work = Path(tempfile.mkdtemp(prefix="homeroom-bench-truancy-")) / "district.sqlite3"
        shutil.copyfile(args.sqlite, work)
        os.environ["DATABASE_URL"] = f"sqlite:///{work}"
    else:
        if not bench.has_district(server):
            bench.build_template(server, args.today or dt.date.today())
        bench.execute(server, f"DROP DATABASE IF EXISTS {PG_WORK}")
        bench.execute(server, f"CREATE DATABASE {PG_WORK} TEMPLATE {bench.PG_TEMPLATE}")
        os.environ["DATABASE_URL"] = f"{server}/{PG_WORK}"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Max

    from homeroom.attendance.models import AttendanceEvent, Category
    from homeroom.core.models import District
    from homeroom.truancy.actions import do_find_eligible
    from homeroom.truancy.models import DistrictPack, TruancyRun, TruancyStep

    call_command("migrate", verbosity=0)
    district = District.objects.get()
    as_of = AttendanceEvent.objects.aggregate(last=Max("date"))["last"]
    print(f"{district.students.count():,} students, as of {as_of}", flush=True)

    def night(profile: bool = False) -> tuple[float, dict]:
        profiler = cProfile.Profile() if profile and args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        counts = do_find_eligible(district, as_of=as_of)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        if profiler:
            print(f"-- {seconds:.2f} s, {counts}", flush=True)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(14)
        return seconds, counts

    def send_pending() -> None:
        TruancyStep.objects.filter(status__in=["eligible", "approved", "blocked"]).update(
            status="sent", sent_on=as_of - dt.timedelta(days=30)
        )

    # A school night: the SIS re-codes excused absences of the last four weeks as unexcused
    # for this many students (untimed; a new day's absences are new rows, read the same way).
    recoded = 2_000
    excused = list(
        AttendanceEvent.objects.filter(
            code__category=Category.EXCUSED, date__gt=as_of - dt.timedelta(weeks=4)
        )
        .order_by("student_id", "pk")
        .distinct()
        .values_list("pk", "student_id", "code_id")
    )
    unexcused = (
        AttendanceEvent.objects.filter(code__category=Category.UNEXCUSED)
        .values_list("code_id", flat=True)
        .first()
    )

    def school_night() -> None:
        chosen, seen = [], set()
        for pk, student, _code in excused:
            if student not in seen and len(chosen) < recoded:
                seen.add(student)
                chosen.append(pk)
        AttendanceEvent.objects.filter(pk__in=chosen).update(code_id=unexcused)

    def copy_floor() -> tuple[int, int, float]:
        """The night's new rows copied out as COPY text, then timed into an empty table like
        the steps' (its indexes and constraints): what inserting them costs the server and
        the connection alone, with no Python building them. Returns rows, bytes, seconds."""
        with connection.cursor() as cursor:
            columns = "student_id, school_id, school_year_id, case_id, key, position, title, "
            columns += "kind, statute, pack, status, eligible_on, due_on, evidence, "
            columns += "counted_events, blocked_reason, review_reason, decline_reason, "
            columns += "decided_by_id, decided_at, sent_on, created_at, version"
            text = bytearray()
            with cursor.copy(f"COPY truancy_truancystep ({columns}) TO STDOUT") as copy:
                for block in copy:
                    text += block
            cursor.execute("DROP TABLE IF EXISTS truancy_floor")
            cursor.execute("CREATE TABLE truancy_floor (LIKE truancy_truancystep INCLUDING ALL)")
            started = time.perf_counter()
            with cursor.copy(f"COPY truancy_floor ({columns}) FROM STDIN") as copy:
                copy.write(bytes(text))
            seconds = time.perf_counter() - started
            cursor.execute("SELECT COUNT(*) FROM truancy_floor")
            count = cursor.fetchone()[0]
            cursor.execute("DROP TABLE truancy_floor")
        return count, len(text), seconds

    rows, floors = [], []
    loop_before = bench.python_loop_seconds()
    for pack in args.packs.split(","):
        TruancyStep.objects.all().delete()
        TruancyRun.objects.all().delete()
        for code in {code for _, _, code in excused}:  # the last pack's school night undone
            AttendanceEvent.objects.filter(
                pk__in=[pk for pk, _, was in excused if was == code]
            ).update(code_id=code)
        DistrictPack.objects.update_or_create(district=district, defaults={"based_on": pack})
        seconds, counts = night(profile=True)
        rows.append((pack, "first night", [seconds], counts))
        if args.floor and connection.vendor == "postgresql":
            floors.append((pack, *copy_floor()))
        quiet = [night(profile=n == 0) for n in range(args.repeat)]
        rows.append((pack, "quiet night", [s for s, _ in quiet], quiet[-1][1]))
        nexts = []
        for n in range(args.repeat):
            send_pending()
            nexts.append(night(profile=n == 0))
        rows.append((pack, "next steps", [s for s, _ in nexts], nexts[0][1]))
        school_night()
        seconds, counts = night(profile=True)
        rows.append((pack, f"school night ({recoded:,} re-coded)", [seconds], counts))
    loop_after = bench.python_loop_seconds()
    print()
    print(f"database: {connection.vendor}")
    print("| pack | night | runs | median | max | students evaluated | steps created (first run) |")
    print("|---|---|---|---|---|---|---|")
    for pack, what, times, counts in rows:
        created = f"{counts['eligible']:,} eligible, {counts['blocked']:,} blocked"
        print(
            f"| {pack} | {what} | {len(times)} | {statistics.median(times):.2f} s "
            f"| {max(times):.2f} s | {counts['evaluated']:,} | {created} |"
        )
    for pack, count, size, seconds in floors:
        print(
            f"floor, {pack}: COPY of the first night's {count:,} rows "
            f"({size / 1e6:.1f} MB as COPY text) into an empty table like the steps': "
            f"{seconds:.2f} s"
        )
    print()
    print(f"load average before {load_before}, after {os.getloadavg()}")
    print(f"10 million Python additions: {loop_before:.2f} s before, {loop_after:.2f} s after")


if __name__ == "__main__":
    main()
