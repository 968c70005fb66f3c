"""Benchmark: a case manager's pages and the process measures at 50,000 students (PostgreSQL).

Run from the repository root:

    .venv/bin/python benchmarks/interventions_50k.py [--requests N] [--postgres URL]

What it does (docs/benchmarks.md, section "Interventions", records the figures):

1. Generates a 50,000-student district over two school years up to `--today` (default: the
   district's today) and loads it through the import engine into a template database,
   vacuumed and analyzed; reused when it is already there (untimed).
2. Copies the template into a fresh database (`CREATE DATABASE ... TEMPLATE`), applies this
   branch's migrations, and adds in bulk (`bulk_create`; untimed, reported): the default
   playbook, 30 partners, a principal and two counselors per school and a district
   administrator; 10,000 open cases (this year) and 2,000 closed ones (last year), each
   from an early-warning flag; 200,000 family contacts, plans, follow-ups, referrals,
   interventions, barriers, notes and the timeline events the actions write with each;
   flags on 2,500 more students; three past team meetings per school with action items.
   One counselor ("bench_counselor") manages 150 open cases at the largest school; one of
   them has 150 contacts.
3. Times, warm (`--warmup` requests first), `--requests` requests each through Django's
   test Client in this process (middleware, view and template: the server's time for the
   whole request, no network): the counselor's /caseload/, the case page /cases/<id>/ of
   four of the counselor's cases in turn, then of the one with 150 contacts, the team
   meeting view of the counselor's school as its principal; then `process_measures` for the
   whole district as its administrator (school year start to today), `--measures` times.
   Queries per request are counted on separate requests (counting is not timed).

Prints a Markdown table (p50, p95, max in ms, queries per request), the load average and
the time of 10 million additions in a Python loop before and after the timings (to compare
the hosts, or the same host's load, of two runs).
"""

import argparse
import datetime as dt
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_TEMPLATE = "homeroom_bench_interventions_district"
PG_WORK = "homeroom_bench_interventions"
STUDENTS = 50_000
OPEN_CASES = 10_000
CLOSED_CASES = 2_000
CONTACTS = 200_000
CASELOAD = 150
HEAVY_CASE_CONTACTS = 150
OTHER_FLAGGED = 2_500
BATCH = 5_000


def execute(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def has_district(server: str) -> bool:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [PG_TEMPLATE]
        ).fetchone():
            return False
    with psycopg.connect(f"{server}/{PG_TEMPLATE}", autocommit=True) as conn:
        try:
            return bool(conn.execute("SELECT COUNT(*) FROM core_district").fetchone()[0])
        except psycopg.errors.UndefinedTable:
            return False


