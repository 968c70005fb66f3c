"""Reads CSV and XLSX files with a mapping profile into a `Batch` of normalized records.

Files are streamed (the csv module over a decoded text stream, openpyxl in read-only mode),
so memory holds the records, not the files. Every record remembers its file and line (the
header is line 1). Nothing in the input raises: every problem becomes an error or finding
on the batch naming file, line, column and value, and a row with an error yields no record,
so `--on-error skip` imports the rest. Duplicate and conflicting daily rows are left to the
sync engine; duplicate period rows are reported here, where periods roll up to days.
"""

import codecs
import contextlib
import csv
import datetime as dt
import io
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import compress, groupby, repeat
from pathlib import Path, PurePath
from typing import Any

from homeroom.attendance.models import Category
from homeroom.ingest.adapters.tabular.fields import (
    ABSENT_CATEGORIES,
    DEFAULT_DAY_FRACTION,
    ENTITIES,
    OMIT,
    CellError,
    DateParser,
    SkipRow,
    convert,
)
from homeroom.ingest.adapters.tabular.profiles import (
    NORMALIZERS,
    FieldMapping,
    IdScheme,
    Profile,
    Source,
)
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import (
    PLAIN_FIELDS,
    AttendanceCodeRecord,
    AttendanceRecord,
    AttendanceRows,
    AttendanceScope,
    Batch,
    Where,
    attendance_span,
    collector_paused,
)

MAX_ERRORS_PER_FILE = 1000
SNIFF_CHARS = 64 * 1024
CHUNK = 1 << 20
# Encodings in which a block of whole lines decodes exactly as its lines one by one.
BLOCK_ENCODINGS = frozenset({"utf-8", "utf-8-sig", "cp1252", "iso8859-1", "ascii"})
# Characters after which str.splitlines ends a line and a binary file does not (\r alone is
# checked apart, since \r\n is one line end for both); NUL and BOM need clean().
BLOCK_UNSAFE = (
    "\x00",
    "\ufeff",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1d",
    "\x1e",
    "\x85",
    "\u2028",
    "\u2029",
)
NAME_LENGTH = 200  # what provenance columns (source_file) hold
CACHED_VALUES = 200_000  # converted values remembered per field (ids, dates and codes repeat)
CACHED_TEXTS = 10_000  # the same for free text (reasons repeat, names seldom do)
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
DATE_CHECKS: dict[str, list[tuple[str, str, str]]] = {}
for _entity, _first, _later, _message in DATE_ORDER:
    DATE_CHECKS.setdefault(_entity, []).append((_first, _later, _message))
# Attendance fields other than PLAIN_FIELDS, at the values a record has when they are unset
PLAIN_DEFAULTS = {"day_fraction": None, "minutes_missed": None, "period": "", "reason": ""}
_MISSING = object()  # not in a converter's cache
_SLOW, _PLAIN, _SIMPLE = 0, 1, 2  # kinds of rows for _Reader.read_block


def read_tabular(
    paths: list[Path], profile: Profile, *, progress: ReadProgress | None = None
) -> Batch:
    """Read CSV/XLSX files as the profile maps them; every problem is on the batch."""
    batch = Batch(attendance=AttendanceRows())
    reader = _Reader(profile, batch, progress or ReadProgress())
    with collector_paused():
        for path, name in zip(paths, display_names(paths), strict=True):
            with reader.progress.file(Path(path)):
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
        # Bytes of a name that are not UTF-8 (surrogate escapes, which no database stores).
        name = "/".join(mine[-depth:]).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
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
    # (mapping, column index, converter, the converter's cache of text -> value or None)
    fields: list[tuple[FieldMapping, int | None, Callable[[Any], Any], dict | None]]
    columns: dict[str, str] = field(default_factory=dict)  # field -> header name
    checked: bool = True  # whether _Reader.checked can find anything wrong or fill anything


