"""The sync engine: turns an adapter's `Batch` into database rows, the same way for every format.

- Atomic: everything a run writes, including its run record, commits together or not at all.
  A rejected run records only itself; an interrupted one leaves nothing.
- Idempotent: rows are matched on natural keys and compared; an identical re-import
  changes nothing and reports everything unchanged.
- Scoped: attendance replaces what is held for the file's schools and dates; enrollments
  and calendars replace what is held for the file's schools and school years; student
  characteristics and guardian links replace what is held for the students in the file.
  Schools, school years, students, guardians and codes are never deleted by an import.
- Traceable: stored rows keep their run, file and line; the run keeps counts and problems.
- A run analyzes each table it changed that is small (under 1,000 rows) or changed by more
  than a tenth, so the next queries are planned on what the tables hold without waiting
  for autovacuum (which never analyzes a table of a few rows, and SQLite has none).
"""

import datetime as dt
import itertools
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from homeroom.accounts.models import User
from homeroom.attendance.models import AttendanceCode, AttendanceEvent
from homeroom.core.actions import CommandLine, do_log_import
from homeroom.core.models import Calendar, CalendarDate, District, School, SchoolYear
from homeroom.ingest.attendance_sync import sync_attendance
from homeroom.ingest.intervention_sync import sync_student_interventions
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import (
    STOPPED_READING,
    Batch,
    EntityCounts,
    Problem,
    SchoolYearRecord,
    Severity,
)
from homeroom.ingest.year_bounds import report_outside_school_years
from homeroom.roster.models import (
    ContactPreference,
    Enrollment,
    Guardian,
    Section,
    SectionEnrollment,
    Student,
    StudentCharacteristic,
    StudentGuardian,
)

PROBLEMS_KEPT = 1000  # listed in full on the run; every problem is counted
STUDENT_HINT = "Add the student or fix the id."
GUARDIAN_HINT = "Add the guardian or fix the id."
SCHOOL_HINT = "Add the school to the schools file or fix the id."
YEAR_HINT = "Add the school year or fix its name."
EARLIEST_SCHOOL_DATE = dt.date(1990, 1, 1)  # no school year Homeroom holds begins before
LONGEST_YEAR = dt.timedelta(days=400)  # about 13 months: summer sessions included
# What do_import writes, in its order; each stage is reported as it begins (`on_stage`).
IMPORT_STAGES = (
    "schools, years and codes",
    "calendars",
    "students",
    "guardians",
    "enrollments",
    "sections",
    "attendance",
)
# The tables the metrics read, by their entry in a run's counts (`_analyze_changed`)
ANALYZED_TABLES = {
    "schools": (School,),
    "school_years": (SchoolYear,),
    "attendance_codes": (AttendanceCode,),
    "calendar_dates": (Calendar, CalendarDate),
    "students": (Student,),
    "characteristics": (StudentCharacteristic,),
    "enrollments": (Enrollment,),
    "section_enrollments": (SectionEnrollment,),
    "attendance": (AttendanceEvent,),
}
SMALL_TABLE = 1000  # rows: analyzed whenever changed (it takes a millisecond)
MANY_IDS = 1000  # more ids than this are looked up through their district (`_held_of`)