def build_template(server: str, today: dt.date) -> None:
    """The generated district loaded into the template database (once)."""
    execute(server, f"DROP DATABASE IF EXISTS {PG_TEMPLATE}")
    execute(server, f"CREATE DATABASE {PG_TEMPLATE}")
    env = dict(os.environ, DATABASE_URL=f"{server}/{PG_TEMPLATE}")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="homeroom-interventions-bench-") as work:
        env["HOMEROOM_DATA_DIR"] = work
        homeroom = [sys.executable, "-m", "homeroom"]
        subprocess.run([*homeroom, "migrate", "-v", "0"], check=True, env=env, cwd=ROOT)
        subprocess.run(
            [
                *homeroom,
                "generate",
                "--students",
                str(STUDENTS),
                "--years",
                "2",
                "--today",
                today.isoformat(),
                "--output",
                str(Path(work) / "generated"),
                "--load",
                "-v",
                "0",
            ],
            check=True,
            env=env,
            cwd=ROOT,
        )
    import psycopg

    with psycopg.connect(f"{server}/{PG_TEMPLATE}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"district generated and loaded in {time.monotonic() - started:.0f} s", flush=True)


def python_loop_seconds() -> float:
    """The time of 10 million additions in a Python loop: compares the hosts of two runs
    (as benchmarks/metrics_50k.py reports it)."""
    started, total = time.perf_counter(), 0
    for number in range(10_000_000):
        total += number
    return time.perf_counter() - started


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=PG_SERVER, help="server URL, no database name")
    parser.add_argument("--requests", type=int, default=60, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--measures", type=int, default=5, help="timed process measures runs")
    parser.add_argument("--today", type=dt.date.fromisoformat, help="generate up to this date")
    parser.add_argument("--rebuild", action="store_true", help="generate the district again")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument(
        "--reuse", action="store_true", help="time the cases built by the last run again"
    )
    args = parser.parse_args()
    server = args.postgres.rstrip("/")
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "homeroom.settings"
    os.environ.setdefault("HOMEROOM_DATA_DIR", tempfile.mkdtemp(prefix="homeroom-bench-"))
    # The test Client's host name; nothing else of the test environment (it would instrument
    # template rendering and slow every page).
    os.environ["HOMEROOM_ALLOWED_HOSTS"] = "testserver"
    os.environ.pop("HOMEROOM_DEBUG", None)
    load_before = os.getloadavg()
    if args.rebuild or not has_district(server):
        build_template(server, args.today or dt.date.today())
    if not args.reuse:
        execute(server, f"DROP DATABASE IF EXISTS {PG_WORK}")
        execute(server, f"CREATE DATABASE {PG_WORK} TEMPLATE {PG_TEMPLATE}")
    os.environ["DATABASE_URL"] = f"{server}/{PG_WORK}"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)  # this branch's migrations, on the copy
    started = time.monotonic()
    built = reused() if args.reuse else build_cases(random.Random(args.seed))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"cases built in {time.monotonic() - started:.0f} s: {built['counts']}", flush=True)
    loop_before = python_loop_seconds()
    rows = measure(built, args)
    load_after = os.getloadavg()
    loop_after = python_loop_seconds()
    print()
    print("| what | N | p50 | p95 | max | queries |")
    print("|---|---|---|---|---|---|")
    for name, n, p50, p95, top, queries in rows:
        print(f"| {name} | {n} | {p50:.0f} ms | {p95:.0f} ms | {top:.0f} ms | {queries} |")
    print()
    print(f"load average before {load_before}, after {load_after}")
    print(f"10 million Python additions: {loop_before:.2f} s before, {loop_after:.2f} s after")


# ---------------------------------------------------------------------------------------
# Set-up


