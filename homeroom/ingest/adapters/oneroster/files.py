"""The files of a OneRoster export as tables: gathered, unzipped, decoded and parsed.

Files may be given one by one, as a directory or as a .zip; the manifest says which are
bulk, absent or delta. Only the files Homeroom reads are opened (an unused file in a zip
is never decompressed), and each is streamed line by line: decoded as UTF-8 (a line that is
not is an error on that line) and parsed as strict CSV into rows of values by lower-cased
column name. A file larger than `settings.HOMEROOM_MAX_IMPORT_BYTES` once uncompressed, or
with more than `settings.HOMEROOM_MAX_IMPORT_ROWS` lines, is refused as soon as it is seen
to be (from the zip's directory, or while reading: a zip may understate a size). A file
whose header lacks a required column, or which needs a file that is missing or cannot be
read, gives no table.
"""

import codecs
import csv
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings

from homeroom.ingest.limits import megabytes, over_rows, over_size, refuse_file
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import Batch, Where

# The files read, in the order they are processed, and the columns each must have.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "manifest.csv": ("propertyName", "value"),
    "orgs.csv": ("sourcedId", "name", "type"),
    "academicSessions.csv": ("sourcedId", "title", "type", "startDate", "endDate"),
    "users.csv": ("sourcedId", "givenName", "familyName"),
    "roles.csv": ("userSourcedId", "role"),
    "demographics.csv": ("sourcedId",),
    "classes.csv": ("sourcedId", "title", "classType", "schoolSourcedId", "termSourcedIds"),
    "enrollments.csv": ("sourcedId", "classSourcedId", "userSourcedId", "role"),
}
CANONICAL = {name.lower(): name for name in REQUIRED_COLUMNS}

# The column naming what a row is about, where it is not sourcedId.
KEY_COLUMNS = {"roles.csv": "userSourcedId"}

# Files a file cannot be read without (users.csv may need roles.csv: see _check_roles_given).
NEEDS: dict[str, tuple[str, ...]] = {
    "roles.csv": ("users.csv",),
    "demographics.csv": ("users.csv",),
    "classes.csv": ("orgs.csv", "academicSessions.csv"),
    "enrollments.csv": ("classes.csv", "users.csv"),
}

# Files of the OneRoster 1.2 CSV binding Homeroom has no use for: skipped without a word.
NOT_USED = frozenset(
    name.lower()
    for name in (
        "courses.csv",
        "categories.csv",
        "classResources.csv",
        "courseResources.csv",
        "resources.csv",
        "userResources.csv",
        "userProfiles.csv",
        "lineItems.csv",
        "lineItemLearningObjectiveIds.csv",
        "lineItemScoreScales.csv",
        "results.csv",
        "resultLearningObjectiveIds.csv",
        "resultScoreScales.csv",
        "scoreScales.csv",
    )
)
ENCODING_ERRORS_LISTED = 20
CHUNK_BYTES = 1 << 16

# How a file of the export is opened for reading (None: it is not to be read).
Opener = Callable[[str], BinaryIO] | None


@dataclass(slots=True)
class Row:
    """One data row: its file, first line and values by lower-cased column name."""

    file: str
    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column.lower(), "")

    def where(self, column: str = "") -> Where:
        return Where(self.file, self.line, column)


@dataclass(slots=True)
class Table:
    """One file read: its name as given, lower-cased columns and data rows."""

    file: str
    columns: set[str]
    rows: list[Row]
    damaged: set[str] = field(default_factory=set)


def shown(value: str) -> str:
    """A value as a problem shows it: short, free of what no database stores (NULs, and the
    surrogate escapes of a file name that is not UTF-8)."""
    value = value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")
    return value if len(value) <= 120 else value[:117] + "..."


def _is_csv(name: str) -> bool:
    """A .csv file of an export (not a hidden or macOS resource-fork copy)."""
    return name.lower().endswith(".csv") and not name.startswith(".")


def read_tables(paths: list[Path], progress: ReadProgress, batch: Batch) -> dict[str, Table | None]:
    """The export's files parsed, by canonical name: None for a file given that cannot be
    read, or that needs one that cannot; every problem is on the batch."""
    return _Files(batch).read(paths, progress)


