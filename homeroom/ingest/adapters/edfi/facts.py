"""What the Ed-Fi mapping gathers from one file, kept only if the whole file could be read."""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from homeroom.ingest.adapters.edfi.resources import Item
from homeroom.ingest.records import (
    AttendanceCodeRecord,
    AttendanceRecord,
    CalendarDateRecord,
    CharacteristicRecord,
    EnrollmentRecord,
    GuardianRecord,
    SchoolRecord,
    StudentGuardianRecord,
    StudentRecord,
    Where,
)


@dataclass(slots=True)
class Event:
    """An attendance event as read, before codes and roll-up are settled."""

    record: AttendanceRecord
    school_year: str
    section: str = ""


@dataclass(slots=True)
class Demographics:
    """Sex, race/ethnicity and language of a student from an education organization association."""

    student_id: str
    where: Where
    gender: str = ""
    race_ethnicity: str = ""
    home_language: str = ""


@dataclass(slots=True)
class Session:
    """A session (semester, trimester...) of a school in a school year."""

    school_id: str
    school_year: str
    begin: dt.date
    end: dt.date
    where: Where


@dataclass(slots=True)
class InterventionFacts:
    """An Ed-Fi Intervention: what its students' associations take from it."""

    code: str
    school_id: str
    begin: dt.date
    end: dt.date | None
    where: Where


@dataclass(slots=True)
class InterventionLink:
    """A StudentInterventionAssociation, its intervention found once every file is read."""

    student_id: str
    code: str
    school_id: str  # '' when the reference does not give it
    where: Where


@dataclass
class Facts:
    """Records mapped from one file, merged into the run's once the file is read whole."""

    schools: list[SchoolRecord] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    calendar_dates: list[CalendarDateRecord] = field(default_factory=list)
    codes: list[AttendanceCodeRecord] = field(default_factory=list)
    students: list[tuple[StudentRecord, str]] = field(default_factory=list)
    demographics: list[Demographics] = field(default_factory=list)
    characteristics: list[CharacteristicRecord] = field(default_factory=list)
    undated: list[tuple[str, str, Where]] = field(default_factory=list)
    guardians: list[GuardianRecord] = field(default_factory=list)
    links: list[StudentGuardianRecord] = field(default_factory=list)
    enrollments: list[EnrollmentRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    section_events: list[Event] = field(default_factory=list)
    interventions: list[InterventionFacts] = field(default_factory=list)
    intervention_links: list[InterventionLink] = field(default_factory=list)
    deferred: list[Item] = field(default_factory=list)
    read: Counter = field(default_factory=Counter)

    def merge(self, other: "Facts") -> None:
        """Add another file's facts to these."""
        for name in self.__dataclass_fields__:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            else:
                mine.extend(theirs)