@dataclass(frozen=True)
class SourceFile:
    """A file a run read: its name as the user gave it, its SHA-256 and size."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class _People:
    """A kind of person an import upserts by local id: its model, batch list and fields.

    A None in a `described` field means the source does not say: a held row keeps its value.
    """

    model: type[models.Model]
    records: str  # the Batch list, and the _Resolver table of their keys
    named: tuple[str, ...]
    described: tuple[str, ...]


STUDENTS = _People(
    Student,
    "students",
    named=("first_name", "last_name", "grade"),
    described=(
        *("middle_name", "state_id", "birth_date"),
        *("gender", "race_ethnicity", "home_language"),
    ),
)
GUARDIANS = _People(
    Guardian,
    "guardians",
    named=("first_name", "last_name"),
    described=(
        *("phone", "email", "address_line", "city", "state"),
        *("postal_code", "preferred_language"),
    ),
)


class ImportRejected(Exception):
    """The run was rejected; `run` holds the recorded problems."""

    def __init__(self, run: ImportRun):
        super().__init__(f"import rejected: {len(run.problems)} problem(s) listed")
        self.run = run


def _upsert(
    model: type[models.Model],
    rows: dict[tuple, dict[str, Any]],
    *,
    held: models.QuerySet,
    key: tuple[str, ...],
    delete_missing: bool,
    unknown_keeps: frozenset[str] = frozenset(),
    new_defaults: dict[str, Any] | None = None,
    within: tuple[int, set] | None = None,
) -> EntityCounts:
    """Make `held` equal `rows` (by natural key), deleting held rows only if asked.

    A None in a field of `unknown_keeps` means the source does not say: a held row keeps
    its value, a new row gets `new_defaults` or the model's default. Only the rows that
    differ are written; provenance fields (`_traced`) are written with them, never alone.
    `within` (a position in the key, and values) leaves alone the held rows whose key has
    none of the values there: `held` may then hold more than the rows' scope.
    """
    counts = EntityCounts(read=len(rows))
    fields = sorted({name for given in rows.values() for name in given})
    attnames = [model._meta.get_field(name).attname for name in fields]
    # Held rows are compared as plain values: a full re-export holds every row of the
    # district, and making a model instance of each held row cost more than the rest of
    # the comparison (docs/benchmarks.md, "Re-import").
    existing = {
        tuple(values[1 : 1 + len(key)]): values
        for values in held.values_list("pk", *key, *attnames).iterator(chunk_size=10_000)
    }
    if within is not None:
        position, scope = within
        existing = {k: values for k, values in existing.items() if k[position] in scope}
    compared = [(name, 1 + len(key) + i) for i, name in enumerate(fields) if not _traced(name)]
    to_create, to_update, changed_fields = [], [], set()
    for row_key, given in rows.items():
        values = {f: v for f, v in given.items() if v is not None or f not in unknown_keeps}
        found = existing.pop(row_key, None)
        if found is None:
            fields_given = (new_defaults or {}) | dict(zip(key, row_key, strict=True)) | values
            to_create.append(model(**fields_given))
            continue
        if any(name in values and found[i] != values[name] for name, i in compared):
            obj = model(pk=found[0], **dict(zip(attnames, found[1 + len(key) :], strict=True)))
            for name, value in values.items():
                setattr(obj, name, value)
            changed_fields.update(values)
            to_update.append(obj)
        else:
            counts.unchanged += 1
    model.objects.bulk_create(to_create, batch_size=2000)
    if to_update:
        model.objects.bulk_update(to_update, sorted(changed_fields), batch_size=2000)
    if delete_missing and existing:
        model.objects.filter(pk__in=[values[0] for values in existing.values()]).delete()
    counts.inserted, counts.updated = len(to_create), len(to_update)
    counts.deleted = len(existing) if delete_missing else 0
    return counts


def _held_of(model: type[models.Model], field: str, ids: set, **district) -> models.QuerySet:
    """The model's rows whose `field` is one of `ids`: selected by an IN list when the ids
    are few, else all the district's (`district`: its filter), for `_upsert(within=...)` to
    keep those of the ids. PostgreSQL took seconds to plan and run an IN list of a full
    export's 50,000 students (docs/benchmarks.md, "Re-import")."""
    if len(ids) <= MANY_IDS:
        return model.objects.filter(**{f"{field}__in": ids})
    return model.objects.filter(**district)


def _traced(field_name: str) -> bool:
    """Provenance fields do not make a row 'changed' on their own."""
    return field_name.startswith("source_")


