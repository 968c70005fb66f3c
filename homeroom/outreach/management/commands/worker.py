"""`homeroom worker`: send the outbox's due messages until stopped (docs/outreach.md)."""

import datetime as dt
import signal

from django.core.management.base import BaseCommand, CommandError, CommandParser

from homeroom.outreach.delivery import (
    LEASE,
    recover_abandoned,
    run_once,
    run_worker,
    settle_unknown,
)


class Command(BaseCommand):
    """Run the outreach worker: texts and email from the outbox, exactly once each."""

    help = (
        "Send the family messages waiting in the outbox (texts through the SMS account, email "
        "through the SMTP server), retrying temporary failures with backoff. Several workers "
        "may run at once. Ctrl+C or SIGTERM stops it after the message in hand."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=50, help="messages claimed at a time")
        parser.add_argument("--idle", type=float, default=1.0, help="seconds to wait when idle")
        parser.add_argument(
            "--lease",
            type=float,
            default=LEASE.total_seconds(),
            help="seconds after which a message a stopped worker held is recovered (300)",
        )
        parser.add_argument("--once", action="store_true", help="send what is due, then stop")

    def handle(self, *args, **options) -> None:
        if options["batch"] < 1:
            raise CommandError(f"--batch must be at least 1 (got {options['batch']})")
        if options["idle"] <= 0 or options["lease"] < 0:
            raise CommandError("--idle must be above 0 and --lease 0 or more (seconds)")
        lease = dt.timedelta(seconds=options["lease"])
        if options["once"]:
            recovered = recover_abandoned(lease)
            settled = settle_unknown()
            counts = run_once(options["batch"])
            while more := run_once(options["batch"]):
                for status, n in more.items():
                    counts[status] = counts.get(status, 0) + n
            done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            asked = ", ".join(f"{n} {status}" for status, n in sorted(settled.items()))
            self.stdout.write(
                f"Abandoned: {recovered['retried']} retried, {recovered['unknown']} left for "
                f"staff. Asked the provider about interrupted texts: {asked or 'none'}. "
                f"Messages: {done or 'none due'}."
            )
            return
        stopping = []

        def stop(*_) -> None:
            stopping.append(True)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("Outreach worker started (Ctrl+C stops it).")
        run_worker(
            batch=options["batch"],
            idle=options["idle"],
            lease=lease,
            stop=lambda: bool(stopping),
            say=self.stdout.write,
        )
        self.stdout.write("Outreach worker stopped.")
