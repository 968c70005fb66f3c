"""Writes of the ingest app: a district's files read in their format and imported as one run.

What an import changes downstream (the summaries, the flags) is not ingest's business: the
pipeline (`homeroom.pipeline`) runs those steps after it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from homeroom.core.actions import CommandLine, do_create_district
from homeroom.core.models import District
from homeroom.ingest.formats import FORMATS, ReadOptions, files_read, source_file
from homeroom.ingest.models import ImportRun
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.sync import do_import


@dataclass(frozen=True)
class NewDistrict:
    """A district the import creates, inside its own transaction: an import rejected, dry
    or killed before it commits leaves no district behind."""

    name: str
    timezone: str


def do_import_files(
    paths: list[Path],
    *,
    district: District | NewDistrict,
    source_format: str,
    profile: str | None = None,
    implied_enrollments: bool = False,
    on_error: str = "reject",
    dry_run: bool = False,
    allow_large_deletes: bool = False,
    user=None,
    progress: ReadProgress | None = None,
    on_stage: Callable[[str], None] | None = None,
    via: CommandLine | None = None,
) -> ImportRun:
    """Read the files in `source_format` and import them for the district as one run.

    Raises ValueError or OSError for files that cannot be read at all, and `ImportRejected`
    for a run rejected on its rows; either way nothing was changed.
    """
    source = FORMATS[source_format]
    options = ReadOptions(
        profile=profile, implied_enrollments=implied_enrollments, progress=progress
    )
    batch = source.read(paths, options)

    def write(into: District) -> ImportRun:
        return do_import(
            batch,
            district=into,
            source_format=source.name,
            files=[source_file(path) for path in files_read(paths)],
            user=user,
            on_error=on_error,
            dry_run=dry_run,
            allow_large_deletes=allow_large_deletes,
            on_stage=on_stage,
            via=via,
        )

    if isinstance(district, District):  # a rejected run is recorded for the district
        return write(district)
    with transaction.atomic():  # a rejected run goes with the district it would create
        run = write(do_create_district(name=district.name, timezone=district.timezone))
        if dry_run:
            transaction.set_rollback(True)
        return run
