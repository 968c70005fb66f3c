"""Reads CSV and XLSX files with a mapping profile into a `Batch` of normalized records.

Files are streamed (the csv module over a decoded text stream, openpyxl in read-only mode),
so memory holds the records, not the files. Every record remembers its file and line (the
header is line 1). Nothing in the input raises: every problem becomes an error or finding
on the batch naming file, line, column and value, and a row with an error yields no record,
so `--on-error skip` imports the rest. Duplicate and conflicting daily rows are left to the
sync engine; duplicate period rows are reported here, where periods roll up to days.
"""

import codecs
import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any

from homeroom.attendance.models import Category
from homeroom.ingest.profiles import (
    ABSENT_CATEGORIES,
    DEFAULT_DAY_FRACTION,
    ENTITIES,
    NORMALIZERS,
    OMIT,
    CellError,
    DateParser,
    FieldMapping,
    IdScheme,
    Profile,
    SkipRow,
    Source,
    convert,
)
from homeroom.ingest.records import (
    AttendanceCodeRecord,
    AttendanceRecord,
    AttendanceScope,
    Batch,
    Where,
)

MAX_ERRORS_PER_FILE = 1000
SNIFF_CHARS = 64 * 1024
CHUNK = 1 << 20
NAME_LENGTH = 200  # what provenance columns (source_file) hold
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"
ENCODING_HINT = (
    'Save the file as UTF-8, or set encoding in the profile (e.g. encoding = "windows-1252").'
)
BATCH_LISTS = {
    "schools": "schools",
    "school_years": "school_years",
    "calendar_dates": "calendar_dates",
    "students": "students",
    "characteristics": "characteristics",
    "guardians": "guardians",
    "student_guardians": "student_guardians",
    "contact_preferences": "contact_preferences",
    "enrollments": "enrollments",
    "sections": "sections",
    "section_enrollments": "section_enrollments",
    "attendance_codes": "attendance_codes",
    "attendance": "attendance",
}
# (entity, first date field, later date field, message) checked on every record
DATE_ORDER = (
    ("school_years", "start_date", "end_date", "the school year ends before it starts"),
    ("characteristics", "start_date", "end_date", "the end date is before the start date"),
    ("enrollments", "entry_date", "exit_date", "the exit date is before the entry date"),
    ("section_enrollments", "start_date", "end_date", "the end date is before the start date"),
)


def read_tabular(paths: list[Path], profile: Profile) -> Batch:
    """Read CSV/XLSX files as the profile maps them; every problem is on the batch."""
    batch = Batch()
    reader = _Reader(profile, batch)
    for path, name in zip(paths, display_names(paths), strict=True):
        reader.read_file(Path(path), name)
    reader.finish()
    return batch


def display_names(paths: list[Path]) -> list[str]:
    """How each file is named in problems: its name, or enough of its path to tell it apart."""
    parts = [PurePath(p).parts for p in paths]
    names = []
    for mine in parts:
        depth = 1
        while depth < len(mine) and any(
            other != mine and other[-depth:] == mine[-depth:] for other in parts
        ):
            depth += 1
        name = "/".join(mine[-depth:])
        names.append(name if len(name) <= NAME_LENGTH else name[-NAME_LENGTH:])
    return names


