"""OneRoster 1.2 CSV rostering: a bulk export (files, a directory or a .zip) read into a `Batch`.

What is read and the rules applied are in docs/import-oneroster.md. In short: orgs of type
school become schools; the schoolYear sessions become school years named "YYYY-YYYY";
students and their parents or guardians come from users.csv (roles from its `role` column
or from roles.csv), with demographics.csv for birth date, sex and race/ethnicity; classes
become sections and enrollments become section memberships and section teachers. Teachers
are never created: they are named by username (or email) so the sync engine can match the
district's existing staff accounts. OneRoster carries no attendance and no school
enrollment spans.

Here the schools, school years, sections and memberships are read; the files are gathered
and parsed in `files.py`, values checked in `checks.py`, and people read in `people.py`.
Nothing raises on bad input: every problem is recorded on the batch with the file, line
(the header is line 1) and column, and the row it concerns yields no record.
"""

import contextlib
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from homeroom.ingest.adapters.oneroster.checks import RowChecks, Skip, listed
from homeroom.ingest.adapters.oneroster.files import Row, Table, read_tables, shown
from homeroom.ingest.adapters.oneroster.people import User, read_people
from homeroom.ingest.adapters.vocabulary import LIMITS
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import (
    Batch,
    SchoolRecord,
    SchoolYearRecord,
    SectionEnrollmentRecord,
    SectionRecord,
)

CLASS_TYPES = {"homeroom": True, "scheduled": False}


def read_oneroster(paths: list[Path], *, progress: ReadProgress | None = None) -> Batch:
    """Read a OneRoster 1.2 CSV bulk export (files, a directory of them, or a .zip)."""
    return _Reader().read(paths, progress or ReadProgress())


@dataclass(slots=True)
class _Session:
    """An academic session (school year, term, semester or grading period)."""

    row: Row
    kind: str
    start: dt.date
    end: dt.date
    parent: str
    year_number: str
    year_name: str | None = None
    resolved: bool = False


@dataclass(slots=True)
class _Class:
    """A class read: its section and the dates of its terms."""

    section: SectionRecord
    start: dt.date
    end: dt.date
    teachers: list[tuple[bool, str]] = field(default_factory=list)


