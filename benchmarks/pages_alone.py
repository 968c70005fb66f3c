"""Benchmark: one user alone opening a page, cold and warm, with its slowest queries.

Run from the repository root, with a loaded district's database in the environment
(`HOMEROOM_DATA_DIR`, `DATABASE_URL`; e.g. after `homeroom demo --students 50000 --no-serve`):

    .venv/bin/python benchmarks/pages_alone.py [--page district] [--page warnings] [--repeat 3]

What it does (docs/benchmarks.md, section "Dashboards", records the figures):

1. Takes the district's first district administrator (creating `bench_admin` if none).
2. In this fresh process, once the WSGI application has loaded as a server loads it
   (`homeroom.wsgi`, which imports every view at start-up), the first request is "cold"
   (no Python caches, no connection; the database's own cache is whatever the host
   left), opens each `--page` through
   Django's test client as that user, `--repeat` times, timing each request.
3. Prints, per page, each request's milliseconds and, for the first request, its five
   slowest queries (milliseconds and the start of their SQL), then the load average (the
   host is shared: figures are upper bounds).

Pages: `district` (/), `school` (the first school's dashboard), `warnings` (the early
warnings), `students` (the students list). Nothing is written but the bench account and
the audit rows the pages write anyway.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--page", action="append", choices=["district", "school", "warnings", "students"]
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pages = args.page or ["district"]
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    import homeroom.wsgi  # noqa: F401  (what a server process does before serving)
    from homeroom.accounts.models import Role, User
    from homeroom.core.models import School
    from homeroom.metrics.models import SummaryState

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    state = SummaryState.objects.select_related("district").first()
    if state is None:
        sys.exit("no district with computed summaries: load one first (homeroom demo --no-serve)")
    admin = User.objects.filter(
        district=state.district, role=Role.DISTRICT_ADMIN, is_active=True
    ).first()
    if admin is None:
        admin, _ = User.objects.get_or_create(
            username="bench_admin",
            defaults={"district": state.district, "role": Role.DISTRICT_ADMIN},
        )
    school = School.objects.filter(district=state.district).order_by("pk").first()
    urls = {
        "district": reverse("web:home"),
        "school": reverse("web:school_dashboard", args=[school.pk]),
        "warnings": reverse("web:warnings"),
        "students": reverse("web:students"),
    }
    client = Client()
    client.force_login(admin)
    print(f"{state.students:,} students summarized as of {state.as_of}; user {admin.username}")
    for page in pages:
        times = []
        for attempt in range(args.repeat):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(urls[page])
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (page, response.status_code)
            if attempt == 0:
                slowest = sorted(captured.captured_queries, key=lambda q: -float(q["time"]))
                print(f"\n{page} ({urls[page]}): {len(captured)} queries; slowest of the first:")
                for query in slowest[:5]:
                    print(f"  {float(query['time']) * 1000:8.0f} ms  {query['sql'][:150]}")
        print(f"{page}: " + ", ".join(f"{ms:,.0f} ms" for ms in times))
    print(f"\nload average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