class _Resolver:
    """Maps the source's local ids to database keys, held and incoming alike."""

    def __init__(self, district: District, batch: Batch, run: ImportRun):
        self.district, self.batch = district, batch
        self.schools = dict(School.objects.filter(district=district).values_list("local_id", "pk"))
        self.years = {y.name: y for y in SchoolYear.objects.filter(district=district)}
        self.students = dict(
            Student.objects.filter(district=district).values_list("local_id", "pk")
        )
        self.guardians = dict(
            Guardian.objects.filter(district=district).values_list("local_id", "pk")
        )
        self.codes = {c.code: c for c in AttendanceCode.objects.filter(district=district)}
        self._year_spans = sorted((y.start_date, y.end_date) for y in self.years.values())
        if not self._year_spans:  # attendance without a year (e.g. OEA): a plausible date
            today = timezone.now().date()
            self._year_spans = [(EARLIEST_SCHOOL_DATE, dt.date(today.year + 1, 12, 31))]
        self._in_a_year: dict[dt.date, bool] = {}  # a file's rows share few dates

    def in_school_year(self, day: dt.date) -> bool:
        """Whether one of the district's school years (held or in the file) holds `day`."""
        known = self._in_a_year.get(day)
        if known is None:
            known = self._in_a_year[day] = any(
                start <= day <= end for start, end in self._year_spans
            )
        return known

    def outside_school_years(self, day: dt.date, where) -> bool:
        """Record an error when no school year holds `day`; True when none does."""
        if self.in_school_year(day):
            return False
        first, last = self._year_spans[0][0], self._year_spans[-1][1]
        self.batch.error(
            "date_outside_school_years",
            "the date is in none of the district's school years",
            where,
            value=day.isoformat(),
            hint=f"Check the date: the school years held run from {first} to {last}; import"
            " the school year first if it is missing.",
        )
        return True

    def missing(self, table: dict, value: str, code: str, what: str, where, hint: str) -> bool:
        """Record an error when `value` is not a known id; True when it is missing."""
        if value in table:
            return False
        self.batch.error(code, f"unknown {what}", where, value=value, hint=hint)
        return True

    def unknown_student(self, local_id: str, where, hint: str = STUDENT_HINT) -> bool:
        """Record an error when no student has `local_id`; True when none has."""
        return self.missing(self.students, local_id, "unknown_student", "student id", where, hint)

    def unknown_guardian(self, local_id: str, where) -> bool:
        """Record an error when no guardian has `local_id`; True when none has."""
        return self.missing(
            self.guardians, local_id, "unknown_guardian", "guardian id", where, GUARDIAN_HINT
        )

    def unknown_school(self, local_id: str, where) -> bool:
        """Record an error when no school has `local_id`; True when none has."""
        return self.missing(
            self.schools, local_id, "unknown_school", "school id", where, SCHOOL_HINT
        )

    def unknown_year(self, name: str, where) -> bool:
        """Record an error when no school year is named `name`; True when none is."""
        return self.missing(
            self.years, name, "unknown_school_year", "school year", where, YEAR_HINT
        )


