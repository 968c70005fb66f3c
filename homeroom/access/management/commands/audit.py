"""`homeroom audit`: a district's audit trail as CSV, filtered as on the web page."""

import argparse
import csv
import datetime as dt
import io
import zoneinfo
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from homeroom.access.audit import COMMAND_LINE, CSV_COLUMNS, AuditFilters, audit_entries, audit_rows
from homeroom.core.actions import CommandLine, do_log_export
from homeroom.core.commands import command_district
from homeroom.core.models import AuditEntry
from homeroom.core.spreadsheets import safe_row


def iso_date(text: str) -> dt.date:
    """A date argument written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; write it as YYYY-MM-DD"
        ) from None


class Command(BaseCommand):
    """Write the trail, newest first, with the same columns as the web page's download."""

    help = (
        "A district's audit trail as CSV: who viewed, changed or exported which student's "
        "record, and every refused attempt (docs/access.md). Times in the district's timezone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """The filters and where to write."""
        parser.add_argument("--district", help="district name (needed when several are held)")
        parser.add_argument(
            "--user", help=f"a username, or '{COMMAND_LINE}' for entries written by commands"
        )
        parser.add_argument("--student", help="a student's local id or part of their name")
        parser.add_argument("--action", choices=AuditEntry.Action.values)
        parser.add_argument("--from", dest="start", type=iso_date, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", type=iso_date, help="last day, YYYY-MM-DD")
        parser.add_argument("--output", type=Path, help="file to write (default: standard output)")

    def handle(self, *args, **options) -> None:
        """Filter, write, and audit the export."""
        district = command_district(options["district"])
        if options["start"] and options["end"] and options["start"] > options["end"]:
            raise CommandError("--from is after --to")
        filters = AuditFilters(
            who=options["user"] or "",
            student=options["student"] or "",
            action=options["action"] or "",
            start=options["start"],
            end=options["end"],
        )
        timezone.activate(zoneinfo.ZoneInfo(district.timezone))
        rows = audit_rows(audit_entries(district, filters))
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(safe_row(row.cells()) for row in rows)
        output = options["output"]
        try:
            if output is None:
                self.stdout.write(text.getvalue(), ending="")
            else:
                output.write_text(text.getvalue(), encoding="utf-8")
        except OSError as error:
            raise CommandError(f"{output}: {error.strerror}") from None
        do_log_export(
            subject="audit trail",
            count=len(rows),
            district=district,
            via=CommandLine("homeroom audit"),
            details={k: str(v) for k, v in vars(filters).items() if v},
        )
        if output is not None:
            self.stderr.write(f"{len(rows):,} entries written to {output}")
