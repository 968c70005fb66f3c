"""Benchmark: the outreach worker, killed at random points, sends every text exactly once.

Run from the repository root:

    .venv/bin/python benchmarks/outreach_worker.py [--messages 2000] [--kills 20] [--postgres URL]

What it does (docs/benchmarks.md, section "Outreach", records the figures):

1. Makes a fresh database (SQLite in a temporary directory, or a new PostgreSQL database on
   the server of `--postgres`) and migrates it; adds a district with `--messages` students,
   each with a guardian who consented to texts, and queues one text to each through the
   outbox (`queue_trigger_message`, the rules and all).
2. Starts the local SMS provider (`homeroom/outreach/sandbox.py`, Twilio's Messages API on
   127.0.0.1) with a log file, then `--kills` times: starts `homeroom worker` as its own
   process, lets it send for a random 0.05 to 1.5 s once started, kills it with SIGKILL,
   and has 5 random
   guardians reply STOP (`do_receive_text`, as the inbound webhook does). Then one last
   worker finishes the batch.
3. Checks the provider's log: every message sent appears exactly once, every message
   queued is sent or was cancelled by an opt-out, and no text reached a number after its
   STOP was recorded. Prints the figures.
4. Throughput: queues `--messages` more and times one worker loop (`run_once`, batches of
   100) sending them all to the provider, in messages per second.
"""

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--postgres", help="server URL, e.g. postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    random.seed(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="outreach-bench-"))
    env = {**os.environ, "HOMEROOM_DATA_DIR": str(workdir), "PYTHONPATH": str(ROOT)}
    if args.postgres:
        name = f"homeroom_bench_outreach_{os.getpid()}"
        server = args.postgres.rstrip("/")
        subprocess.run(["psql", f"{server}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
        env["DATABASE_URL"] = f"{server}/{name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "homeroom.settings"
    homeroom = [sys.executable, "-m", "homeroom"]
    subprocess.run([*homeroom, "migrate", "-v", "0"], check=True, env=env, cwd=ROOT)

    import django

    django.setup()
    from django.conf import settings

    from homeroom.outreach.sandbox import LocalSmsProvider

    log = workdir / "provider.jsonl"
    provider = LocalSmsProvider(log_path=log, callbacks=False).start()
    sms = provider.settings(idempotent=True)
    settings.HOMEROOM_SMS = sms
    env.update(
        HOMEROOM_SMS_API_URL=sms["API_URL"],
        HOMEROOM_SMS_ACCOUNT_SID=sms["ACCOUNT_SID"],
        HOMEROOM_SMS_AUTH_TOKEN=sms["AUTH_TOKEN"],
        HOMEROOM_SMS_FROM=sms["FROM"],
        HOMEROOM_SMS_IDEMPOTENT="1",
    )
    district, guardians = set_up(args.messages)
    started = time.perf_counter()
    queue(district, guardians, "kill")
    print(f"queued {args.messages:,} texts in {time.perf_counter() - started:.1f} s")

    from homeroom.outreach.actions import do_receive_text

    worker = [*homeroom, "worker", "--lease", "0", "--idle", "0.2", "--batch", "20"]
    stopped_at = {}
    interrupted = 0
    from homeroom.outreach.models import Message

    for _ in range(args.kills):
        process = subprocess.Popen(worker, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        process.stdout.readline()  # "Outreach worker started": Django is loaded, sending begins
        time.sleep(random.uniform(0.05, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        # a kill that caught messages claimed and not recorded: the case exactly-once is about
        interrupted += Message.objects.filter(status="sending").exists()
        for guardian in random.sample(guardians, 5):
            if guardian.pk not in stopped_at:
                do_receive_text(
                    sender=guardian.phone,
                    to=sms["FROM"],
                    body="STOP",
                    provider_id=f"SMstop{guardian.pk}",
                )
                stopped_at[guardian.pk] = time.time()
    process = subprocess.Popen(worker, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    wait_until_done()
    process.send_signal(signal.SIGTERM)
    process.wait()
    elapsed = time.perf_counter() - started
    check(log, guardians, stopped_at, args, elapsed)
    print(f"kills that caught messages claimed and not yet recorded as sent: {interrupted}")

    # Throughput: one worker loop, uninterrupted.
    from homeroom.outreach.delivery import run_once

    for guardian in guardians:
        guardian.preferences.update(consent="granted")
    queue(district, guardians, "speed")
    started = time.perf_counter()
    sent = 0
    while counts := run_once(100):
        sent += counts.get("sent", 0)
    seconds = time.perf_counter() - started
    print(f"throughput: {sent:,} texts in {seconds:.1f} s = {sent / seconds:.0f} per second")
    provider.stop()


def set_up(count: int):
    """A district with `count` students, each with a guardian who consented to texts."""
    from homeroom.core.models import District
    from homeroom.outreach.actions import do_install_default_templates, outreach_settings
    from homeroom.roster.models import ContactPreference, Guardian, Student, StudentGuardian

    district = District.objects.create(name="Benchmark Unified", timezone="America/Chicago")
    do_install_default_templates(district)
    rules = outreach_settings(district)
    rules.quiet_start = rules.quiet_end = rules.quiet_start.replace(hour=0)  # no quiet hours
    rules.weekly_cap = 10
    rules.save()
    students = Student.objects.bulk_create(
        Student(district=district, local_id=f"S{n}", first_name=f"Kid{n}", last_name="B", grade=3)
        for n in range(count)
    )
    guardians = Guardian.objects.bulk_create(
        Guardian(
            district=district,
            local_id=f"G{n}",
            first_name=f"Parent{n}",
            last_name="B",
            phone=f"+1555{n:07d}",
            preferred_language=random.choice(["en", "es", "vi", "ar", "so"]),
        )
        for n in range(count)
    )
    StudentGuardian.objects.bulk_create(
        StudentGuardian(student=s, guardian=g, relationship="mother")
        for s, g in zip(students, guardians, strict=True)
    )
    ContactPreference.objects.bulk_create(
        ContactPreference(guardian=g, channel="sms", consent="granted") for g in guardians
    )
    return district, guardians


def queue(district, guardians, round_name: str) -> None:
    from homeroom.outreach.actions import queue_trigger_message
    from homeroom.roster.models import StudentGuardian

    students = {
        link.guardian_id: link.student
        for link in StudentGuardian.objects.filter(guardian__in=guardians).select_related("student")
    }
    for guardian in guardians:
        queue_trigger_message(
            district=district,
            kind="absence_today",
            channel="sms",
            guardian=guardian,
            students=(students[guardian.pk],),
            key=f"bench:{round_name}:{guardian.pk}",
            values={"school": "Benchmark Elementary", "date": "Dec 7, 2026"},
            stated={"round": round_name},
        )


def wait_until_done() -> None:
    from homeroom.outreach.models import Message

    while Message.objects.filter(status__in=("queued", "sending")).exists():
        time.sleep(0.5)


def check(log: Path, guardians, stopped_at: dict, args, elapsed: float) -> None:
    from homeroom.outreach.models import Message

    delivered = [json.loads(line) for line in log.read_text().splitlines()]
    by_key = collections.Counter(record["idempotency_key"] for record in delivered)
    twice = [key for key, n in by_key.items() if n > 1]
    messages = Message.objects.filter(idempotency_key__startswith="bench:kill:")
    statuses = collections.Counter(messages.values_list("status", flat=True))
    sent_keys = set(messages.filter(status="sent").values_list("idempotency_key", flat=True))
    phone_of = {g.pk: g.phone for g in guardians}
    stopped_numbers = {phone_of[pk]: at for pk, at in stopped_at.items()}
    confirmation = "Benchmark Unified:"  # every STOP confirmation begins with the district
    after_stop = [
        record
        for record in delivered
        if record["to"] in stopped_numbers
        and record["received_at"] > stopped_numbers[record["to"]]
        and not record["body"].startswith(confirmation)
    ]
    logged = {key for key in by_key if key.startswith("bench:kill:")}
    mismatched = logged ^ sent_keys
    print(f"{args.kills} kills (SIGKILL) over {elapsed:.1f} s; {len(stopped_at)} replied STOP")
    print(f"messages: {dict(statuses)}")
    print(f"provider received {len(delivered):,} texts under {len(by_key):,} keys")
    print(f"keys received more than once: {len(twice)}")
    print(f"sent but not received, or received but not sent: {len(mismatched)}")
    print(f"texts to a number after its STOP was recorded: {len(after_stop)}")


if __name__ == "__main__":
    main()
