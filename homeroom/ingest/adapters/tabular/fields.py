"""What each record field of a mapping profile accepts, and the converters from cell text.

Shared by the profile checks (`profiles.py`) and the reader's converters (`cells.py`): a
value that cannot become its field raises `CellError` with the problem code and how to fix it.
"""

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from homeroom.attendance.models import Category
from homeroom.core.models import CalendarDate, School
from homeroom.ingest import records
from homeroom.ingest.adapters import vocabulary
from homeroom.ingest.adapters.vocabulary import LIMITS, SIS_GRADE_WORDS, date_accepted
from homeroom.roster.models import (
    ContactChannel,
    ContactPreference,
    Gender,
    Language,
    RaceEthnicity,
    StudentCharacteristic,
    StudentGuardian,
)

ABSENT_CATEGORIES = frozenset(
    {Category.EXCUSED, Category.UNEXCUSED, Category.OUT_OF_SCHOOL_SUSPENSION}
)
DEFAULT_DAY_FRACTION = {
    Category.EXCUSED: Decimal(1),
    Category.UNEXCUSED: Decimal(1),
    Category.OUT_OF_SCHOOL_SUSPENSION: Decimal(1),
    Category.PARTIAL: Decimal("0.5"),
}
ISO_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")
MONTH_FIRST = ("%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y")
DAY_FIRST = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")
AUTO_FORMATS = ISO_FORMATS + MONTH_FIRST + DAY_FIRST
TIME_SUFFIX = re.compile(
    r"^(?P<date>[^\sT]+)(?:[T ]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm])?"
    r"(?:Z|[+-]\d{2}:?\d{2})?)$"
)
TRUE_WORDS = vocabulary.TRUE_WORDS | {"x"}  # a check mark in a spreadsheet column
FALSE_WORDS = vocabulary.FALSE_WORDS


class CellError(Exception):
    """A value that cannot become its field: the problem code, message and how to fix it."""

    def __init__(self, code: str, message: str, hint: str = ""):
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


class SkipRow(Exception):
    """The row yields no record for this mapping (a field with `blank = "skip"` is blank)."""


OMIT = object()  # the field is blank and optional: the record's own default applies


# ---------------------------------------------------------------------------------------
# Field types: what each record field accepts, shared by profile checks and the reader.


def _choices(choices: type) -> dict[str, str]:
    """Lower-cased values and labels of a Django choices class -> the stored value."""
    table = {}
    for value, label in choices.choices:
        table[str(label).lower()] = value
    for value in choices.values:
        table[str(value).lower()] = value
    return table


@dataclass(frozen=True)
class FieldType:
    """What a record field holds: text, id, date, grade, integer, fraction, flag or choice."""

    kind: str
    required: bool = False
    max_length: int | None = None
    choices: dict[str, str] | None = None
    id_kind: str = ""
    minimum: int = 0
    maximum: int = 32767


def _text(limit: str, required: bool = False) -> FieldType:
    """Free text no longer than its column holds (`limit` names the width in LIMITS)."""
    return FieldType("text", required, LIMITS[limit])


def _id(id_kind: str, required: bool = True) -> FieldType:
    """A local id of a student, school, guardian or section (the profile's id scheme applies)."""
    return FieldType("id", required, LIMITS["local_id"], id_kind=id_kind)


def _choice(choices: type, required: bool = False) -> FieldType:
    """One of a model's choices."""
    return FieldType("choice", required, choices=_choices(choices))


DATE = FieldType("date")
REQUIRED_DATE = FieldType("date", True)
GRADE = FieldType("grade")
REQUIRED_GRADE = FieldType("grade", True)
YEAR_NAME = _text("school_year", True)
FLAG = FieldType("boolean")

