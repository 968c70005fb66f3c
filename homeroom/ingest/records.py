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
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


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
