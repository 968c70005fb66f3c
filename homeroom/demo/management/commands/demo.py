"""`homeroom demo`: a working Homeroom on a fresh machine, with a synthetic district.

Migrates the configured database, generates and loads a demo district unless one is
already there, sets up one account per role, prints how to sign in, and serves the app.
Running it again leaves the same district and accounts.
"""

import dataclasses
import socket
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, connection
from django.db.models import Q

from homeroom.core.models import District, SchoolYear
from homeroom.core.selectors import district_today
from homeroom.demo.district import DistrictParameters
from homeroom.demo.loading import (
    SOURCE_FORMAT,
    GeneratedFileError,
    delete_district,
    inserted,
    load_generated_district,
)
from homeroom.demo.staff import DemoAccount, DemoStaffError, do_set_up_demo_staff
from homeroom.ingest.models import ImportRun
from homeroom.pipeline.actions import do_run_nightly
from homeroom.roster.models import Enrollment, Student
from homeroom.warnings.actions import WarningError, analysis_engine, do_train_forecast

DEMO_DISTRICT_NAME = next(
    field.default for field in dataclasses.fields(DistrictParameters) if field.name == "name"
)

STAGES = 5  # database, generate, load, train, tonight's work

# Four years: the forecast learns from one (with the year before it) and is tested on the
# last complete one before the current year.
DEMO_YEARS = 4


def _database_description() -> str:
    """Where the database is, without credentials."""
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return f"SQLite at {database['NAME']}"
    host = database.get("HOST") or "localhost"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"PostgreSQL database {database['NAME']} on {host}{port}"


def students_explained(district: District) -> str:
    """Why the district holds more students than the demo asked for: the history's."""
    today = district_today(district)
    enrolled = (
        Enrollment.objects.filter(school__district=district, entry_date__lte=today)
        .filter(Q(exit_date__isnull=True) | Q(exit_date__gte=today))
        .values("student")
        .distinct()
        .count()
    )
    everyone = Student.objects.filter(district=district).count()
    years = SchoolYear.objects.filter(district=district).count()
    return (
        f"{enrolled:,} students enrolled today; {everyone:,} over {years} school years "
        "(students who graduated or moved away stay in the records)."
    )