def _sync_reference_data(batch: Batch, district: District, run: ImportRun) -> dict:
    counts: dict[str, EntityCounts] = {}
    held_spans = {
        local_id: (low, high)
        for local_id, low, high in School.objects.filter(district=district).values_list(
            "local_id", "lowest_grade", "highest_grade"
        )
    }
    reversed_spans = set()
    for r in batch.schools:
        low, high = held_spans.get(r.local_id, (0, 12))
        low = low if r.lowest_grade is None else r.lowest_grade
        high = high if r.highest_grade is None else r.highest_grade
        if low > high:
            reversed_spans.add(r.local_id)
            batch.error(
                "grade_span_reversed",
                "the school's lowest grade would be above its highest grade",
                r.where,
                value=f"{low} > {high}",
                hint="Give both grades, lowest first.",
            )
    schools = {
        (district.pk, r.local_id): {
            "name": r.name,
            "state_id": r.state_id,
            "level": r.level,
            "lowest_grade": r.lowest_grade,
            "highest_grade": r.highest_grade,
        }
        for r in batch.schools
        if r.local_id not in reversed_spans
    }
    if schools:
        counts["schools"] = _upsert(
            School,
            schools,
            held=School.objects.filter(district=district),
            key=("district_id", "local_id"),
            delete_missing=False,
            unknown_keeps=frozenset({"state_id", "level", "lowest_grade", "highest_grade"}),
            new_defaults={"lowest_grade": 0, "highest_grade": 12},
        )
    years = {
        (district.pk, r.name): {"start_date": r.start_date, "end_date": r.end_date}
        for r in _plausible_years(batch, district)
    }
    if years:
        counts["school_years"] = _upsert(
            SchoolYear,
            years,
            held=SchoolYear.objects.filter(district=district),
            key=("district_id", "name"),
            delete_missing=False,
        )
    codes = {
        (district.pk, r.code): {
            "description": r.description,
            "category": r.category,
            "day_fraction": r.day_fraction,
        }
        for r in batch.attendance_codes
    }
    if codes:
        counts["attendance_codes"] = _upsert(
            AttendanceCode,
            codes,
            held=AttendanceCode.objects.filter(district=district),
            key=("district_id", "code"),
            delete_missing=False,
        )
    return counts


def _plausible_years(batch: Batch, district: District) -> list[SchoolYearRecord]:
    """The file's school years that may be held: an error for a year that ends before it
    starts, runs longer than LONGEST_YEAR, starts before 1990 or after next year, or
    overlaps another year of the district (a year of the same name is replaced)."""
    latest_start = timezone.now().date().year + 1
    fit = {}
    for r in batch.school_years:
        length = (r.end_date - r.start_date).days + 1
        if length < 1:
            wrong = "ends before it starts"
        elif length > LONGEST_YEAR.days:
            wrong = f"runs {length:,} days; a school year lasts at most about 13 months"
        elif not EARLIEST_SCHOOL_DATE.year <= r.start_date.year <= latest_start:
            wrong = f"starts in {r.start_date.year}, before 1990 or after next year"
        else:
            fit[r.name] = r
            continue
        batch.error(
            "implausible_school_year",
            f"school year {r.name} {wrong}",
            r.where,
            value=f"{r.start_date} to {r.end_date}",
            hint="Check the school year's first and last days.",
        )
    held = SchoolYear.objects.filter(district=district).exclude(name__in=fit)
    spans = sorted(
        [(r.start_date, r.end_date, r.name, r.where) for r in fit.values()]
        + [(y.start_date, y.end_date, y.name, None) for y in held]
    )
    for (_, end, name, where), (start, _, later, later_where) in itertools.pairwise(spans):
        if start <= end and (where or later_where):  # years held already are not judged
            record = later if later_where is not None else name
            fit.pop(record, None)
            batch.error(
                "overlapping_school_years",
                f"school years {name} and {later} overlap (from {start} to {end})",
                later_where or where,
                value=record,
                hint="Each day belongs to one school year: fix the years' first and last days"
                " (or the school year an enrollment or session names).",
            )
    return list(fit.values())


def _sync_calendars(batch: Batch, resolve: _Resolver) -> EntityCounts | None:
    if not batch.calendar_dates:
        return None
    by_calendar: dict[tuple[str, str, str], list] = defaultdict(list)
    for r in batch.calendar_dates:
        if resolve.unknown_school(r.school_id, r.where):
            continue
        if resolve.unknown_year(r.school_year, r.where):
            continue
        by_calendar[r.school_id, r.school_year, r.calendar_code].append(r)
    total = EntityCounts()
    for (school_id, year_name, code), records in by_calendar.items():
        calendar, _ = Calendar.objects.get_or_create(
            school_id=resolve.schools[school_id], school_year=resolve.years[year_name], code=code
        )
        rows = {(calendar.pk, r.date): {"kind": r.kind} for r in records}
        counts = _upsert(
            CalendarDate,
            rows,
            held=calendar.dates.all(),
            key=("calendar_id", "date"),
            delete_missing=True,
        )
        for name, value in counts.as_dict().items():
            setattr(total, name, getattr(total, name) + value)
    return total


