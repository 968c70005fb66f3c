"""Loads a directory of generated-district CSV files (docs/generator.md) into the database.

One call loads one district inside one transaction and one `ImportRun`: every file is
checked row by row as it is read, and the first problem raises `GeneratedFileError` naming
the file, line and column; nothing is written then. Every enrollment and attendance event
keeps the run and the line it came from.
"""

import csv
import datetime as dt
import hashlib
import io
import itertools
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone

from homeroom.accounts.models import User
from homeroom.attendance.models import AttendanceCode, AttendanceEvent, Category
from homeroom.core.models import (
    AuditEntry,
    Calendar,
    CalendarDate,
    District,
    GradeLevel,
    School,
    SchoolYear,
)
from homeroom.ingest.models import ImportRun
from homeroom.roster.models import (
    ContactChannel,
    ContactPreference,
    Enrollment,
    Gender,
    Guardian,
    Language,
    RaceEthnicity,
    Section,
    SectionEnrollment,
    Student,
    StudentCharacteristic,
    StudentGuardian,
)

SOURCE_FORMAT = "homeroom-generated-csv"
BATCH_SIZE = 5000

# Every file of the format and its columns, in the order the files are loaded.
COLUMNS: dict[str, tuple[str, ...]] = {
    "district": ("name", "state", "timezone"),
    "schools": ("school_id", "state_id", "name", "level", "lowest_grade", "highest_grade"),
    "school_years": ("school_year", "start_date", "end_date"),
    "calendar_dates": ("school_id", "school_year", "date", "kind"),
    "students": (
        "student_id",
        "state_id",
        "first_name",
        "middle_name",
        "last_name",
        "birth_date",
        "grade",
        "gender",
        "race_ethnicity",
        "home_language",
    ),
    "student_characteristics": ("student_id", "characteristic", "start_date", "end_date"),
    "guardians": (
        "guardian_id",
        "first_name",
        "last_name",
        "phone",
        "email",
        "address_line",
        "city",
        "state",
        "postal_code",
        "preferred_language",
    ),
    "contact_preferences": ("guardian_id", "channel", "preferred", "consent"),
    "student_guardians": (
        "student_id",
        "guardian_id",
        "relationship",
        "contact_priority",
        "lives_with",
    ),
    "enrollments": (
        "student_id",
        "school_id",
        "school_year",
        "grade",
        "entry_date",
        "exit_date",
        "exit_reason",
    ),
    "staff": ("staff_id", "first_name", "last_name", "school_id", "email"),
    "sections": (
        "school_id",
        "school_year",
        "section_id",
        "name",
        "period",
        "is_homeroom",
        "teacher_id",
        "grade",
    ),
    "section_enrollments": (
        "student_id",
        "school_id",
        "school_year",
        "section_id",
        "start_date",
        "end_date",
    ),
    "attendance_codes": ("code", "description", "category", "day_fraction"),
    "attendance_events": (
        "student_id",
        "school_id",
        "date",
        "code",
        "day_fraction",
        "minutes_missed",
        "reason",
    ),
}
GRADES = {value for value, _label in GradeLevel.choices}
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "f"})


class GeneratedFileError(Exception):
    """A problem in one of the files: which file, line and column, and what is wrong."""

    def __init__(self, file: str, line: int | None, column: str | None, message: str):
        self.file, self.line, self.column, self.message = file, line, column, message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class DistrictExistsError(GeneratedFileError):
    """The database already holds a district of the name the files give."""


def _max_length(model: type[models.Model], field: str) -> int:
    """The model field's length limit, so a long value is reported, not truncated."""
    return model._meta.get_field(field).max_length