ENTITIES: dict[str, tuple[type, dict[str, FieldType]]] = {
    "schools": (
        records.SchoolRecord,
        {
            "local_id": _id("school"),
            "name": _text("school_name", True),
            "state_id": _text("state_id"),
            "level": _choice(School.Level),
            "lowest_grade": GRADE,
            "highest_grade": GRADE,
        },
    ),
    "school_years": (
        records.SchoolYearRecord,
        {"name": YEAR_NAME, "start_date": REQUIRED_DATE, "end_date": REQUIRED_DATE},
    ),
    "calendar_dates": (
        records.CalendarDateRecord,
        {
            "school_id": _id("school"),
            "school_year": YEAR_NAME,
            "date": REQUIRED_DATE,
            "kind": _choice(CalendarDate.Kind, True),
            "calendar_code": _text("calendar_code"),
        },
    ),
    "students": (
        records.StudentRecord,
        {
            "local_id": _id("student"),
            "first_name": _text("name", True),
            "last_name": _text("name", True),
            "grade": REQUIRED_GRADE,
            "middle_name": _text("name"),
            "state_id": _text("state_id"),
            "birth_date": DATE,
            "gender": _choice(Gender),
            "race_ethnicity": _choice(RaceEthnicity),
            "home_language": _choice(Language),
        },
    ),
    "characteristics": (
        records.CharacteristicRecord,
        {
            "student_id": _id("student"),
            "kind": _choice(StudentCharacteristic.Kind, True),
            "start_date": REQUIRED_DATE,
            "end_date": DATE,
        },
    ),
    "guardians": (
        records.GuardianRecord,
        {
            "local_id": _id("guardian"),
            "first_name": _text("name", True),
            "last_name": _text("name", True),
            "phone": _text("phone"),
            "email": _text("email"),
            "address_line": _text("address"),
            "city": _text("city"),
            "state": _text("state"),
            "postal_code": _text("postal"),
            "preferred_language": _choice(Language),
        },
    ),
    "student_guardians": (
        records.StudentGuardianRecord,
        {
            "student_id": _id("student"),
            "guardian_id": _id("guardian"),
            "relationship": _choice(StudentGuardian.Relationship, True),
            "contact_priority": FieldType("integer", maximum=32767),
            "lives_with": FLAG,
        },
    ),
    "contact_preferences": (
        records.ContactPreferenceRecord,
        {
            "guardian_id": _id("guardian"),
            "channel": _choice(ContactChannel, True),
            "preferred": FLAG,
            "consent": _choice(ContactPreference.Consent),
        },
    ),
    "enrollments": (
        records.EnrollmentRecord,
        {
            "student_id": _id("student"),
            "school_id": _id("school"),
            "school_year": YEAR_NAME,
            "grade": REQUIRED_GRADE,
            "entry_date": REQUIRED_DATE,
            "exit_date": DATE,
            "exit_reason": _text("exit_reason"),
        },
    ),
    "sections": (
        records.SectionRecord,
        {
            "school_id": _id("school"),
            "school_year": YEAR_NAME,
            "local_id": _id("section"),
            "name": _text("title", True),
            "period": _text("period"),
            "is_homeroom": FLAG,
            # Teachers are named by username or email: each no longer than an email.
            "teacher_ids": FieldType("list", max_length=LIMITS["email"]),
        },
    ),
    "section_enrollments": (
        records.SectionEnrollmentRecord,
        {
            "student_id": _id("student"),
            "school_id": _id("school"),
            "school_year": YEAR_NAME,
            "section_id": _id("section"),
            "start_date": REQUIRED_DATE,
            "end_date": DATE,
        },
    ),
    "student_interventions": (
        records.StudentInterventionRecord,
        {
            "student_id": _id("student"),
            "code": _text("intervention_code", True),
            "start_date": REQUIRED_DATE,
            "name": _text("intervention_name"),
            "end_date": DATE,
            "school_id": _id("school", required=False),
        },
    ),
    "attendance_codes": (
        records.AttendanceCodeRecord,
        {
            "code": _text("code", True),
            "description": _text("description"),  # default: the code
            "category": _choice(Category, True),
            "day_fraction": FieldType("fraction"),  # default: from the category
        },
    ),
    "attendance": (
        records.AttendanceRecord,
        {
            "student_id": _id("student"),
            "school_id": _id("school"),
            "date": REQUIRED_DATE,
            "code": FieldType("code", True, LIMITS["code"]),
            "day_fraction": FieldType("fraction"),
            "minutes_missed": FieldType("integer", maximum=1440),
            "period": _text("period"),
            "reason": _text("reason"),
        },
    ),
}
# ---------------------------------------------------------------------------------------
# Converters: text of a cell -> typed value, raising CellError with a fix in the hint.