class _Reader:
    """Reads files for one profile into one batch."""

    def __init__(self, profile: Profile, batch: Batch, progress: ReadProgress):
        self.profile, self.batch, self.progress = profile, batch, progress
        self.converters = {s.key: self.compile(s) for s in profile.sources}
        self.seen: dict[str, set] = {s.key: set() for s in profile.sources if s.distinct}
        self.days: dict[str, dict[tuple, dict[str, _PeriodRow]]] = {}
        self.matched: set[str] = set()
        self.errors_in_file = 0
        self.stopped = False
        # Rows with a present code and nothing else are held compactly (AttendanceRows).
        self.plain_rows = batch.attendance if isinstance(batch.attendance, AttendanceRows) else None
        self.present_codes = frozenset(
            c.code for c in profile.codes.values() if c.category == Category.PRESENT
        )

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
            # Free text may repeat (reasons) or not (names): fewer of its values are kept.
            if field_type.kind in ("text", "list"):
                return _memoized(
                    convert_cell, limit=CACHED_TEXTS, blank_only=field_type.kind == "list"
                )
            return _memoized(convert_cell, limit=CACHED_VALUES)
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
                value=name,
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

    def csv_rows(self, path: Path, name: str) -> Iterator[tuple[int, Any]]:
        """(line, cells) of a delimited text file, header first; problems recorded.

        After the header, a block of lines decoded together with no quote and no carriage
        return comes as one (first line, _RowBlock) instead, each line split as the csv
        module would split it.
        """
        bad_lines: set[int] = set()
        source = _Lines(self.text_lines(path, name, bad_lines))
        sample: list[str] = []
        size = 0
        for text in source:
            sample.append(text)
            size += len(text)
            if size >= SNIFF_CHARS:
                break
        delimiter = self.delimiter(sample)
        source.count = 0
        source.back.extend(reversed(sample))
        # A line without quotes or stray carriage returns is split here, as the csv module
        # would split it; any other line is handed to the csv module, which may read on
        # into the next lines (a quoted value holding line breaks).
        reader = csv.reader(source, delimiter=delimiter)
        limit = csv.field_size_limit()
        last, header_seen = 0, False  # the last line read (here and by the csv module)
        while not (self.errors_in_file >= MAX_ERRORS_PER_FILE and self.stop(name, last + 1)):
            line = source.next_item()
            if line is None:
                return
            if type(line) is _Block:
                pieces = line.pieces[line.start :] if line.start else line.pieces
                if header_seen and max(map(len, pieces)) <= limit:
                    first = last + 1
                    last += len(pieces)
                    source.count += len(pieces)
                    block = [piece.split(delimiter) if piece else [] for piece in pieces]
                    if bad_lines and any(first <= n <= last for n in bad_lines):
                        for number, cells in enumerate(block, first):  # (a clean block has none)
                            if number not in bad_lines:
                                yield number, cells
                    else:
                        yield first, _RowBlock(block)
                    continue
                line = source.first_of(line)
            source.count += 1
            if line[-1:] == "\n":
                body = line[:-2] if line[-2:-1] == "\r" else line[:-1]
            else:
                body = line[:-1] if line[-1:] == "\r" else line
            if '"' not in body and "\r" not in body and len(body) <= limit:
                last += 1
                if bad_lines and last in bad_lines:
                    continue
                cells = body.split(delimiter) if body else []
                header_seen = header_seen or any(c.strip() for c in cells)
                yield last, cells
                continue
            source.handed = line
            try:
                cells = next(reader)
            except csv.Error as error:
                self.error(
                    "bad_csv", f"the line cannot be read as CSV: {error}", Where(name, last + 1)
                )
                if source.count <= last:
                    return
                last = source.count
                continue
            first, last = last + 1, source.count
            if bad_lines and any(n in bad_lines for n in range(first, last + 1)):
                continue
            header_seen = header_seen or any(c.strip() for c in cells)
            yield first, cells

    def text_lines(self, path: Path, name: str, bad_lines: set[int]) -> Iterator["str | _Block"]:
        """Decoded lines of a text file; undecodable bytes and NULs are errors on their line.

        Lines come one by one, or many at once as a `_Block` (see `block_lines`).
        """
        encoding = self.profile.encoding
        if encoding == "auto":
            encoding, why = detect_encoding(path)
            if not encoding.startswith("utf-8"):
                self.batch.finding(
                    "encoding_detected", f"read as {why}", Where(name, 1), hint=ENCODING_HINT
                )
        wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
        # Only this read counts towards progress: detecting the encoding reads the file
        # too, but quickly, and counting both would pass the file's size.
        with self.progress.open_counted(path) as handle:
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
            if codecs.lookup(encoding).name in BLOCK_ENCODINGS:
                yield from self.block_lines(handle, encoding, name, bad_lines)
                return
            for number, raw in enumerate(handle, 1):
                yield self.decoded(raw, number, encoding, name, bad_lines)

    def decoded(
        self, raw: bytes, number: int, encoding: str, name: str, bad_lines: set[int]
    ) -> str:
        """One line decoded and cleaned; undecodable bytes are an error on its line."""
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
        return self.clean(text, number, name, bad_lines)

    def block_lines(
        self, handle: io.BufferedReader, encoding: str, name: str, bad_lines: set[int]
    ) -> Iterator["str | _Block"]:
        """The lines `decoded` gives, decoding a block of whole lines at a time.

        A block that fails to decode, or holds a character `clean` acts on or one that
        str.splitlines would split at, is decoded line by line instead, so every line and
        every problem is the same as reading line by line. A block without quotes or
        carriage returns comes whole, as a `_Block`.
        """
        whole = "utf-8" if codecs.lookup(encoding).name == "utf-8-sig" else encoding
        number, pending = 0, []  # pending: what was read after the last line end
        while True:
            block = handle.read(CHUNK)
            cut = block.rfind(b"\n") + 1
            if block and not cut:
                pending.append(block)
                continue
            data = b"".join([*pending, block[:cut]]) if block else b"".join(pending)
            pending = [block[cut:]]
            if not data:
                return
            text = None
            if number:  # the first block goes line by line: line 1 may start with a BOM
                try:
                    text = data.decode(whole)
                except UnicodeDecodeError:
                    text = None
                if text is not None and not any(c in text for c in '\x00\ufeff"\r'):
                    pieces = text.split("\n")
                    newline = not pieces[-1]
                    if newline:
                        pieces.pop()
                    number += len(pieces)
                    yield _Block(pieces, newline)
                    continue
                if text is not None and (
                    any(c in text for c in BLOCK_UNSAFE)
                    or ("\r" in text and text.count("\r") != text.count("\r\n"))
                ):
                    text = None
            if text is None:
                for raw in io.BytesIO(data):
                    number += 1
                    yield self.decoded(raw, number, encoding, name, bad_lines)
            else:
                lines = text.splitlines(keepends=True)
                number += len(lines)
                yield from lines

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
            if type(cells) is _RowBlock:
                counted, stopped = self.read_block(line, cells.rows, mappings, width, name)
            else:
                counted, stopped = self.read_row(line, cells, mappings, width, name, pad)
            count += counted
            if stopped:
                break
        self.batch.rows_read[name] = self.batch.rows_read.get(name, 0) + count
        if not count:
            self.batch.finding("no_rows", "the file has a header but no rows", Where(name, 1))

    def read_row(
        self,
        line: int,
        cells: list[Any],
        mappings: list[_Mapping],
        width: int,
        name: str,
        pad: bool = False,
    ) -> tuple[int, bool]:
        """Records from one row: (1 if the row counts, else 0; whether to stop reading)."""
        head = cells[0] if cells else None
        if not (head.strip() if type(head) is str else cell_text(head)) and not any(
            cell_text(c) for c in cells
        ):
            return 0, False
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
                return 1, self.stop(name, line)
        for mapping in mappings:
            self.record(mapping, cells, name, line)
        return 1, self.errors_in_file >= MAX_ERRORS_PER_FILE and self.stop(name, line)

    def read_block(
        self, first: int, rows: list[list[str]], mappings: list[_Mapping], width: int, name: str
    ) -> tuple[int, bool]:
        """Records from rows of consecutive lines: (rows counted, whether to stop reading).

        Each row goes through `read_row`, except the attendance rows `attendance_rows`
        finds plain or simple: those are taken a run at a time, as `record` takes them.
        """
        found = self.attendance_rows(mappings, rows, width)
        if found is None:
            values, kinds = {}, [_SLOW] * len(rows)
        else:
            values, kinds = found
        count, start = 0, 0
        for slow, run in groupby(map(_SLOW.__eq__, kinds)):
            end = start + len(list(run))
            if slow:
                for number in range(start, end):
                    counted, stopped = self.read_row(
                        first + number, rows[number], mappings, width, name
                    )
                    count += counted
                    if stopped:
                        return count, True
            else:
                plain = list(map(_PLAIN.__eq__, kinds[start:end]))
                full = list(map(_SIMPLE.__eq__, kinds[start:end]))
                lines = range(first + start, first + end)
                records = map(
                    AttendanceRecord,
                    *(compress(values[f][start:end], full) for f in PLAIN_FIELDS),
                    [Where(name, line) for line in compress(lines, full)],
                    *(
                        [default if v is OMIT else v for v in compress(values[f][start:end], full)]
                        if f in values
                        else repeat(default)
                        for f, default in PLAIN_DEFAULTS.items()
                    ),
                )
                self.plain_rows.extend_block(  # type: ignore[union-attr]
                    plain,
                    list(records),
                    *(values[f][start:end] for f in PLAIN_FIELDS),
                    name,
                    lines,
                )
                count += end - start
            start = end
        return count, False

    def attendance_rows(
        self, mappings: list[_Mapping], rows: list[list[str]], width: int
    ) -> tuple[dict[str, list[Any]], list[int]] | None:
        """For a file only an attendance mapping reads: each field's values in the rows, and
        each row's kind: _PLAIN (`record` would hold it compactly), _SIMPLE (`record` would
        make an AttendanceRecord of the values and do nothing else) or _SLOW (anything else
        may happen: `record` must see it). None when every row is _SLOW.

        Values come from the converters' caches, filled first with each value of the block
        not seen before (converting has no side effect but the caching); a row with a value
        that cannot be converted or cached is _SLOW.
        """
        if len(mappings) != 1 or self.plain_rows is None:
            return None
        mapping = mappings[0]
        source = mapping.source
        plain = bool(self.present_codes) and source.scope is None  # as `record` finds
        simple = not mapping.checked
        if (
            not (plain or simple)
            or source.entity != "attendance"
            or source.periods is not None
            or source.distinct
            or any(index is None or cache is None for _m, index, _c, cache in mapping.fields)
        ):
            return None
        if set(map(len, rows)) != {width}:
            filler = [None] * width  # no cache holds None: such a row is _SLOW
            rows = [row if len(row) == width else filler for row in rows]
        columns = list(zip(*rows, strict=True))
        values: dict[str, list[Any]] = {}
        found: list[bool] | None = None  # whether each row's values are all converted
        for field_mapping, index, convert_cell, cache in mapping.fields:
            new = [raw for raw in set(columns[index]) if raw not in cache]
            for raw in new:  # converted once, as `record` would (no side effect but caching)
                if raw is not None:
                    with contextlib.suppress(CellError, SkipRow):
                        convert_cell(raw)
            if failed := {raw for raw in new if raw not in cache}:
                found = [
                    raw not in failed and (found is None or found[i])
                    for i, raw in enumerate(columns[index])
                ]
                values[field_mapping.field] = list(map(cache.get, columns[index]))
            else:
                values[field_mapping.field] = list(map(cache.__getitem__, columns[index]))
        is_plain = [False] * len(rows)
        if plain:
            is_plain = [code in self.present_codes for code in values["code"]]
            for field_name, default in PLAIN_DEFAULTS.items():
                column = values.get(field_name)
                if column is not None and column.count(OMIT) != len(column):
                    is_plain = [
                        p and (v is OMIT or (v is not None and v == default))
                        for p, v in zip(is_plain, column, strict=True)
                    ]
        other = _SIMPLE if simple else _SLOW
        kinds = [_PLAIN if p else other for p in is_plain]
        if found is not None:
            kinds = [k if f else _SLOW for k, f in zip(kinds, found, strict=True)]
        return (values, kinds) if kinds.count(_SLOW) != len(kinds) else None

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
            convert_cell = converters[field_name]
            fields.append((mapping, index, convert_cell, getattr(convert_cell, "cache", None)))
        entity = source.entity
        checked = (
            entity in DATE_CHECKS
            or entity in ("schools", "attendance_codes")
            or (entity == "attendance" and bool(source.minutes_per_day or source.scope))
        )
        return _Mapping(source, fields, columns, checked) if ok else None

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

    def record(self, mapping: _Mapping, cells: list[Any], name: str, line: int) -> None:
        """Build the source's record from one row; errors recorded, the record kept if clean."""
        source, values, failed = mapping.source, {}, False
        for field_mapping, index, convert_cell, cache in mapping.fields:
            raw = cells[index] if index is not None else None
            value = cache.get(raw, _MISSING) if cache is not None and type(raw) is str else _MISSING
            if value is _MISSING:
                try:
                    value = convert_cell(raw)
                except SkipRow:
                    return
                except CellError as error:
                    failed = True
                    self.error(
                        error.code,
                        f"{error.message} ({field_mapping.key})",
                        Where(name, line, mapping.columns.get(field_mapping.field, "")),
                        value=cell_text(raw)[:200],
                        hint=error.hint,
                    )
                    continue
            if value is not OMIT:
                values[field_mapping.field] = value
        if failed or (mapping.checked and not self.checked(source, values, mapping, name, line)):
            return
        if source.distinct:
            key = tuple(
                sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items())
            )
            if key in self.seen[source.key]:
                return
            self.seen[source.key].add(key)
        if source.entity == "attendance":
            if source.periods is not None:
                self.period_row(source, values, Where(name, line))
                return
            if (
                self.plain_rows is not None
                and values["code"] in self.present_codes
                and (
                    len(values) == len(PLAIN_FIELDS)
                    or all(
                        k in PLAIN_FIELDS or (k in PLAIN_DEFAULTS and v == PLAIN_DEFAULTS[k])
                        for k, v in values.items()
                    )
                )
            ):
                self.plain_rows.append_plain(
                    values["student_id"],
                    values["school_id"],
                    values["date"],
                    values["code"],
                    name,
                    line,
                )
                return
        record_type = ENTITIES[source.entity][0]
        getattr(self.batch, BATCH_LISTS[source.entity]).append(
            record_type(**values, where=Where(name, line))
        )

    def checked(
        self, source: Source, values: dict, mapping: _Mapping, name: str, line: int
    ) -> bool:
        """Fill derived defaults and check rules across fields; False (with an error) if broken.

        `_Mapping.checked` says for which sources this can do anything.
        """
        entity, where = source.entity, Where(name, line)
        for first, later, message in DATE_CHECKS.get(entity, ()):
            if values.get(later) and values[later] < values[first]:
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
        span = attendance_span(self.batch.attendance)
        schools = {sid for scope in declared for sid in scope.school_ids} or (
            span[0] if span else set()
        )
        starts = [s.start for s in declared if s.start] or ([span[1]] if span else [])
        ends = [s.end for s in declared if s.end] or ([span[2]] if span else [])
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


