"""`homeroom export parquet DIR`: the district's facts as Parquet files for DuckDB and Spark."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from homeroom.core.actions import CommandLine, do_log_export
from homeroom.core.commands import command_district
from homeroom.core.selectors import district_today
from homeroom.metrics.engines import EngineError, database_engine, export_lake, export_parquet


class Command(BaseCommand):
    """Write the fact tables the metric definitions read, one Parquet file each."""

    help = "Export the district's attendance facts as Parquet files (docs/metrics.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        """The format (parquet) and the directory to write."""
        parser.add_argument("format", choices=["parquet"], help="file format")
        parser.add_argument("directory", type=Path, help="directory to write (created if needed)")
        parser.add_argument("--district", help="district name (when several are held)")
        parser.add_argument(
            "--lake",
            action="store_true",
            help=(
                "write into a lake shared by districts: <fact>/ directories partitioned by"
                " school year, this district's files named after its key, with the key in a"
                " district column, and _manifests/<key>.json"
            ),
        )
        parser.add_argument(
            "--district-key",
            help=(
                "--lake: the key naming this district's part of the lake (default: its state"
                " id, or else its name as a file name); unique in the lake"
            ),
        )

    def handle(self, *args, **options) -> None:
        """Export and say what was written."""
        directory: Path = options["directory"]
        if directory.exists() and not directory.is_dir():
            raise CommandError(f"{directory}: exists and is not a directory")
        district = command_district(options["district"])
        try:
            engine = database_engine(district)
            if options["lake"]:
                written = export_lake(
                    engine,
                    directory,
                    district,
                    as_of=district_today(district),
                    key=options["district_key"],
                )
            elif options["district_key"]:
                raise CommandError("--district-key names a district's part of a lake: add --lake")
            else:
                written = export_parquet(engine, directory)
        except EngineError as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            raise CommandError(f"{directory}: {error.strerror or error}") from None
        do_log_export(
            subject="export parquet",
            count=written.get("students", 0),
            district=district,
            via=CommandLine("homeroom export"),
            details={"directory": str(directory), "rows": written},
        )
        if options["verbosity"] >= 1:
            counts = ", ".join(f"{n:,} {name}" for name, n in written.items())
            self.stdout.write(f"wrote {counts} to {directory}")
