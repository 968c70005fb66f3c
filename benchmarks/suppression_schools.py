"""Benchmark: small-cell suppression of a board-report table as the schools grow.

    .venv/bin/python benchmarks/suppression_schools.py [--repeat N]

Times (best of N, seconds) `suppress` of a schools x columns table (columns 2: chronic and
not; 4: tiers) at 10, 20, 40, 80 and 160 schools, about one count in five small, and of a
table without rows (a year no school has figures for: issue 26, where suppression never
ended). Needs no database. Prints the load average and a Markdown table; docs/benchmarks.md
("Board report (issue 26)") records the figures.
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from homeroom.reports.suppression import suppress


def table(schools: int, columns: int, seed: int) -> list[list[int]]:
    pick = random.Random(seed)
    return [
        [
            pick.randint(0, 9) if pick.random() < 0.2 else pick.randint(10, 400)
            for _ in range(columns)
        ]
        for _ in range(schools)
    ]


def best(repeat: int, counts) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        suppress(counts, 10)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| schools | 2 columns | 4 columns |\n|---|---|---|")
    for schools in (10, 20, 40, 80, 160):
        two, four = (best(repeat, table(schools, c, schools)) for c in (2, 4))
        print(f"| {schools} | {two:.3f} | {four:.3f} |")
    print(f"| 0 (no rows) | {best(repeat, []):.3f} | |")


if __name__ == "__main__":
    main()
