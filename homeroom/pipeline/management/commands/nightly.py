"""`homeroom nightly`: the pipeline's steps (import, metrics, flags, forecast, tiers), one run."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from homeroom.core.commands import command_district
from homeroom.core.selectors import district_today
from homeroom.ingest.formats import FORMATS
from homeroom.ingest.sync import ImportRejected
from homeroom.metrics.management.commands.metrics import iso_date
from homeroom.pipeline.actions import NightlyImport, do_run_nightly


class Command(BaseCommand):
    """Run the night's pipeline for a district and report each step."""

    help = (
        "The nightly pipeline (docs/early-warning.md): optionally import the night's files, "
        "then refresh the metrics, evaluate the flags, score the forecast and count tier "
        "changes. Safe to run twice; a failed step leaves the previous night's results."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """What to import (optional), as of when, for which district."""
        parser.add_argument("paths", nargs="*", type=Path, help="files to import first")
        parser.add_argument("--format", choices=sorted(FORMATS), help="format of the files")
        parser.add_argument("--profile", help="mapping profile of CSV/XLSX files")
        parser.add_argument("--as-of", type=iso_date, help="default: today in the district")
        parser.add_argument("--district", help="district name, when several are held")

    def handle(self, *args, **options) -> None:
        """Check the arguments, run the steps, print what each did."""
        if options["paths"] and not options["format"]:
            raise CommandError("files to import need --format (e.g. --format csv)")
        for path in options["paths"]:
            if not path.exists():
                raise CommandError(f"{path}: no such file")
        district = command_district(options["district"])
        as_of = options["as_of"] or district_today(district)
        say = self.stderr.write if options["verbosity"] >= 1 else (lambda message: None)
        try:
            files = None
            if options["paths"]:
                files = NightlyImport(options["paths"], options["format"], options["profile"])
            run = do_run_nightly(district, as_of=as_of, files=files, say=say)
        except Exception as error:  # the run records the step; the user gets one line
            said = isinstance(error, CommandError | ValueError | ImportRejected)
            message = str(error) if said else repr(error)
            raise CommandError(f"nightly run failed: {message}; earlier results kept") from None
        for step in run.steps:
            counts = step["counts"].items()
            said = ", ".join(f"{k} {v}" for k, v in counts if not isinstance(v, dict))
            self.stdout.write(f"{step['step']}: {step['status']}" + (f" ({said})" if said else ""))
        self.stdout.write(f"Nightly run {run.pk} as of {as_of}: {run.status}.")
