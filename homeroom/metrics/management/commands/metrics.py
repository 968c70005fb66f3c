"""`homeroom metrics students|schools|groups|days`: attendance metrics on any engine."""

import argparse
import contextlib
import datetime as dt
import os
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from homeroom.core.actions import CommandLine, do_log_export
from homeroom.core.commands import command_district
from homeroom.metrics import definitions
from homeroom.metrics.definitions import GROUP_TYPES
from homeroom.metrics.engines import (
    ENGINES,
    TABLE_OUTPUT,
    EngineError,
    database_engine,
    open_engine,
    spark_failures,
)
from homeroom.metrics.reports import (
    FORMATS,
    KINDS,
    metrics_table,
    with_context,
    write_dataset,
    write_table,
)
from homeroom.metrics.rules import RuleProfileError, load_rule_profile

# The tables with a row per student: writing one out is an export of student data.
PER_STUDENT = ("students", "days")


def iso_date(text: str) -> dt.date:
    """A date argument written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        # argparse shows an ArgumentTypeError's own message (a ValueError's it replaces)
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; write it as YYYY-MM-DD"
        ) from None


class Command(BaseCommand):
    """Compute a metrics table under a rule profile and write it."""

    help = (
        "Attendance metrics as of a date under a rule profile (docs/metrics.md): per student, "
        "per school, per group, or per student and day; on the database, DuckDB or Spark."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """What to compute, as of when, under which rules, where, and in which format."""
        parser.add_argument("kind", choices=KINDS, help="which table")
        parser.add_argument("--as-of", type=iso_date, required=True, help="last day counted")
        parser.add_argument(
            "--from", dest="start", type=iso_date, help="first day counted (default: year start)"
        )
        parser.add_argument(
            "--profile", help="rule profile name or .toml path (default: the district's)"
        )
        parser.add_argument("--engine", choices=ENGINES, default="db")
        parser.add_argument(
            "--source",
            help="directory written by 'homeroom export parquet' (duckdb), or a URL (spark)",
        )
        parser.add_argument("--district", help="district name (db engine, when several are held)")
        parser.add_argument(
            "--per",
            choices=["school", "district"],
            help="students: one row per school or per student",
        )
        parser.add_argument(
            "--group-by", choices=GROUP_TYPES, help="groups: only this kind of group"
        )
        parser.add_argument(
            "--student", action="append", default=[], help="days: a student's local id (repeatable)"
        )
        parser.add_argument(
            "--format",
            choices=FORMATS,
            help=(
                "table: aligned and rounded for people; csv, json, parquet: every figure at"
                " full precision (default: table on a terminal, csv otherwise)"
            ),
        )
        parser.add_argument(
            "--output",
            help=(
                "file to write (default: standard output); a directory (DIR/, or one that"
                " exists) or a URL (s3a://, hdfs://) takes a Parquet dataset partitioned by"
                " school year and school, written where the engine computes it;"
                " table:<database>.<name> is a table of Spark's catalog (--engine spark),"
                " partitioned the same way"
            ),
        )
        parser.add_argument(
            "--spark-remote",
            default=os.environ.get("SPARK_REMOTE"),
            help="spark: a Spark Connect server, sc://HOST:PORT (default: SPARK_REMOTE)",
        )

    def handle(self, *args, **options) -> None:
        """Check the arguments, compute, write."""
        output = options["output"]
        dataset = output is not None and _is_dataset(output)
        if dataset and options["format"] not in (None, "parquet"):
            raise CommandError(
                f"--output {output} is a directory, URL or table, written as a Parquet dataset; "
                f"--format {options['format']} writes one file: give a file name"
            )
        if options["format"] is None:
            # A person at a terminal reads; a pipe or a file feeds another program.
            to_person = output is None and self.stdout.isatty()
            options["format"] = "parquet" if dataset else "table" if to_person else "csv"
        if options["format"] == "parquet" and output is None:
            raise CommandError("--format parquet needs --output PATH")
        engine_name = options["engine"]
        district = None
        if engine_name == "db":
            district = command_district(options["district"])
            if dataset and output.startswith(TABLE_OUTPUT):
                raise CommandError(
                    f"--output {output} is a table of Spark's catalog, written by --engine "
                    "spark: export the facts with 'homeroom export parquet DIR' and give "
                    "--engine spark --source DIR"
                )
            if dataset:
                raise CommandError(
                    f"--output {output} is a Parquet dataset, written by the duckdb and spark "
                    "engines: export the facts with 'homeroom export parquet DIR' and give "
                    "--engine duckdb --source DIR, or write one file (--output FILE.parquet)"
                )
        elif options["source"] is None:
            raise CommandError(
                f"--engine {engine_name} needs --source DIR (homeroom export parquet)"
            )
        remote = options["spark_remote"] if engine_name == "spark" else None
        started = time.monotonic()
        failures = spark_failures(remote) if engine_name == "spark" else contextlib.nullcontext()
        try:
            with failures:
                profile = load_rule_profile(
                    options["profile"]
                    or (district.rule_profile if district else "attendance-works")
                )
                engine = (
                    database_engine(district)
                    if district
                    else open_engine(engine_name, options["source"], remote=remote)
                )
                window = engine.window(options["as_of"], options["start"])
                students = engine.student_ids(options["student"]) if options["student"] else None
                what = {
                    "per": options["per"],
                    "group_type": options["group_by"],
                    "students": students,
                }
                if dataset:
                    rows, partitions = write_dataset(
                        engine, options["kind"], profile, window, output, **what
                    )
                else:
                    table = metrics_table(engine, options["kind"], profile, window, **what)
                    rows = table.num_rows
                    write_table(
                        with_context(table, profile, window),
                        options["format"],
                        output and Path(output),
                        self.stdout,
                        options["kind"],
                    )
                if options["kind"] in PER_STUDENT:
                    do_log_export(
                        subject=f"metrics {options['kind']}",
                        count=rows,
                        district=district,
                        via=CommandLine("homeroom metrics"),
                        details={
                            "format": options["format"],
                            "engine": engine_name,
                            "as_of": window.as_of.isoformat(),
                            "output": str(output or "standard output"),
                        },
                    )
                behind = engine.run(definitions.not_recorded(engine.facts, window)).to_pylist()
                dayless = engine.run(definitions.without_school_days(engine.facts, window))
        except (RuleProfileError, EngineError, ValueError, OSError) as error:
            raise CommandError(str(error)) from None
        for school in sorted(dayless.to_pylist(), key=lambda row: row["local_id"]):
            self.stderr.write(
                f"note: {school['name']} ({school['local_id']}): its calendar counts no school"
                f" day from {window.start} to {window.as_of}, so its figures are zeros; import"
                " its full calendar"
            )
        for school in sorted(behind, key=lambda row: (row["recorded_through"], row["local_id"])):
            self.stderr.write(
                f"note: {school['name']} ({school['local_id']}): attendance is recorded only to"
                f" {school['recorded_through']}; the days after it up to {window.as_of} are not"
                " counted yet"
            )
        if output is not None and options["verbosity"] >= 1:
            how = f" as Parquet partitioned by {', '.join(partitions)}" if dataset else ""
            seconds = time.monotonic() - started
            self.stderr.write(
                f"{rows:,} rows written to {output}{how} on {engine_name} in {seconds:.1f} s"
            )


def _is_dataset(output: str) -> bool:
    """Whether --output names a place for a Parquet dataset rather than one file: a catalog
    table, a URL, a path ending with a slash, or an existing directory."""
    return (
        output.startswith(TABLE_OUTPUT)
        or "://" in output
        or output.endswith(("/", os.sep))
        or Path(output).is_dir()
    )
