"""What every source adapter produces: normalized records, problems, and the run's scope.

An adapter (CSV profile, Ed-Fi XML, Ed-Fi JSON, OneRoster) reads files and yields these
plain records, each remembering the file and line it came from. The sync engine
(`homeroom.ingest.sync`) validates references, compares with what is held in scope and
writes, so every format gets the same semantics: atomic, idempotent, scoped, traceable.
Ids in records are the source system's ids (local ids), never database keys. A descriptive
field left `None` means "this source does not say": what is held is kept, so a roster from
OneRoster and demographics from the SIS do not overwrite each other.
"""

import datetime as dt
import gc
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from itertools import compress, repeat
from operator import not_

# The error a reader records when it gives up on a file: the file's later rows were never
# read, so no import may go on without them (not even one skipping rows with errors).
STOPPED_READING = "too_many_errors"


@dataclass(frozen=True, slots=True)
class Where:
    """The place in a source file a record or problem comes from (line 1 is the first)."""

    file: str
    line: int
    column: str = ""

    def __str__(self) -> str:
        line = f", line {self.line}" if self.line else ""  # line 0: the file as a whole
        column = f", column {self.column}" if self.column else ""
        return f"{self.file}{line}{column}"


class Severity(StrEnum):
    """An error rejects the run (or its row with --on-error skip); a finding is reported."""

    ERROR = "error"
    FINDING = "finding"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong or noteworthy in the input, said so a data clerk can fix it."""

    severity: Severity
    code: str
    message: str
    where: Where | None = None
    value: str = ""
    hint: str = ""

    def __str__(self) -> str:
        place = f"{self.where}: " if self.where else ""
        value = f" (value: {self.value!r})" if self.value else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{place}{self.message}{value}.{hint}"


@dataclass(slots=True)
class SchoolRecord:
    """A school as the source describes it."""

    local_id: str
    name: str
    where: Where
    state_id: str | None = None
    level: str | None = None
    lowest_grade: int | None = None
    highest_grade: int | None = None


@dataclass(slots=True)
class SchoolYearRecord:
    """A school year: its name and first and last days."""

    name: str
    start_date: dt.date
    end_date: dt.date
    where: Where


@dataclass(slots=True)
class CalendarDateRecord:
    """One day of a school's calendar and its kind (CalendarDate.Kind values)."""

    school_id: str
    school_year: str
    date: dt.date
    kind: str
    where: Where
    calendar_code: str = "default"


@dataclass(slots=True)
class StudentRecord:
    """A student and their demographics."""

    local_id: str
    first_name: str
    last_name: str
    grade: int
    where: Where
    middle_name: str | None = None
    state_id: str | None = None
    birth_date: dt.date | None = None
    gender: str | None = None
    race_ethnicity: str | None = None
    home_language: str | None = None


@dataclass(slots=True)
class CharacteristicRecord:
    """A characteristic a student holds from a date (StudentCharacteristic.Kind values)."""

    student_id: str
    kind: str
    start_date: dt.date
    where: Where
    end_date: dt.date | None = None


@dataclass(slots=True)
class GuardianRecord:
    """A parent, guardian or other contact."""

    local_id: str
    first_name: str
    last_name: str
    where: Where
    phone: str | None = None
    email: str | None = None
    address_line: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    preferred_language: str | None = None


@dataclass(slots=True)
class StudentGuardianRecord:
    """Which guardian belongs to which student, and how."""

    student_id: str
    guardian_id: str
    relationship: str
    where: Where
    contact_priority: int | None = None
    lives_with: bool | None = None


@dataclass(slots=True)
class ContactPreferenceRecord:
    """A guardian's preference and consent for one channel."""

    guardian_id: str
    channel: str
    where: Where
    preferred: bool = False
    consent: str = "unknown"


@dataclass(slots=True)
class EnrollmentRecord:
    """A span of enrollment at a school in a school year."""

    student_id: str
    school_id: str
    school_year: str
    grade: int
    entry_date: dt.date
    where: Where
    exit_date: dt.date | None = None
    exit_reason: str = ""


@dataclass(slots=True)
class SectionRecord:
    """A class or homeroom section; teachers are matched to staff accounts by username or email."""

    school_id: str
    school_year: str
    local_id: str
    name: str
    where: Where
    period: str = ""
    is_homeroom: bool = False
    teacher_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SectionEnrollmentRecord:
    """A student's membership in a section (section named by school, year and local id)."""

    student_id: str
    school_id: str
    school_year: str
    section_id: str
    start_date: dt.date
    where: Where
    end_date: dt.date | None = None


@dataclass(slots=True)
class AttendanceCodeRecord:
    """A local attendance code and what it means."""

    code: str
    description: str
    category: str
    day_fraction: Decimal
    where: Where


@dataclass(slots=True)
class AttendanceRecord:
    """One daily attendance event (an exception to presence) for a student at a school."""

    student_id: str
    school_id: str
    date: dt.date
    code: str
    where: Where
    day_fraction: Decimal | None = None
    minutes_missed: int | None = None
    period: str = ""
    reason: str = ""


