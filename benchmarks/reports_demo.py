"""Benchmark: the board report of the demo district, part by part.

Run from the repository root, after `homeroom demo --no-serve` built the demo in the same
HOMEROOM_DATA_DIR (and DATABASE_URL, if not SQLite):

    .venv/bin/python benchmarks/reports_demo.py [--repeat N]

Times (best of N, seconds): recomputing the student groups' months (`GroupMonth`, the one
part that runs the metric definitions: once after each refresh of the summaries, by the
first report or page that needs it); reading every figure of the report from the
materialized tables (`selectors.figures`); and rendering the board report PDF. Prints the
students, schools, months, the load average and a Markdown table. docs/benchmarks.md
("Board report") records the figures.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")

import django  # noqa: E402

django.setup()

from homeroom.core.models import District, School  # noqa: E402
from homeroom.metrics.models import SummaryState  # noqa: E402
from homeroom.reports import actions, documents, selectors  # noqa: E402
from homeroom.reports.models import GroupMonth  # noqa: E402


def best(repeat: int, work) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    district = District.objects.get(pk=SummaryState.objects.first().district_id)
    state = SummaryState.objects.get(district=district)
    refresh, _ = best(1, lambda: actions.do_refresh_group_months(district))
    read, figures = best(repeat, lambda: selectors.figures(district))
    render, pdf = best(repeat, lambda: documents.render("board", figures))
    months = GroupMonth.objects.filter(district=district).values("as_of").distinct().count()
    print(
        f"{state.students:,} students, {School.objects.filter(district=district).count()} "
        f"schools, {months} months, load average {os.getloadavg()[0]:.1f}"
    )
    print("| part | seconds |\n|---|---|")
    print(f"| groups' months recomputed (after a refresh) | {refresh:.2f} |")
    print(f"| figures read | {read:.2f} |")
    print(f"| board report PDF rendered ({len(pdf) // 1024} KB) | {render:.2f} |")
    print(f"| report from fresh months (read + render) | {read + render:.2f} |")


if __name__ == "__main__":
    main()
