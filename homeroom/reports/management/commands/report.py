"""`homeroom report board|annual --output file.pdf`: a report of the district as a PDF."""

import datetime as dt
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from homeroom.core.actions import CommandLine
from homeroom.core.commands import command_district
from homeroom.reports import actions, documents, selectors
from homeroom.reports.selectors import ReportsNotAvailable


class Command(BaseCommand):
    help = (
        "Write the board report or the annual MTSS report of a district as a PDF, from the "
        "figures of the last refresh (small counts hidden; docs/reports.md)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=sorted(documents.KINDS), help="which report")
        parser.add_argument("--output", required=True, help="the PDF file to write")
        parser.add_argument(
            "--year", help="the school year's name (default: the year of the last refresh)"
        )
        parser.add_argument(
            "--as-of", help="a kept date, YYYY-MM-DD: a Friday of the year or the latest day"
        )
        parser.add_argument("--district", help="district name (when several are held)")

    def handle(self, *args, **options) -> None:
        started = time.perf_counter()
        district = command_district(options["district"])
        output = Path(options["output"])
        if not output.parent.is_dir():
            raise CommandError(f"--output {output}: the folder {output.parent} does not exist")
        try:
            state = selectors.report_state(district)
            year = options["year"]
            if year and year != state.school_year.name:
                raise CommandError(
                    f"--year {year}: the figures held are for {state.school_year.name} "
                    "(refresh the summaries as of a date in another year to report on it)"
                )
            on = None
            if options["as_of"]:
                try:
                    on = dt.date.fromisoformat(options["as_of"])
                except ValueError:
                    raise CommandError(
                        f"--as-of {options['as_of']}: not a date; write it as YYYY-MM-DD"
                    ) from None
            if not actions.group_months_fresh(district):
                actions.do_refresh_group_months(district)
            figures = selectors.figures(district, on=on)
        except ReportsNotAvailable as error:
            raise CommandError(f"{district.name}: {error}") from None
        pdf = documents.render(options["kind"], figures)
        output.write_bytes(pdf)
        actions.do_log_report(
            kind=options["kind"],
            district=district,
            as_of=figures.as_of,
            via=CommandLine(f"homeroom report {options['kind']}"),
        )
        self.stdout.write(
            f"{district.name}: {documents.KINDS[options['kind']]} as of {figures.as_of} written "
            f"to {output} ({len(pdf) // 1024} KB) in {time.perf_counter() - started:.1f} s"
        )