@dataclass(slots=True)
class StudentInterventionRecord:
    """An intervention the SIS records for a student: its code (and name, when the source
    gives one), its dates, and the school (or other education organization) giving it."""

    student_id: str
    code: str
    start_date: dt.date
    where: Where
    name: str = ""
    end_date: dt.date | None = None
    school_id: str = ""


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a large file's records are made.

    A 50,000-student year makes millions of long-lived objects holding no reference cycles;
    the collector would walk them again at every full collection, a large share of the time
    reading such a file takes (docs/benchmarks.md, "Design figures"). Reference counting
    frees memory as usual meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


PLAIN_FIELDS = ("student_id", "school_id", "date", "code")
_LINE_LIMIT = 2**32 - 1  # what array("I") holds


class AttendanceRows(Sequence):
    """A batch's attendance records in file order, plain rows held compactly.

    A positive-attendance file has a row for every student-day: 9 million a year for 50,000
    students, nearly all present days that the sync engine only counts. As objects they
    would take about 200 bytes each. A "plain" row, one that says nothing but student,
    school, date and code (every other field at its default), is held here as three
    4-byte integers instead, and becomes an `AttendanceRecord` again whenever it is read:
    iterating, indexing and comparing give exactly the records appended, in order.
    `plain_keys` and `plain_count` let the sync engine check plain rows a key at a time.
    """

    __slots__ = (
        "_date_index",
        "_dates",
        "_key_index",
        "_keys",
        "_plain_date",
        "_plain_key",
        "_plain_line",
        "_positions",
        "_records",
    )

    def __init__(self, records: Iterable["AttendanceRecord"] = ()):
        self._records: list[AttendanceRecord] = []
        self._positions = array("Q")  # where each record of _records is in the sequence
        self._keys: list[tuple[str, str, str, str]] = []  # (student, school, code, file)
        self._key_index: dict[tuple[str, str, str, str], int] = {}
        self._dates: list[dt.date] = []
        self._date_index: dict[dt.date, int] = {}
        self._plain_key, self._plain_date, self._plain_line = array("I"), array("I"), array("I")
        for record in records:
            self.append(record)

    def append(self, record: "AttendanceRecord") -> None:
        """Add a record at the end."""
        self._positions.append(len(self))
        self._records.append(record)

    def extend(self, records: Iterable["AttendanceRecord"]) -> None:
        """Add records at the end."""
        added = list(records)
        self._positions.extend(range(len(self), len(self) + len(added)))
        self._records.extend(added)

    def append_plain(
        self, student_id: str, school_id: str, date: dt.date, code: str, file: str, line: int
    ) -> None:
        """Add `AttendanceRecord(student_id, school_id, date, code, Where(file, line))`."""
        if line > _LINE_LIMIT:
            self.append(AttendanceRecord(student_id, school_id, date, code, Where(file, line)))
            return
        key = (student_id, school_id, code, file)
        number = self._key_index.get(key)
        day = self._date_index.get(date)
        self._plain_key.append(self._key_number(key) if number is None else number)
        self._plain_date.append(self._date_number(date) if day is None else day)
        self._plain_line.append(line)

    def extend_plain(
        self,
        student_ids: Iterable[str],
        school_ids: Iterable[str],
        dates: Iterable[dt.date],
        codes: Iterable[str],
        file: str,
        lines: Iterable[int],
    ) -> None:
        """`append_plain` for each row the iterables give, in order."""
        lines = list(lines)
        if lines and max(lines) > _LINE_LIMIT:
            for row in zip(student_ids, school_ids, dates, codes, lines, strict=True):
                self.append_plain(*row[:4], file, row[4])
            return
        keys = list(zip(student_ids, school_ids, codes, repeat(file), strict=False))
        numbers = list(map(self._key_index.get, keys))
        if None in numbers:  # number the new keys (each once), in order
            for key in dict.fromkeys(k for k, n in zip(keys, numbers, strict=True) if n is None):
                self._key_number(key)
            numbers = list(map(self._key_index.__getitem__, keys))
        dates = list(dates)
        days = list(map(self._date_index.get, dates))
        if None in days:
            for date in dict.fromkeys(d for d, n in zip(dates, days, strict=True) if n is None):
                self._date_number(date)
            days = list(map(self._date_index.__getitem__, dates))
        self._plain_key.extend(numbers)
        self._plain_date.extend(days)
        self._plain_line.extend(lines)

    def extend_block(
        self,
        plain: list[bool],
        records: list["AttendanceRecord"],
        student_ids: list[str],
        school_ids: list[str],
        dates: list[dt.date],
        codes: list[str],
        file: str,
        lines: range,
    ) -> None:
        """Add rows in order: row i is plain (`append_plain` of the lists' i-th values and
        lines[i]) where plain[i], else the next of `records`."""
        if lines and lines[-1] > _LINE_LIMIT:
            given = iter(records)
            for i, is_plain in enumerate(plain):
                if is_plain:
                    self.append_plain(
                        student_ids[i], school_ids[i], dates[i], codes[i], file, lines[i]
                    )
                else:
                    self.append(next(given))
            return
        start = len(self)
        self._positions.extend(compress(range(start, start + len(plain)), map(not_, plain)))
        self._records.extend(records)
        self.extend_plain(
            *(compress(column, plain) for column in (student_ids, school_ids, dates, codes)),
            file,
            compress(lines, plain),
        )

    def _key_number(self, key: tuple[str, str, str, str]) -> int:
        number = self._key_index.get(key)
        if number is None:
            number = self._key_index[key] = len(self._keys)
            self._keys.append(key)
        return number

    def _date_number(self, date: dt.date) -> int:
        number = self._date_index.get(date)
        if number is None:
            number = self._date_index[date] = len(self._dates)
            self._dates.append(date)
        return number

    @property
    def records(self) -> list["AttendanceRecord"]:
        """The records that are not plain rows, in order."""
        return self._records

    @property
    def plain_count(self) -> int:
        """How many plain rows are held."""
        return len(self._plain_line)

    @property
    def plain_dates(self) -> list[dt.date]:
        """The dates of the plain rows, each once."""
        return self._dates

    @property
    def plain_keys(self) -> list[tuple[str, str, str, str]]:
        """(student_id, school_id, code, file) of the plain rows, each once."""
        return self._keys

    def span(self) -> tuple[set[str], dt.date, dt.date] | None:
        """The schools of all rows and their first and last dates (None when empty)."""
        if not len(self):
            return None
        schools = {key[1] for key in self._keys} | {r.school_id for r in self._records}
        dates = [*self._dates, *(r.date for r in self._records)]
        return schools, min(dates), max(dates)

    def _plain(self, number: int) -> "AttendanceRecord":
        student_id, school_id, code, file = self._keys[self._plain_key[number]]
        date = self._dates[self._plain_date[number]]
        return AttendanceRecord(
            student_id, school_id, date, code, Where(file, self._plain_line[number])
        )

    def __len__(self) -> int:
        return len(self._records) + len(self._plain_line)

    def __iter__(self) -> Iterator["AttendanceRecord"]:
        plain = 0
        for number, record in enumerate(self._records):
            for _ in range(self._positions[number] - number - plain):
                yield self._plain(plain)
                plain += 1
            yield record
        for rest in range(plain, len(self._plain_line)):
            yield self._plain(rest)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("attendance row index out of range")
        found = bisect_left(self._positions, index)
        if found < len(self._positions) and self._positions[found] == index:
            return self._records[found]
        return self._plain(index - found)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AttendanceRows | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        if len(self) > 100:
            return f"<AttendanceRows: {len(self)} rows, {self.plain_count} plain>"
        return repr(list(self))


