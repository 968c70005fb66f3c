"""Finishing an Ed-Fi read: what needs every file settled once all of them are read.

References between files, school years from sessions, the roll-up of class-period events
to daily ones, the codes events use, students' grades (enrolled or estimated), undated
characteristics and, when asked for, enrollments implied by attendance.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable

from homeroom.ingest.adapters.edfi.descriptors import CATEGORIES, descriptor_key, school_year_of
from homeroom.ingest.adapters.edfi.facts import Demographics, Event, Facts
from homeroom.ingest.records import (
    AttendanceCodeRecord,
    Batch,
    CharacteristicRecord,
    EnrollmentRecord,
    SchoolYearRecord,
    StudentInterventionRecord,
    StudentRecord,
)


def finish_batch(batch: Batch, facts: Facts, *, implied_enrollments: bool) -> Batch:
    """Settle the facts of every file read into `batch` and return it."""
    return _Finisher(batch, facts, implied_enrollments).finish()


class _Finisher:
    """The state of one finishing: the batch, the facts read and the events settled."""

    def __init__(self, batch: Batch, facts: Facts, implied_enrollments: bool):
        self.batch, self.facts = batch, facts
        self.implied_enrollments = implied_enrollments
        self._events: list[Event] = []

    def finish(self) -> Batch:
        """Settle years, codes, roll-up, grades and enrollments; return the batch."""
        facts, batch = self.facts, self.batch
        self._school_years()
        batch.schools = list(self._unique(facts.schools, lambda r: r.local_id, "school"))
        batch.calendar_dates = list(
            self._unique(
                facts.calendar_dates,
                lambda r: (r.school_id, r.school_year, r.calendar_code, r.date),
                "calendar date",
            )
        )
        self._attendance()
        self._students()
        self._characteristics()
        batch.guardians = list(self._unique(facts.guardians, lambda r: r.local_id, "contact"))
        batch.student_guardians = list(
            self._unique(facts.links, lambda r: (r.student_id, r.guardian_id), "contact link")
        )
        self._enrollments()
        self._interventions()
        batch.rows_read = {name: facts.read[name] for name in sorted(facts.read)}
        return batch

    def _unique(self, records: list, key: Callable, what: str) -> Iterable:
        """Records with distinct keys; a repeated key keeps the last one read and is reported."""
        seen: dict = {}
        for record in records:
            k = key(record)
            if k in seen:
                self.batch.finding(
                    "duplicate_record",
                    f"the same {what} appears twice; the later one is kept",
                    record.where,
                    value=str(k if isinstance(k, str) else " ".join(map(str, k))),
                    hint=f"First seen at {seen[k].where}.",
                )
            seen[k] = record
        return seen.values()

    def _school_years(self) -> None:
        """One SchoolYearRecord per school year: its sessions' first and last days."""
        spans: dict[str, list] = {}
        for s in self.facts.sessions:
            span = spans.setdefault(s.school_year, [s.begin, s.end, s.where])
            span[0], span[1] = min(span[0], s.begin), max(span[1], s.end)
        self.batch.school_years = [
            SchoolYearRecord(name, begin, end, where)
            for name, (begin, end, where) in sorted(spans.items())
        ]

    def _year_for(self, day: dt.date, stated: str) -> str:
        """The school year of an event: as stated, else the one read holding the date."""
        if stated:
            return stated
        for year in self.batch.school_years:
            if year.start_date <= day <= year.end_date:
                return year.name
        return school_year_of(day)

    def _attendance(self) -> None:
        """Daily events, section events rolled up to daily ones, and the codes they use."""
        batch, facts = self.batch, self.facts
        daily: dict[tuple, set[str]] = defaultdict(set)
        for e in facts.events:
            daily[e.record.student_id, e.record.school_id, e.record.date].add(e.record.code)
        by_day: dict[tuple, list[Event]] = defaultdict(list)
        for event in facts.section_events:
            r = event.record
            by_day[r.student_id, r.school_id, r.date].append(event)
        rolled = []
        for key, events in by_day.items():
            if key in daily:
                for event in events:
                    if event.record.code not in daily[key]:
                        batch.finding(
                            "section_daily_mismatch",
                            "a class-period event disagrees with the daily events of the day;"
                            " the daily events are kept",
                            event.record.where,
                            value=f"{key[0]} {key[2]} {event.record.code}"
                            f" (daily: {', '.join(sorted(daily[key]))})",
                        )
                continue
            late = [e for e in events if CATEGORIES[descriptor_key(e.record.code)][0] == "tardy"]
            early = [
                e
                for e in events
                if CATEGORIES[descriptor_key(e.record.code)][0] == "early_departure"
            ]
            for group in (late, early):
                if group:
                    rolled.append(group[0])
            for event in events:
                category = CATEGORIES[descriptor_key(event.record.code)][0]
                if category not in {"tardy", "early_departure", "present"}:
                    batch.finding(
                        "section_absence_not_rolled_up",
                        "a class-period absence with no daily event for the day; a period"
                        " missed is not a day missed, so it is not counted",
                        event.record.where,
                        value=f"{key[0]} {key[2]} {event.record.code} {event.section}".strip(),
                        hint="Send the daily (school) attendance event if the day was missed.",
                    )
        facts.read["section_attendance_rolled_up"] = len(rolled)
        events = facts.events + rolled
        batch.attendance = [e.record for e in events]
        for event in events:
            event.school_year = self._year_for(event.record.date, event.school_year)
        codes = {c.code: c for c in facts.codes}
        for event in events:
            code = event.record.code
            if code not in codes:
                category, fraction = CATEGORIES[descriptor_key(code)]
                codes[code] = AttendanceCodeRecord(
                    code, code, category, fraction, event.record.where
                )
        batch.attendance_codes = list(codes.values())
        self._events = events

    def _students(self) -> None:
        """Students with demographics applied and a grade: enrolled grade, else estimated."""
        batch, facts = self.batch, self.facts
        enrolled: dict[str, EnrollmentRecord] = {}
        for e in sorted(facts.enrollments, key=lambda e: e.entry_date):
            enrolled[e.student_id] = e
        last_event: dict[str, Event] = {}
        for event in sorted(self._events, key=lambda e: e.record.date):
            last_event[event.record.student_id] = event
        spans = {s.local_id: s for s in batch.schools}
        demographics: dict[str, list[Demographics]] = defaultdict(list)
        for d in facts.demographics:
            demographics[d.student_id].append(d)
        students = {}
        estimated = []
        for record, birth_sex in facts.students:
            record.gender = birth_sex or record.gender
            for d in demographics.pop(record.local_id, []):
                record.gender = d.gender or record.gender
                record.race_ethnicity = d.race_ethnicity or record.race_ethnicity
                record.home_language = d.home_language or record.home_language
            if record.local_id in enrolled:
                record.grade = enrolled[record.local_id].grade
            else:
                record.grade = self._estimate(record, last_event.get(record.local_id), spans)
                estimated.append(record)
            if record.local_id in students:
                self.batch.finding(
                    "duplicate_record",
                    "the same student appears twice; the later one is kept",
                    record.where,
                    value=record.local_id,
                    hint=f"First seen at {students[record.local_id].where}.",
                )
            students[record.local_id] = record
        batch.students = list(students.values())
        for student_id, found in demographics.items():
            batch.finding(
                "student_not_in_files",
                "demographics for a student not in the Student files read; not applied",
                found[0].where,
                value=student_id,
                hint="Import the Student interchange (or students resource) with this file.",
            )
        if estimated:
            sample = ", ".join(r.local_id for r in estimated[:5])
            batch.finding(
                "grade_estimated",
                f"{len(estimated)} students have no StudentSchoolAssociation giving their grade;"
                " it was estimated from the birth date (age on September 1 minus 5), within the"
                " grade span of the school of their attendance",
                estimated[0].where,
                value=sample + (", ..." if len(estimated) > 5 else ""),
                hint="Import the StudentEnrollment interchange (studentSchoolAssociations).",
            )

    def _estimate(self, record: StudentRecord, event: Event | None, spans: dict) -> int:
        """A grade from the birth date: age on September 1 of the school year, minus 5."""
        if event is not None:
            year = int(event.school_year[:4])
        elif self.batch.school_years:
            year = int(self.batch.school_years[-1].name[:4])
        else:
            year = int(school_year_of(dt.date.today())[:4])
        born = record.birth_date
        age = year - born.year - ((born.month, born.day) > (9, 1))
        grade = min(max(age - 5, -1), 12)
        school = spans.get(event.record.school_id) if event else None
        if school and school.lowest_grade is not None:
            grade = min(max(grade, school.lowest_grade), school.highest_grade)
        return grade

    def _characteristics(self) -> None:
        """Date undated characteristics from the first school year read; merge duplicates."""
        batch, facts = self.batch, self.facts
        records = list(facts.characteristics)
        if facts.undated:
            if batch.school_years:
                start = batch.school_years[0].start_date
                for student, kind, where in facts.undated:
                    records.append(CharacteristicRecord(student, kind, start, where))
                batch.finding(
                    "characteristic_undated",
                    f"{len(facts.undated)} student characteristics have no Period; they are"
                    f" dated from the first day of school year {batch.school_years[0].name}",
                    facts.undated[0][2],
                    hint="Give each StudentCharacteristic a Period with BeginDate.",
                )
            else:
                for student, kind, where in facts.undated:
                    batch.error(
                        "characteristic_undated",
                        "student characteristic without a Period, and no Session read to date"
                        " it from",
                        where,
                        value=f"{student} {kind}",
                        hint="Give it a Period with BeginDate, or import the"
                        " EducationOrgCalendar interchange with this file.",
                    )
        merged: dict[tuple, CharacteristicRecord] = {}
        for r in records:
            key = (r.student_id, r.kind, r.start_date)
            held = merged.get(key)
            if held is None:
                merged[key] = r
            elif held.end_date is not None and (r.end_date is None or r.end_date > held.end_date):
                held.end_date = r.end_date
        batch.characteristics = list(merged.values())

    def _enrollments(self) -> None:
        """Enrollments as read (school year settled), plus implied ones when asked for."""
        batch, facts = self.batch, self.facts
        for e in facts.enrollments:
            e.school_year = self._year_for(e.entry_date, e.school_year)
        batch.enrollments = list(
            self._unique(
                facts.enrollments,
                lambda r: (r.student_id, r.school_id, r.entry_date),
                "student school association",
            )
        )
        if not self.implied_enrollments:
            return
        covered = {(e.student_id, e.school_id, e.school_year) for e in batch.enrollments}
        sessions: dict[tuple[str, str], list[dt.date]] = {}
        for s in facts.sessions:
            span = sessions.setdefault((s.school_id, s.school_year), [s.begin, s.end])
            span[0], span[1] = min(span[0], s.begin), max(span[1], s.end)
        grades = {s.local_id: s.grade for s in batch.students}
        first: dict[tuple[str, str, str], list] = {}
        for event in self._events:
            r = event.record
            key = (r.student_id, r.school_id, event.school_year)
            span = first.setdefault(key, [r.date, r.date, r.where])
            span[0], span[1] = min(span[0], r.date), max(span[1], r.date)
        for (student, school, year), (low, high, where) in first.items():
            if (student, school, year) in covered or student not in grades:
                continue
            if (school, year) in sessions:
                entry, exit_date = sessions[school, year]
                basis = "the school's sessions"
            else:
                entry, exit_date = low, high
                basis = "the student's first and last events (the school has no session that year)"
            batch.enrollments.append(
                EnrollmentRecord(
                    student, school, year, grades[student], entry, where, exit_date=exit_date
                )
            )
            batch.finding(
                "implied_enrollment",
                f"no StudentSchoolAssociation for this student at this school; enrollment"
                f" implied from {basis}",
                where,
                value=f"{student} {school} {year} {entry}..{exit_date}",
                hint="Import the StudentEnrollment interchange to replace implied enrollments.",
            )

    def _interventions(self) -> None:
        """Each StudentInterventionAssociation with its Intervention's dates and organization.

        An association is matched on the intervention's education organization and code, or
        on the code alone when the reference gives no organization and one Intervention read
        has that code; an association whose Intervention no file read is an error, since
        Ed-Fi keeps the dates on the Intervention.
        """
        by_key = {(i.school_id, i.code): i for i in self.facts.interventions}
        by_code: dict[str, list] = defaultdict(list)
        for found in by_key.values():
            by_code[found.code].append(found)
        for link in self.facts.intervention_links:
            if link.school_id:
                found = by_key.get((link.school_id, link.code))
            else:
                found = by_code[link.code][0] if len(by_code[link.code]) == 1 else None
            if found is None:
                self.batch.error(
                    "unknown_intervention",
                    "StudentInterventionAssociation names an Intervention no file read",
                    link.where,
                    value=f"{link.school_id} {link.code}".strip(),
                    hint="Import the Intervention (it gives the dates) with the association:"
                    " the StudentIntervention interchange holds both.",
                )
                continue
            self.batch.student_interventions.append(
                StudentInterventionRecord(
                    link.student_id,
                    link.code,
                    found.begin,
                    link.where,
                    end_date=found.end,
                    school_id=found.school_id,
                )
            )
