"""Benchmark: the nightly truancy evaluation of a 50,000-student district (PostgreSQL).

Run from the repository root:

    .venv/bin/python benchmarks/truancy_50k.py [--repeat N] [--postgres URL]

What it does (docs/benchmarks.md, section "Truancy", records the figures):

1. Uses the generated 50,000-student district of benchmarks/interventions_50k.py (two
   school years, ~1.16 million attendance events), building it first if it is not there
   (untimed).
2. Copies it into a fresh database and applies this branch's migrations.
3. For each shipped state pack (California, Texas, North Carolina): chooses it, then times
   `do_find_eligible` (the nightly step) as of the last day with attendance:
   - "first night": every student is new to the pack, so the first step of each one who
     reached it is created, with its evidence frozen;
   - "quiet night": the same night again: everything is read and nothing is new;
   - "next steps": after every pending step is marked sent (untimed), the night evaluates
     each student's next step.
   The quiet night and next steps are timed `--repeat` times (median and max).

Prints a Markdown table, the load average and the time of 10 million Python additions.
"""

import argparse
import datetime as dt
import importlib.util
import os
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
    args = parser.parse_args()
    bench.PG_TEMPLATE = args.template
    server = args.postgres.rstrip("/")
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "homeroom.settings"
    os.environ.setdefault("HOMEROOM_DATA_DIR", tempfile.mkdtemp(prefix="homeroom-bench-"))
    load_before = os.getloadavg()
    if not bench.has_district(server):
        bench.build_template(server, args.today or dt.date.today())
    bench.execute(server, f"DROP DATABASE IF EXISTS {PG_WORK}")
    bench.execute(server, f"CREATE DATABASE {PG_WORK} TEMPLATE {bench.PG_TEMPLATE}")
    os.environ["DATABASE_URL"] = f"{server}/{PG_WORK}"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Max

    from homeroom.attendance.models import AttendanceEvent
    from homeroom.core.models import District
    from homeroom.truancy.actions import do_find_eligible
    from homeroom.truancy.models import DistrictPack, TruancyStep

    call_command("migrate", verbosity=0)
    district = District.objects.get()
    as_of = AttendanceEvent.objects.aggregate(last=Max("date"))["last"]
    print(f"{district.students.count():,} students, as of {as_of}", flush=True)

    def night() -> tuple[float, dict]:
        started = time.perf_counter()
        counts = do_find_eligible(district, as_of=as_of)
        return time.perf_counter() - started, counts

    def send_pending() -> None:
        TruancyStep.objects.filter(status__in=["eligible", "approved", "blocked"]).update(
            status="sent", sent_on=as_of - dt.timedelta(days=30)
        )

    rows = []
    loop_before = bench.python_loop_seconds()
    for pack in PACKS:
        TruancyStep.objects.all().delete()
        DistrictPack.objects.update_or_create(district=district, defaults={"based_on": pack})
        seconds, counts = night()
        rows.append((pack, "first night", [seconds], counts))
        quiet = [night() for _ in range(args.repeat)]
        rows.append((pack, "quiet night", [s for s, _ in quiet], quiet[-1][1]))
        nexts = []
        for _ in range(args.repeat):
            send_pending()
            nexts.append(night())
        rows.append((pack, "next steps", [s for s, _ in nexts], nexts[0][1]))
    loop_after = bench.python_loop_seconds()
    print()
    print("| pack | night | runs | median | max | steps created (first run) |")
    print("|---|---|---|---|---|---|")
    for pack, what, times, counts in rows:
        created = f"{counts['eligible']:,} eligible, {counts['blocked']:,} blocked"
        print(
            f"| {pack} | {what} | {len(times)} | {statistics.median(times):.2f} s "
            f"| {max(times):.2f} s | {created} |"
        )
    print()
    print(f"load average before {load_before}, after {os.getloadavg()}")
    print(f"10 million Python additions: {loop_before:.2f} s before, {loop_after:.2f} s after")


if __name__ == "__main__":
    main()
