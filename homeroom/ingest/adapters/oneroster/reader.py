"""OneRoster 1.2 CSV rostering: a bulk export (files, a directory or a .zip) read into a `Batch`.

What is read and the rules applied are in docs/import-oneroster.md. In short: orgs of type
school become schools; the schoolYear sessions become school years named "YYYY-YYYY";
students and their parents or guardians come from users.csv (roles from its `role` column
or from roles.csv), with demographics.csv for birth date, sex and race/ethnicity; classes
become sections and enrollments become section memberships and section teachers. Teachers
are never created: they are named by username (or email) so the sync engine can match the
district's existing staff accounts. OneRoster carries no attendance and no school
enrollment spans.

Nothing here raises on bad input: every problem is recorded on the batch with the file,
line (the header is line 1) and column, and the row it concerns yields no record.
"""

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NoReturn

from homeroom.ingest.adapters.vocabulary import CEDS_GRADE_CODES, LIMITS
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import (
    Batch,
    GuardianRecord,
    SchoolRecord,
    SchoolYearRecord,
    SectionEnrollmentRecord,
    SectionRecord,
    StudentGuardianRecord,
    StudentRecord,
    Where,
)

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

GUARDIAN_RELATIONSHIPS = {"guardian": "guardian", "parent": "guardian", "relative": "other"}
SEXES = {"male": "M", "female": "F", "other": "X", "unspecified": "U", "": "U"}
RACES = {
    "americanIndianOrAlaskaNative": "american_indian",
    "asian": "asian",
    "blackOrAfricanAmerican": "black",
    "nativeHawaiianOrOtherPacificIslander": "pacific_islander",
    "white": "white",
}
CLASS_TYPES = {"homeroom": True, "scheduled": False}

ENCODING_ERRORS_LISTED = 20
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_HINT = "OneRoster dates are written YYYY-MM-DD."


def read_oneroster(paths: list[Path], *, progress: ReadProgress | None = None) -> Batch:
    """Read a OneRoster 1.2 CSV bulk export (files, a directory of them, or a .zip)."""
    return _Reader().read(paths, progress or ReadProgress())


class _Skip(Exception):
    """Internal: the row in hand has a problem (already recorded) and yields no record."""


@dataclass(slots=True)
class _Row:
    """One data row: its file, first line and values by lower-cased column name."""

    file: str
    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column.lower(), "")

    def where(self, column: str = "") -> Where:
        return Where(self.file, self.line, column)


@dataclass(slots=True)
class _Table:
    """One file read: its name as given, lower-cased columns and data rows."""

    file: str
    columns: set[str]
    rows: list[_Row]
    damaged: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Session:
    """An academic session (school year, term, semester or grading period)."""

    row: _Row
    kind: str
    start: dt.date
    end: dt.date
    parent: str
    year_number: str
    year_name: str | None = None
    resolved: bool = False


@dataclass(slots=True)
class _User:
    """A user: the records made of them and how sections name them."""

    row: _Row
    roles: list[str] = field(default_factory=list)
    student: StudentRecord | None = None
    guardian_id: str = ""
    relationship: str = ""
    login: str = ""


@dataclass(slots=True)
class _Class:
    """A class read: its section and the dates of its terms."""

    section: SectionRecord
    start: dt.date
    end: dt.date
    teachers: list[tuple[bool, str]] = field(default_factory=list)


def _shown(value: str) -> str:
    """A value as a problem shows it: short, free of what no database stores (NULs, and the
    surrogate escapes of a file name that is not UTF-8)."""
    value = value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")
    return value if len(value) <= 120 else value[:117] + "..."