def _memoized(
    convert_cell: Callable[[Any], Any], *, limit: int, blank_only: bool = False
) -> Callable[[Any], Any]:
    """The converter remembering up to `limit` answers (ids, dates and codes repeat row after
    row). With `blank_only` it remembers only its answer for the empty cell (lists, which
    are mutable, are made anew for every other cell).
    """
    cache: dict[Any, Any] = {}

    def cached(raw: Any) -> Any:
        key = raw if type(raw) is str else (type(raw), raw)  # True == 1, yet reads otherwise
        try:
            return cache[key]
        except KeyError:
            value = convert_cell(raw)
            if len(cache) < limit and (not blank_only or key == ""):
                cache[key] = value
            return value

    cached.cache = cache  # type: ignore[attr-defined]  # read directly by _Reader.record
    return cached


@dataclass(slots=True)
class _Block:
    """Lines decoded together, none holding a quote or a carriage return."""

    pieces: list[str]  # the lines without their line ends
    newline: bool  # whether the last one ended with "\n" (only a file's last line may not)
    start: int = 0  # lines before this one were already read one by one


@dataclass(slots=True)
class _RowBlock:
    """The cells of a _Block's lines, split."""

    rows: list[list[str]]


class _Lines:
    """A file's lines and blocks of lines, as csv_rows reads them.

    `next_item` gives the next line or block; iterating gives lines one at a time (a block
    split), which is how the csv module reads: `handed` is a line csv_rows took and hands
    it. `count` is the number of lines taken so far; `back` holds items to give again.
    """

    __slots__ = ("back", "count", "handed", "items")

    def __init__(self, items: Iterator["str | _Block"]):
        self.items, self.back, self.handed, self.count = items, [], None, 0

    def next_item(self) -> "str | _Block | None":
        """The next line or block, not counted."""
        if self.back:
            return self.back.pop()
        return next(self.items, None)

    def first_of(self, block: _Block) -> str:
        """A block's next line (with its line end), the rest of it given back."""
        line = block.pieces[block.start]
        block.start += 1
        if block.start < len(block.pieces):
            self.back.append(block)
            return line + "\n"
        return line + "\n" if block.newline else line

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        if self.handed is not None:
            line, self.handed = self.handed, None
            return line
        item = self.next_item()
        if item is None:
            raise StopIteration
        if type(item) is _Block:
            item = self.first_of(item)
        self.count += 1
        return item


__all__ = ["detect_encoding", "display_names", "read_tabular"]