class _File:
    """One CSV file being read: the header checked, rows with their line numbers."""

    def __init__(self, directory: Path, stem: str):
        self.name = f"{stem}.csv"
        self.columns = COLUMNS[stem]
        path = directory / self.name
        if not path.is_file():
            raise GeneratedFileError(self.name, None, None, f"the file is missing from {directory}")
        data = path.read_bytes()
        self.sha256 = hashlib.sha256(data).hexdigest()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            raise GeneratedFileError(self.name, line, None, "is not UTF-8 text") from error
        self.lines = text.count("\n")
        self._reader = csv.reader(io.StringIO(text, newline=""))
        header = [name.strip() for name in next(self._reader, [])]
        if not header:
            raise GeneratedFileError(self.name, 1, None, "the file is empty: no header row")
        for column in self.columns:
            if column not in header:
                raise GeneratedFileError(self.name, 1, column, "the header lacks this column")
        for column in header:
            if column not in self.columns:
                raise GeneratedFileError(
                    self.name, 1, column, f"unknown column; expected {', '.join(self.columns)}"
                )
        if len(set(header)) != len(header):
            raise GeneratedFileError(self.name, 1, None, "a column is named twice")
        self.position = {column: header.index(column) for column in self.columns}
        self.width = len(header)
        self.rows = 0
        self.dates: dict[str, dt.date] = {}

    def __iter__(self) -> Iterator["_Row"]:
        """Each data row, with its line number (the header is line 1)."""
        reader = self._reader
        for values in reader:
            if not values:
                continue
            if len(values) != self.width:
                raise GeneratedFileError(
                    self.name,
                    reader.line_num,
                    None,
                    f"the row has {len(values)} values, the header {self.width}",
                )
            self.rows += 1
            yield _Row(self, reader.line_num, values)


class _Row:
    """One row: typed values, each raising GeneratedFileError when wrong."""

    __slots__ = ("file", "line", "values")

    def __init__(self, file: _File, line: int, values: list[str]):
        self.file, self.line, self.values = file, line, values

    def error(self, column: str, message: str) -> GeneratedFileError:
        """The error for a bad value in `column` of this row."""
        return GeneratedFileError(self.file.name, self.line, column, message)

    def text(self, column: str, *, required: bool = True, max_length: int | None = None) -> str:
        """The cell's text, stripped."""
        value = self.values[self.file.position[column]].strip()
        if required and not value:
            raise self.error(column, "is empty; a value is required")
        if max_length is not None and len(value) > max_length:
            raise self.error(column, f"'{value}' is longer than {max_length} characters")
        return value

    def date(self, column: str, *, required: bool = True) -> dt.date | None:
        """An ISO date (YYYY-MM-DD), or None when empty and optional."""
        value = self.text(column, required=required)
        if not value:
            return None
        cache = self.file.dates
        if value not in cache:
            try:
                if len(value) != 10 or value[4] != "-" or value[7] != "-":
                    raise ValueError(value)
                cache[value] = dt.date.fromisoformat(value)
            except ValueError:
                raise self.error(column, f"'{value}' is not a date (YYYY-MM-DD)") from None
        return cache[value]

    def integer(
        self, column: str, *, required: bool = True, low: int = 0, high: int = 32767
    ) -> int | None:
        """A whole number within [low, high]."""
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            number = int(value)
        except ValueError:
            raise self.error(column, f"'{value}' is not a whole number") from None
        if not low <= number <= high:
            raise self.error(column, f"{number} is outside {low}..{high}")
        return number

    def grade(self, column: str) -> int:
        """A grade level: -1 (pre-K), 0 (K) to 12; 'K' and 'PK' are accepted too."""
        value = self.text(column).upper()
        number = {"K": 0, "KG": 0, "PK": -1}.get(value)
        if number is None:
            try:
                number = int(value)
            except ValueError:
                number = None
        if number not in GRADES:
            raise self.error(column, f"'{value}' is not a grade (-1 pre-K, 0 K, 1..12)")
        return number

    def fraction(self, column: str, *, required: bool = True) -> Decimal | None:
        """A share of a day between 0 and 1, with at most three decimals."""
        value = self.text(column, required=required)
        if not value:
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise self.error(column, f"'{value}' is not a number") from None
        if not number.is_finite() or not 0 <= number <= 1:
            raise self.error(column, f"{value} is not a share of a day between 0 and 1")
        if number.as_tuple().exponent < -3:
            raise self.error(column, f"{value} has more than three decimals")
        return number

    def boolean(self, column: str) -> bool:
        """true/false (also 1/0, yes/no)."""
        value = self.text(column).lower()
        if value in TRUE_WORDS:
            return True
        if value in FALSE_WORDS:
            return False
        raise self.error(column, f"'{value}' is not true or false")

    def choice(self, column: str, choices: Iterable[str], *, required: bool = True) -> str:
        """One of the allowed values."""
        value = self.text(column, required=required)
        if (value or required) and value not in choices:
            allowed = ", ".join(sorted(choices))
            raise self.error(column, f"'{value}' is not one of: {allowed}")
        return value

    def reference(self, column: str, known: dict[str, Any], what: str) -> Any:
        """What an id refers to, from an earlier file."""
        value = self.text(column)
        try:
            return known[value]
        except KeyError:
            raise self.error(column, f"{what} '{value}' is not defined") from None


