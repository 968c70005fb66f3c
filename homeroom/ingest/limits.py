"""The most an import reads from one file, and how a file over it is refused.

`settings.HOMEROOM_MAX_IMPORT_BYTES` (uncompressed: a zip's members and an XLSX's sheets
count at their full size) and `settings.HOMEROOM_MAX_IMPORT_ROWS` (lines of a text file,
records of an Ed-Fi file). Readers check the size before they read a byte of the file, and
count rows as they go, so a file over either is refused without being read whole.
"""

from django.conf import settings

from homeroom.ingest.records import Batch, Where


def over_size(size: int) -> bool:
    """Whether a file of `size` bytes, uncompressed, is more than an import reads."""
    return size > settings.HOMEROOM_MAX_IMPORT_BYTES


def over_rows(rows: int) -> bool:
    """Whether `rows` lines (or Ed-Fi records) are more than an import reads from one file."""
    return rows > settings.HOMEROOM_MAX_IMPORT_ROWS


def megabytes(size: int) -> str:
    """A size as the refusal says it: in KB, MB or GB, to one decimal."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size / 2**10:,.1f} KB"


def refuse_file(batch: Batch, file: str, what: str) -> None:
    """Record that `file` is not read because it `what` (e.g. "holds 1,024.0 MB
    uncompressed"), saying the limits and how to change them."""
    limit = megabytes(settings.HOMEROOM_MAX_IMPORT_BYTES)
    rows = settings.HOMEROOM_MAX_IMPORT_ROWS
    batch.error(
        "file_too_large",
        f"the file {what}; Homeroom reads at most {limit} and {rows:,} rows (lines, or"
        " Ed-Fi records) from one file, so it is not read",
        Where(file, 1),
        hint="Check that the file is the district's export; an administrator can raise the"
        " limits (HOMEROOM_MAX_IMPORT_MB, HOMEROOM_MAX_IMPORT_ROWS; docs/import.md).",
    )