class _Files:
    """Reads the files of one export into tables, recording every problem on the batch."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.tables: dict[str, Table | None] = {}
        self.archives: list[zipfile.ZipFile] = []  # open while their members are read

    def read(self, paths: list[Path], progress: ReadProgress) -> dict[str, Table | None]:
        """The tables of the files given (see read_tables)."""
        try:
            return self._read(paths, progress)
        finally:
            for archive in self.archives:
                archive.close()

    def _read(self, paths: list[Path], progress: ReadProgress) -> dict[str, Table | None]:
        files = self._gather(paths, progress)
        if not files:
            self.batch.error(
                "no_files",
                "no OneRoster CSV files were found",
                hint="Give the export's .csv files, the directory holding them, or its .zip.",
            )
            return self.tables
        self._apply_manifest(files)
        for name in REQUIRED_COLUMNS:
            if name == "manifest.csv" or name.lower() not in files:
                continue
            missing = [need for need in NEEDS.get(name, ()) if need.lower() not in files]
            display, data = files[name.lower()]
            if missing:
                self.batch.error(
                    "missing_file",
                    f"{name} refers to {', '.join(missing)}, which the export does not include",
                    Where(display, 1),
                    hint="Export every file of the OneRoster bulk export.",
                )
                self.tables[name] = None
            elif any(self.tables.get(need) is None for need in NEEDS.get(name, ())):
                self.tables[name] = None  # what it needs could not be read, as already listed
            else:
                self.tables[name] = self._table(name, display, data)
        self._check_roles_given()
        return self.tables

    def _check_roles_given(self) -> None:
        """Users need roles: users.csv's role column (OneRoster 1.1 style) or roles.csv (1.2)."""
        users = self.tables.get("users.csv")
        if users is None or "role" in users.columns or self.tables.get("roles.csv") is not None:
            return
        if "roles.csv" not in self.tables:
            self.batch.error(
                "missing_file",
                "users.csv has no role column and the export has no roles.csv",
                Where(users.file, 1, "role"),
                hint="OneRoster 1.2 keeps users' roles in roles.csv: include it in the export.",
            )
        for name in ("users.csv", "roles.csv", "demographics.csv", "enrollments.csv"):
            if name in self.tables:
                self.tables[name] = None

    def _gather(self, paths: list[Path], progress: ReadProgress) -> dict[str, tuple[str, Opener]]:
        """The files given, expanding directories and zips, by lower-cased name: how to open
        each that Homeroom reads (None for one too large to read). Nothing is read here."""
        found: dict[str, tuple[str, Opener]] = {}

        def add(name: str, size: int, opener: Opener) -> None:
            key = name.lower()
            if key in found:
                self.batch.error(
                    "duplicate_file",
                    "a file of this name was already given; this one is not read",
                    value=shown(name),
                    hint="Give each file of the export once.",
                )
                return
            if key not in CANONICAL and key not in NOT_USED:
                self.batch.finding(
                    "file_not_read",
                    "not a OneRoster file Homeroom reads, so it is skipped",
                    value=shown(name),
                )
                return
            if key in NOT_USED:
                found[key] = (name, None)
                return
            if over_size(size):
                self._too_large(name, f"holds {megabytes(size)} uncompressed")
                opener = None
            found[key] = (name, opener)

        for path in paths:
            try:
                if path.is_dir():
                    for child in sorted(path.iterdir()):
                        with progress.file(child):
                            if child.is_file() and _is_csv(child.name):
                                add(child.name, child.stat().st_size, child.open)
                elif path.suffix.lower() == ".zip":
                    with progress.file(path):
                        self._unzip(path, add)
                elif path.is_file():
                    with progress.file(path):
                        add(path.name, path.stat().st_size, path.open)
                else:
                    self.batch.error(
                        "no_such_file", "no such file or directory", value=shown(str(path))
                    )
            except OSError as error:
                self.batch.error(
                    "unreadable_file", error.strerror or "cannot be read", value=shown(str(path))
                )
        return {key: value for key, value in found.items() if key not in NOT_USED}

    def _unzip(self, path: Path, add: Callable[[str, int, Opener], None]) -> None:
        try:
            archive = zipfile.ZipFile(path)
            self.archives.append(archive)
            for info in sorted(archive.infolist(), key=lambda info: info.filename):
                member = PurePosixPath(info.filename.replace("\\", "/"))
                if info.is_dir() or "__MACOSX" in member.parts or not _is_csv(member.name):
                    continue
                add(member.name, info.file_size, lambda mode, info=info: archive.open(info))
        except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError, zlib.error) as e:
            self.batch.error(
                "bad_zip",
                "the zip file cannot be read",
                Where(shown(path.name), 1),
                value=shown(str(e)),
                hint="Download or export the zip again.",
            )

    def _too_large(self, display: str, what: str) -> None:
        refuse_file(self.batch, shown(display), what)

    def _apply_manifest(self, files: dict[str, tuple[str, Opener]]) -> None:
        """Follow the manifest's file.* entries: absent files are fine, delta ones are not."""
        if "manifest.csv" not in files:
            self.batch.finding(
                "no_manifest",
                "the export has no manifest.csv, so the files given are read as bulk files",
            )
            return
        manifest = self._table("manifest.csv", *files.pop("manifest.csv"))
        if manifest is None:
            return
        for row in manifest.rows:
            name, mode = row["propertyName"], row["value"].lower()
            if name == "oneroster.version" and row["value"] != "1.2":
                self.batch.finding(
                    "oneroster_version",
                    "the export is not OneRoster 1.2; it is read as 1.2",
                    row.where("value"),
                    value=shown(row["value"]),
                )
            if not name.startswith("file.") or f"{name[5:]}.csv".lower() not in CANONICAL:
                continue
            key = f"{name[5:]}.csv".lower()
            if mode == "bulk":
                if key not in files:
                    self.batch.error(
                        "missing_file",
                        f"the manifest lists {CANONICAL[key]} as bulk, but it was not given",
                        row.where("value"),
                        hint="Give every file of the export (or the directory or zip).",
                    )
            elif mode == "absent":
                if files.pop(key, None) is not None:
                    self.batch.finding(
                        "file_marked_absent",
                        f"the manifest marks {CANONICAL[key]} absent, so it is not read",
                        row.where("value"),
                    )
            elif mode == "delta":
                files.pop(key, None)
                self.batch.error(
                    "delta_not_supported",
                    f"{CANONICAL[key]} is a delta file; Homeroom reads bulk exports only",
                    row.where("value"),
                    hint="Export a bulk (full) OneRoster file set.",
                )
            else:
                self.batch.error(
                    "bad_value",
                    "a manifest file entry is neither bulk, delta nor absent",
                    row.where("value"),
                    value=shown(row["value"]),
                )

    def _table(self, name: str, display: str, opener: Opener) -> Table | None:
        """Stream and parse one file; None when it cannot be read or is too large."""
        if opener is None:
            return None
        try:
            with opener("rb") as stream:
                return self._parse(name, display, stream)
        except _TooLarge as too_large:
            self._too_large(display, str(too_large))
        except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as error:
            self.batch.error(
                "unreadable_file",
                "the file cannot be read to its end",
                Where(shown(display), 1),
                value=shown(str(error)),
                hint="Download or export the file again.",
            )
        return None

    def _parse(self, name: str, display: str, stream: BinaryIO) -> Table | None:
        bad_lines: set[int] = set()
        lines = _Lines(self, display, stream, bad_lines)
        reader = csv.reader(lines, strict=True)
        header: list[str] | None = None
        rows: list[Row] = []
        damaged: set[str] = set()
        while True:
            first = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                self.batch.error(
                    "bad_csv",
                    "the row is not valid CSV",
                    Where(display, first),
                    value=shown(str(error)),
                    hint="Check the quotes on this line; the file may be cut short.",
                )
                if header is None:
                    return None
                continue
            if bad_lines.isdisjoint(range(first, reader.line_num + 1)):
                if not any(value.strip() for value in fields):
                    continue
                if header is None and "\x00" not in "".join(fields):
                    header = [value.strip().lstrip("\ufeff").strip() for value in fields]
                    if not self._header_ok(name, display, header, first):
                        return None
                    continue
                if self._row_ok(display, first, fields, header):
                    values = {
                        col.lower(): value.strip()
                        for col, value in zip(header, fields, strict=False)
                        if col
                    }
                    rows.append(Row(display, first, values))
                    continue
            if header is None:
                return None
            # A damaged row's id, where it can be made out, silences references to it.
            key = KEY_COLUMNS.get(name, "sourcedId").lower()
            index = next((i for i, col in enumerate(header) if col.lower() == key), len(fields))
            if index < len(fields):
                damaged.add(fields[index].strip())
        if header is None:
            if not lines.content:
                self.batch.error(
                    "empty_file",
                    "the file is empty",
                    Where(display, 1),
                    hint="Export the file again; every OneRoster file starts with its header.",
                )
            return None
        self.batch.rows_read[display] = len(rows)
        return Table(display, {col.lower() for col in header}, rows, damaged)

    def _row_ok(self, display: str, line: int, fields: list[str], header: list[str] | None) -> bool:
        """Whether a data row can be read; if not, say why."""
        if any("\x00" in value for value in fields):
            self.batch.error(
                "bad_character",
                "the row holds a NUL character",
                Where(display, line),
                hint="The file is damaged: export it again.",
            )
            return False
        if header is None:
            return False
        if len(fields) < len(header):
            self.batch.error(
                "short_row",
                f"the row has {len(fields)} of the file's {len(header)} columns",
                Where(display, line),
                hint="The file may be cut short or a value unquoted: export it again.",
            )
            return False
        if any(value.strip() for value in fields[len(header) :]):
            self.batch.error(
                "long_row",
                f"the row has {len(fields)} values but the header {len(header)} columns",
                Where(display, line),
                hint="Quote values that contain commas.",
            )
            return False
        return True

    def _header_ok(self, name: str, display: str, header: list[str], line: int) -> bool:
        lowered = [col.lower() for col in header if col]
        repeated = sorted({col for col in lowered if lowered.count(col) > 1})
        if repeated:
            self.batch.error(
                "duplicate_column",
                "the header names a column more than once",
                Where(display, line, ", ".join(repeated)),
                value=shown(", ".join(repeated)),
            )
            return False
        missing = [col for col in REQUIRED_COLUMNS[name] if col.lower() not in lowered]
        if missing:
            self.batch.error(
                "missing_column",
                f"missing required column{'s' if len(missing) > 1 else ''} " + ", ".join(missing),
                Where(display, line, ", ".join(missing)),
                value=", ".join(missing),
                hint=f"The OneRoster 1.2 CSV binding requires these columns in {name}.",
            )
            return False
        return True

    def bad_encoding(self, display: str, number: int, raw: bytes, error: UnicodeDecodeError):
        """Say that a line is not UTF-8 (the first few such lines of a file)."""
        self.batch.error(
            "bad_encoding",
            "the line holds bytes that are not UTF-8",
            Where(display, number),
            value=" ".join(f"0x{b:02x}" for b in raw[error.start : error.end]),
            hint="Save the file as UTF-8 (with or without BOM).",
        )

    def more_bad_encoding(self, display: str, bad: set[int]) -> None:
        """Say how many more lines were not UTF-8 than were listed."""
        self.batch.error(
            "bad_encoding",
            f"{len(bad) - ENCODING_ERRORS_LISTED} more lines hold bytes that are not UTF-8",
            Where(display, sorted(bad)[ENCODING_ERRORS_LISTED]),
            hint="Save the file as UTF-8 (with or without BOM).",
        )


