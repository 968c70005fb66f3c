"""Benchmark: the impact table and the board report PDF of a 50,000-student district.

Run from the repository root:

    .venv/bin/python benchmarks/impact_50k.py [--students 50000] [--postgres URL]
        [--database NAME] [--repeat 2] [--profile FILE]

What it does (docs/benchmarks.md, "Impact (issue 26)" and "Board report (issue 26)",
records the figures):

1. Generates a district of `--students` students over one school year to May 15, 2026, with
   1.5 days per student planted in the 6 weeks after Check & Connect starts (as
   benchmarks/impact_validation.py does), and loads it and its interventions history
   through the import engine into the PostgreSQL database `--database`, vacuumed and
   analyzed; reused when it already holds a district (the build is timed once, reported).
2. Times `district_impact` as of May 15 (every grouping's estimate, 6 weeks), best of
   `--repeat`, and prints the table's rows; with `--profile` the first run is profiled
   (cProfile) into FILE and its top 25 functions by cumulative time are printed.
3. Stores the impact table (the report's section reads it), then times the board report:
   the student groups' months recomputed (once, as after a refresh of the summaries),
   every figure read, and the PDF rendered (best of `--repeat`). `--skip-months` times
   the report alone from what an earlier run stored.

Prints wall seconds and this process's CPU seconds (on a loaded host most of the wall
time can be waiting for a core), and the load average before and after.
"""

import argparse
import cProfile
import datetime as dt
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
TODAY = dt.date(2026, 5, 15)


def ensure_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


CPU: dict[str, float] = {}  # the best run's seconds of this process's CPU, by part


def best(repeat: int, work, part: str = "") -> tuple[float, object]:
    """The shortest wall time of `repeat` runs and the last result; the CPU seconds of the
    shortest run go to CPU[part] (on a loaded host the wall time is mostly waiting)."""
    times, result = [], None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = work()
        times.append((time.perf_counter() - started, time.process_time() - cpu))
    wall, CPU[part] = min(times)
    return wall, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", default=PG_SERVER, help="server URL, no database name")
    parser.add_argument("--database", default="homeroom_bench_impact")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--skip-months",
        action="store_true",
        help="the report from what an earlier run stored (no impact refresh, no months)",
    )
    parser.add_argument("--profile", type=Path, help="write the first run's cProfile here")
    parser.add_argument(
        "--part", choices=("impact", "report", "both"), default="both", help="what to time"
    )
    args = parser.parse_args()
    ensure_database(args.postgres, args.database)
    os.environ["DATABASE_URL"] = f"{args.postgres}/{args.database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")
    work = Path(tempfile.mkdtemp(prefix="homeroom-impact-bench-"))
    os.environ.setdefault("HOMEROOM_DATA_DIR", str(work))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from homeroom.core.models import District, School
    from homeroom.demo.district import DistrictParameters, generate_district
    from homeroom.demo.export import write_district_csv
    from homeroom.demo.loading import load_generated_district, load_intervention_history
    from homeroom.impact.selectors import district_impact

    print(f"load average before: {os.getloadavg()}", flush=True)
    call_command("migrate", verbosity=0)
    district = District.objects.first()
    if district is None:
        started = time.monotonic()
        params = DistrictParameters(
            students=args.students,
            years=1,
            seed=args.seed,
            today=TODAY,
            planted_effects=(),
            planted_days=(("check-and-connect", 1.5),),
            planted_weeks=6,
        )
        generated = generate_district(params)
        made = time.monotonic()
        with tempfile.TemporaryDirectory(dir=work) as directory:
            write_district_csv(generated, Path(directory))
            district = load_generated_district(Path(directory)).district
            load_intervention_history(district, Path(directory))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        print(
            f"district generated in {made - started:.0f} s, loaded in "
            f"{time.monotonic() - made:.0f} s (load average {os.getloadavg()})",
            flush=True,
        )
    schools = School.objects.filter(district=district).count()
    print(f"{district.name}: {schools} schools", flush=True)

    def impact():
        return district_impact(district, as_of=TODAY, weeks=6)

    if args.part != "report" and args.profile:
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.runcall(impact)
        print(f"profiled run: {time.perf_counter() - started:.1f} s", flush=True)
        profiler.dump_stats(args.profile)
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(25)
    if args.part != "report":
        time_impact(args, impact)
    if args.part != "impact":
        time_report(args, district)
    print(f"load average after: {os.getloadavg()}")


def time_impact(args, impact) -> None:
    seconds, report = best(args.repeat, impact, "impact")
    compared = sum(row.estimate.treated for row in report.rows)
    print(
        f"impact table: {len(report.rows)} rows, {compared:,} students compared (all rows), "
        f"{seconds:.1f} s (best of {args.repeat}; {CPU['impact']:.1f} s of this process's CPU); "
        f"load average {os.getloadavg()}",
        flush=True,
    )
    for row in report.rows:
        e = row.estimate
        shown = "-" if e.effect is None else f"{e.effect:+.2f} [{e.low:+.2f}, {e.high:+.2f}]"
        print(f"  {row.key}: {shown} n={e.treated} comparison={e.comparison}")


def time_report(args, district) -> None:
    from homeroom.impact.actions import do_refresh_impact
    from homeroom.reports import actions, documents, selectors

    if not args.skip_months:  # the first run: store the table the report's section reads
        stored, _ = best(1, lambda: do_refresh_impact(district, as_of=TODAY, weeks=6))
        print(f"impact table computed and stored (the report's impact section): {stored:.1f} s")
    if not args.skip_months:
        refresh, _ = best(1, lambda: actions.do_refresh_group_months(district), "months")
        print(f"| groups' months recomputed (after a refresh) | {refresh:.2f} |", flush=True)
    read, figures = best(args.repeat, lambda: selectors.figures(district), "read")
    render, pdf = best(args.repeat, lambda: documents.render("board", figures), "render")
    print("| part | seconds (wall) | seconds (this process's CPU) |\n|---|---|---|")
    print(f"| figures read | {read:.2f} | {CPU['read']:.2f} |")
    import io

    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    print(
        f"| board report PDF rendered ({len(pdf) // 1024} KB, {pages} pages) | {render:.2f} "
        f"| {CPU['render']:.2f} |"
    )
    print(f"| report from fresh months (read + render) | {read + render:.2f} | |")


if __name__ == "__main__":
    main()