class DateParser:
    """Parses dates in the profile's format(s); an order the formats leave open is an error."""

    def __init__(self, formats: tuple[str, ...] | None):
        self.formats = formats or AUTO_FORMATS
        self.automatic = formats is None
        self.cache: dict[str, dt.date] = {}

    def __call__(self, text: str) -> dt.date:
        """The date `text` denotes, or CellError (bad_date, ambiguous_date)."""
        if (cached := self.cache.get(text)) is not None:
            return cached
        match = TIME_SUFFIX.match(text)
        day_text = match["date"] if match else text
        found: dict[dt.date, str] = {}
        for fmt in self.formats:
            try:
                found.setdefault(dt.datetime.strptime(day_text, fmt).date(), fmt)
            except ValueError:
                continue
        found = {day: fmt for day, fmt in found.items() if date_accepted(day)}
        if len(found) == 1:
            value = next(iter(found))
            if len(self.cache) < 100_000:
                self.cache[text] = value
            return value
        if not found:
            expected = "a date like 2022-01-31" if self.automatic else " or ".join(self.formats)
            raise CellError(
                "bad_date",
                f"not a date between 1900 and 2100: expected {expected}",
                "Fix the value, or set date_format in the profile to the file's format"
                ' (e.g. date_format = "%m/%d/%Y").',
            )
        readings = " or ".join(sorted(d.isoformat() for d in found))
        raise CellError(
            "ambiguous_date",
            f"ambiguous date: it could be {readings} (month and day order unknown)",
            'Set date_format in the profile: date_format = "%m/%d/%Y" for month first,'
            ' or "%d/%m/%Y" for day first.',
        )


def parse_grade(text: str) -> int:
    """A grade level: PK (-1), K (0) or 1-12; CellError otherwise."""
    word = text.strip().upper()
    if word in SIS_GRADE_WORDS:
        return SIS_GRADE_WORDS[word]
    try:
        number = Decimal(word)
    except InvalidOperation:
        number = None
    if number is not None and number.is_finite() and -1 <= number <= 12 and number == int(number):
        return int(number)
    raise CellError(
        "bad_grade",
        "not a grade: expected PK, K or 1 to 12 (-1 and 0 mean PK and K)",
        'Map the district\'s grade names in the profile, e.g. map = { TK = "PK" }.',
    )


def parse_integer(text: str, minimum: int, maximum: int) -> int:
    """A whole number in [minimum, maximum]; CellError otherwise."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise CellError("bad_number", "not a whole number", "Fix the value in the file.")
    if not minimum <= number <= maximum:
        raise CellError(
            "bad_number",
            f"out of range: expected {minimum} to {maximum}",
            "Fix the value in the file.",
        )
    if number != int(number):
        raise CellError("bad_number", "not a whole number", "Fix the value in the file.")
    return int(number)


def parse_fraction(text: str) -> Decimal:
    """A share of a day from 0 to 1 (a decimal comma is accepted); CellError otherwise."""
    if re.fullmatch(r"\d*,\d+", text):
        text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise CellError("bad_number", "not a number", "Fix the value in the file.")
    if not 0 <= number <= 1:
        raise CellError(
            "bad_number",
            "a share of a day must be between 0 and 1",
            "Give the share of the day missed (0.5 for half a day), not minutes or percent.",
        )
    return number.quantize(Decimal("0.001"))


def parse_boolean(text: str) -> bool:
    """true/false, yes/no, y/n, 1/0, t/f, x; CellError otherwise."""
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellError(
        "bad_value", "not a yes/no value: expected true or false", "Map it with map = {...}."
    )


def parse_choice(text: str, choices: dict[str, str]) -> str:
    """One of the stored values (a value or label, any case); CellError otherwise."""
    value = choices.get(text.lower())
    if value is None:
        allowed = ", ".join(sorted(set(choices.values())))
        raise CellError(
            "bad_value",
            f"not an accepted value: expected one of {allowed}",
            "Map the district's value in the profile (map = { ... }).",
        )
    return value


def convert(text: str, field_type: FieldType, dates: DateParser) -> Any:
    """Turn non-blank cell text into the field's value (CellError when it cannot)."""
    kind = field_type.kind
    if kind == "date":
        return dates(text)
    if kind == "grade":
        return parse_grade(text)
    if kind == "integer":
        return parse_integer(text, field_type.minimum, field_type.maximum)
    if kind == "fraction":
        return parse_fraction(text)
    if kind == "boolean":
        return parse_boolean(text)
    if kind == "choice":
        return parse_choice(text, field_type.choices or {})
    if field_type.max_length and len(text) > field_type.max_length:
        raise CellError(
            "too_long",
            f"longer than {field_type.max_length} characters",
            "Shorten the value in the file.",
        )
    return text
