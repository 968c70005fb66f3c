"""Benchmark: the students list, the worklist and their downloads on the demo district.

Run from the repository root, after `homeroom demo --no-serve` built the demo in the same
HOMEROOM_DATA_DIR (and DATABASE_URL, if not SQLite):

    .venv/bin/python benchmarks/lists_demo.py [--requests N]

It signs in as each demo account that serves students (in this process, through Django's
test Client: middleware, view and template, no network) and times, warm, `--requests`
requests of: the students list as it opens; the counselor's list filtered by caseload,
tier and flag (the page issue 21 measured at 350 ms); the early-warning worklist; the
chronic list; and the students list as CSV. Queries per request are counted on a separate
request. Prints a Markdown table (p50, p95 in ms, queries, rows) and the load average.
docs/benchmarks.md ("Lists and downloads") records the figures.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from homeroom.accounts.models import User  # noqa: E402

PAGES = (
    ("demo-principal", "/students/", "students list, as it opens"),
    (
        "demo-counselor",
        "/students/?caseload=mine&tier=tier2&flag=recent_absences",
        "counselor's filtered list",
    ),
    ("demo-counselor", "/students/?caseload=mine", "counselor's caseload list"),
    ("demo-principal", "/warnings/", "worklist"),
    ("demo-admin", "/warnings/", "worklist, whole district"),
    ("demo-admin", "/warnings/?list=chronic", "chronic list, whole district"),
    ("demo-principal", "/students/?download=csv", "students list as CSV"),
)


def timed(client: Client, url: str, requests: int) -> tuple[float, float, int, int]:
    """p50 and p95 in ms of `requests` warm requests, the queries of one, its size."""
    client.get(url)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, len(queries), len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    options = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    print("| page | who | p50 ms | p95 ms | queries | bytes |")
    print("|---|---|---|---|---|---|")
    for username, url, what in PAGES:
        client = Client(SERVER_NAME="127.0.0.1")
        client.force_login(User.objects.get(username=username))
        p50, p95, queries, size = timed(client, url, options.requests)
        print(f"| {what} (`{url}`) | {username} | {p50:.0f} | {p95:.0f} | {queries} | {size:,} |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