def _listed(value: str) -> list[str]:
    """A OneRoster list field ("a,b,c") as its non-empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]


class _Reader:
    """Reads one export into one batch; the state of a single read."""

    def __init__(self) -> None:
        self.batch = Batch()
        self.tables: dict[str, _Table | None] = {}
        self.deleted: dict[str, set[str]] = defaultdict(set)
        self.bad: dict[str, set[str]] = defaultdict(set)
        self.schools: dict[str, str] = {}
        self.org_types: dict[str, str] = {}
        self.sessions: dict[str, _Session] = {}
        self.users: dict[str, _User] = {}
        self.classes: dict[str, _Class] = {}

    # -- problems -----------------------------------------------------------------------

    def _fail(
        self, code: str, message: str, where: Where, value: str = "", hint: str = ""
    ) -> NoReturn:
        """Record an error about the row in hand and skip the row."""
        self.batch.error(code, message, where, value=_shown(value), hint=hint)
        raise _Skip

    def _text(self, row: _Row, column: str, length: int, *, required: bool = False) -> str:
        value = row[column]
        if required and not value:
            self._fail("missing_value", f"{column} is empty", row.where(column))
        if len(value) > length:
            self._fail(
                "too_long",
                f"{column} is longer than {length} characters",
                row.where(column),
                value,
                "Shorten the value in the source system.",
            )
        return value

    def _date(self, row: _Row, column: str, *, required: bool = False) -> dt.date | None:
        value = row[column]
        if not value:
            if required:
                self._fail("missing_value", f"{column} is empty", row.where(column), hint=DATE_HINT)
            return None
        try:
            if not DATE.fullmatch(value):
                raise ValueError(value)
            return dt.date.fromisoformat(value)
        except ValueError:
            self._fail("bad_date", f"{column} is not a date", row.where(column), value, DATE_HINT)

    def _flag(self, row: _Row, column: str) -> bool:
        value = row[column].lower()
        if value not in ("true", "false", ""):
            self._fail(
                "bad_value",
                f"{column} is not true or false",
                row.where(column),
                row[column],
                "OneRoster flags are written true or false.",
            )
        return value == "true"

    def _ref[T](self, kind: str, known: dict[str, T], row: _Row, column: str, value: str) -> T:
        """The object `value` names, or skip the row saying why it cannot be found."""
        if value in known:
            return known[value]
        if not value:
            self._fail("missing_value", f"{column} is empty", row.where(column))
        if value in self.deleted[kind]:
            self.batch.finding(
                "refers_to_deleted",
                f"refers to a {kind} marked tobedeleted, so the row is skipped",
                row.where(column),
                value=_shown(value),
            )
            raise _Skip
        if value in self.bad[kind]:
            raise _Skip  # the row it names has an error of its own, already listed
        self._fail(
            f"unknown_{kind}",
            f"unknown {kind}",
            row.where(column),
            value,
            f"Add the {kind} to {_FILE_OF[kind]} or fix the id.",
        )

    def _live(self, table: _Table, kind: str, key: str = "sourcedId") -> Iterator[tuple[str, _Row]]:
        """Rows to read: tobedeleted rows skipped with a finding, ids present and unique."""
        self.bad[kind] |= table.damaged
        seen: set[str] = set()
        for row in table.rows:
            status, sid = row["status"].lower(), row[key]
            if status == "tobedeleted":
                self.batch.finding(
                    "deleted_row",
                    "the row is marked tobedeleted, so it is skipped",
                    row.where("status"),
                    value=_shown(sid),
                )
                self.deleted[kind].add(sid)
                continue
            if status not in ("", "active"):
                self.batch.error(
                    "bad_value",
                    "status is neither active nor tobedeleted",
                    row.where("status"),
                    value=_shown(row["status"]),
                )
                self.bad[kind].add(sid)
                continue
            if not sid:
                self.batch.error("missing_value", f"{key} is empty", row.where(key))
                continue
            if key == "sourcedId":
                if sid in seen:
                    self.batch.error(
                        "duplicate_id",
                        "another row of the file has this sourcedId",
                        row.where(key),
                        value=_shown(sid),
                        hint="Each sourcedId may appear once per file.",
                    )
                    continue
                seen.add(sid)
            yield sid, row

    # -- files --------------------------------------------------------------------------

    def read(self, paths: list[Path], progress: ReadProgress) -> Batch:
        files = self._gather(paths, progress)
        if not files:
            self.batch.error(
                "no_files",
                "no OneRoster CSV files were found",
                hint="Give the export's .csv files, the directory holding them, or its .zip.",
            )
            return self.batch
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
        self._read_orgs()
        self._read_sessions()
        self._read_users()
        self._read_demographics()
        self._read_guardian_links()
        self._read_classes()
        self._read_enrollments()
        return self.batch

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

    def _gather(self, paths: list[Path], progress: ReadProgress) -> dict[str, tuple[str, bytes]]:
        """The files given, expanding directories and zips, by lower-cased name.

        Each file is read whole here, so progress counts it once it is read (or skipped).
        """
        found: dict[str, tuple[str, bytes]] = {}

        def add(name: str, data: bytes) -> None:
            key = name.lower()
            if key in found:
                self.batch.error(
                    "duplicate_file",
                    "a file of this name was already given; this one is not read",
                    value=_shown(name),
                    hint="Give each file of the export once.",
                )
                return
            if key not in CANONICAL and key not in NOT_USED:
                self.batch.finding(
                    "file_not_read",
                    "not a OneRoster file Homeroom reads, so it is skipped",
                    value=_shown(name),
                )
                return
            found[key] = (name, data)

        for path in paths:
            try:
                if path.is_dir():
                    for child in sorted(path.iterdir()):
                        with progress.file(child):
                            if child.is_file() and _is_csv(child.name):
                                add(child.name, child.read_bytes())
                elif path.suffix.lower() == ".zip":
                    with progress.file(path):
                        self._unzip(path, add)
                elif path.is_file():
                    with progress.file(path):
                        add(path.name, path.read_bytes())
                else:
                    self.batch.error(
                        "no_such_file", "no such file or directory", value=_shown(str(path))
                    )
            except OSError as error:
                self.batch.error(
                    "unreadable_file", error.strerror or "cannot be read", value=_shown(str(path))
                )
        return {key: value for key, value in found.items() if key not in NOT_USED}

    def _unzip(self, path: Path, add: Callable[[str, bytes], None]) -> None:
        try:
            with zipfile.ZipFile(path) as archive:
                for info in sorted(archive.infolist(), key=lambda info: info.filename):
                    member = PurePosixPath(info.filename.replace("\\", "/"))
                    if info.is_dir() or "__MACOSX" in member.parts or not _is_csv(member.name):
                        continue
                    add(member.name, archive.read(info))
        except (zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError, zlib.error) as e:
            self.batch.error(
                "bad_zip",
                "the zip file cannot be read",
                Where(_shown(path.name), 1),
                value=_shown(str(e)),
                hint="Download or export the zip again.",
            )

    def _apply_manifest(self, files: dict[str, tuple[str, bytes]]) -> None:
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
                    value=_shown(row["value"]),
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
                    value=_shown(row["value"]),
                )

    def _table(self, name: str, display: str, data: bytes) -> _Table | None:
        """Decode and parse one file; None when its header cannot be read."""
        text, bad_lines = self._decode(display, data)
        if not text.strip():
            self.batch.error(
                "empty_file",
                "the file is empty",
                Where(display, 1),
                hint="Export the file again; every OneRoster file starts with its header.",
            )
            return None
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header: list[str] | None = None
        rows: list[_Row] = []
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
                    value=_shown(str(error)),
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
                    rows.append(_Row(display, first, values))
                    continue
            if header is None:
                return None
            # A damaged row's id, where it can be made out, silences references to it.
            key = KEY_COLUMNS.get(name, "sourcedId").lower()
            index = next((i for i, col in enumerate(header) if col.lower() == key), len(fields))
            if index < len(fields):
                damaged.add(fields[index].strip())
        if header is None:
            return None
        self.batch.rows_read[display] = len(rows)
        return _Table(display, {col.lower() for col in header}, rows, damaged)

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
                value=_shown(", ".join(repeated)),
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

    def _decode(self, display: str, data: bytes) -> tuple[str, set[int]]:
        """The text (UTF-8, with or without BOM) and the lines whose bytes are not UTF-8."""
        data = data.removeprefix(codecs.BOM_UTF8)
        try:
            return data.decode("utf-8"), set()
        except UnicodeDecodeError:
            pass
        lines, bad = [], set()
        for number, raw in enumerate(data.split(b"\n"), 1):
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError as error:
                bad.add(number)
                if len(bad) <= ENCODING_ERRORS_LISTED:
                    self.batch.error(
                        "bad_encoding",
                        "the line holds bytes that are not UTF-8",
                        Where(display, number),
                        value=" ".join(f"0x{b:02x}" for b in raw[error.start : error.end]),
                        hint="Save the file as UTF-8 (with or without BOM).",
                    )
                lines.append(raw.decode("utf-8", "replace"))
        if len(bad) > ENCODING_ERRORS_LISTED:
            self.batch.error(
                "bad_encoding",
                f"{len(bad) - ENCODING_ERRORS_LISTED} more lines hold bytes that are not UTF-8",
                Where(display, sorted(bad)[ENCODING_ERRORS_LISTED]),
                hint="Save the file as UTF-8 (with or without BOM).",
            )
        return "\n".join(lines), bad

    # -- entities -----------------------------------------------------------------------

    def _read_orgs(self) -> None:
        table = self.tables.get("orgs.csv")
        if table is None:
            return
        local_ids: set[str] = set()
        for sid, row in self._live(table, "org"):
            try:
                kind = row["type"].lower()
                self.org_types[sid] = kind
                if kind != "school":
                    continue
                column = "identifier" if row["identifier"] else "sourcedId"
                local_id = self._text(row, column, LIMITS["local_id"])
                if local_id in local_ids:
                    self._fail(
                        "duplicate_id",
                        "another school has this id",
                        row.where(column),
                        local_id,
                        "A school's identifier (else its sourcedId) must be unique.",
                    )
                name = self._text(row, "name", LIMITS["title"], required=True)
                local_ids.add(local_id)
                self.schools[sid] = local_id
                self.batch.schools.append(SchoolRecord(local_id, name, row.where(column)))
            except _Skip:
                self.bad["org"].add(sid)

    def _read_sessions(self) -> None:
        table = self.tables.get("academicSessions.csv")
        if table is None:
            return
        for sid, row in self._live(table, "session"):
            try:
                start = self._date(row, "startDate", required=True)
                end = self._date(row, "endDate", required=True)
                if end < start:
                    self._fail(
                        "dates_out_of_order",
                        "endDate is before startDate",
                        row.where("endDate"),
                        row["endDate"],
                    )
                self.sessions[sid] = _Session(
                    row, row["type"].lower(), start, end, row["parentSourcedId"], row["schoolYear"]
                )
            except _Skip:
                self.bad["session"].add(sid)
        years: dict[str, SchoolYearRecord] = {}
        for session in self.sessions.values():
            if session.kind != "schoolyear":
                continue
            name = f"{session.start.year}-{session.end.year}"
            session.year_name = name
            held = years.get(name)
            if held is None:
                years[name] = SchoolYearRecord(
                    name, session.start, session.end, session.row.where("sourcedId")
                )
                self.batch.school_years.append(years[name])
            elif (held.start_date, held.end_date) != (session.start, session.end):
                self.batch.finding(
                    "school_year_dates_differ",
                    f"another schoolYear session names {name} with other dates;"
                    " the year runs from the earliest start to the latest end",
                    session.row.where("startDate"),
                )
                held.start_date = min(held.start_date, session.start)
                held.end_date = max(held.end_date, session.end)
        for sid in list(self.sessions):
            if sid in self.sessions:
                self._resolve_school_year(sid)

    def _resolve_school_year(self, sid: str) -> None:
        """Name the session's school year: its schoolYear ancestor, else its schoolYear column."""
        chain: list[str] = []
        current = self.sessions[sid]
        while not current.resolved and current.kind != "schoolyear" and current.parent:
            chain.append(current.row["sourcedId"])
            parent = current.parent
            try:
                if parent in chain:
                    self._fail(
                        "session_cycle",
                        "the session's parentSourcedId leads back to itself",
                        current.row.where("parentSourcedId"),
                        parent,
                    )
                current = self._ref(
                    "session", self.sessions, current.row, "parentSourcedId", parent
                )
            except _Skip:
                for broken in chain:  # every session below a broken one is broken too
                    self.sessions.pop(broken, None)
                    self.bad["session"].add(broken)
                return
        if not current.resolved and current.kind != "schoolyear":
            numbers = [self.sessions[s].year_number for s in chain] + [current.year_number]
            number = next((n for n in numbers if n), "")
            current.year_name = next(
                (
                    year.year_name
                    for year in self.sessions.values()
                    if year.kind == "schoolyear" and str(year.end.year) == number
                ),
                None,
            )
        current.resolved = True
        for below in chain:
            self.sessions[below].year_name, self.sessions[below].resolved = current.year_name, True

    def _read_users(self) -> None:
        table = self.tables.get("users.csv")
        if table is None:
            return
        roles_table = self.tables.get("roles.csv")
        for sid, row in self._live(table, "user"):
            self.users[sid] = _User(row, [role.lower() for role in _listed(row["role"])])
        if roles_table is not None:
            for user_sid, row in self._live(roles_table, "user role", key="userSourcedId"):
                try:
                    user = self._ref("user", self.users, row, "userSourcedId", user_sid)
                    user.roles.append(row["role"].lower())
                except _Skip:
                    pass
            for sid in roles_table.damaged & set(self.users):  # its roles are not all known
                del self.users[sid]
                self.bad["user"].add(sid)
        students: set[str] = set()
        guardians: set[str] = set()
        for sid, user in list(self.users.items()):
            try:
                self._read_user(user, students, guardians)
            except _Skip:
                del self.users[sid]
                self.bad["user"].add(sid)

    def _read_user(self, user: _User, students: set[str], guardians: set[str]) -> None:
        row = user.row
        user.login = row["username"] or row["email"]
        relationship = next(
            (GUARDIAN_RELATIONSHIPS[r] for r in user.roles if r in GUARDIAN_RELATIONSHIPS), ""
        )
        if "student" not in user.roles and not relationship:
            return
        column = "identifier" if row["identifier"] else "sourcedId"
        local_id = self._text(row, column, LIMITS["local_id"])
        first = self._text(row, "givenName", LIMITS["name"], required=True)
        last = self._text(row, "familyName", LIMITS["name"], required=True)
        if "student" in user.roles:
            if local_id in students:
                self._fail(
                    "duplicate_id",
                    "another student has this id",
                    row.where(column),
                    local_id,
                    "A student's identifier (else their sourcedId) must be unique.",
                )
            grade = self._grade(row)
            middle = self._text(row, "middleName", LIMITS["name"])
            user.student = StudentRecord(
                local_id, first, last, grade, row.where(column), middle_name=middle
            )
        if relationship:
            if local_id in guardians:
                self._fail(
                    "duplicate_id",
                    "another parent or guardian has this id",
                    row.where(column),
                    local_id,
                    "A guardian's identifier (else their sourcedId) must be unique.",
                )
            phone = self._text(row, "phone", LIMITS["phone"]) or self._text(
                row, "sms", LIMITS["phone"]
            )
            email = self._text(row, "email", LIMITS["email"])
            guardians.add(local_id)
            user.guardian_id, user.relationship = local_id, relationship
            self.batch.guardians.append(
                GuardianRecord(local_id, first, last, row.where(column), phone=phone, email=email)
            )
        if user.student is not None:
            students.add(local_id)
            self.batch.students.append(user.student)

    def _grade(self, row: _Row) -> int:
        grades = _listed(row["grades"])
        if not grades:
            self._fail(
                "missing_value",
                "the student has no grade",
                row.where("grades"),
                hint="Give the student's grade (PK, KG, 01 to 12) in grades.",
            )
        if len(grades) > 1:
            self.batch.finding(
                "several_grades",
                "the student has several grades; the first is used",
                row.where("grades"),
                value=_shown(row["grades"]),
            )
        grade = CEDS_GRADE_CODES.get(grades[0].upper())
        if grade is None:
            self._fail(
                "bad_grade",
                "not a grade Homeroom holds",
                row.where("grades"),
                grades[0],
                "Homeroom holds grades PK (or TK), KG and 01 to 12.",
            )
        return grade

    def _read_demographics(self) -> None:
        table = self.tables.get("demographics.csv")
        if table is None:
            return
        for sid, row in self._live(table, "demographic"):
            try:
                user = self._ref("user", self.users, row, "sourcedId", sid)
                birth_date = self._date(row, "birthDate")
                sex = row["sex"].lower()
                if sex not in SEXES:
                    self._fail(
                        "bad_value",
                        "sex is not male, female, other or unspecified",
                        row.where("sex"),
                        row["sex"],
                    )
                races = [race for column, race in RACES.items() if self._flag(row, column)]
                two_or_more = self._flag(row, "demographicRaceTwoOrMoreRaces")
                hispanic = self._flag(row, "hispanicOrLatinoEthnicity")
            except _Skip:
                continue
            if user.student is None:
                continue
            if hispanic:
                race = "hispanic"
            elif len(races) > 1 or two_or_more:
                race = "two_or_more"
            else:
                race = races[0] if races else "unknown"
            user.student.birth_date = birth_date
            user.student.gender = SEXES[sex]
            user.student.race_ethnicity = race

    def _read_guardian_links(self) -> None:
        """Family links from both sides' agentSourcedIds; a student's order is the contact order."""
        links: dict[tuple[str, str], StudentGuardianRecord] = {}
        priority: dict[str, int] = defaultdict(int)

        def link(student: StudentRecord, guardian: _User, where: Where) -> None:
            key = (student.local_id, guardian.guardian_id)
            if key not in links:
                priority[student.local_id] += 1
                links[key] = StudentGuardianRecord(
                    *key, guardian.relationship, where, contact_priority=priority[key[0]]
                )

        for user in self.users.values():
            if user.student is not None:
                for agent in self._agents(user, "a parent or guardian", _is_guardian):
                    link(user.student, agent, user.row.where("agentSourcedIds"))
        for user in self.users.values():
            if user.guardian_id:
                for agent in self._agents(user, "a student", _is_student):
                    link(agent.student, user, user.row.where("agentSourcedIds"))
        self.batch.student_guardians.extend(links.values())

    def _agents(self, user: _User, wanted: str, fits: Callable[[_User], bool]) -> Iterator[_User]:
        """The user's agents that `fit` (are students, or parents or guardians)."""
        for agent_sid in _listed(user.row["agentSourcedIds"]):
            try:
                agent = self._ref("user", self.users, user.row, "agentSourcedIds", agent_sid)
            except _Skip:
                continue
            if fits(agent):
                yield agent
            else:
                self.batch.finding(
                    "agent_not_linked",
                    f"the agent is not {wanted}, so no family link is made",
                    user.row.where("agentSourcedIds"),
                    value=_shown(agent_sid),
                )

    def _read_classes(self) -> None:
        table = self.tables.get("classes.csv")
        if table is None:
            return
        for sid, row in self._live(table, "class"):
            try:
                self.classes[sid] = self._read_class(row)
            except _Skip:
                self.bad["class"].add(sid)

    def _read_class(self, row: _Row) -> _Class:
        local_id = self._text(row, "sourcedId", LIMITS["local_id"])
        title = self._text(row, "title", LIMITS["title"], required=True)
        class_type = row["classType"].lower()
        if class_type not in CLASS_TYPES:
            self._fail(
                "bad_value",
                "classType is neither homeroom nor scheduled",
                row.where("classType"),
                row["classType"],
            )
        school_sid = row["schoolSourcedId"]
        if self.org_types.get(school_sid, "school") != "school":
            self._fail(
                "not_a_school",
                "schoolSourcedId names an org that is not a school",
                row.where("schoolSourcedId"),
                school_sid,
            )
        school = self._ref("org", self.schools, row, "schoolSourcedId", school_sid)
        term_ids = _listed(row["termSourcedIds"])
        if not term_ids:
            self._fail("missing_value", "termSourcedIds is empty", row.where("termSourcedIds"))
        terms = [
            self._ref("session", self.sessions, row, "termSourcedIds", term) for term in term_ids
        ]
        years = {term.year_name for term in terms}
        if None in years:
            self._fail(
                "no_school_year",
                "the class's term belongs to no schoolYear session",
                row.where("termSourcedIds"),
                row["termSourcedIds"],
                "Give each term a parentSourcedId leading to a schoolYear session.",
            )
        if len(years) > 1:
            self._fail(
                "terms_in_several_years",
                "the class's terms belong to different school years",
                row.where("termSourcedIds"),
                row["termSourcedIds"],
            )
        period = ",".join(_listed(row["periods"]))
        if len(period) > LIMITS["period"]:
            self._fail(
                "too_long",
                f"periods are longer than {LIMITS['period']} characters",
                row.where("periods"),
                period,
            )
        section = SectionRecord(
            school,
            years.pop(),
            local_id,
            title,
            row.where("sourcedId"),
            period=period,
            is_homeroom=CLASS_TYPES[class_type],
        )
        self.batch.sections.append(section)
        return _Class(section, min(t.start for t in terms), max(t.end for t in terms))

    def _read_enrollments(self) -> None:
        table = self.tables.get("enrollments.csv")
        if table is None:
            return
        for _sid, row in self._live(table, "enrollment"):
            with contextlib.suppress(_Skip):
                self._read_enrollment(row)
        for taught in self.classes.values():
            ordered = [login for _, login in sorted(taught.teachers, key=lambda t: not t[0])]
            taught.section.teacher_ids = list(dict.fromkeys(ordered))

    def _read_enrollment(self, row: _Row) -> None:
        role = row["role"].lower()
        if not role:
            self._fail("missing_value", "role is empty", row.where("role"))
        taught = self._ref("class", self.classes, row, "classSourcedId", row["classSourcedId"])
        user = self._ref("user", self.users, row, "userSourcedId", row["userSourcedId"])
        if role == "teacher":
            primary = self._flag(row, "primary")
            if not user.login:
                self.batch.finding(
                    "teacher_without_login",
                    "the teacher has neither username nor email, so cannot be matched",
                    row.where("userSourcedId"),
                    value=_shown(row["userSourcedId"]),
                )
                return
            taught.teachers.append((primary, user.login))
            return
        if role != "student":
            return
        if user.student is None:
            self._fail(
                "not_a_student",
                "a student enrollment names a user who is not a student",
                row.where("userSourcedId"),
                row["userSourcedId"],
            )
        begin = self._date(row, "beginDate") or taught.start
        end = self._date(row, "endDate") if row["endDate"] else taught.end
        if end < begin:
            self._fail(
                "dates_out_of_order",
                "the membership ends before it begins"
                + ("" if row["endDate"] else " (no endDate: the term's end is used)"),
                row.where("endDate" if row["endDate"] else "beginDate"),
                row["endDate"] or row["beginDate"],
            )
        section = taught.section
        self.batch.section_enrollments.append(
            SectionEnrollmentRecord(
                user.student.local_id,
                section.school_id,
                section.school_year,
                section.local_id,
                begin,
                row.where("userSourcedId"),
                end_date=end,
            )
        )


_FILE_OF = {
    "org": "orgs.csv",
    "session": "academicSessions.csv",
    "user": "users.csv",
    "class": "classes.csv",
}


def _is_csv(name: str) -> bool:
    """A .csv file of an export (not a hidden or macOS resource-fork copy)."""
    return name.lower().endswith(".csv") and not name.startswith(".")


def _is_student(user: _User) -> bool:
    return user.student is not None


def _is_guardian(user: _User) -> bool:
    return bool(user.guardian_id)