class _Loader:
    """Reads the files in order, mapping local ids to database rows as it goes."""

    def __init__(self, directory: Path, user, progress: bool):
        self.directory = directory
        self.user = user
        self.progress = progress
        self.files: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}
        self.started = time.monotonic()

    def open(self, stem: str) -> _File:
        """Open the next file and note it for the run."""
        file = _File(self.directory, stem)
        self.files.append({"name": file.name, "sha256": file.sha256})
        return file

    def rows(self, file: _File) -> Iterator[_Row]:
        """A file's rows, with a progress bar when asked for."""
        if not self.progress:
            return iter(file)
        from tqdm import tqdm

        return iter(tqdm(file, total=max(0, file.lines - 1), desc=file.name, unit=" rows"))

    def done(self, file: _File, entity: str, inserted: int) -> None:
        """Record how many rows a file had and how many the entity received."""
        self.files[-1]["rows"] = file.rows
        self.counts[entity] = inserted

    def save(self, model: type[models.Model], objects: list[models.Model]) -> list:
        """Insert in batches; the objects come back with their primary keys."""
        return model.objects.bulk_create(objects, batch_size=BATCH_SIZE)

    def insert(
        self,
        model: type[models.Model],
        fields: tuple[str, ...],
        rows: Iterable[tuple],
        known: dict[str, Any] | None = None,
    ) -> int:
        """Insert rows of values for `fields`, batch by batch as they come; return the count.

        For rows whose keys nobody needs back. bulk_create spends about 100 microseconds
        per row preparing values already checked here; a parameterised INSERT (COPY on
        PostgreSQL) is many times faster. Other fields take `known` values or their
        defaults, so a field added to the model later is filled too.
        """
        sql, copy_sql, constants = _insert_statement(model, fields, known or {})
        count = 0
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # COPY streams rows about five times faster than batched INSERTs there.
                with cursor.cursor.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row((*row, *constants))
                        count += 1
                return count
            for batch in itertools.batched(rows, BATCH_SIZE):
                cursor.executemany(sql, [(*row, *constants) for row in batch])
                count += len(batch)
        return count

    def run(self) -> ImportRun:
        """Load every file; return the finished run."""
        self.district = self.load_district()
        self.import_run = ImportRun.objects.create(
            district=self.district, user=self.user, source_format=SOURCE_FORMAT
        )
        self.load_schools()
        self.load_school_years()
        self.load_calendars()
        self.load_students()
        self.load_characteristics()
        self.load_guardians()
        self.load_contact_preferences()
        self.load_student_guardians()
        self.load_enrollments()
        self.load_staff()
        self.load_sections()
        self.load_section_enrollments()
        self.load_attendance_codes()
        self.load_attendance_events()
        run = self.import_run
        run.files = self.files
        run.counts = self.counts
        run.scope = {
            "schools": sorted(self.schools),
            "school_years": sorted(self.years),
        }
        run.status = ImportRun.Status.SUCCEEDED
        run.finished_at = timezone.now()
        run.duration_seconds = round(time.monotonic() - self.started, 3)
        run.save(
            update_fields=["files", "counts", "scope", "status", "finished_at", "duration_seconds"]
        )
        AuditEntry.objects.create(
            user=self.user,
            action=AuditEntry.Action.IMPORT,
            subject=f"import run {run.pk} ({SOURCE_FORMAT})",
            details={"district": self.district.name, "counts": self.counts},
        )
        return run

    def load_district(self) -> District:
        """The single district row; refuse a name the database already holds."""
        file = self.open("district")
        rows = list(file)
        if len(rows) != 1:
            raise GeneratedFileError(
                file.name, None, None, f"expected exactly one district row, found {len(rows)}"
            )
        row = rows[0]
        name = row.text("name", max_length=_max_length(District, "name"))
        state = row.text("state", required=False, max_length=2).upper()
        tz = row.text("timezone")
        if tz not in zoneinfo.available_timezones():
            raise row.error("timezone", f"'{tz}' is not a time zone name (e.g. America/Chicago)")
        if District.objects.filter(name=name).exists():
            raise DistrictExistsError(
                file.name,
                row.line,
                "name",
                f"a district named '{name}' is already in the database; delete it first "
                "(or load into another database)",
            )
        district = District.objects.create(name=name, state=state, timezone=tz)
        self.done(file, "districts", 1)
        return district

    def load_schools(self) -> None:
        """Schools, keyed by local id."""
        file = self.open("schools")
        schools: list[School] = []
        seen: dict[str, int] = {}
        for row in self.rows(file):
            local_id = row.text("school_id", max_length=_max_length(School, "local_id"))
            if local_id in seen:
                raise row.error("school_id", f"'{local_id}' is repeated (line {seen[local_id]})")
            seen[local_id] = row.line
            lowest, highest = row.grade("lowest_grade"), row.grade("highest_grade")
            if lowest > highest:
                raise row.error("highest_grade", "is below lowest_grade")
            schools.append(
                School(
                    district=self.district,
                    local_id=local_id,
                    state_id=row.text("state_id", required=False, max_length=40),
                    name=row.text("name", max_length=_max_length(School, "name")),
                    level=row.choice("level", School.Level.values),
                    lowest_grade=lowest,
                    highest_grade=highest,
                )
            )
        self.schools = {s.local_id: s for s in self.save(School, schools)}
        self.done(file, "schools", len(schools))

    def load_school_years(self) -> None:
        """School years, keyed by name."""
        file = self.open("school_years")
        years: list[SchoolYear] = []
        seen: set[str] = set()
        for row in self.rows(file):
            name = row.text("school_year", max_length=_max_length(SchoolYear, "name"))
            if name in seen:
                raise row.error("school_year", f"'{name}' is repeated")
            seen.add(name)
            start, end = row.date("start_date"), row.date("end_date")
            if end < start:
                raise row.error("end_date", "is before start_date")
            years.append(
                SchoolYear(district=self.district, name=name, start_date=start, end_date=end)
            )
        self.years = {y.name: y for y in self.save(SchoolYear, years)}
        self.done(file, "school_years", len(years))

    def load_calendars(self) -> None:
        """One calendar per school and year; every date of the year, indexed cumulatively."""
        file = self.open("calendar_dates")
        by_calendar: dict[tuple[str, str], list[tuple[dt.date, str, int]]] = defaultdict(list)
        for row in self.rows(file):
            school = row.reference("school_id", self.schools, "school")
            year = row.reference("school_year", self.years, "school year")
            day = row.date("date")
            if not year.contains(day):
                raise row.error("date", f"{day} is outside the school year {year.name}")
            kind = row.choice("kind", CalendarDate.Kind.values)
            by_calendar[(school.local_id, year.name)].append((day, kind, row.line))
        calendars = self.save(
            Calendar,
            [
                Calendar(school=self.schools[s], school_year=self.years[y], code="default")
                for s, y in by_calendar
            ],
        )
        dates: list[tuple] = []
        counted = set(CalendarDate.COUNTED_KINDS)
        for calendar, ((school_id, y), rows) in zip(calendars, by_calendar.items(), strict=True):
            rows.sort()
            year = self.years[y]
            expected, index = year.start_date, 0
            for day, kind, line in rows:
                if day != expected:
                    problem = (
                        "is repeated" if day < expected else f"follows a gap: {expected} missing"
                    )
                    raise GeneratedFileError(file.name, line, "date", f"{day} {problem}")
                index += kind in counted
                dates.append((calendar.pk, day, kind, index))
                expected = day + dt.timedelta(days=1)
            if expected != year.end_date + dt.timedelta(days=1):
                raise GeneratedFileError(
                    file.name,
                    rows[-1][2],
                    "date",
                    f"the calendar of school {school_id} stops before the end of {y} "
                    f"({year.end_date})",
                )
        fields = ("calendar", "date", "kind", "instructional_index")
        self.counts["calendars"] = len(calendars)
        self.done(file, "calendar_dates", self.insert(CalendarDate, fields, dates))

    def load_students(self) -> None:
        """Students, keyed by local id."""
        file = self.open("students")
        students: list[Student] = []
        seen: set[str] = set()
        name_length = _max_length(Student, "first_name")
        for row in self.rows(file):
            local_id = row.text("student_id", max_length=_max_length(Student, "local_id"))
            if local_id in seen:
                raise row.error("student_id", f"'{local_id}' is repeated")
            seen.add(local_id)
            students.append(
                Student(
                    district=self.district,
                    local_id=local_id,
                    state_id=row.text("state_id", required=False, max_length=40),
                    first_name=row.text("first_name", max_length=name_length),
                    middle_name=row.text("middle_name", required=False, max_length=name_length),
                    last_name=row.text("last_name", max_length=name_length),
                    birth_date=row.date("birth_date", required=False),
                    grade=row.grade("grade"),
                    gender=row.choice("gender", Gender.values, required=False) or Gender.UNKNOWN,
                    race_ethnicity=row.choice(
                        "race_ethnicity", RaceEthnicity.values, required=False
                    )
                    or RaceEthnicity.UNKNOWN,
                    home_language=row.choice("home_language", Language.values, required=False)
                    or Language.ENGLISH,
                )
            )
        self.students = {s.local_id: s.pk for s in self.save(Student, students)}
        self.done(file, "students", len(students))

    def load_characteristics(self) -> None:
        """Characteristics held by students for a period."""
        file = self.open("student_characteristics")

        def rows() -> Iterator[tuple]:
            for row in self.rows(file):
                start, end = row.date("start_date"), row.date("end_date", required=False)
                if end is not None and end < start:
                    raise row.error("end_date", "is before start_date")
                yield (
                    row.reference("student_id", self.students, "student"),
                    row.choice("characteristic", StudentCharacteristic.Kind.values),
                    start,
                    end,
                )

        fields = ("student", "kind", "start_date", "end_date")
        self.done(
            file, "student_characteristics", self.insert(StudentCharacteristic, fields, rows())
        )

    def load_guardians(self) -> None:
        """Guardians, keyed by local id."""
        file = self.open("guardians")
        guardians: list[Guardian] = []
        seen: set[str] = set()
        for row in self.rows(file):
            local_id = row.text("guardian_id", max_length=_max_length(Guardian, "local_id"))
            if local_id in seen:
                raise row.error("guardian_id", f"'{local_id}' is repeated")
            seen.add(local_id)
            email = row.text("email", required=False, max_length=254)
            if email:
                try:
                    validate_email(email)
                except ValidationError:
                    raise row.error("email", f"'{email}' is not an email address") from None
            guardians.append(
                Guardian(
                    district=self.district,
                    local_id=local_id,
                    first_name=row.text("first_name", max_length=100),
                    last_name=row.text("last_name", max_length=100),
                    phone=row.text("phone", required=False, max_length=30),
                    email=email,
                    address_line=row.text("address_line", required=False, max_length=200),
                    city=row.text("city", required=False, max_length=100),
                    state=row.text("state", required=False, max_length=2),
                    postal_code=row.text("postal_code", required=False, max_length=10),
                    preferred_language=row.choice(
                        "preferred_language", Language.values, required=False
                    )
                    or Language.ENGLISH,
                )
            )
        self.guardians = {g.local_id: g.pk for g in self.save(Guardian, guardians)}
        self.done(file, "guardians", len(guardians))

    def load_contact_preferences(self) -> None:
        """Per guardian and channel: preferred or not, consent."""
        file = self.open("contact_preferences")
        seen: set[tuple[int, str]] = set()

        def rows() -> Iterator[tuple]:
            for row in self.rows(file):
                guardian = row.reference("guardian_id", self.guardians, "guardian")
                channel = row.choice("channel", ContactChannel.values)
                if (guardian, channel) in seen:
                    raise row.error("channel", f"'{channel}' is repeated for this guardian")
                seen.add((guardian, channel))
                consent = row.choice("consent", ContactPreference.Consent.values)
                yield guardian, channel, row.boolean("preferred"), consent

        fields = ("guardian", "channel", "preferred", "consent")
        known = {"updated_at": timezone.now()}
        self.done(
            file, "contact_preferences", self.insert(ContactPreference, fields, rows(), known)
        )

    def load_student_guardians(self) -> None:
        """Which guardian belongs to which student, and in what order to call."""
        file = self.open("student_guardians")
        seen: set[tuple[int, int]] = set()

        def rows() -> Iterator[tuple]:
            for row in self.rows(file):
                student = row.reference("student_id", self.students, "student")
                guardian = row.reference("guardian_id", self.guardians, "guardian")
                if (student, guardian) in seen:
                    raise row.error("guardian_id", "this student and guardian are linked twice")
                seen.add((student, guardian))
                yield (
                    student,
                    guardian,
                    row.choice("relationship", StudentGuardian.Relationship.values),
                    row.integer("contact_priority", low=1),
                    row.boolean("lives_with"),
                )

        fields = ("student", "guardian", "relationship", "contact_priority", "lives_with")
        self.done(file, "student_guardians", self.insert(StudentGuardian, fields, rows()))

    def load_enrollments(self) -> None:
        """Enrollment spans, each remembering its run, file and line."""
        file = self.open("enrollments")
        schools = {local_id: school.pk for local_id, school in self.schools.items()}
        years = {name: year.pk for name, year in self.years.items()}

        def rows() -> Iterator[tuple]:
            for row in self.rows(file):
                entry, exit_date = row.date("entry_date"), row.date("exit_date", required=False)
                if exit_date is not None and exit_date < entry:
                    raise row.error("exit_date", "is before entry_date")
                yield (
                    row.reference("student_id", self.students, "student"),
                    row.reference("school_id", schools, "school"),
                    row.reference("school_year", years, "school year"),
                    row.grade("grade"),
                    entry,
                    exit_date,
                    row.text("exit_reason", required=False, max_length=100),
                    row.line,
                )

        fields = (
            "student",
            "school",
            "school_year",
            "grade",
            "entry_date",
            "exit_date",
            "exit_reason",
            "source_line",
        )
        known = {"source_run": self.import_run.pk, "source_file": file.name}
        self.done(file, "enrollments", self.insert(Enrollment, fields, rows(), known))

    def load_staff(self) -> None:
        """Staff are checked but not stored: accounts are made by whoever needs them."""
        file = self.open("staff")
        self.staff: set[str] = set()
        for row in self.rows(file):
            staff_id = row.text("staff_id")
            if staff_id in self.staff:
                raise row.error("staff_id", f"'{staff_id}' is repeated")
            self.staff.add(staff_id)
            row.reference("school_id", self.schools, "school")
            row.text("first_name")
            row.text("last_name")
        self.done(file, "staff", 0)

    def load_sections(self) -> None:
        """Sections, keyed by (school, year, local id); teachers are left to accounts."""
        file = self.open("sections")
        sections: list[Section] = []
        seen: set[tuple[str, str, str]] = set()
        for row in self.rows(file):
            school = row.reference("school_id", self.schools, "school")
            year = row.reference("school_year", self.years, "school year")
            local_id = row.text("section_id", max_length=_max_length(Section, "local_id"))
            key = (school.local_id, year.name, local_id)
            if key in seen:
                raise row.error("section_id", f"'{local_id}' is repeated for this school and year")
            seen.add(key)
            teacher = row.text("teacher_id", required=False)
            if teacher and teacher not in self.staff:
                raise row.error("teacher_id", f"staff member '{teacher}' is not in staff.csv")
            if row.text("grade", required=False):
                row.grade("grade")
            sections.append(
                Section(
                    school=school,
                    school_year=year,
                    local_id=local_id,
                    name=row.text("name", max_length=_max_length(Section, "name")),
                    period=row.text("period", required=False, max_length=20),
                    is_homeroom=row.boolean("is_homeroom"),
                )
            )
        saved = self.save(Section, sections)
        self.sections = {(s.school.local_id, s.school_year.name, s.local_id): s.pk for s in saved}
        self.done(file, "sections", len(sections))

    def load_section_enrollments(self) -> None:
        """Students' memberships of sections."""
        file = self.open("section_enrollments")

        def rows() -> Iterator[tuple]:
            for row in self.rows(file):
                key = (row.text("school_id"), row.text("school_year"), row.text("section_id"))
                if key not in self.sections:
                    raise row.error(
                        "section_id",
                        f"section '{key[2]}' of school {key[0]} in {key[1]} is not defined",
                    )
                start, end = row.date("start_date"), row.date("end_date", required=False)
                if end is not None and end < start:
                    raise row.error("end_date", "is before start_date")
                student = row.reference("student_id", self.students, "student")
                yield student, self.sections[key], start, end

        fields = ("student", "section", "start_date", "end_date")
        self.done(file, "section_enrollments", self.insert(SectionEnrollment, fields, rows()))

    def load_attendance_codes(self) -> None:
        """The district's local attendance codes and their categories."""
        file = self.open("attendance_codes")
        codes: list[AttendanceCode] = []
        seen: set[str] = set()
        for row in self.rows(file):
            code = row.text("code", max_length=_max_length(AttendanceCode, "code"))
            if code in seen:
                raise row.error("code", f"'{code}' is repeated")
            seen.add(code)
            codes.append(
                AttendanceCode(
                    district=self.district,
                    code=code,
                    description=row.text("description", max_length=200),
                    category=row.choice("category", Category.values),
                    day_fraction=row.fraction("day_fraction"),
                )
            )
        self.codes = {c.code: c.pk for c in self.save(AttendanceCode, codes)}
        self.done(file, "attendance_codes", len(codes))

    def load_attendance_events(self) -> None:
        """Attendance events (exceptions only), inserted batch by batch as they are read."""
        file = self.open("attendance_events")
        schools = {local_id: school.pk for local_id, school in self.schools.items()}

        def rows() -> Iterator[tuple]:
            for row in self.rows(file):
                yield (
                    row.reference("student_id", self.students, "student"),
                    row.reference("school_id", schools, "school"),
                    row.date("date"),
                    row.reference("code", self.codes, "attendance code"),
                    row.fraction("day_fraction", required=False),
                    row.integer("minutes_missed", required=False),
                    row.text("reason", required=False, max_length=200),
                    row.line,
                )

        fields = (
            "student",
            "school",
            "date",
            "code",
            "day_fraction",
            "minutes_missed",
            "reason",
            "source_line",
        )
        known = {"source_run": self.import_run.pk, "source_file": file.name}
        self.done(file, "attendance_events", self.insert(AttendanceEvent, fields, rows(), known))


