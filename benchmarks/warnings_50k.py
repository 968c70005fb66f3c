"""Benchmark: early-warning flags and the forecast for a 50,000-student district.

Run from the repository root:

    .venv/bin/python benchmarks/warnings_50k.py [--workdir DIR] [--repeat N] [--database-url URL]

What it does (docs/benchmarks.md, section "Early warning", records the figures):

1. Generates a 50,000-student district over six school years up to 2026-11-23 (five
   complete years: the first only gives the second its "last year"; three are trained on;
   the fifth, 2025-26, is held out) and loads it into a fresh SQLite file through the
   import engine (reused from `--workdir` when already loaded; untimed); with
   `--database-url` (an existing, empty or already loaded PostgreSQL database), into it.
2. Times, `--repeat` times each:
   - export_all_years: every year's facts read from the database into Parquet for DuckDB
     (`analysis_engine`), as training reads them;
   - train: fitting and evaluating the forecast on the three training years and the
     held-out year (`do_train_forecast`, that export included);
   - export_two_years: the facts of 2025-26 and 2026-27 only, as the nightly reads them
     (`analysis_engine(as_of=...)`);
   - flags_and_forecast: the nightly's two steps for every student as of 2026-11-20
     (as `homeroom nightly` runs them: what was known on the date read once, then
     `do_evaluate_flags` and `do_score_students`, computed and stored), and
     with_export: the same with the two-year export before it;
   - the same three as of 2026-11-23, the next school day ("next_night_"), when the flags
     raised the night before are held: most are re-checked, some cleared, a few raised.
"""

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2026, 11, 23)
AS_OF = dt.date(2026, 11, 20)
NEXT_NIGHT = dt.date(2026, 11, 23)  # the next school day: the flags raised are held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "var" / "bench-warnings")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--database-url", help="a PostgreSQL database (default: SQLite in DIR)")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ["HOMEROOM_DATA_DIR"] = str(work)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "homeroom.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from homeroom.core.models import District
    from homeroom.metrics.rules import load_rule_profile
    from homeroom.warnings.actions import (
        analysis_engine,
        do_evaluate_flags,
        do_score_students,
        do_train_forecast,
    )
    from homeroom.warnings.models import Flag
    from homeroom.warnings.snapshots import known_on

    call_command("migrate", verbosity=0)
    if not District.objects.exists():
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "homeroom",
                "generate",
                "--students",
                "50000",
                "--years",
                "6",
                "--today",
                TODAY.isoformat(),
                "--output",
                str(work / "generated"),
                "--load",
                "-v",
                "0",
            ],
            check=True,
            env=os.environ,
        )
        print(f"generated and loaded in {time.monotonic() - started:.0f} s", flush=True)
    district = District.objects.get()
    steps = ("export_two_years", "flags_and_forecast", "with_export")
    figures: dict[str, list[float]] = {
        "export_all_years": [],
        "train": [],
        **{f"{night}{step}": [] for night in ("", "next_night_") for step in steps},
    }
    flags = {}
    for _ in range(args.repeat):
        started = time.monotonic()
        with analysis_engine(district):
            figures["export_all_years"].append(time.monotonic() - started)
        started = time.monotonic()
        with analysis_engine(district) as engine:
            model = do_train_forecast(district, today=TODAY, engine=engine)
        figures["train"].append(time.monotonic() - started)
        Flag.objects.all().delete()
        for night, as_of in (("", AS_OF), ("next_night_", NEXT_NIGHT)):
            started = time.monotonic()
            with analysis_engine(district, as_of=as_of) as engine:
                exported = time.monotonic()
                read = {"as_of": as_of, "engine": engine}
                read["known"] = known_on(engine, load_rule_profile(district.rule_profile), as_of)
                flags[night] = do_evaluate_flags(district, **read)
                scores = do_score_students(district, known=read["known"])
            finished = time.monotonic()
            figures[f"{night}export_two_years"].append(exported - started)
            figures[f"{night}flags_and_forecast"].append(finished - exported)
            figures[f"{night}with_export"].append(finished - started)
        print(json.dumps(figures), flush=True)
    weeks = {
        week: {
            "chosen": result["chosen"],
            **{m: round(r["roc_auc"], 3) for m, r in result["methods"].items()},
        }
        for week, result in model.evaluation["weeks"].items()
    }
    print(
        json.dumps(
            {
                "seconds": {k: [round(v, 1) for v in vs] for k, vs in figures.items()},
                "trained_years": model.trained_years,
                "evaluated_year": model.evaluated_year,
                "roc_auc": weeks,
                "flags": flags,
                "scores": scores,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