class Command(BaseCommand):
    """Set up (and by default serve) a demo of Homeroom."""

    help = (
        "Set up a demo: migrate the database, load a synthetic district, create one "
        "account per role, print how to sign in, and serve Homeroom."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """The district's size and seed, rebuilding, and where to serve."""
        parser.add_argument(
            "--students",
            type=int,
            default=5000,
            help="students in the generated district (default 5000)",
        )
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="delete the demo district and its accounts, and generate it again",
        )
        parser.add_argument("--no-serve", action="store_true", help="set everything up, then exit")
        parser.add_argument(
            "--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)"
        )
        parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")

    def handle(self, *args, **options) -> None:
        """Migrate, load, set up accounts, then serve unless told not to."""
        if options["students"] < 1:
            raise CommandError(f"--students must be at least 1 (got {options['students']})")
        if options["seed"] < 0:
            raise CommandError(f"--seed must be zero or positive (got {options['seed']})")
        if not 0 < options["port"] < 65536:
            raise CommandError(f"--port must be between 1 and 65535 (got {options['port']})")
        self.verbosity = options["verbosity"]
        self.started = time.monotonic()
        if not options["no_serve"]:
            self.check_port(options["host"], options["port"])
        try:
            self.migrate()
            district = self.demo_district(options)
            accounts = do_set_up_demo_staff(district, directory=self.files_directory())
        except DemoStaffError as error:
            raise CommandError(f"the demo accounts could not be set up: {error}") from error
        except DatabaseError as error:
            raise CommandError(f"the database refused: {error}") from error
        except KeyboardInterrupt:
            raise CommandError(
                "interrupted; nothing half-loaded was kept", returncode=130
            ) from None
        self.print_accounts(accounts, options)
        if not options["no_serve"]:
            self.serve(options["host"], options["port"])

    def say(self, message: str) -> None:
        """A progress line, unless asked to be quiet."""
        if self.verbosity >= 1:
            self.stdout.write(message)

    def stage(self, number: int, message: str) -> None:
        """The start of one of the demo's stages, with the time since the demo began: a
        first run takes minutes, and a newcomer should see it moving."""
        elapsed = time.monotonic() - self.started
        self.say(
            self.style.MIGRATE_HEADING(f"[{number}/{STAGES}] {message}") + f" ({elapsed:.0f} s)"
        )

    def detail(self, message: str) -> None:
        """A line of progress within a stage."""
        self.say(f"      {message}")

    def files_directory(self) -> Path:
        """Where the generated CSV files of the demo district are kept."""
        return Path(settings.DATA_DIR) / "demo"

    def migrate(self) -> None:
        """Reach the database and bring its tables up to date."""
        where = _database_description()
        database = settings.DATABASES["default"]
        if database["ENGINE"].endswith("sqlite3"):
            Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        try:
            connection.ensure_connection()
        except DatabaseError as error:
            hint = " (create it first)" if "does not exist" in str(error) else ""
            raise CommandError(f"cannot reach the {where}{hint}: {error}") from error
        self.stage(1, f"Database: {where}; applying migrations…")
        try:
            call_command("migrate", interactive=False, verbosity=0)
        except DatabaseError as error:
            raise CommandError(f"cannot migrate the {where}: {error}") from error

    def demo_district(self, options: dict) -> District:
        """The loaded demo district: kept if there, else generated and loaded."""
        district = District.objects.filter(name=DEMO_DISTRICT_NAME).first()
        if district is not None:
            loaded_by_demo = ImportRun.objects.filter(
                district=district,
                source_format=SOURCE_FORMAT,
                status=ImportRun.Status.SUCCEEDED,
            ).exists()
            if not loaded_by_demo:
                raise CommandError(
                    f"the database holds a district named '{DEMO_DISTRICT_NAME}' that the "
                    "demo did not load; use another database for the demo"
                )
            if not options["rebuild"]:
                self.stage(2, f"The demo district '{district.name}' is already loaded.")
                self.detail(students_explained(district))
                self.detail("--rebuild generates it again.")
                return district
            self.say(f"Deleting the demo district '{district.name}' and its accounts…")
            delete_district(district)

        directory = self.files_directory()
        self.stage(
            2,
            f"Generating a district of {options['students']:,} students enrolled today, "
            f"with {DEMO_YEARS} years of history (seed {options['seed']}), in {directory}…",
        )
        call_command(
            "generate",
            "--output",
            str(directory),
            "--students",
            str(options["students"]),
            "--seed",
            str(options["seed"]),
            "--years",
            str(DEMO_YEARS),
            verbosity=self.verbosity,
            stdout=self.stdout,
            stderr=self.stderr,
        )
        self.stage(3, "Loading it through the import engine, as a district's export would be…")
        try:
            run = load_generated_district(directory, progress=self.verbosity >= 1)
        except GeneratedFileError as error:
            raise CommandError(f"the generated files were not loaded: {error}") from error
        counts = ", ".join(f"{count:,} {entity}" for entity, count in inserted(run).items())
        self.detail(f"Loaded: {counts}")
        self.detail(students_explained(run.district))
        self.warn_early(run.district)
        return run.district

    def warn_early(self, district: District) -> None:
        """Train the forecast on the past years, then run tonight's flags and scores."""
        today = district_today(district)
        self.stage(4, "Training the forecast on the past years and testing it on the last one…")
        try:
            with analysis_engine(district) as engine:
                model = do_train_forecast(district, today=today, engine=engine, say=self.detail)
            self.detail(
                f"Forecast v{model.version}: trained on {', '.join(model.trained_years)}, "
                f"tested on {model.evaluated_year} ('homeroom risk evaluate' writes the report)"
            )
        except WarningError as error:
            self.detail(f"The forecast was not trained: {error}")
        self.stage(5, f"Tonight's work as of {today}: attendance figures, flags, forecasts…")
        run = do_run_nightly(district, as_of=today, say=self.detail)
        flags = next(step for step in run.steps if step["step"] == "flags")["counts"]
        self.detail(f"Early-warning flags open as of {today}: {flags['active']:,}")

    def print_accounts(self, accounts: list[DemoAccount], options: dict) -> None:
        """The demo accounts and their passwords, one per line."""
        where = f"http://{options['host']}:{options['port']}/"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo accounts") + f" (sign in at {where}login/):")
        width = max(len(account.user.username) for account in accounts)
        for account in accounts:
            self.stdout.write(
                f"  {account.user.username:<{width}}  password {account.password}  "
                f"{account.user.get_role_display()}: {account.serves}"
            )
        self.stdout.write("")

    def check_port(self, host: str, port: int) -> None:
        """Fail at once, before any long setup, if the address cannot be served on."""
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            with socket.create_server((host, port), family=family):
                pass
        except OSError as error:
            raise CommandError(self.cannot_serve(host, port, error)) from error

    def cannot_serve(self, host: str, port: int, error: OSError) -> str:
        """What to tell the user when the address is taken or unusable."""
        reason = getattr(error, "strerror", None) or str(error)
        return (
            f"cannot serve on {host}:{port}: {reason}. Is another server using the port? "
            "Choose another with --port (or --host)."
        )

    def serve(self, host: str, port: int) -> None:
        """Serve the app with waitress, static files through WhiteNoise, until Ctrl+C."""
        from waitress import create_server

        from homeroom.outreach.demo import start_demo_outreach

        # Collected before the app loads, so WhiteNoise finds the directory it serves.
        call_command("collectstatic", interactive=False, verbosity=0)
        from homeroom.wsgi import application

        try:
            server = create_server(application, host=host, port=port, threads=8)
        except OSError as error:
            raise CommandError(self.cannot_serve(host, port, error)) from error
        if host not in settings.ALLOWED_HOSTS and host not in ("0.0.0.0", "::"):
            self.stdout.write(
                self.style.WARNING(
                    f"{host} is not in HOMEROOM_ALLOWED_HOSTS; requests to it will be refused."
                )
            )
        self.stdout.write(f"Serving Homeroom at http://{host}:{port}/ (Ctrl+C stops it)")
        stop_outreach = start_demo_outreach(f"http://{host}:{port}", say=self.stdout.write)
        try:
            server.run()
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
        finally:
            stop_outreach()
            server.close()
