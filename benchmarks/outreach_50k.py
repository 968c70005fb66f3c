"""Benchmark: the night's outreach triggers for 50,000 students, and a 5,000-letter batch.

Run from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/outreach_50k.py [--students 50000] [--letters 5000]
        [--postgres URL]

What it does (docs/benchmarks.md, section "Outreach", records the figures):

1. Makes a fresh database (SQLite in a temporary directory, or a new PostgreSQL database on
   the server of `--postgres`), migrates it, and adds in bulk (untimed): a district of
   `--students` students at 20 schools with their summaries for this year (days absent
   drawn 0 to 20), a guardian per household (one in six students shares a household with
   the one before), consent to texts for 70% and to email for 20%, the trigger marks of
   earlier nights for everyone past a threshold but 1% of students (tonight's new
   crossings), and an unexcused absence today for 2.5% of students.
2. Times `do_evaluate_triggers` for the night (same-day notices and thresholds): who is
   due, grouped by household, and the messages decided set-wise through the outbox
   (`actions.queue_many`) with their timeline rows and audit entries. Then the same
   night again (nothing new to decide).
3. Queues `--letters` nudge letters for households moved into one school (untimed) and times
   `do_print_letters`: one PDF with its cover sheet and manifest.
"""

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
import zoneinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--letters", type=int, default=5_000)
    parser.add_argument("--postgres", help="server URL, e.g. postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    random.seed(0)
    workdir = Path(tempfile.mkdtemp(prefix="outreach-bench-"))
    env = {**os.environ, "HOMEROOM_DATA_DIR": str(workdir), "PYTHONPATH": str(ROOT)}
    if args.postgres:
        name = f"homeroom_bench_outreach50k_{os.getpid()}"
        server = args.postgres.rstrip("/")
        subprocess.run(["psql", f"{server}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
        env["DATABASE_URL"] = f"{server}/{name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "homeroom.settings"
    subprocess.run([sys.executable, "-m", "homeroom", "migrate", "-v", "0"], check=True, env=env)

    import django

    django.setup()
    from django.db import connection

    from homeroom.outreach.triggers import do_evaluate_triggers

    started = time.perf_counter()
    district, today, admin, schools = set_up(args.students)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"set up {args.students:,} students in {time.perf_counter() - started:.0f} s (untimed)")
    noon = dt.datetime.combine(today, dt.time(12), tzinfo=zoneinfo.ZoneInfo(district.timezone))
    for label in ("night", "the same night again"):
        started = time.perf_counter()
        counts = do_evaluate_triggers(district, as_of=today, now=noon)
        print(f"triggers, {label}: {time.perf_counter() - started:.1f} s {counts}")

    if args.letters:  # --letters 0: the triggers alone
        letters(district, admin, schools[0], args.letters, today)


def set_up(count: int):
    from homeroom.accounts.models import Role, User
    from homeroom.attendance.models import AttendanceCode, AttendanceEvent, Category
    from homeroom.core.models import District, School, SchoolYear
    from homeroom.core.selectors import district_today
    from homeroom.metrics.models import StudentSummary
    from homeroom.outreach.actions import do_install_default_templates, outreach_settings
    from homeroom.outreach.models import TriggerHit
    from homeroom.roster.models import (
        ContactPreference,
        Enrollment,
        Guardian,
        Student,
        StudentGuardian,
    )

    district = District.objects.create(name="Benchmark Unified", timezone="America/Chicago")
    today = district_today(district)
    start = today - dt.timedelta(days=100)
    year = SchoolYear.objects.create(
        district=district, name="bench", start_date=start, end_date=today + dt.timedelta(days=150)
    )
    do_install_default_templates(district)
    rules = outreach_settings(district)
    rules.quiet_start = rules.quiet_end = dt.time(0)
    rules.save()
    admin = User.objects.create_user(
        username="bench_admin", role=Role.DISTRICT_ADMIN, district=district
    )
    schools = School.objects.bulk_create(
        School(
            district=district,
            local_id=str(n),
            name=f"School {n:02d}",
            lowest_grade=0,
            highest_grade=12,
        )
        for n in range(20)
    )
    code = AttendanceCode.objects.create(
        district=district,
        code="A",
        description="Unexcused",
        category=Category.UNEXCUSED,
        day_fraction=1,
    )
    students = Student.objects.bulk_create(
        (
            Student(
                district=district,
                local_id=f"S{n}",
                first_name=f"Kid{n}",
                last_name="B",
                grade=n % 13,
            )
            for n in range(count)
        ),
        batch_size=5000,
    )
    school_of = {s.pk: schools[n % 20] for n, s in enumerate(students)}
    Enrollment.objects.bulk_create(
        (
            Enrollment(
                student=s, school=school_of[s.pk], school_year=year, grade=s.grade, entry_date=start
            )
            for s in students
        ),
        batch_size=5000,
    )
    absences = {s.pk: random.randint(0, 20) for s in students}
    summary = dict(
        days_enrolled=70,
        excused=0,
        oss=0,
        tardies=0,
        absent_last_30=0,
        longest_absence_run=1,
        counted=True,
        chronic=False,
        projected_chronic=False,
        school_year=year,
    )
    StudentSummary.objects.bulk_create(
        (
            StudentSummary(
                student=s,
                school=school,
                grade=s.grade,
                days_absent=absences[s.pk],
                unexcused=absences[s.pk],
                **summary,
            )
            for s in students
            for school in (None, school_of[s.pk])
        ),
        batch_size=5000,
    )
    guardians, links = [], []
    for n, s in enumerate(students):
        if n % 6 == 5:  # a sibling of the student before
            links.append((s, guardians[-1]))
            continue
        guardians.append(
            Guardian(
                district=district,
                local_id=f"G{n}",
                first_name=f"Parent{n}",
                last_name="B",
                phone=f"+1555{n:07d}",
                email=f"p{n}@example.org",
                address_line=f"{n} Main St",
                city="Riverside",
                state="IL",
                postal_code="60546",
                preferred_language=random.choice(["en", "es", "vi", "zh", "ar", "so", "ht", "tl"]),
            )
        )
        links.append((s, guardians[-1]))
    Guardian.objects.bulk_create(guardians, batch_size=5000)
    StudentGuardian.objects.bulk_create(
        (StudentGuardian(student=s, guardian=g, relationship="mother") for s, g in links),
        batch_size=5000,
    )
    preferences = []
    for g in guardians:
        draw = random.random()
        channel = "sms" if draw < 0.7 else "email" if draw < 0.9 else None
        if channel:
            preferences.append(ContactPreference(guardian=g, channel=channel, consent="granted"))
    ContactPreference.objects.bulk_create(preferences, batch_size=5000)
    # earlier nights' marks: all past a threshold, but 1% of students (tonight's crossings)
    hits = []
    for s in students:
        days = absences[s.pk]
        if days >= 5 and random.random() >= 0.01:
            mark = 10 if days >= 10 else 5
            hits.append(TriggerHit(student=s, kind="absence_threshold", mark=f"bench:year:{mark}"))
    TriggerHit.objects.bulk_create(hits, batch_size=5000)
    AttendanceEvent.objects.bulk_create(
        (
            AttendanceEvent(student=s, school=school_of[s.pk], date=today, code=code)
            for s in random.sample(students, count // 40)
        ),
        batch_size=5000,
    )
    return district, today, admin, schools


def letters(district, admin, school, count: int, today) -> None:
    from homeroom.outreach.letters import do_print_letters
    from homeroom.outreach.models import Message, MessageTemplate
    from homeroom.roster.models import Enrollment, StudentGuardian

    started = time.perf_counter()
    templates = {
        t.language: t for t in MessageTemplate.objects.filter(district=district, kind="nudge")
    }
    households = {}
    for link in StudentGuardian.objects.select_related("guardian", "student").order_by("pk"):
        households.setdefault(link.guardian_id, (link.guardian, []))[1].append(link.student)
    households = dict(list(households.items())[:count])
    # One school of `count` households (a school has about 2,100 here): their children are
    # moved to it, after the triggers, so a batch is as large as the target.
    Enrollment.objects.filter(
        student_id__in=[s.pk for _, children in households.values() for s in children]
    ).update(school=school)
    messages = []
    for guardian, children in households.values():
        template = templates[guardian.preferred_language]
        messages.append(
            Message(
                district=district,
                kind="nudge",
                channel="letter",
                guardian=guardian,
                household=f"guardian:{guardian.pk}",
                language=guardian.preferred_language,
                wanted_language=guardian.preferred_language,
                template=template,
                subject=template.subject,
                body=template.body.replace("{{ children }}", children[0].first_name),
                idempotency_key=f"bench:letter:{guardian.pk}",
                not_before=admin.date_joined,
            )
        )
    Message.objects.bulk_create(messages, batch_size=2000)
    Message.students.through.objects.bulk_create(
        Message.students.through(message_id=m.pk, student_id=households[m.guardian_id][1][0].pk)
        for m in Message.objects.filter(idempotency_key__startswith="bench:letter:")
    )
    print(f"queued {len(messages):,} letters in {time.perf_counter() - started:.0f} s (untimed)")
    started = time.perf_counter()
    batch = do_print_letters(admin, school_id=school.pk)
    seconds = time.perf_counter() - started
    from django.conf import settings

    size = (Path(settings.DATA_DIR) / batch.pdf).stat().st_size / 1e6
    load = os.getloadavg()[0]
    print(
        f"letters: {batch.letters:,} letters in one PDF ({size:.1f} MB) in {seconds:.0f} s"
        f" (load average {load:.1f} at the end)"
    )


if __name__ == "__main__":
    main()