def detect_encoding(path: Path) -> tuple[str, str]:
    """The encoding of a text file and why: BOM, valid UTF-8, else Windows-1252."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", "UTF-8 with a byte order mark"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", "UTF-16 (byte order mark)"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        lines = 1
        while True:
            chunk = handle.read(CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                lines += error.object[: error.start].count(b"\n")
                return (
                    "windows-1252",
                    f"Windows-1252: the bytes are not valid UTF-8 (first on line {lines})",
                )
            if not chunk:
                return "utf-8", "UTF-8"
            lines += chunk.count(b"\n")


@dataclass
class _PeriodRow:
    """One period row waiting for its student-day to be rolled up."""

    code: str
    category: str
    where: Where
    minutes: int | None = None
    reason: str = ""


@dataclass
class _Mapping:
    """A source compiled for one file: column positions and a converter per field."""

    source: Source
    fields: list[tuple[FieldMapping, int | None, Callable[[Any], Any]]]
    columns: dict[str, str] = field(default_factory=dict)  # field -> header name


class _Reader:
    """Reads files for one profile into one batch."""

    def __init__(self, profile: Profile, batch: Batch):
        self.profile, self.batch = profile, batch
        self.converters = {s.key: self.compile(s) for s in profile.sources}
        self.seen: dict[str, set] = {s.key: set() for s in profile.sources if s.distinct}
        self.days: dict[str, dict[tuple, dict[str, _PeriodRow]]] = {}
        self.matched: set[str] = set()
        self.errors_in_file = 0
        self.stopped = False

    # -- compiling a profile's fields into converters ------------------------------------

    def compile(self, source: Source) -> dict[str, Callable[[Any], Any]]:
        """A converter for each mapped field of `source` (constants already converted)."""
        return {name: self.converter(source, m) for name, m in source.fields.items()}

    def converter(self, source: Source, mapping: FieldMapping) -> Callable[[Any], Any]:
        """Cell value -> field value, raising CellError or SkipRow."""
        field_type = mapping.field_type
        dates = DateParser(mapping.date_formats)
        scheme = self.profile.ids.get(field_type.id_kind, IdScheme())
        folded = {k.casefold(): v for k, v in mapping.value_map.items()}
        normalizers = [NORMALIZERS[n] for n in mapping.normalize]
        id_normalizers = [NORMALIZERS[n] for n in scheme.normalize]
        required = field_type.required

        def missing() -> Any:
            if mapping.default is not OMIT:
                return mapping.default
            if mapping.blank == "skip":
                raise SkipRow
            if mapping.blank == "error" or required:
                raise CellError(
                    "missing_value",
                    f"the value is empty, and {mapping.key} needs one",
                    'Fill it in, or give a default in the profile (default = "...").',
                )
            return OMIT

        def convert_cell(raw: Any) -> Any:
            if field_type.kind == "date" and isinstance(raw, dt.date):
                return raw.date() if isinstance(raw, dt.datetime) else raw
            text = raw.strip() if type(raw) is str else cell_text(raw)
            for normalize in normalizers:
                text = normalize(text)
            if mapping.value_map:
                if text in mapping.value_map:
                    text = mapping.value_map[text]
                elif text.casefold() in folded:
                    text = folded[text.casefold()]
                elif text and "*" in mapping.value_map:
                    text = mapping.value_map["*"]
            if not text:
                return missing()
            if field_type.kind == "id":
                for normalize in id_normalizers:
                    text = normalize(text)
                text = scheme.prefix + text
            if field_type.kind == "list":
                items = [item.strip() for item in text.split(mapping.separator)]
                for item in items:
                    convert(item, field_type, dates)
                return [item for item in items if item]
            if field_type.kind == "code":
                return self.code(source, convert(text, field_type, dates))
            return convert(text, field_type, dates)

        if mapping.column is not None:
            return convert_cell if field_type.kind in ("text", "list") else _memoized(convert_cell)
        value = mapping.value
        try:
            if field_type.kind in ("id", "code") and isinstance(value, str):
                value = convert_cell(value)
        except CellError as error:
            problem = error

            def fail(raw: Any) -> Any:
                raise problem

            return fail
        return lambda raw: value

    def code(self, source: Source, text: str) -> str:
        """An attendance code checked against the profile's mapping."""
        if not self.profile.codes:
            return text
        mapped = self.profile.code(text)
        if mapped is not None:
            return mapped.code
        if source.unmapped_codes == "pass":
            return text
        raise CellError(
            "unknown_code",
            "unknown attendance code: the profile's [codes] does not map it",
            f"Add it to [codes] in {self.profile.path.name} (e.g. {text} = {{ category ="
            ' "unexcused" }), or set unmapped_codes = "pass" to use the district\'s codes.',
        )

    # -- files ---------------------------------------------------------------------------

    def read_file(self, path: Path, name: str) -> None:
        """Read one file with every source whose pattern matches it."""
        sources = [s for s in self.profile.sources if matches(path, s.file)]
        if not sources:
            if any(matches(path, pattern) for pattern in self.profile.ignore_files):
                self.batch.finding(
                    "file_ignored",
                    f"the profile {self.profile.name} ignores this file; nothing read from it",
                    Where(name, 1),
                )
                return
            patterns = ", ".join(s.file for s in self.profile.sources)
            self.batch.error(
                "unmatched_file",
                f"no entity of the profile {self.profile.name} reads this file",
                Where(name, 1),
                value=path.name,
                hint=f"The profile reads files named {patterns}. Rename the file or add"
                " its name to the profile.",
            )
            return
        self.matched.update(s.key for s in sources)
        try:
            with path.open("rb") as handle:
                magic = handle.read(4)
            if magic == XLSX_MAGIC:
                sheets: dict[str | None, list[Source]] = {}
                for source in sources:
                    sheets.setdefault(source.sheet, []).append(source)
                for sheet, on_sheet in sheets.items():
                    self.read_rows(self.xlsx_rows(path, name, sheet), name, on_sheet, pad=True)
            elif magic == OLE_MAGIC:
                self.batch.error(
                    "unreadable_file",
                    "this is an old Excel .xls workbook, which cannot be read",
                    Where(name, 1),
                    hint="Open it in Excel and save it as .xlsx or CSV.",
                )
            else:
                self.read_rows(self.csv_rows(path, name), name, sources)
        except Exception as error:  # a damaged file must become a problem, never a crash
            self.batch.error(
                "unreadable_file",
                f"the file cannot be read: {type(error).__name__}: {error}"[:500],
                Where(name, 1),
                hint="Export the file again from the source system.",
            )

    def csv_rows(self, path: Path, name: str) -> Iterator[tuple[int, list[Any]]]:
        """(line, cells) of a delimited text file, header first; problems recorded."""
        bad_lines: set[int] = set()
        lines = self.text_lines(path, name, bad_lines)
        sample: list[str] = []
        size = 0
        for text in lines:
            sample.append(text)
            size += len(text)
            if size >= SNIFF_CHARS:
                break
        delimiter = self.delimiter(sample)
        reader = csv.reader(_chain(sample, lines), delimiter=delimiter)
        last = 0
        while not self.stop(name, last + 1):
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                self.error(
                    "bad_csv", f"the line cannot be read as CSV: {error}", Where(name, last + 1)
                )
                if reader.line_num <= last:
                    return
                last = reader.line_num
                continue
            first, last = last + 1, reader.line_num
            if bad_lines and any(n in bad_lines for n in range(first, last + 1)):
                continue
            yield first, cells

    def text_lines(self, path: Path, name: str, bad_lines: set[int]) -> Iterator[str]:
        """Decoded lines of a text file; undecodable bytes and NULs are errors on their line."""
        encoding = self.profile.encoding
        if encoding == "auto":
            encoding, why = detect_encoding(path)
            if not encoding.startswith("utf-8"):
                self.batch.finding(
                    "encoding_detected", f"read as {why}", Where(name, 1), hint=ENCODING_HINT
                )
        wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
        with path.open("rb") as handle:
            if wide:
                stream = io.TextIOWrapper(handle, encoding=encoding, newline="")
                number = 0
                try:
                    for text in stream:
                        number += 1
                        yield self.clean(text, number, name, bad_lines)
                except UnicodeDecodeError as error:
                    self.error(
                        "encoding",
                        f"the bytes cannot be read as {encoding}; reading stopped here",
                        Where(name, number + 1),
                        value=repr(error.object[error.start : error.end]),
                        hint=ENCODING_HINT,
                    )
                    bad_lines.add(number + 1)
                return
            for number, raw in enumerate(handle, 1):
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError as error:
                    self.error(
                        "encoding",
                        f"the line holds bytes that are not {encoding}",
                        Where(name, number),
                        value=repr(raw[error.start : error.end]),
                        hint=ENCODING_HINT,
                    )
                    bad_lines.add(number)
                    text = raw.decode(encoding, errors="replace")
                yield self.clean(text, number, name, bad_lines)

    def clean(self, text: str, number: int, name: str, bad_lines: set[int]) -> str:
        """A decoded line without BOM; a NUL character (never text) is an error."""
        if number == 1:
            text = text.removeprefix("\ufeff")
        if "\x00" in text:
            self.error(
                "encoding",
                "the line holds NUL characters, which text never does",
                Where(name, number),
                hint="The file may be UTF-16 without a byte order mark: set encoding ="
                ' "utf-16-le" in the profile, or save it as UTF-8.',
            )
            bad_lines.add(number)
            text = text.replace("\x00", "")
        return text

    def delimiter(self, sample: list[str]) -> str:
        """The profile's delimiter, or the one csv.Sniffer finds among comma, semicolon, tab."""
        if self.profile.delimiter != "auto":
            return self.profile.delimiter
        header = next((line for line in sample if line.strip()), "")
        try:
            found = csv.Sniffer().sniff("".join(sample), delimiters=",;\t").delimiter
        except csv.Error:
            found = ""
        if found and found in header:
            return found
        counts = {d: header.count(d) for d in ",;\t"}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","

    def xlsx_rows(self, path: Path, name: str, sheet: str | None) -> Iterator[tuple[int, list]]:
        """(row number, values) of a worksheet (the named one, else the first), read-only."""
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            if sheet is not None and sheet not in book.sheetnames:
                self.error(
                    "missing_sheet",
                    f"the workbook has no sheet named {sheet!r}",
                    Where(name, 1),
                    hint=f"Its sheets are: {', '.join(book.sheetnames)}. Fix sheet in the profile.",
                )
                return
            worksheet = book[sheet] if sheet is not None else book.worksheets[0]
            worksheet.reset_dimensions()  # some writers record a wrong used range: read it all
            number = 0
            for row in worksheet.iter_rows():
                number = next((c.row for c in row if getattr(c, "row", None)), number + 1)
                yield number, [cell.value for cell in row]
        finally:
            book.close()

    # -- rows ----------------------------------------------------------------------------

    def read_rows(
        self,
        rows: Iterator[tuple[int, list[Any]]],
        name: str,
        sources: list[Source],
        *,
        pad: bool = False,
    ) -> None:
        """Check the header against each source, then turn every row into records.

        Worksheet rows may stop at their last filled cell (`pad`); text rows must match the
        header's width.
        """
        self.errors_in_file, self.stopped = 0, False
        header_line, header = 1, []
        for line, cells in rows:
            header = [cell_text(c) for c in cells]
            if any(header):
                header_line = line
                break
        while header and not header[-1]:
            header.pop()
        if not header:
            if not self.errors_in_file:  # a missing sheet or undecodable file is said already
                self.error("empty_file", "the file is empty: no header row", Where(name, 1))
            return
        mappings = [m for s in sources if (m := self.columns(s, header, header_line, name))]
        self.extra_columns(sources, header, header_line, name)
        width, count = len(header), 0
        for line, cells in rows:
            if not (cells and cell_text(cells[0])) and not any(cell_text(c) for c in cells):
                continue
            count += 1
            if len(cells) != width:
                if len(cells) > width and not any(cell_text(c) for c in cells[width:]):
                    cells = cells[:width]
                elif pad and len(cells) < width:
                    cells = [*cells, *[None] * (width - len(cells))]
                else:
                    self.error(
                        "ragged_row",
                        f"the row has {len(cells)} cells, the header {width}",
                        Where(name, line),
                        hint="A value may hold an unquoted delimiter, or cells are missing;"
                        " fix the row in the file.",
                    )
                    if self.stop(name, line):
                        break
                    continue
            for mapping in mappings:
                self.record(mapping, cells, Where(name, line))
            if self.stop(name, line):
                break
        self.batch.rows_read[name] = self.batch.rows_read.get(name, 0) + count
        if not count:
            self.batch.finding("no_rows", "the file has a header but no rows", Where(name, 1))

    def columns(
        self, source: Source, header: list[str], header_line: int, name: str
    ) -> _Mapping | None:
        """The source compiled against this header; None (with errors) if columns are missing."""
        exact = {column: i for i, column in reversed(list(enumerate(header)))}
        folded = {column.casefold(): i for i, column in reversed(list(enumerate(header)))}
        fields, columns, ok = [], {}, True
        converters = self.converters[source.key]
        duplicated = {
            c.casefold() for c, n in Counter(h.casefold() for h in header).items() if n > 1
        }
        for field_name, mapping in source.fields.items():
            index = None
            if mapping.column is not None:
                index = exact.get(mapping.column, folded.get(mapping.column.casefold()))
                if index is None:
                    ok = False
                    self.error(
                        "missing_column",
                        f"the header has no column {mapping.column!r}, which the profile maps"
                        f" to {mapping.key}",
                        Where(name, header_line, mapping.column),
                        value=mapping.column,
                        hint=f"Expected columns: {', '.join(source.columns)}. The header has:"
                        f" {', '.join(header)}. Rename the column or change the profile.",
                    )
                    continue
                if mapping.column.casefold() in duplicated:
                    ok = False
                    self.error(
                        "duplicate_column",
                        f"the header names the column {mapping.column!r} more than once",
                        Where(name, header_line, mapping.column),
                        hint="Rename or remove one of them.",
                    )
                    continue
                columns[field_name] = header[index]
            fields.append((mapping, index, converters[field_name]))
        return _Mapping(source, fields, columns) if ok else None

    def extra_columns(
        self, sources: list[Source], header: list[str], header_line: int, name: str
    ) -> None:
        """Columns no source reads: ignored, reported once, or errors, as the profile says."""
        used = {c.casefold() for s in sources for c in (*s.columns, *s.ignore_columns)}
        extra = [c for c in header if c and c.casefold() not in used]
        policies = {s.extra_columns for s in sources}
        if not extra or policies == {"ignore"}:
            return
        if "error" in policies:
            for column in extra:
                self.error(
                    "unknown_column",
                    "the profile maps no field to this column",
                    Where(name, header_line, column),
                    value=column,
                    hint="Expected columns: "
                    + ", ".join(dict.fromkeys(c for s in sources for c in s.columns))
                    + ". Remove the column, or list it in ignore_columns.",
                )
            return
        self.batch.finding(
            "unused_columns",
            "the profile reads nothing from these columns",
            Where(name, header_line),
            value=", ".join(extra),
            hint="Nothing to do unless one of them holds data Homeroom needs.",
        )

    def record(self, mapping: _Mapping, cells: list[Any], where: Where) -> None:
        """Build the source's record from one row; errors recorded, the record kept if clean."""
        source, values, failed = mapping.source, {}, False
        for field_mapping, index, convert_cell in mapping.fields:
            raw = cells[index] if index is not None else None
            try:
                value = convert_cell(raw)
            except SkipRow:
                return
            except CellError as error:
                failed = True
                self.error(
                    error.code,
                    f"{error.message} ({field_mapping.key})",
                    Where(where.file, where.line, mapping.columns.get(field_mapping.field, "")),
                    value=cell_text(raw)[:200],
                    hint=error.hint,
                )
                continue
            if value is not OMIT:
                values[field_mapping.field] = value
        if failed or not self.checked(source, values, mapping, where):
            return
        if source.distinct:
            key = tuple(
                sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items())
            )
            if key in self.seen[source.key]:
                return
            self.seen[source.key].add(key)
        if source.entity == "attendance" and source.periods is not None:
            self.period_row(source, values, where)
            return
        record_type = ENTITIES[source.entity][0]
        getattr(self.batch, BATCH_LISTS[source.entity]).append(record_type(**values, where=where))

    def checked(self, source: Source, values: dict, mapping: _Mapping, where: Where) -> bool:
        """Fill derived defaults and check rules across fields; False (with an error) if broken."""
        entity = source.entity
        for name, first, later, message in DATE_ORDER:
            if entity == name and values.get(later) and values[later] < values[first]:
                self.error(
                    "dates_out_of_order",
                    message,
                    Where(where.file, where.line, mapping.columns.get(later, "")),
                    value=f"{values[first]} > {values[later]}",
                    hint="Fix the dates in the file.",
                )
                return False
        if entity == "schools":
            low, high = values.get("lowest_grade", 0), values.get("highest_grade", 12)
            if low > high:
                self.error(
                    "grades_out_of_order",
                    "the lowest grade is above the highest",
                    Where(where.file, where.line, mapping.columns.get("lowest_grade", "")),
                    value=f"{low} > {high}",
                    hint="Fix the grade span in the file.",
                )
                return False
        if entity == "attendance_codes":
            values.setdefault("description", values["code"])
            values.setdefault(
                "day_fraction", DEFAULT_DAY_FRACTION.get(values["category"], Decimal(0))
            )
        if entity == "attendance":
            minutes = values.get("minutes_missed")
            if source.minutes_per_day and minutes is not None and "day_fraction" not in values:
                share = min(Decimal(minutes) / source.minutes_per_day, Decimal(1))
                values["day_fraction"] = share.quantize(Decimal("0.001"))
            return self.in_scope(source, values, mapping, where)
        return True

    def in_scope(self, source: Source, values: dict, mapping: _Mapping, where: Where) -> bool:
        """Whether an attendance row falls inside the profile's declared scope (error if not)."""
        scope = source.scope
        if scope is None:
            return True
        if scope.school_ids and values["school_id"] not in scope.school_ids:
            column, value = "school_id", values["school_id"]
        elif (scope.start and values["date"] < scope.start) or (
            scope.end and values["date"] > scope.end
        ):
            column, value = "date", values["date"].isoformat()
        else:
            return True
        self.error(
            "outside_scope",
            "the row lies outside the scope the profile declares for this file",
            Where(where.file, where.line, mapping.columns.get(column, "")),
            value=value,
            hint=f"Fix the row, or the scope in {self.profile.path.name} ({source.key}.scope).",
        )
        return False

    def period_row(self, source: Source, values: dict, where: Where) -> None:
        """Hold a period row for its student-day; a repeated period is a duplicate."""
        day = (values["student_id"], values["school_id"], values["date"])
        periods = self.days.setdefault(source.key, {}).setdefault(day, {})
        period = values.get("period", "")
        code = values["code"]
        held = periods.get(period)
        if held is not None:
            if held.code == code:
                self.batch.finding(
                    "duplicate_row",
                    "the same period row appears twice; counted once",
                    where,
                    value=f"{values['student_id']} {values['date']} period {period}",
                    hint=f"First seen at {held.where}.",
                )
            else:
                self.error(
                    "duplicate_conflict",
                    "two rows for the same student, date and period disagree",
                    where,
                    value=f"{values['student_id']} {values['date']} period {period}",
                    hint=f"The other row is at {held.where}; keep one of them.",
                )
            return
        mapped = self.profile.code(code)
        periods[period] = _PeriodRow(
            code,
            mapped.category if mapped else "",
            where,
            values.get("minutes_missed"),
            values.get("reason", ""),
        )

    def error(self, code: str, message: str, where: Where, **extra: str) -> None:
        """Record an error and count it against the file's limit."""
        self.errors_in_file += 1
        self.batch.error(code, message, where, **extra)

    def stop(self, name: str, line: int) -> bool:
        """Whether the file has had so many errors that reading it further is pointless."""
        if self.errors_in_file < MAX_ERRORS_PER_FILE:
            return False
        if self.stopped:
            return True
        self.stopped = True
        self.batch.error(
            "too_many_errors",
            f"reading stopped after {MAX_ERRORS_PER_FILE} errors in this file",
            Where(name, line),
            hint="Check the profile matches the file (delimiter, encoding, columns).",
        )
        return True

    # -- after the last file -------------------------------------------------------------

    def finish(self) -> None:
        """Add the profile's codes, roll period rows up to days, and set a declared scope."""
        if any(s.entity == "attendance" and s.key in self.matched for s in self.profile.sources):
            for mapped in self.profile.codes.values():
                self.batch.attendance_codes.append(
                    AttendanceCodeRecord(
                        mapped.code,
                        mapped.description,
                        mapped.category,
                        mapped.day_fraction,
                        Where(self.profile.path.name, mapped.line),
                    )
                )
        for source in self.profile.sources:
            if source.key in self.days:
                self.roll_up(source, self.days.pop(source.key))
        self.declared_scope()

    def roll_up(self, source: Source, days: dict[tuple, dict[str, _PeriodRow]]) -> None:
        """One daily row per student-day from its period rows, by the profile's rule."""
        rollup = source.periods
        order = list(self.profile.codes)
        for (student, school, date), periods in days.items():
            rows = list(periods.values())
            taken = [r for r in rows if r.category != Category.NOT_TAKEN]
            first = rows[0].where
            if not taken:
                self.batch.attendance.append(
                    AttendanceRecord(student, school, date, rows[0].code, first)
                )
                continue
            missed = [r for r in taken if r.category in ABSENT_CATEGORIES]
            total = len(taken)
            if source.mode == "exceptions":
                total = max(rollup.periods_per_day or 1, len(taken))
            if rollup.rule == "all_periods":
                absent = len(missed) >= total
            elif rollup.rule == "half_or_more":
                absent = bool(missed) and 2 * len(missed) >= total
            else:
                absent = bool(missed)
            if not absent:
                if rollup.present_code:
                    self.batch.attendance.append(
                        AttendanceRecord(student, school, date, rollup.present_code, first)
                    )
                continue
            counts = Counter(r.code for r in missed)
            code = rollup.absent_code or min(
                counts, key=lambda c: (-counts[c], order.index(c) if c in order else len(order))
            )
            minutes = [r.minutes for r in missed if r.minutes is not None]
            fraction = None
            if rollup.rule == "fraction":
                fraction = (Decimal(len(missed)) / total).quantize(Decimal("0.001"))
            self.batch.attendance.append(
                AttendanceRecord(
                    student,
                    school,
                    date,
                    code,
                    first,
                    day_fraction=fraction,
                    minutes_missed=min(sum(minutes), 1440) if minutes else None,
                    reason=next((r.reason for r in missed if r.reason), ""),
                )
            )

    def declared_scope(self) -> None:
        """The attendance scope: what the profile declares, the rest implied by the rows."""
        declared = [s.scope for s in self.profile.sources if s.scope and s.key in self.matched]
        if not declared:
            return
        rows = self.batch.attendance
        schools = {sid for scope in declared for sid in scope.school_ids} or {
            r.school_id for r in rows
        }
        starts = [s.start for s in declared if s.start] or [r.date for r in rows]
        ends = [s.end for s in declared if s.end] or [r.date for r in rows]
        if schools and starts and ends:
            self.batch.attendance_scope = AttendanceScope(schools, min(starts), max(ends))


def matches(path: Path, pattern: str) -> bool:
    """Whether a file matches a profile pattern (compared from the right, ignoring case)."""
    try:
        return PurePath(path).match(pattern, case_sensitive=False)
    except ValueError:
        return False


def cell_text(value: Any) -> str:
    """A cell's value as stripped text (XLSX numbers and dates rendered as a SIS would)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _memoized(convert_cell: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The converter remembering its answers (ids, dates and codes repeat row after row)."""
    cache: dict[Any, Any] = {}

    def cached(raw: Any) -> Any:
        key = raw if type(raw) is str else (type(raw), raw)  # True == 1, yet reads otherwise
        try:
            return cache[key]
        except KeyError:
            value = convert_cell(raw)
            if len(cache) < 50_000:
                cache[key] = value
            return value

    return cached


def _chain(first: list[str], rest: Iterator[str]) -> Iterator[str]:
    """The buffered sample lines, then the rest of the stream."""
    yield from first
    yield from rest


__all__ = ["detect_encoding", "display_names", "read_tabular"]
