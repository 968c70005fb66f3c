"""Reads CSV and XLSX files with a mapping profile into a `Batch` of normalized records.

Files are streamed (`files.py`: the csv module over a decoded text stream, openpyxl in
read-only mode), so memory holds the records, not the files. Here each file's header is
matched to the profile's sources, and each row becomes records through the converters of
`cells.py` and the checks across fields; runs of plain attendance rows are taken together
(`blocks.py`) and period rows rolled up to days (`periods.py`). Every record remembers its
file and line (the header is line 1). Nothing in the input raises: every problem becomes an
error or finding on the batch naming file, line, column and value, and a row with an error
yields no record, so `--on-error skip` imports the rest. Duplicate and conflicting daily
rows are left to the sync engine; duplicate period rows are reported here.
"""

from collections.abc import Iterator
from decimal import Decimal
from itertools import groupby
from pathlib import Path, PurePath
from typing import Any

from homeroom.attendance.models import Category
from homeroom.ingest.adapters.tabular.blocks import (
    PLAIN_DEFAULTS,
    SLOW,
    attendance_rows,
    take_run,
)
from homeroom.ingest.adapters.tabular.cells import (
    FileMapping,
    cell_text,
    converters,
    file_mapping,
)
from homeroom.ingest.adapters.tabular.fields import (
    DEFAULT_DAY_FRACTION,
    ENTITIES,
    OMIT,
    CellError,
    SkipRow,
)
from homeroom.ingest.adapters.tabular.files import (
    MAX_ERRORS_PER_FILE,
    FileRows,
    RowBlock,
    display_names,
)
from homeroom.ingest.adapters.tabular.mappings import Profile, Source
from homeroom.ingest.adapters.tabular.periods import PeriodRow, roll_up
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import (
    PLAIN_FIELDS,
    AttendanceCodeRecord,
    AttendanceRows,
    AttendanceScope,
    Batch,
    Where,
    attendance_span,
    collector_paused,
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
    "student_interventions": "student_interventions",
    "attendance_codes": "attendance_codes",
    "attendance": "attendance",
}
# (entity, first date field, later date field, message) checked on every record
DATE_ORDER = (
    ("school_years", "start_date", "end_date", "the school year ends before it starts"),
    ("characteristics", "start_date", "end_date", "the end date is before the start date"),
    ("enrollments", "entry_date", "exit_date", "the exit date is before the entry date"),
    ("section_enrollments", "start_date", "end_date", "the end date is before the start date"),
    ("student_interventions", "start_date", "end_date", "the end date is before the start date"),
)
DATE_CHECKS: dict[str, list[tuple[str, str, str]]] = {}
for _entity, _first, _later, _message in DATE_ORDER:
    DATE_CHECKS.setdefault(_entity, []).append((_first, _later, _message))
_MISSING = object()  # not in a converter's cache


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