def _sync_people(
    people: _People, batch: Batch, district: District, resolve: "_Resolver"
) -> EntityCounts:
    """Upsert the students or guardians of a batch by local id, then know their keys."""
    rows, seen = {}, {}
    for r in getattr(batch, people.records):
        row = {name: getattr(r, name) for name in people.named + people.described}
        key = (district.pk, r.local_id)
        if key in rows and rows[key] != row:  # the same row twice is no news
            batch.finding(
                "duplicate_record",
                f"the same {people.model._meta.verbose_name} appears twice, differently;"
                " the later one is kept",
                r.where,
                value=r.local_id,
                hint=f"First seen at {seen[key]}; keep one of the rows.",
            )
        rows[key], seen[key] = row, r.where
    counts = _upsert(
        people.model,
        rows,
        held=_held_of(people.model, "local_id", {k[1] for k in rows}, district=district),
        key=("district_id", "local_id"),
        delete_missing=False,
        unknown_keeps=frozenset(people.described),
    )
    setattr(
        resolve,
        people.records,
        dict(people.model.objects.filter(district=district).values_list("local_id", "pk")),
    )
    return counts


def _related_rows(
    records: list, resolve: _Resolver, key: tuple[str, ...], values: tuple[str, ...]
) -> dict[tuple, dict[str, Any]]:
    """Rows of records about students or guardians, keyed by `key` (fields the record and
    model name alike), a person's local id becoming their database key. A record naming a
    student or guardian not known is an error and gives no row."""
    people = {"student_id": resolve.students, "guardian_id": resolve.guardians}
    rows = {}
    for r in records:
        if "student_id" in key and resolve.unknown_student(r.student_id, r.where):
            continue
        if "guardian_id" in key and resolve.unknown_guardian(r.guardian_id, r.where):
            continue
        row_key = tuple(people[f][getattr(r, f)] if f in people else getattr(r, f) for f in key)
        rows[row_key] = {name: getattr(r, name) for name in values}
    return rows


def _sync_students(batch: Batch, district: District, resolve: _Resolver) -> dict:
    counts = {}
    if batch.students:
        counts["students"] = _sync_people(STUDENTS, batch, district, resolve)
    if batch.characteristics:
        key = ("student_id", "kind", "start_date")
        rows = _related_rows(batch.characteristics, resolve, key, ("end_date",))
        # A full file speaks for every student it names, even one left with none.
        named = {k[0] for k in rows} | {resolve.students[r.local_id] for r in batch.students}
        counts["characteristics"] = _upsert(
            StudentCharacteristic,
            rows,
            held=_held_of(StudentCharacteristic, "student_id", named, student__district=district),
            key=key,
            delete_missing=True,
            within=(0, named),
        )
    return counts


def _sync_guardians(batch: Batch, district: District, resolve: _Resolver) -> dict:
    counts = {}
    if batch.guardians:
        counts["guardians"] = _sync_people(GUARDIANS, batch, district, resolve)
    if batch.student_guardians:
        key = ("student_id", "guardian_id")
        values = ("relationship", "contact_priority", "lives_with")
        rows = _related_rows(batch.student_guardians, resolve, key, values)
        named = {k[0] for k in rows}
        counts["student_guardians"] = _upsert(
            StudentGuardian,
            rows,
            held=_held_of(StudentGuardian, "student_id", named, student__district=district),
            key=key,
            delete_missing=True,
            unknown_keeps=frozenset({"contact_priority", "lives_with"}),
            within=(0, named),
        )
    if batch.contact_preferences:
        key = ("guardian_id", "channel")
        rows = _related_rows(batch.contact_preferences, resolve, key, ("preferred", "consent"))
        named = {k[0] for k in rows}
        counts["contact_preferences"] = _upsert(
            ContactPreference,
            rows,
            held=_held_of(ContactPreference, "guardian_id", named, guardian__district=district),
            key=key,
            delete_missing=True,
            within=(0, named),
        )
    return counts