def attendance_span(rows: Sequence["AttendanceRecord"]) -> tuple[set[str], dt.date, dt.date] | None:
    """The schools the attendance rows name and their first and last dates (None if none)."""
    if isinstance(rows, AttendanceRows):
        return rows.span()
    if not rows:
        return None
    dates = [r.date for r in rows]
    return {r.school_id for r in rows}, min(dates), max(dates)


@dataclass
class EntityCounts:
    """What a run did to one kind of row."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0
    present: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict for the run record."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(slots=True)
class AttendanceScope:
    """The schools and dates an attendance file speaks for: held events there are replaced."""

    school_ids: set[str]
    start: dt.date
    end: dt.date


@dataclass
class Batch:
    """Everything an adapter read from one run's files."""

    schools: list[SchoolRecord] = field(default_factory=list)
    school_years: list[SchoolYearRecord] = field(default_factory=list)
    calendar_dates: list[CalendarDateRecord] = field(default_factory=list)
    students: list[StudentRecord] = field(default_factory=list)
    characteristics: list[CharacteristicRecord] = field(default_factory=list)
    guardians: list[GuardianRecord] = field(default_factory=list)
    student_guardians: list[StudentGuardianRecord] = field(default_factory=list)
    contact_preferences: list[ContactPreferenceRecord] = field(default_factory=list)
    enrollments: list[EnrollmentRecord] = field(default_factory=list)
    sections: list[SectionRecord] = field(default_factory=list)
    section_enrollments: list[SectionEnrollmentRecord] = field(default_factory=list)
    attendance_codes: list[AttendanceCodeRecord] = field(default_factory=list)
    attendance: list[AttendanceRecord] = field(default_factory=list)
    attendance_scope: AttendanceScope | None = None
    student_interventions: list[StudentInterventionRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)

    def error(self, code: str, message: str, where: Where | None = None, **extra) -> None:
        """Record an error in the input."""
        self.problems.append(Problem(Severity.ERROR, code, message, where, **extra))

    def finding(self, code: str, message: str, where: Where | None = None, **extra) -> None:
        """Record a data-quality finding (handled by a documented rule, not an error)."""
        self.problems.append(Problem(Severity.FINDING, code, message, where, **extra))

    @property
    def errors(self) -> list[Problem]:
        """The problems that reject the run."""
        return [p for p in self.problems if p.severity == Severity.ERROR]