def build_cases(rng: random.Random) -> dict:
    """Staff, cases and everything on them, in bulk; what the timing needs to know."""
    from django.db import transaction
    from django.db.models import Count

    from homeroom.accounts.models import Role, User
    from homeroom.core.models import District, School, SchoolYear
    from homeroom.core.selectors import district_today
    from homeroom.interventions.actions import do_install_defaults
    from homeroom.interventions.models import (
        ActionItem,
        AttendancePlan,
        Barrier,
        Case,
        CaseBarrier,
        CaseEvent,
        CaseNote,
        FamilyContact,
        FollowUp,
        Intervention,
        InterventionType,
        Partner,
        Referral,
        TeamMeeting,
    )
    from homeroom.roster.models import Enrollment, StudentGuardian
    from homeroom.warnings.models import Flag

    district = District.objects.get()
    today = district_today(district)
    years = list(SchoolYear.objects.filter(district=district).order_by("start_date"))
    this_year, last_year = years[-1], years[-2]
    schools = list(School.objects.filter(district=district).order_by("pk"))
    counts: dict[str, int] = {}

    with transaction.atomic():
        do_install_defaults(district)
        barriers = list(Barrier.objects.filter(district=district))
        kinds = list(InterventionType.objects.filter(district=district))
        partners = Partner.objects.bulk_create(
            Partner(district=district, name=f"Partner {n:02d}", services="Family support")
            for n in range(30)
        )
        users = []
        staff: dict[int, list[User]] = {}
        for school in schools:
            team = [
                User(username=f"principal_{school.local_id}", role=Role.PRINCIPAL),
                User(username=f"counselor_{school.local_id}_a", role=Role.COUNSELOR),
                User(username=f"counselor_{school.local_id}_b", role=Role.COUNSELOR),
            ]
            staff[school.pk] = team
            users += team
        admin = User(username="bench_admin", role=Role.DISTRICT_ADMIN)
        users.append(admin)
        for user in users:
            user.district = district
            user.first_name, user.last_name = "Staff", user.username.title()
            user.set_unusable_password()
        User.objects.bulk_create(users)
        users = {u.username: u for u in User.objects.filter(district=district)}
        admin = users["bench_admin"]
        through = User.schools.through
        rows = []
        for school in schools:
            team = [users[u.username] for u in staff[school.pk]]
            staff[school.pk] = team
            rows += [through(user_id=u.pk, school_id=school.pk) for u in team]
        through.objects.bulk_create(rows)

        # Students enrolled this year by school; the largest school is the counselor's.
        enrolled: dict[int, list[int]] = {}
        for student_id, school_id in (
            Enrollment.objects.filter(school_year=this_year, exit_date__isnull=True)
            .order_by("student_id", "entry_date")
            .values_list("student_id", "school_id")
        ):
            enrolled.setdefault(school_id, []).append(student_id)
        school_of = {s: school for school, ids in enrolled.items() for s in ids}
        sizes = (
            Enrollment.objects.filter(school_year=this_year)
            .values("school")
            .annotate(n=Count("pk"))
            .order_by("-n")
        )
        bench_school = sizes[0]["school"]
        principal, counselor, colleague = staff[bench_school]
        counselor.username = "bench_counselor"
        counselor.save(update_fields=["username"])
        pool = sorted(school_of)
        rng.shuffle(pool)
        mine = rng.sample(sorted(enrolled[bench_school]), CASELOAD)
        chosen = set(mine)
        open_students = mine + [s for s in pool if s not in chosen][: OPEN_CASES - CASELOAD]
        chosen = set(open_students)
        others = [s for s in pool if s not in chosen]
        closed_students = others[:CLOSED_CASES]
        flagged_only = others[CLOSED_CASES : CLOSED_CASES + OTHER_FLAGGED]
        last_school = dict(
            Enrollment.objects.filter(school_year=last_year, student_id__in=closed_students)
            .values_list("student_id", "school_id")
            .order_by("entry_date")
        )
        guardian_of = dict(
            StudentGuardian.objects.filter(student_id__in=open_students + closed_students)
            .values_list("student_id", "guardian_id")
            .order_by("-pk")
        )

        def day_between(start: dt.date, end: dt.date) -> dt.date:
            return start + dt.timedelta(days=rng.randint(0, max(0, (end - start).days)))

        start_this = this_year.start_date + dt.timedelta(days=7)
        flags, cases = [], []
        for n, student_id in enumerate(open_students):
            opened = day_between(start_this, today - dt.timedelta(days=3))
            school_id = school_of[student_id]
            if n < CASELOAD:
                manager = counselor
            elif school_id == bench_school:
                manager = colleague
            else:
                # One case in twenty waits for its principal to assign a manager.
                manager = None if rng.random() < 0.05 else rng.choice(staff[school_id][1:])
            flags.append(
                Flag(
                    student_id=student_id,
                    school_year=this_year,
                    kind=Flag.Kind.RECENT_ABSENCES,
                    raised_on=opened - dt.timedelta(days=rng.randint(1, 10)),
                    checked_on=today,
                    reason="4 absences in the last 30 days",
                )
            )
            cases.append(
                Case(
                    student_id=student_id,
                    school_id=school_id,
                    tier=rng.choices((1, 2, 3), (1, 6, 3))[0],
                    source=Case.Source.FLAG,
                    case_manager=manager,
                    opened_on=opened,
                    opened_by=manager or staff[school_id][0],
                )
            )
        for student_id in closed_students:
            opened = day_between(last_year.start_date, last_year.end_date - dt.timedelta(60))
            school_id = last_school.get(student_id, school_of[student_id])
            team = staff[school_id]
            flags.append(
                Flag(
                    student_id=student_id,
                    school_year=last_year,
                    kind=Flag.Kind.RECENT_ABSENCES,
                    raised_on=opened - dt.timedelta(days=2),
                    cleared_on=opened + dt.timedelta(days=40),
                    checked_on=opened + dt.timedelta(days=40),
                    reason="4 absences in the last 30 days",
                )
            )
            cases.append(
                Case(
                    student_id=student_id,
                    school_id=school_id,
                    tier=2,
                    source=Case.Source.FLAG,
                    case_manager=team[1],
                    opened_on=opened,
                    opened_by=team[1],
                    status=Case.Status.CLOSED,
                    closed_on=opened + dt.timedelta(days=rng.randint(30, 60)),
                    close_reason=Case.CloseReason.GOAL_MET,
                )
            )
        for student_id in flagged_only:
            raised = day_between(today - dt.timedelta(days=30), today)
            flags.append(
                Flag(
                    student_id=student_id,
                    school_year=this_year,
                    kind=rng.choice([Flag.Kind.CONSECUTIVE, Flag.Kind.RECENT_ABSENCES]),
                    raised_on=raised,
                    checked_on=today,
                    reason="3 consecutive absences",
                )
            )
        flags = Flag.objects.bulk_create(flags, batch_size=BATCH)
        for case, flag in zip(cases, flags, strict=False):
            case.source_flag = flag
        cases = Case.objects.bulk_create(cases, batch_size=BATCH)

        # Contacts: about 19 per open case, 5 per closed case, 150 on one of the counselor's.
        per_case = {case.pk: 5 for case in cases if case.status == Case.Status.CLOSED}
        open_cases = [case for case in cases if case.status == Case.Status.OPEN]
        heavy = open_cases[0]
        per_case[heavy.pk] = HEAVY_CASE_CONTACTS
        left = CONTACTS - sum(per_case.values())
        rest = open_cases[1:]
        for i, case in enumerate(rest):
            share = left // (len(rest) - i)
            count = rng.randint(max(1, share - 10), share + 10) if i < len(rest) - 1 else left
            per_case[case.pk] = count
            left -= count
        contacts, events = [], []

        def event(case, kind, on, by, summary, **extra):
            events.append(
                CaseEvent(
                    student_id=case.student_id,
                    case=case,
                    kind=kind,
                    on=on,
                    by=by,
                    summary=summary,
                    **extra,
                )
            )

        channels = list(FamilyContact.Channel)
        outcomes = list(FamilyContact.Outcome)
        for case in cases:
            by = case.case_manager or case.opened_by
            end = case.closed_on or today
            event(case, CaseEvent.Kind.CASE_OPENED, case.opened_on, case.opened_by, "Case opened")
            for _ in range(per_case[case.pk]):
                on = day_between(case.opened_on, end)
                channel, outcome = rng.choice(channels), rng.choice(outcomes)
                contacts.append(
                    FamilyContact(
                        student_id=case.student_id,
                        case=case,
                        contacted_on=on,
                        channel=channel,
                        guardian_id=guardian_of.get(case.student_id),
                        outcome=outcome,
                        note="Talked about mornings and the bus.",
                        recorded_by=by,
                    )
                )
                event(case, CaseEvent.Kind.CONTACT, on, by, f"{channel.label}: {outcome.label}")
        FamilyContact.objects.bulk_create(contacts, batch_size=BATCH)
        counts["contacts"] = len(contacts)

        plans, follow_ups, referrals, interventions, case_barriers, notes = [], [], [], [], [], []
        for case in cases:
            by = case.case_manager or case.opened_by
            end = case.closed_on or today
            if rng.random() < 0.6:
                written = day_between(case.opened_on, end)
                review = written + dt.timedelta(days=28)
                reviewed = review if review < end and rng.random() < 0.7 else None
                plans.append(
                    AttendancePlan(
                        case=case,
                        goal_rate="0.900",
                        goal_until=written + dt.timedelta(days=56),
                        steps=[{"step": "Wake-up call at 7", "who": "guardian"}],
                        agreed_with="Guardian",
                        written_on=written,
                        written_by=by,
                        review_on=review,
                        reviewed_on=reviewed,
                    )
                )
                event(case, CaseEvent.Kind.PLAN_WRITTEN, written, by, "Plan: attend 90%")
            for _ in range(3):
                scheduled = day_between(case.opened_on, end)
                due = scheduled + dt.timedelta(days=rng.randint(3, 21))
                done = due - dt.timedelta(days=rng.randint(-3, 2)) if rng.random() < 0.65 else None
                if done is not None and (done > end or done < scheduled):
                    done = None if case.status == Case.Status.OPEN else end
                follow_ups.append(
                    FollowUp(
                        case=case,
                        description="Call the family back",
                        due_on=due,
                        owner=by,
                        scheduled_on=scheduled,
                        done_on=done,
                        outcome="Spoke with the guardian" if done else "",
                    )
                )
                event(case, CaseEvent.Kind.FOLLOW_UP_SCHEDULED, scheduled, by, "Follow-up")
                if done:
                    event(case, CaseEvent.Kind.FOLLOW_UP_DONE, done, by, "Follow-up done")
            if rng.random() < 0.3:
                made = day_between(case.opened_on, end)
                referrals.append(
                    Referral(
                        case=case,
                        partner=rng.choice(partners),
                        made_on=made,
                        made_by=by,
                        status=rng.choice(list(Referral.Status)),
                        status_on=made,
                    )
                )
                event(case, CaseEvent.Kind.REFERRAL, made, by, "Referral made")
            tier_kinds = [k for k in kinds if getattr(k, f"tier{case.tier}")] or kinds
            for kind in rng.sample(tier_kinds, min(len(tier_kinds), rng.randint(1, 2))):
                started = day_between(case.opened_on, end)
                interventions.append(
                    Intervention(
                        student_id=case.student_id,
                        case=case,
                        kind=kind,
                        started_on=started,
                        owner=by,
                    )
                )
                event(case, CaseEvent.Kind.INTERVENTION, started, by, kind.name)
            for barrier in rng.sample(barriers, rng.randint(1, 2)):
                case_barriers.append(
                    CaseBarrier(
                        case=case, barrier=barrier, recorded_on=case.opened_on, recorded_by=by
                    )
                )
                event(case, CaseEvent.Kind.BARRIER, case.opened_on, by, barrier.name)
            for n in range(2):
                written = day_between(case.opened_on, end)
                confidential = n == 1 and rng.random() < 0.3
                notes.append(
                    CaseNote(
                        case=case,
                        written_on=written,
                        author=by,
                        topic=CaseNote.Topic.HEALTH if confidential else CaseNote.Topic.GENERAL,
                        confidential=confidential,
                        text="The family asked for a meeting after school.",
                    )
                )
                event(
                    case,
                    CaseEvent.Kind.NOTE,
                    written,
                    by,
                    "Confidential note" if confidential else "Note",
                    confidential=confidential,
                )
        for model, made in (
            (AttendancePlan, plans),
            (FollowUp, follow_ups),
            (Referral, referrals),
            (Intervention, interventions),
            (CaseBarrier, case_barriers),
            (CaseNote, notes),
            (CaseEvent, events),
        ):
            model.objects.bulk_create(made, batch_size=BATCH)
            counts[model.__name__] = len(made)

        meetings, items = [], []
        for school in schools:
            team = staff[school.pk]
            for weeks in (2, 4, 6):
                meetings.append(
                    TeamMeeting(
                        school=school,
                        held_on=today - dt.timedelta(weeks=weeks),
                        recorded_by=team[0],
                        notes="Reviewed the list.",
                    )
                )
        meetings = TeamMeeting.objects.bulk_create(meetings)
        for meeting in meetings:
            students = enrolled.get(meeting.school_id, [])
            for n in range(4):
                items.append(
                    ActionItem(
                        meeting=meeting,
                        student_id=rng.choice(students) if students and n else None,
                        description="Call the family",
                        owner=staff[meeting.school_id][1 + n % 2],
                        due_on=meeting.held_on + dt.timedelta(days=7),
                        done_on=meeting.held_on + dt.timedelta(days=5) if n % 2 else None,
                    )
                )
        ActionItem.objects.bulk_create(items)
    counts.update(
        flags=len(flags),
        open_cases=len(open_cases),
        closed_cases=CLOSED_CASES,
        team_meetings=len(meetings),
        action_items=len(items),
    )
    typical = [case.pk for case in open_cases[1:CASELOAD]]
    return {
        "counts": counts,
        "counselor": counselor,
        "principal": principal,
        "admin": admin,
        "school": bench_school,
        "cases": [heavy.pk, *rng.sample(typical, 4)],
        "year_start": this_year.start_date,
        "today": today,
    }