class _Reader(FileRows):
    """Reads files for one profile into one batch: their rows (`FileRows`) into records."""

    def __init__(self, profile: Profile, batch: Batch, progress: ReadProgress):
        super().__init__(profile, batch, progress)
        self.converters = {s.key: converters(profile, s) for s in profile.sources}
        self.seen: dict[str, set] = {s.key: set() for s in profile.sources if s.distinct}
        self.days: dict[str, dict[tuple, dict[str, PeriodRow]]] = {}
        self.matched: set[str] = set()
        # Rows with a present code and nothing else are held compactly (AttendanceRows).
        self.plain_rows = batch.attendance if isinstance(batch.attendance, AttendanceRows) else None
        self.present_codes = frozenset(
            c.code for c in profile.codes.values() if c.category == Category.PRESENT
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
            for rows, on_sheet, pad in self.sheets(path, name, sources):
                self.read_rows(rows, name, on_sheet, pad=pad)
        except Exception as error:  # a damaged file must become a problem, never a crash
            self.batch.error(
                "unreadable_file",
                f"the file cannot be read: {type(error).__name__}: {error}"[:500],
                Where(name, 1),
                hint="Export the file again from the source system.",
            )

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
        named = len(header)
        while named and not header[named - 1]:  # trailing delimiters: often, and harmless...
            named -= 1
        unnamed, header = len(header) - named, header[:named]
        if not header:
            if not self.errors_in_file:  # a missing sheet or undecodable file is said already
                self.error("empty_file", "the file is empty: no header row", Where(name, 1))
            return
        mappings = [m for s in sources if (m := self.columns(s, header, header_line, name))]
        self.extra_columns(sources, header, header_line, name, unnamed)
        width, count = len(header), 0
        for line, cells in rows:
            if type(cells) is RowBlock:
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
        mappings: list[FileMapping],
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
        self, first: int, rows: list[list[str]], mappings: list[FileMapping], width: int, name: str
    ) -> tuple[int, bool]:
        """Records from rows of consecutive lines: (rows counted, whether to stop reading).

        Each row goes through `read_row`, except the attendance rows `attendance_rows`
        finds plain or simple: those are taken a run at a time, as `record` takes them.
        """
        found = None
        if self.plain_rows is not None:
            found = attendance_rows(mappings, rows, width, self.present_codes)
        if found is None:
            values, kinds = {}, [SLOW] * len(rows)
        else:
            values, kinds = found
        count, start = 0, 0
        for slow, run in groupby(map(SLOW.__eq__, kinds)):
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
                take_run(
                    self.plain_rows,  # type: ignore[arg-type]  # set, since rows were found
                    values,
                    kinds,
                    start,
                    end,
                    first,
                    name,
                )
                count += end - start
            start = end
        return count, False

    def columns(
        self, source: Source, header: list[str], header_line: int, name: str
    ) -> FileMapping | None:
        """The source compiled against this header; None (with errors) if columns are missing."""
        return file_mapping(
            source,
            self.converters[source.key],
            header,
            header_line,
            name,
            checked=_checked(source),
            error=self.error,
        )

    def extra_columns(
        self, sources: list[Source], header: list[str], header_line: int, name: str, trailing: int
    ) -> None:
        """Columns no source reads: ignored, reported once, or errors, as the profile says.

        `trailing`: columns without a name after the last named one (...but a profile that
        allows no extra column allows none of them either)."""
        used = {c.casefold() for s in sources for c in (*s.columns, *s.ignore_columns)}
        extra = [c for c in header if c and c.casefold() not in used]
        unnamed = trailing + sum(1 for c in header if not c)
        policies = {s.extra_columns for s in sources}
        if not (extra or unnamed) or policies == {"ignore"}:
            return
        if "error" in policies:
            if unnamed:  # one error for them all: an export can hold thousands
                self.error(
                    "unknown_column",
                    f"{unnamed:,} column{'s' if unnamed > 1 else ''} without a name in the header",
                    Where(name, header_line),
                    value="",
                    hint="Remove the columns without a name (often empty columns an export"
                    " added at the end).",
                )
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
        if unnamed:
            extra.append(f"{unnamed:,} without a name")
        self.batch.finding(
            "unused_columns",
            "the profile reads nothing from these columns",
            Where(name, header_line),
            value=", ".join(extra),
            hint="Nothing to do unless one of them holds data Homeroom needs.",
        )

    def record(self, mapping: FileMapping, cells: list[Any], name: str, line: int) -> None:
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
        self, source: Source, values: dict, mapping: FileMapping, name: str, line: int
    ) -> bool:
        """Fill derived defaults and check rules across fields; False (with an error) if broken.

        `FileMapping.checked` says for which sources this can do anything.
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

    def in_scope(self, source: Source, values: dict, mapping: FileMapping, where: Where) -> bool:
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
        periods[period] = PeriodRow(
            code,
            mapped.category if mapped else "",
            where,
            values.get("minutes_missed"),
            values.get("reason", ""),
        )

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
                roll_up(self.profile, source, self.days.pop(source.key), self.batch)
        self.declared_scope()

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


def _checked(source: Source) -> bool:
    """Whether `_Reader.checked` can find anything wrong in the source's records or fill
    anything in (`FileMapping.checked`)."""
    entity = source.entity
    return (
        entity in DATE_CHECKS
        or entity in ("schools", "attendance_codes")
        or (entity == "attendance" and bool(source.minutes_per_day or source.scope))
    )


def matches(path: Path, pattern: str) -> bool:
    """Whether a file matches a profile pattern (compared from the right, ignoring case)."""
    try:
        return PurePath(path).match(pattern, case_sensitive=False)
    except ValueError:
        return False


__all__ = ["display_names", "matches", "read_tabular"]