def _sync_enrollments(batch: Batch, resolve: _Resolver, run: ImportRun) -> EntityCounts | None:
    if not batch.enrollments:
        return None
    rows, scope = {}, set()
    for r in batch.enrollments:
        if resolve.unknown_student(
            r.student_id, r.where, "Add the student to the students file or fix the id."
        ):
            continue
        if resolve.unknown_school(r.school_id, r.where):
            continue
        if resolve.unknown_year(r.school_year, r.where):
            continue
        school, year = resolve.schools[r.school_id], resolve.years[r.school_year].pk
        scope.add((school, year))
        rows[resolve.students[r.student_id], school, r.entry_date] = {
            "school_year_id": year,
            "grade": r.grade,
            "exit_date": r.exit_date,
            "exit_reason": r.exit_reason,
            "source_run": run,
            "source_file": r.where.file,
            "source_line": r.where.line,
        }
    held = Enrollment.objects.none()
    for school, year in scope:
        held |= Enrollment.objects.filter(school_id=school, school_year_id=year)
    return _upsert(
        Enrollment,
        rows,
        held=held,
        key=("student_id", "school_id", "entry_date"),
        delete_missing=True,
    )


def _sync_sections(batch: Batch, district: District, resolve: _Resolver) -> dict:
    """Sections in the file's schools and years replace those held; teachers matched to staff."""
    counts: dict[str, EntityCounts] = {}
    if not batch.sections:
        return counts
    rows, scope, teachers = {}, set(), {}
    for r in batch.sections:
        if resolve.unknown_school(r.school_id, r.where):
            continue
        if resolve.unknown_year(r.school_year, r.where):
            continue
        key = (resolve.schools[r.school_id], resolve.years[r.school_year].pk, r.local_id)
        scope.add(key[:2])
        rows[key] = {"name": r.name, "period": r.period, "is_homeroom": r.is_homeroom}
        teachers[key] = (r.teacher_ids, r.where)
    held = Section.objects.none()
    for school, year in scope:
        held |= Section.objects.filter(school_id=school, school_year_id=year)
    counts["sections"] = _upsert(
        Section,
        rows,
        held=held,
        key=("school_id", "school_year_id", "local_id"),
        delete_missing=True,
    )
    staff = {}
    for pk, username, email in User.objects.filter(district=district).values_list(
        "pk", "username", "email"
    ):
        staff[username.lower()] = pk
        if email:
            staff[email.lower()] = pk
    links = EntityCounts()
    # A fresh evaluation of the scope now includes the sections just inserted.
    sections = {(s.school_id, s.school_year_id, s.local_id): s for s in held.all()}
    # Every section's teachers in one query: a full export names every section.
    links_held = Section.teachers.through.objects.filter(section__in=held.values("pk"))
    teaching = defaultdict(set)
    for section_pk, user_pk in links_held.values_list("section_id", "user_id"):
        teaching[section_pk].add(user_pk)
    for key, (teacher_ids, where) in teachers.items():
        wanted = set()
        for teacher_id in teacher_ids:
            if teacher_id.lower() in staff:
                wanted.add(staff[teacher_id.lower()])
            else:
                batch.finding(
                    "teacher_without_account",
                    "no staff account has this username"
                    " or email, so the section has no teacher for it",
                    where,
                    value=teacher_id,
                    hint="Create the staff account, then re-import.",
                )
        section = sections[key]
        current = teaching[section.pk]
        links.read += len(wanted)
        links.unchanged += len(wanted & current)
        links.inserted += len(wanted - current)
        links.deleted += len(current - wanted)
        if wanted != current:
            section.teachers.set(wanted)
    counts["section_teachers"] = links
    rows = {}
    for r in batch.section_enrollments:
        if resolve.unknown_student(r.student_id, r.where):
            continue
        school = resolve.schools.get(r.school_id)
        year = resolve.years.get(r.school_year)
        section = sections.get((school, year.pk if year else None, r.section_id))
        if section is None:
            batch.error(
                "unknown_section",
                "unknown section",
                r.where,
                value=r.section_id,
                hint="Add the section to the sections file or fix the id.",
            )
            continue
        rows[resolve.students[r.student_id], section.pk, r.start_date] = {"end_date": r.end_date}
    if batch.section_enrollments:
        counts["section_enrollments"] = _upsert(
            SectionEnrollment,
            rows,
            held=SectionEnrollment.objects.filter(section__in=list(sections.values())),
            key=("student_id", "section_id", "start_date"),
            delete_missing=True,
        )
    return counts