def _insert_statement(
    model: type[models.Model], fields: tuple[str, ...], known: dict[str, Any]
) -> tuple[str, str, tuple]:
    """INSERT and COPY for rows of (values of `fields`..., constants...), and the constants.

    Every other concrete field is a constant: its `known` value or its default, prepared
    for the database as Django would.
    """
    quote = connection.ops.quote_name
    given = [model._meta.get_field(name) for name in fields]
    others = [f for f in model._meta.concrete_fields if not f.primary_key and f.name not in fields]
    constants = tuple(
        f.get_db_prep_save(known[f.name] if f.name in known else f.get_default(), connection)
        for f in others
    )
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in [*given, *others])
    placeholders = ", ".join(["%s"] * (len(given) + len(others)))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
    return sql, f"COPY {table} ({columns}) FROM STDIN", constants


def load_generated_district(
    directory: Path, *, user: User | None = None, progress: bool = False
) -> ImportRun:
    """Load the generated district in `directory` atomically; raise GeneratedFileError if bad."""
    directory = Path(directory)
    if not directory.is_dir():
        raise GeneratedFileError(str(directory), None, None, "is not a directory")
    with transaction.atomic():
        return _Loader(directory, user, progress).run()


def teacher_sections(directory: Path) -> dict[str, list[tuple[str, str, str]]]:
    """Per staff id in sections.csv: (school id, school year, section id) of their sections."""
    file = _File(Path(directory), "sections")
    taught: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for row in file:
        teacher = row.text("teacher_id", required=False)
        if teacher:
            taught[teacher].append(
                (row.text("school_id"), row.text("school_year"), row.text("section_id"))
            )
    return dict(taught)


