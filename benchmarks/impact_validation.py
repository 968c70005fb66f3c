"""Benchmark: do the impact estimates find a planted effect, and no effect where none is?

Run from the repository root:

    .venv/bin/python benchmarks/impact_validation.py [--seeds 20] [--students 1500]
        [--days 1.5] [--kind check-and-connect] [--weeks 6] [--database-url URL]

For each seed it generates a small district over one school year with no effect planted
but `--days` days recovered per student in the `--weeks` weeks after the start of
`--kind` (docs/generator.md, "Planted days"), loads it through the import engine (SQLite
in the work directory unless `--database-url` names a PostgreSQL database), writes its
interventions history, computes the impact table as of `--today`
(`homeroom.impact.selectors.district_impact`), and deletes the district.

Prints one line per seed, then (docs/benchmarks.md, "Impact validation", records them):

- planted covered: the share of seeds whose 95% interval for `--kind` contains the days
  the generator actually removed per student (at most `--days`: a student cannot recover
  a day they would not have missed);
- no-effect clear: the share of (seed, intervention type without a planted effect) rows
  with an estimate whose interval contains 0, over the types the generator gives as a
  case's main intervention at random given the tier (`history.CASE_TYPES`); the other
  types are reported apart, since the generator picks their students in ways no
  comparison can undo (docs/impact.md, "What the validation shows");
- the mean estimate and interval width, seconds per seed, and the load average.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--students", type=int, default=1500)
    parser.add_argument("--days", type=float, default=1.5)
    parser.add_argument("--kind", default="check-and-connect")
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2026, 5, 15))
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench-impact")
    parser.add_argument("--database-url", help="a PostgreSQL database (default: SQLite in DIR)")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ["HOMEROOM_DATA_DIR"] = str(work)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{work / 'impact.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "homeroom.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from homeroom.core.models import District
    from homeroom.demo.district import DistrictParameters, generate_district
    from homeroom.demo.export import write_district_csv
    from homeroom.demo.history import CASE_TYPES, TIER1_TYPES
    from homeroom.demo.loading import (
        delete_district,
        load_generated_district,
        load_intervention_history,
    )
    from homeroom.impact.selectors import district_impact

    call_command("migrate", verbosity=0)
    for district in District.objects.all():
        delete_district(district)

    planted_key = f"type:{args.kind}"
    random_kinds = {f"type:{kind}" for kinds in CASE_TYPES.values() for kind in kinds}
    random_kinds -= {planted_key} | {f"type:{kind}" for kind in TIER1_TYPES}
    covered, clear, other, estimates, widths, seconds = [], [], [], [], [], []
    print(
        f"{args.seeds} seeds x {args.students:,} students, 1 school year to {args.today}; "
        f"planted: {args.days} days per student over {args.weeks} weeks after {args.kind}"
    )
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        started = time.monotonic()
        params = DistrictParameters(
            students=args.students,
            years=1,
            seed=seed,
            today=args.today,
            planted_effects=(),
            planted_days=((args.kind, args.days),),
            planted_weeks=args.weeks,
        )
        generated = generate_district(params)
        truth = generated.history["planted_days"][args.kind]["removed_per_student"]
        with tempfile.TemporaryDirectory(dir=work) as directory:
            write_district_csv(generated, Path(directory))
            district = load_generated_district(Path(directory)).district
            load_intervention_history(district, Path(directory))
        computing = time.monotonic()
        report = district_impact(district, as_of=args.today, weeks=args.weeks)
        computed = time.monotonic() - computing
        delete_district(district)
        line = [f"seed {seed:2d}: removed {truth:.2f}/student"]
        for row in report.rows:
            if row.grouping != "type" or row.days_recovered is None:
                continue
            e = row.estimate
            inside = e.low <= truth <= e.high if row.key == planted_key else e.contains_zero
            if row.key == planted_key:
                covered.append(inside)
                estimates.append(e.effect)
                widths.append(e.high - e.low)
            elif row.key in random_kinds:
                clear.append(inside)
            else:
                other.append(inside)
            mark = "" if inside else " MISS"
            line.append(
                f"{row.key[5:]} {e.effect:+.2f} [{e.low:+.2f}, {e.high:+.2f}] n={e.treated}{mark}"
            )
        seconds.append(time.monotonic() - started)
        print("; ".join(line) + f" ({computed:.1f} s to estimate)", flush=True)
    print()
    print(
        f"planted covered: {sum(covered)}/{len(covered)} = {share(covered)} "
        f"(mean estimate {statistics.mean(estimates):.2f}, "
        f"mean width {statistics.mean(widths):.2f})"
    )
    print(f"no-effect clear: {sum(clear)}/{len(clear)} = {share(clear)}")
    print(f"other types (selected, not random) clear: {sum(other)}/{len(other)} = {share(other)}")
    print(f"seconds per seed: {statistics.mean(seconds):.1f}; load average {os.getloadavg()}")


def share(values: list[bool]) -> str:
    return f"{sum(values) / len(values):.0%}" if values else "n/a"


if __name__ == "__main__":
    main()
