"""`homeroom import FORMAT PATH...`: load a district's export, safely."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from homeroom.core.actions import CommandLine
from homeroom.core.models import District
from homeroom.core.selectors import DistrictNotFound, district_named
from homeroom.ingest.actions import NewDistrict, do_import_files
from homeroom.ingest.formats import FORMATS, files_read
from homeroom.ingest.models import ImportRun
from homeroom.ingest.problems import problem_label
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.runs import run_summary
from homeroom.ingest.sync import IMPORT_STAGES, ImportRejected
from homeroom.pipeline.actions import do_refresh_after_import

PROBLEMS_SHOWN = 20


class Command(BaseCommand):
    """Read the files in the given format, then write them as one import run."""

    help = (
        "Import a district's export (CSV/XLSX with a mapping profile, Ed-Fi XML or JSON). "
        "The run commits wholly or not at all; see docs/import.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """The format, the files, and how to import them."""
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
        parser.add_argument(
            "--allow-large-deletes",
            action="store_true",
            help="let the file delete more than 20%% of a school's events in its dates "
            "(refused otherwise: a broken export looks like that; see docs/import.md)",
        )
        parser.add_argument("--json", action="store_true", help="print the run as JSON")

    def handle(self, *args, **options) -> None:
        """Check the arguments, read the files, import them and report the run."""
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
        # Progress goes to stderr, so that stdout (the report, or --json) stays clean.
        show = options["verbosity"] >= 1 and not options["json"]
        reading = self._bar(
            show,
            total=sum(f.stat().st_size for f in files_read(paths)),
            desc="reading",
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
        )
        stages = None

        def on_stage(name: str) -> None:
            nonlocal stages
            if stages is None:  # reading is over: its bar ends on a line of its own
                reading.close()
                stages = self._bar(show, total=len(IMPORT_STAGES), unit=" stages")
            stages.n = IMPORT_STAGES.index(name)  # the stages before it are done
            stages.set_description(f"importing {name}")

        try:
            run = do_import_files(
                paths,
                district=district,
                source_format=source.name,
                profile=options["profile"],
                implied_enrollments=options["implied_enrollments"],
                on_error=options["on_error"],
                dry_run=options["dry_run"],
                allow_large_deletes=options["allow_large_deletes"],
                progress=ReadProgress(reading.update) if show else None,
                on_stage=on_stage,
                via=CommandLine("homeroom import"),
            )
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        except ImportRejected as rejected:
            self._report(rejected.run, options["json"])
            raise CommandError(
                "import rejected: nothing was changed. Fix the errors listed above, or use "
                "--on-error skip to import the rows without errors.",
                returncode=1,
            ) from None
        finally:
            reading.close()
            if stages is not None:
                stages.n = stages.total
                stages.set_description("imported")
                stages.close()
        self._report(run, options["json"])
        do_refresh_after_import(run)

    def _bar(self, show: bool, **options) -> tqdm:
        """A progress bar on stderr, or one that shows nothing."""
        # The stream itself: OutputWrapper.write would end every refresh with a newline.
        return tqdm(file=self.stderr._out, disable=not show, **options)

    def _district(self, name: str | None, timezone: str) -> District | NewDistrict:
        """The district named (a new one is created by the import itself, so a rejected
        import leaves none behind); the only one held if none is named."""
        if name:
            return District.objects.filter(name=name).first() or NewDistrict(name, timezone)
        try:
            return district_named(None)
        except DistrictNotFound:
            raise CommandError(
                "name the district with --district NAME"
                + ("" if District.objects.exists() else " (it is created on first import)")
            ) from None

    def _report(self, run: ImportRun, as_json: bool) -> None:
        """Print the run: a summary, or all of it as JSON."""
        if as_json:
            self.stdout.write(json.dumps(run_summary(run), indent=2))
            return
        verb = "would change" if run.dry_run else "changed"
        status = run.get_status_display().lower()
        self.stdout.write(f"Import run {run.pk or '(dry run)'}: {status}, {verb}:")
        for entity, counts in run.counts.items():
            shown = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
            self.stdout.write(f"  {entity:<22} {shown or 'nothing'}")
        for key, count in sorted(run.problem_counts.items()):
            severity, _, code = key.partition(":")
            self.stdout.write(f"  {severity}: {problem_label(code)} ({code}): {count:,}")
        for problem in run.problems[:PROBLEMS_SHOWN]:
            self.stdout.write(f"  - {problem['severity']}: {problem['text']}")
        if len(run.problems) > PROBLEMS_SHOWN:
            self.stdout.write(f"  ... {len(run.problems) - PROBLEMS_SHOWN} more (use --json)")