class _TooLarge(Exception):
    """A file went past the size or line limit while being read (the message says how)."""


class _Lines:
    """A file's lines as text for the CSV reader, one at a time: the UTF-8 BOM dropped,
    each line decoded on its own (a line that is not UTF-8 is noted in `bad` and read with
    replacement characters), and the limits on bytes and lines kept."""

    def __init__(self, files: _Files, display: str, stream: BinaryIO, bad: set[int]) -> None:
        self.files, self.display, self.stream, self.bad = files, display, stream, bad
        self.content = False  # whether any line holds more than whitespace

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(self._raw_lines(), 1):
            if over_rows(number):
                raise _TooLarge(f"has more than {settings.HOMEROOM_MAX_IMPORT_ROWS:,} lines")
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                self.bad.add(number)
                if len(self.bad) <= ENCODING_ERRORS_LISTED:
                    self.files.bad_encoding(self.display, number, raw.rstrip(b"\r\n"), error)
                line = raw.decode("utf-8", "replace")
            if not self.content and line.strip():
                self.content = True
            yield line
        if len(self.bad) > ENCODING_ERRORS_LISTED:
            self.files.more_bad_encoding(self.display, self.bad)

    def _raw_lines(self) -> Iterator[bytes]:
        """The file's lines as bytes, each with its line feed, read in chunks: the bytes are
        counted as they come, so a file of one endless line stops at the size limit. (A
        zip member's own `readline` with a limit reads a byte at a time: far too slow.)"""
        limit, size, start = settings.HOMEROOM_MAX_IMPORT_BYTES, 0, []
        while chunk := self.stream.read(CHUNK_BYTES):
            size += len(chunk)
            if over_size(size):
                raise _TooLarge(f"holds more than {megabytes(limit)} uncompressed")
            pieces = chunk.split(b"\n")
            if len(pieces) == 1:  # no line ends in this chunk: the line goes on
                start.append(chunk)
                continue
            start.append(pieces[0])
            yield b"".join(start) + b"\n"
            for piece in pieces[1:-1]:
                yield piece + b"\n"
            start = [pieces[-1]] if pieces[-1] else []
        if start:
            yield b"".join(start)
