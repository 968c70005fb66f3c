"""Benchmark: generate a 50,000-student, 3-year district and write its CSV files.

Run from the repository root: `.venv/bin/python benchmarks/generate_50k.py [--students N]`.
Prints the seconds taken by generation and by writing, and the sizes produced; the figures
are recorded in docs/benchmarks.md.
"""

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from homeroom.demo.district import DistrictParameters, generate_district
from homeroom.demo.export import write_district_csv

# A fixed date keeps runs comparable: the third year is generated up to March 10.
TODAY = dt.date(2026, 3, 10)


def main() -> None:
    """Time generation and writing, and report them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    params = DistrictParameters(
        students=args.students, years=args.years, seed=args.seed, today=TODAY
    )
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        district = generate_district(params)
        generated = time.perf_counter()
        paths = write_district_csv(district, Path(directory))
        written = time.perf_counter()
        megabytes = sum(path.stat().st_size for path in paths) / 1e6
    print(
        f"{args.students:,} students x {args.years} years ({params.school_count} schools): "
        f"{district.student_count:,} distinct students, {district.event_count:,} events, "
        f"{megabytes:.0f} MB of CSV"
    )
    print(
        f"generate {generated - started:.1f} s + write {written - generated:.1f} s "
        f"= {written - started:.1f} s"
    )


if __name__ == "__main__":
    main()