def _write_run(run: ImportRun, batch: Batch, counts: dict, started: float) -> None:
    run.counts = {name: c.as_dict() for name, c in counts.items()}
    run.problem_counts = dict(Counter(f"{p.severity}:{p.code}" for p in batch.problems))
    run.problems = [_problem_json(p) for p in batch.problems[:PROBLEMS_KEPT]]
    run.finished_at = timezone.now()
    run.duration_seconds = round(time.monotonic() - started, 3)
    run.save()


def _problem_json(problem: Problem) -> dict[str, Any]:
    """A problem as JSON that every database stores (PostgreSQL's jsonb refuses NUL)."""
    where = problem.where
    return _without_nul(
        {
            "severity": problem.severity.value,
            "code": problem.code,
            "message": problem.message,
            "file": where.file if where else "",
            "line": where.line if where else None,
            "column": where.column if where else "",
            "value": problem.value,
            "hint": problem.hint,
            "text": str(problem),
        }
    )


def _without_nul(value: Any) -> Any:
    """Text every database's JSON accepts: NUL and undecodable bytes written as escapes."""
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return text.replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def do_import(
    batch: Batch,
    *,
    district: District,
    source_format: str,
    files: list[SourceFile],
    user=None,
    on_error: str = "reject",
    dry_run: bool = False,
    allow_large_deletes: bool = False,
    on_stage: Callable[[str], None] | None = None,
    via: CommandLine | None = None,
) -> ImportRun:
    """Write a batch for the district in one transaction and return the recorded run.

    The run is audited (by `user`, or the command `via` which it ran) in the same
    transaction as its changes; a rejected run is audited too, a dry run is not.

    With `on_error="reject"` (the default) any error rejects the whole run: nothing but
    the run record (status rejected, with every problem) is written, and `ImportRejected`
    is raised. With `on_error="skip"` rows with errors are left out and counted. A dry
    run does all the work, reports what it would change, and rolls back. `on_stage` is
    told each of IMPORT_STAGES as it begins (every one, even a stage with nothing to do).
    An attendance file that would delete a large share of a school's events is an error
    (`large_deletion`) unless `allow_large_deletes`.
    """
    stage = on_stage or (lambda name: None)
    started = time.monotonic()
    run = ImportRun(
        district=district,
        user=user,
        source_format=source_format,
        files=_without_nul([vars(f) for f in files]),
        on_error=on_error,
        dry_run=dry_run,
    )
    counts: dict[str, EntityCounts] = {}
    try:
        with transaction.atomic():
            if batch.errors and (on_error == "reject" or _unread_rows(batch)):
                raise _Rollback
            run.save()
            stage("schools, years and codes")
            counts |= _sync_reference_data(batch, district, run)
            resolve = _Resolver(district, batch, run)
            stage("calendars")
            if (calendar := _sync_calendars(batch, resolve)) is not None:
                counts["calendar_dates"] = calendar
            stage("students")
            counts |= _sync_students(batch, district, resolve)
            stage("guardians")
            counts |= _sync_guardians(batch, district, resolve)
            stage("enrollments")
            if (enrollments := _sync_enrollments(batch, resolve, run)) is not None:
                counts["enrollments"] = enrollments
            report_outside_school_years(batch, resolve.years)
            stage("sections")
            counts |= _sync_sections(batch, district, resolve)
            counts |= sync_student_interventions(batch, resolve, run, _upsert)
            stage("attendance")
            if batch.attendance or batch.attendance_scope:
                counts["attendance"], recorded = sync_attendance(
                    batch, resolve, run, allow_large_deletes=allow_large_deletes
                )
                if recorded.updated:  # schools whose attendance now runs to a later day
                    counts["recorded_through"] = recorded
            if batch.errors and (on_error == "reject" or _unread_rows(batch)):
                raise _Rollback
            run.status = ImportRun.Status.SUCCEEDED
            _write_run(run, batch, counts, started)
            if dry_run:
                transaction.set_rollback(True)
            else:
                _audit(run, user, via)
                _analyze_changed(counts)
    except _Rollback:
        run.pk = None
        run.status = ImportRun.Status.REJECTED
        with transaction.atomic():
            _write_run(run, batch, {}, started)
            if not dry_run:
                _audit(run, user, via)
        raise ImportRejected(run) from None
    return run


