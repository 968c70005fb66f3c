"""CSV and XLSX files as numbered rows of cells, for the reader to turn into records.

Text files are decoded as the profile says (or as detected: BOM, valid UTF-8, else
Windows-1252) and split into lines, many at a time where that is safe (`block_lines`);
worksheets are read with openpyxl in read-only mode. Undecodable bytes, NULs and bad CSV
are errors on their line, and a file stops being read after MAX_ERRORS_PER_FILE errors.
"""

import codecs
import contextlib
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from django.conf import settings

from homeroom.ingest.adapters.tabular.mappings import Profile, Source
from homeroom.ingest.limits import megabytes, over_rows, over_size, refuse_file
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import STOPPED_READING, Batch, Where

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
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"
ENCODING_HINT = (
    'Save the file as UTF-8, or set encoding in the profile (e.g. encoding = "windows-1252").'
)


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


class FileRows:
    """Reads one profile's files as rows of cells, counting each file's errors."""

    def __init__(self, profile: Profile, batch: Batch, progress: ReadProgress):
        self.profile, self.batch, self.progress = profile, batch, progress
        self.errors_in_file = 0
        self.stopped = False

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
            STOPPED_READING,
            f"reading stopped after {MAX_ERRORS_PER_FILE} errors in this file",
            Where(name, line),
            hint="Check the profile matches the file (delimiter, encoding, columns).",
        )
        return True

    def sheets(
        self, path: Path, name: str, sources: list[Source]
    ) -> Iterator[tuple[Iterator[tuple[int, Any]], list[Source], bool]]:
        """The file's rows and the sources reading them, a workbook's sheet by sheet, with
        whether rows may stop at their last filled cell; none of an old .xls (an error)."""
        with path.open("rb") as handle:
            magic = handle.read(4)
        size = path.stat().st_size
        if magic == XLSX_MAGIC:  # a zip: its sheets' size once uncompressed counts
            with (
                contextlib.suppress(zipfile.BadZipFile, OSError),
                zipfile.ZipFile(path) as workbook,
            ):
                size = sum(info.file_size for info in workbook.infolist())
        if over_size(size):
            refuse_file(self.batch, name, f"holds {megabytes(size)} uncompressed")
            return
        if magic == XLSX_MAGIC:
            sheets: dict[str | None, list[Source]] = {}
            for source in sources:
                sheets.setdefault(source.sheet, []).append(source)
            for sheet, on_sheet in sheets.items():
                yield self.capped(self.xlsx_rows(path, name, sheet), name), on_sheet, True
        elif magic == OLE_MAGIC:
            self.batch.error(
                "unreadable_file",
                "this is an old Excel .xls workbook, which cannot be read",
                Where(name, 1),
                hint="Open it in Excel and save it as .xlsx or CSV.",
            )
        else:
            yield self.capped(self.csv_rows(path, name), name), sources, False

    def capped(self, rows: Iterator[tuple[int, Any]], name: str) -> Iterator[tuple[int, Any]]:
        """The rows of a file up to the line limit; past it, the file is refused."""
        for line, cells in rows:
            if over_rows(line):
                refuse_file(
                    self.batch, name, f"has more than {settings.HOMEROOM_MAX_IMPORT_ROWS:,} lines"
                )
                return
            yield line, cells

    def csv_rows(self, path: Path, name: str) -> Iterator[tuple[int, Any]]:
        """(line, cells) of a delimited text file, header first; problems recorded.

        After the header, a block of lines decoded together with no quote and no carriage
        return comes as one (first line, RowBlock) instead, each line split as the csv
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
                        yield first, RowBlock(block)
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


@dataclass(slots=True)
class _Block:
    """Lines decoded together, none holding a quote or a carriage return."""

    pieces: list[str]  # the lines without their line ends
    newline: bool  # whether the last one ended with "\n" (only a file's last line may not)
    start: int = 0  # lines before this one were already read one by one


@dataclass(slots=True)
class RowBlock:
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
