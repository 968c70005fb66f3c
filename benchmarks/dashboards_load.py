"""Benchmark: the dashboards under load, 20 simulated users at once against a served Homeroom.

Run from the repository root, with a loaded district's database in the environment
(`HOMEROOM_DATA_DIR`, `DATABASE_URL`; e.g. after `homeroom demo --no-serve`):

    .venv/bin/python benchmarks/dashboards_load.py [--users 20] [--seconds 120] [--port 8799]

What it does (docs/benchmarks.md, section "Dashboards", records the figures):

1. Gives three bench accounts of the district a known password, creating them if needed:
   a district administrator, the principal of the district's first school and a counselor
   of its two lowest grades (grade scopes) (untimed).
2. Serves the app the production way, as `homeroom demo` does: static files collected,
   waitress with 8 threads, WhiteNoise, on 127.0.0.1, in a subprocess.
3. Starts `--users` simulated users at once (threads, each with its own session, signed in
   through the login form; administrators, principals and counselors in turn). Each opens
   in turn, `--rounds` times or for `--seconds`, the pages of its role: an administrator
   and a principal their first page (the district's dashboard, or the school's), a
   school's dashboard, a grade's, a student group's, their first page as of an earlier
   date, the students list and the early warnings; a counselor their first page, the
   students list, the list of one grade and the early warnings. Every answer must be 200
   (after redirects), or it counts as an error.
4. Prints a Markdown table per page type: requests, p50, p95 and max in ms, errors; the
   requests a second; and the load average before and after (the host is shared).

The load is bounded: `--users` users, one request at a time each, for `--rounds` rounds or
`--seconds` seconds.
"""

import argparse
import http.cookiejar
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-dashboards-password"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def prepare_accounts() -> dict:
    """The bench accounts and the places they open, from the district in the database."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "homeroom.settings")
    import django

    django.setup()
    from homeroom.accounts.models import GradeScope, Role, User
    from homeroom.core.models import District, School
    from homeroom.metrics.models import StandingCell, StudentSummary, SummaryState

    state = SummaryState.objects.select_related("district").first()
    if state is None:
        sys.exit("no district with computed summaries: load one first (homeroom demo --no-serve)")
    district: District = state.district
    school = School.objects.filter(district=district).order_by("pk").first()
    accounts = {}
    for username, role in (
        ("bench_admin", Role.DISTRICT_ADMIN),
        ("bench_principal", Role.PRINCIPAL),
        ("bench_counselor", Role.COUNSELOR),
    ):
        user, _ = User.objects.get_or_create(
            username=username, defaults={"district": district, "role": role}
        )
        user.district, user.role, user.is_active = district, role, True
        user.set_password(PASSWORD)
        user.save()
        if role != Role.DISTRICT_ADMIN:
            user.schools.set([school])
        accounts[username] = user
    earlier = (
        StandingCell.objects.filter(school_year=state.school_year_id, as_of__lt=state.as_of)
        .order_by("as_of")
        .values_list("as_of", flat=True)
        .first()
    )
    grade = (
        StudentSummary.objects.filter(school=school)
        .order_by("grade")
        .values_list("grade", flat=True)
        .first()
    )
    # The counselor serves the school's two lowest grades (grade scopes, the gatekeeper's
    # costliest case).
    grades = sorted(
        set(StudentSummary.objects.filter(school=school).values_list("grade", flat=True))
    )[:2]
    GradeScope.objects.filter(user=accounts["bench_counselor"]).delete()
    for each in grades:
        GradeScope.objects.create(user=accounts["bench_counselor"], school=school, grade=each)
    return {
        "school": school.pk,
        "grade": grade,
        "earlier": earlier.isoformat() if earlier else state.as_of.isoformat(),
    }


def serve(port: int) -> subprocess.Popen:
    """Homeroom served as `homeroom demo` serves it, until stopped."""
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'homeroom.settings');"
        "django.setup();"
        "from django.core.management import call_command;"
        "call_command('collectstatic', interactive=False, verbosity=0);"
        "from waitress import serve; from homeroom.wsgi import application;"
        f"serve(application, host='127.0.0.1', port={port}, threads=8)"
    )
    env = dict(os.environ, HOMEROOM_ALLOWED_HOSTS="127.0.0.1,localhost")
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=30)
            return server
        except OSError:  # not listening yet, or too slow to answer on a loaded host
            time.sleep(0.5)
    server.terminate()
    sys.exit("the server did not answer within a minute")


class User:
    """One simulated person: a browser session of their own."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = self.opener.open(f"{base}/login/").read().decode()
        token = CSRF.search(page).group(1)
        data = urllib.parse.urlencode(
            {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}
        ).encode()
        request = urllib.request.Request(
            f"{base}/login/", data=data, headers={"Referer": f"{base}/login/"}
        )
        self.opener.open(request).read()

    def get(self, path: str) -> tuple[float, bool]:
        """Seconds to the whole answer, and whether it was a page (200)."""
        started = time.perf_counter()
        try:
            with self.opener.open(f"{self.base}{path}") as response:
                response.read()
                ok = response.status == 200
        except urllib.error.HTTPError:
            ok = False
        return time.perf_counter() - started, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--seconds", type=float, default=0, help="run this long instead of --rounds rounds"
    )
    parser.add_argument("--port", type=int, default=8799)
    args = parser.parse_args()
    places = prepare_accounts()
    school = places["school"]
    district_pages = {
        "first page": "/",
        "school": f"/schools/{school}/",
        "grade": f"/schools/{school}/grades/{places['grade']}/",
        "group": f"/schools/{school}/groups/iep/",
        "earlier date": f"/?as_of={places['earlier']}",
        "students": "/students/",
        "early warnings": "/warnings/",
    }
    # Each role opens what its scope allows: the principal has no district dashboard (its
    # first page is the school's), the counselor no dashboards (grade scopes only).
    pages_of = {
        "bench_admin": district_pages,
        "bench_principal": district_pages,
        "bench_counselor": {
            "first page": "/",
            "students": "/students/",
            "students of a grade": f"/students/?grade={places['grade']}",
            "early warnings": "/warnings/",
        },
    }
    kinds = list(dict.fromkeys(kind for pages in pages_of.values() for kind in pages))
    load_before = os.getloadavg()
    # stopped by a signal, the server is still stopped (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))
    server = serve(args.port)
    base = f"http://127.0.0.1:{args.port}"
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    start = threading.Barrier(args.users)

    usernames = list(pages_of)

    def simulate(number: int) -> None:
        username = usernames[number % len(usernames)]
        person = User(base, username)
        start.wait()  # everyone at once
        deadline = time.perf_counter() + args.seconds
        rounds = 0
        while (time.perf_counter() < deadline) if args.seconds else rounds < args.rounds:
            rounds += 1
            for kind, path in pages_of[username].items():
                seconds, ok = person.get(path)
                with lock:
                    timings[kind].append(seconds)
                    errors[kind] += not ok

    try:
        threads = [threading.Thread(target=simulate, args=(n,)) for n in range(args.users)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait()
    requests = sum(len(each) for each in timings.values())
    print(
        f"{args.users} users, {elapsed:.1f} s in all, {requests} requests "
        f"({requests / elapsed:.1f} a second)"
    )
    print("| page | requests | p50 ms | p95 ms | max ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind in kinds:
        times = sorted(timings[kind])
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        print(
            f"| {kind} | {len(times)} | {statistics.median(times) * 1000:.0f} "
            f"| {p95 * 1000:.0f} | {times[-1] * 1000:.0f} | {errors[kind]} |"
        )
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
