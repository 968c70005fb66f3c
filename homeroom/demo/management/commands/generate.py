"""`homeroom generate`: write a synthetic district as SIS-style CSV files, optionally load it."""

import datetime as dt
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from tqdm import tqdm

from homeroom.attendance.models import AttendanceCode, AttendanceEvent
from homeroom.core.models import CalendarDate, District, School
from homeroom.demo.district import DYNAMICS, DistrictParameters, generate_district
from homeroom.demo.export import write_district_csv
from homeroom.demo.files import FILE_STEMS
from homeroom.demo.loading import GeneratedFileError, inserted, load_generated_district
from homeroom.ingest.models import ImportRun
from homeroom.roster.models import Enrollment, Student

MAX_YEARS = 30


class Command(BaseCommand):
    """Generate a district (deterministic by seed); see docs/generator.md."""

    help = (
        "Generate a synthetic school district as SIS-style CSV files (docs/generator.md). "
        "The same arguments always give the same files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """The district's size, its randomness and where it goes."""
        parser.add_argument(
            "--students",
            type=int,
            default=5000,
            help="students enrolled on the first day of each year (default 5000)",
        )
        parser.add_argument(
            "--schools",
            type=int,
            default=None,
            help="number of schools (default: one per ~625 students, 8 for 5000); "
            "half elementary K-5, a quarter middle 6-8, the rest high 9-12",
        )
        parser.add_argument(
            "--years", type=int, default=3, help="school years to generate (default 3)"
        )
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument(
            "--dynamics",
            choices=DYNAMICS,
            default="steady",
            help="how absences move within a year (default steady; docs/generator.md)",
        )
        parser.add_argument(
            "--today",
            default=None,
            help="YYYY-MM-DD (default: today's date); the last year is the one holding it, "
            "and attendance stops the day before",
        )
        parser.add_argument(
            "--output",
            default=None,
            help="directory for the CSV files (default: generated/ in the data directory, "
            "var/generated unless HOMEROOM_DATA_DIR says otherwise)",
        )
        parser.add_argument(
            "--load",
            action="store_true",
            help="also load the files into the database (run `homeroom migrate` first)",
        )

    def handle(self, *args, **options) -> None:
        """Check the arguments, generate, write, and load if asked."""
        params = self.parameters(options)
        output = (
            Path(options["output"]) if options["output"] else Path(settings.DATA_DIR) / "generated"
        )
        if output.exists() and not output.is_dir():
            raise CommandError(f"--output {output} is a file, not a directory")
        if options["load"]:
            self.check_database(params.name)
        self.create_directory(output)
        show_progress = options["verbosity"] >= 1
        started = time.monotonic()

        bar = tqdm(desc="attendance", unit=" student-years", disable=not show_progress)

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage == "attendance":
                bar.total = total
                bar.n = done
                bar.refresh()

        district = generate_district(params, on_progress=on_progress)
        bar.close()
        with tqdm(
            total=len(FILE_STEMS), desc="writing", unit=" files", disable=not show_progress
        ) as files_bar:
            try:
                paths = write_district_csv(
                    district, output, on_file=lambda name, rows: files_bar.update(1)
                )
            except OSError as error:
                raise CommandError(f"cannot write the files to {output}: {error}") from error
        seconds = time.monotonic() - started
        self.stdout.write(
            f"{district.student_count:,} students, {district.event_count:,} attendance events, "
            f"{len(district.school_years)} school years ({', '.join(district.school_years)}), "
            f"{len(paths) + bool(district.history)} files in {output} ({seconds:.1f} s)"
        )
        if options["load"]:
            self.load(output, show_progress)

    def parameters(self, options: dict) -> DistrictParameters:
        """The district parameters, or a CommandError saying which argument is wrong."""
        for name, lowest in (("students", 1), ("schools", 1), ("years", 1), ("seed", 0)):
            value = options[name]
            if value is not None and value < lowest:
                raise CommandError(f"--{name} must be at least {lowest} (got {value})")
        if options["years"] > MAX_YEARS:
            raise CommandError(f"--years must be at most {MAX_YEARS} (got {options['years']})")
        if options["today"] is None:
            today = dt.date.today()
        else:
            try:
                today = dt.date.fromisoformat(options["today"])
            except ValueError:
                raise CommandError(
                    f"--today '{options['today']}' is not a date in the form YYYY-MM-DD"
                ) from None
        try:
            return DistrictParameters(
                students=options["students"],
                schools=options["schools"],
                years=options["years"],
                seed=options["seed"],
                today=today,
                dynamics=options["dynamics"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error

    def create_directory(self, output: Path) -> None:
        """Create the output directory (and its parents) if needed."""
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"cannot create the directory {output}: {error}") from error

    def check_database(self, name: str) -> None:
        """Fail before generating if the database cannot take the district."""
        needed = {
            model._meta.db_table
            for model in (
                District,
                School,
                CalendarDate,
                Student,
                Enrollment,
                AttendanceCode,
                AttendanceEvent,
                ImportRun,
            )
        }
        try:
            tables = set(connection.introspection.table_names())
            missing = sorted(needed - tables)
            if missing:
                raise CommandError(
                    "the database has no Homeroom tables yet (missing "
                    f"{', '.join(missing)}): run `homeroom migrate` first"
                )
            if District.objects.filter(name=name).exists():
                raise CommandError(
                    f"the database already holds a district named '{name}'; "
                    "delete it first (homeroom demo rebuilds it) or use another database"
                )
        except DatabaseError as error:
            raise CommandError(f"cannot use the database: {error}") from error

    def load(self, output: Path, show_progress: bool) -> None:
        """Load the written files and report what the import run holds."""
        started = time.monotonic()
        try:
            run = load_generated_district(output, progress=show_progress)
        except GeneratedFileError as error:
            raise CommandError(f"the files were not loaded: {error}") from error
        except DatabaseError as error:
            raise CommandError(
                f"the database refused the district: {error} (is it migrated? "
                "run `homeroom migrate`)"
            ) from error
        counts = ", ".join(f"{count:,} {entity}" for entity, count in inserted(run).items())
        self.stdout.write(
            f"loaded as import run {run.pk} in {time.monotonic() - started:.1f} s: {counts}"
        )