def reused() -> dict:
    """What the timing needs to know of the cases an earlier run built."""
    from homeroom.accounts.models import User
    from homeroom.core.models import SchoolYear
    from homeroom.core.selectors import district_today
    from homeroom.interventions.models import Case, FamilyContact

    counselor = User.objects.get(username="bench_counselor")
    school = counselor.schools.get()
    mine = list(Case.objects.filter(case_manager=counselor, status="open").order_by("pk"))
    heavy = max(mine, key=lambda case: case.contacts.count())
    typical = [case.pk for case in mine if case.pk != heavy.pk]
    return {
        "counts": {"contacts": FamilyContact.objects.count(), "cases": Case.objects.count()},
        "counselor": counselor,
        "principal": User.objects.get(username=f"principal_{school.local_id}"),
        "admin": User.objects.get(username="bench_admin"),
        "school": school.pk,
        "cases": [heavy.pk, *random.Random(20).sample(typical, 4)],
        "year_start": SchoolYear.objects.order_by("-start_date")[0].start_date,
        "today": district_today(counselor.district),
    }


# ---------------------------------------------------------------------------------------
# Timing


def measure(built: dict, args) -> list[tuple]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from homeroom.interventions.measures import process_measures

    pages = [
        ("/caseload/ (150 open cases)", built["counselor"], ["/caseload/"]),
        (
            "/cases/<id>/ (4 cases, about 19 contacts each)",
            built["counselor"],
            [f"/cases/{pk}/" for pk in built["cases"][1:]],
        ),
        (
            "/cases/<id>/ (the case with 150 contacts)",
            built["counselor"],
            [f"/cases/{built['cases'][0]}/"],
        ),
        (
            "/team-meeting/ (the largest school)",
            built["principal"],
            [f"/team-meeting/?school={built['school']}"],
        ),
    ]
    rows = []
    for name, user, urls in pages:
        client = Client()
        client.force_login(user)
        for n in range(args.warmup):
            assert client.get(urls[n % len(urls)]).status_code == 200, urls
        seconds = []
        for n in range(args.requests):
            url = urls[n % len(urls)]
            started = time.perf_counter()
            response = client.get(url)
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200, url
        queries = []
        for url in urls:
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            queries.append(len(captured))
        rows.append(
            (
                name,
                args.requests,
                statistics.median(seconds) * 1000,
                percentile(seconds, 0.95) * 1000,
                max(seconds) * 1000,
                "-".join(str(q) for q in sorted({min(queries), max(queries)})),
            )
        )
        print(rows[-1], flush=True)
    admin = built["admin"]
    window = {"start": built["year_start"], "end": built["today"]}
    process_measures(admin, **window)
    seconds = []
    for _ in range(args.measures):
        started = time.perf_counter()
        result = process_measures(admin, **window)
        seconds.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as captured:
        process_measures(admin, **window)
    overall = result.overall
    print(
        f"measures: flagged {overall.flagged}, contacted {overall.contacted}, "
        f"follow-ups due {overall.follow_ups_due}, plans due {overall.plans_due}, "
        f"open cases {overall.open_cases}, {len(result.schools)} schools, "
        f"{len(result.staff)} staff",
        flush=True,
    )
    rows.append(
        (
            "process measures, whole district",
            args.measures,
            statistics.median(seconds) * 1000,
            percentile(seconds, 0.95) * 1000,
            max(seconds) * 1000,
            str(len(captured)),
        )
    )
    return rows


if __name__ == "__main__":
    main()