class _Reader(RowChecks):
    """Reads one export into one batch; the state of a single read."""

    def __init__(self) -> None:
        super().__init__(Batch())
        self.tables: dict[str, Table | None] = {}
        self.schools: dict[str, str] = {}
        self.org_types: dict[str, str] = {}
        self.sessions: dict[str, _Session] = {}
        self.users: dict[str, User] = {}
        self.classes: dict[str, _Class] = {}

    def read(self, paths: list[Path], progress: ReadProgress) -> Batch:
        """Read the export's files, then each entity in the order they refer to each other."""
        self.tables = read_tables(paths, progress, self.batch)
        self._read_orgs()
        self._read_sessions()
        self.users = read_people(self, self.tables)
        self._read_classes()
        self._read_enrollments()
        return self.batch

    def _read_orgs(self) -> None:
        table = self.tables.get("orgs.csv")
        if table is None:
            return
        local_ids: set[str] = set()
        for sid, row in self.live(table, "org"):
            try:
                kind = row["type"].lower()
                self.org_types[sid] = kind
                if kind != "school":
                    continue
                column = "identifier" if row["identifier"] else "sourcedId"
                local_id = self.text(row, column, LIMITS["local_id"])
                if local_id in local_ids:
                    self.fail(
                        "duplicate_id",
                        "another school has this id",
                        row.where(column),
                        local_id,
                        "A school's identifier (else its sourcedId) must be unique.",
                    )
                name = self.text(row, "name", LIMITS["title"], required=True)
                local_ids.add(local_id)
                self.schools[sid] = local_id
                self.batch.schools.append(SchoolRecord(local_id, name, row.where(column)))
            except Skip:
                self.bad["org"].add(sid)

    def _read_sessions(self) -> None:
        table = self.tables.get("academicSessions.csv")
        if table is None:
            return
        for sid, row in self.live(table, "session"):
            try:
                start = self.date(row, "startDate", required=True)
                end = self.date(row, "endDate", required=True)
                if end < start:
                    self.fail(
                        "dates_out_of_order",
                        "endDate is before startDate",
                        row.where("endDate"),
                        row["endDate"],
                    )
                self.sessions[sid] = _Session(
                    row, row["type"].lower(), start, end, row["parentSourcedId"], row["schoolYear"]
                )
            except Skip:
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
                    self.fail(
                        "session_cycle",
                        "the session's parentSourcedId leads back to itself",
                        current.row.where("parentSourcedId"),
                        parent,
                    )
                current = self.ref("session", self.sessions, current.row, "parentSourcedId", parent)
            except Skip:
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

    def _read_classes(self) -> None:
        table = self.tables.get("classes.csv")
        if table is None:
            return
        for sid, row in self.live(table, "class"):
            try:
                self.classes[sid] = self._read_class(row)
            except Skip:
                self.bad["class"].add(sid)

    def _read_class(self, row: Row) -> _Class:
        local_id = self.text(row, "sourcedId", LIMITS["local_id"])
        title = self.text(row, "title", LIMITS["title"], required=True)
        class_type = row["classType"].lower()
        if class_type not in CLASS_TYPES:
            self.fail(
                "bad_value",
                "classType is neither homeroom nor scheduled",
                row.where("classType"),
                row["classType"],
            )
        school_sid = row["schoolSourcedId"]
        if self.org_types.get(school_sid, "school") != "school":
            self.fail(
                "not_a_school",
                "schoolSourcedId names an org that is not a school",
                row.where("schoolSourcedId"),
                school_sid,
            )
        school = self.ref("org", self.schools, row, "schoolSourcedId", school_sid)
        term_ids = listed(row["termSourcedIds"])
        if not term_ids:
            self.fail("missing_value", "termSourcedIds is empty", row.where("termSourcedIds"))
        terms = [
            self.ref("session", self.sessions, row, "termSourcedIds", term) for term in term_ids
        ]
        years = {term.year_name for term in terms}
        if None in years:
            self.fail(
                "no_school_year",
                "the class's term belongs to no schoolYear session",
                row.where("termSourcedIds"),
                row["termSourcedIds"],
                "Give each term a parentSourcedId leading to a schoolYear session.",
            )
        if len(years) > 1:
            self.fail(
                "terms_in_several_years",
                "the class's terms belong to different school years",
                row.where("termSourcedIds"),
                row["termSourcedIds"],
            )
        period = ",".join(listed(row["periods"]))
        if len(period) > LIMITS["period"]:
            self.fail(
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
        for _sid, row in self.live(table, "enrollment"):
            with contextlib.suppress(Skip):
                self._read_enrollment(row)
        for taught in self.classes.values():
            ordered = [login for _, login in sorted(taught.teachers, key=lambda t: not t[0])]
            taught.section.teacher_ids = list(dict.fromkeys(ordered))

    def _read_enrollment(self, row: Row) -> None:
        role = row["role"].lower()
        if not role:
            self.fail("missing_value", "role is empty", row.where("role"))
        taught = self.ref("class", self.classes, row, "classSourcedId", row["classSourcedId"])
        user = self.ref("user", self.users, row, "userSourcedId", row["userSourcedId"])
        if role == "teacher":
            primary = self.flag(row, "primary")
            if not user.login:
                self.batch.finding(
                    "teacher_without_login",
                    "the teacher has neither username nor email, so cannot be matched",
                    row.where("userSourcedId"),
                    value=shown(row["userSourcedId"]),
                )
                return
            taught.teachers.append((primary, user.login))
            return
        if role != "student":
            return
        if user.student is None:
            self.fail(
                "not_a_student",
                "a student enrollment names a user who is not a student",
                row.where("userSourcedId"),
                row["userSourcedId"],
            )
        begin = self.date(row, "beginDate") or taught.start
        end = self.date(row, "endDate") if row["endDate"] else taught.end
        if end < begin:
            self.fail(
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