# What a run counts that belongs to the district, not to a student: left out of the
# audit entry's count of student records changed (its details keep every count).
DISTRICT_RECORDS = frozenset(
    {"schools", "school_years", "attendance_codes", "calendar_dates", "recorded_through"}
)


def _audit(run: ImportRun, user, via: CommandLine | None) -> None:
    """The run's audit entry: how many student records it inserted, updated or deleted."""
    changed = sum(
        counts.get(name, 0)
        for entity, counts in run.counts.items()
        if entity not in DISTRICT_RECORDS
        for name in ("inserted", "updated", "deleted")
    )
    do_log_import(
        district=run.district,
        run_id=run.pk,
        count=changed,
        user=user,
        via=via,
        details={
            "status": run.status,
            "format": run.source_format,
            "files": [file.get("name", "") for file in run.files],
            "on_error": run.on_error,
            "counts": run.counts,
        },
    )


def _unread_rows(batch: Batch) -> bool:
    """Whether a reader stopped before the end of a file: skipping the rows with errors
    would then silently leave out rows nobody read, so even a skipping import is rejected."""
    return any(problem.code == STOPPED_READING for problem in batch.errors)


def _analyze_changed(counts: dict[str, EntityCounts]) -> None:
    """ANALYZE each table the run changed that is small or changed by more than a tenth.

    The large tables' rule is autovacuum's (50 rows plus 10% of the table), applied at
    once: after a district's first load PostgreSQL's planner would otherwise see empty
    tables until autovacuum runs (if it runs at all), and choose nested loops over millions
    of rows. Autovacuum never analyzes a small table (its 16 attendance codes, say): without
    statistics the planner takes the district's codes for one row and reads a year's events
    code by code, several times slower (docs/benchmarks.md, "Design figures"). SQLite
    never analyzes by itself; it gets the same rule, from a sample of each index
    (`analysis_limit`).
    """
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        if sqlite:
            cursor.execute("PRAGMA analysis_limit = 1000")
        for name, models_changed in ANALYZED_TABLES.items():
            if name not in counts:
                continue
            changed = counts[name].inserted + counts[name].updated + counts[name].deleted
            for model in models_changed:
                table = model._meta.db_table
                if sqlite:
                    cursor.execute(f"SELECT COUNT(*) FROM {table}")
                else:  # -1: never analyzed
                    cursor.execute(
                        "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table]
                    )
                (rows,) = cursor.fetchone()
                if changed and (rows < SMALL_TABLE or changed > 50 + 0.1 * rows):
                    cursor.execute(f"ANALYZE {table}")


class _Rollback(Exception):
    """Internal: abandon the transaction so the run leaves the database as it was."""


__all__ = ["IMPORT_STAGES", "ImportRejected", "Severity", "SourceFile", "do_import"]
