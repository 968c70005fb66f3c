"""`homeroom import FORMAT PATH...`: load a district's export, safely."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from homeroom.core.models import District
from homeroom.ingest.formats import FORMATS, ReadOptions, files_read, source_file
from homeroom.ingest.models import ImportRun
from homeroom.ingest.runs import run_summary
from homeroom.ingest.sync import ImportRejected, do_import

PROBLEMS_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Import a district's export (CSV/XLSX with a mapping profile, Ed-Fi XML or JSON). "
        "The run commits wholly or not at all; see docs/import.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("format", choices=sorted(FORMATS), help="source format")
        parser.add_argument("paths", nargs="+", type=Path, help="files to read")
        parser.add_argument("--profile", help="mapping profile name or .toml path (csv/xlsx)")
        parser.add_argument("--district", help="district name (needed when several are held)")
        parser.add_argument(
            "--timezone", default="America/New_York", help="timezone of a new district"
        )
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")
        parser.add_argument(
            "--on-error",
            choices=["reject", "skip"],
            default="reject",
            help="reject the run on any error (default) or import the good rows",
        )
        parser.add_argument(
            "--implied-enrollments",
            action="store_true",
            help="Ed-Fi without enrollment records: enroll each student with attendance at a "
            "school for that school's sessions (replaces enrollments held there; see "
            "docs/import-edfi.md)",
        )
        parser.add_argument("--json", action="store_true", help="print the run as JSON")

    def handle(self, *args, **options) -> None:
        source = FORMATS[options["format"]]
        if source.needs_profile and not options["profile"]:
            raise CommandError(f"format {source.name!r} needs --profile (see docs/import.md)")
        paths: list[Path] = options["paths"]
        for path in paths:
            if path.is_dir() and not source.reads_directories:
                raise CommandError(f"{path}: is a directory; name the files to import")
            if not path.exists():
                raise CommandError(f"{path}: no such file")
        district = self._district(options["district"], options["timezone"])
        read_options = ReadOptions(
            profile=options["profile"], implied_enrollments=options["implied_enrollments"]
        )
        try:
            batch = source.read(paths, read_options)
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        try:
            run = do_import(
                batch,
                district=district,
                source_format=source.name,
                files=[source_file(path) for path in files_read(paths)],
                on_error=options["on_error"],
                dry_run=options["dry_run"],
            )
        except ImportRejected as rejected:
            self._report(rejected.run, options["json"])
            raise CommandError(
                "import rejected: nothing was changed. Fix the errors listed above, or use "
                "--on-error skip to import the rows without errors.",
                returncode=1,
            ) from None
        self._report(run, options["json"])

    def _district(self, name: str | None, timezone: str) -> District:
        districts = District.objects.all()
        if name:
            district = districts.filter(name=name).first()
            return district or District.objects.create(name=name, timezone=timezone)
        count = districts.count()
        if count == 1:
            return districts.get()
        raise CommandError(
            "name the district with --district NAME"
            + (" (it is created on first import)" if count == 0 else "")
        )

    def _report(self, run: ImportRun, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(run_summary(run), indent=2))
            return
        verb = "would change" if run.dry_run else "changed"
        self.stdout.write(f"Import run {run.pk or '(dry run)'}: {run.status}, {verb}:")
        for entity, counts in run.counts.items():
            shown = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            self.stdout.write(f"  {entity:<22} {shown or 'nothing'}")
        for code, count in sorted(run.problem_counts.items()):
            self.stdout.write(f"  {code}: {count}")
        for problem in run.problems[:PROBLEMS_SHOWN]:
            self.stdout.write(f"  - {problem['severity']}: {problem['text']}")
        if len(run.problems) > PROBLEMS_SHOWN:
            self.stdout.write(f"  ... {len(run.problems) - PROBLEMS_SHOWN} more (use --json)")