def delete_district(district: District, *, user: User | None = None) -> dict[str, int]:
    """Delete a district and everything under it, children first, in one transaction.

    Staff accounts of the district go too. Returns the rows deleted per model.
    """
    deleted: dict[str, int] = defaultdict(int)

    def remove(queryset: models.QuerySet) -> None:
        _total, per_model = queryset.delete()
        for label, count in per_model.items():
            deleted[label] += count

    name = district.name
    if user is not None and user.district_id == district.pk:
        user = None  # the account goes with the district; the trail keeps the deletion
    with transaction.atomic():
        remove(
            AttendanceEvent.objects.filter(
                Q(school__district=district) | Q(student__district=district)
            )
        )
        remove(SectionEnrollment.objects.filter(section__school__district=district))
        remove(Section.objects.filter(school__district=district))
        remove(
            Enrollment.objects.filter(Q(school__district=district) | Q(student__district=district))
        )
        remove(StudentCharacteristic.objects.filter(student__district=district))
        remove(StudentGuardian.objects.filter(student__district=district))
        remove(ContactPreference.objects.filter(guardian__district=district))
        remove(Student.objects.filter(district=district))
        remove(Guardian.objects.filter(district=district))
        remove(AttendanceCode.objects.filter(district=district))
        remove(User.objects.filter(district=district))
        remove(CalendarDate.objects.filter(calendar__school__district=district))
        remove(Calendar.objects.filter(school__district=district))
        remove(ImportRun.objects.filter(district=district))
        remove(School.objects.filter(district=district))
        remove(SchoolYear.objects.filter(district=district))
        remove(District.objects.filter(pk=district.pk))
        AuditEntry.objects.create(
            user=user,
            action=AuditEntry.Action.DELETE,
            subject=f"district {name}",
            details={"deleted": dict(deleted)},
        )
    return dict(deleted)
