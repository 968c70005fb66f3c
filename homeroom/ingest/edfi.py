"""Ed-Fi adapter: interchange XML (Data Standard 3 to 5) and ODS/API JSON into one `Batch`.

One mapping, two parsers. Each parser turns a source element (an XML element of an
interchange, or one resource of an API response array) into an `Item`: the values of the
fields named in `RESOURCES`, each with the file, line and element or key it came from.
`_Reader` maps items to normalized records the same way whatever the parser was, and
finishes the batch once every file is read (references between files, the roll-up of
section attendance, grades, implied enrollments). docs/import-edfi.md describes the rules.

Bad input never raises: it becomes `batch.error(...)` with file, line, element and value.
A file that is not well-formed (truncated, damaged) contributes nothing but its error.
"""

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import (
    AttendanceCodeRecord,
    AttendanceRecord,
    Batch,
    CalendarDateRecord,
    CharacteristicRecord,
    EnrollmentRecord,
    GuardianRecord,
    SchoolRecord,
    SchoolYearRecord,
    StudentGuardianRecord,
    StudentRecord,
    Where,
)

# ---------------------------------------------------------------------------------------
# What a parser hands the mapping


@dataclass(frozen=True, slots=True)
class Value:
    """A field's text as found in the source, and where it was found."""

    text: str
    where: Where


@dataclass(frozen=True, slots=True)
class Ref:
    """An XML reference by `ref="..."` to another element's `id`, resolved once all is read."""

    ref: str
    name: str
    where: Where


@dataclass(slots=True)
class Item:
    """One source element or resource: its field values and repeated sub-items."""

    element: str
    where: Where
    values: dict[str, Value | Ref] = field(default_factory=dict)
    lists: dict[str, list["Item"]] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Field:
    """A field of a resource: its XML paths (local names) and JSON paths (dotted keys).

    With `many`, the first paths name the repeated element (XML) or array (JSON) and
    `many` describes the fields of each entry. In XML, "." is the element's own text and
    "a//b" is the first `b` anywhere under `a`.
    """

    name: str
    xml: tuple[str, ...]
    json: tuple[str, ...]
    many: tuple["Field", ...] = ()


def _f(name: str, xml: str | tuple[str, ...], json: str | tuple[str, ...], *many: Field) -> Field:
    """Shorthand for a `Field` with one or several alternative paths."""
    as_tuple = lambda v: (v,) if isinstance(v, str) else v  # noqa: E731
    return Field(name, as_tuple(xml), as_tuple(json), tuple(many))


STUDENT = _f(
    "student",
    ("StudentReference/StudentIdentity/StudentUniqueId", "StudentReference/StudentUniqueId"),
    "studentReference.studentUniqueId",
)
SCHOOL = _f("school", "SchoolReference/SchoolIdentity/SchoolId", "schoolReference.schoolId")
PERIODS = _f(
    "periods",
    "Period",
    "periods",
    _f("begin", "BeginDate", "beginDate"),
    _f("end", "EndDate", "endDate"),
)
LANGUAGES = _f(
    "languages",
    "Language",
    "languages",
    _f("language", "Language", "languageDescriptor"),
    _f("uses", "LanguageUse", "uses", _f("use", ".", "languageUseDescriptor")),
)
EVENT = (
    STUDENT,
    _f("date", ("AttendanceEvent/EventDate", "EventDate"), "eventDate"),
    _f(
        "category",
        ("AttendanceEvent/AttendanceEventCategory", "AttendanceEventCategory"),
        "attendanceEventCategoryDescriptor",
    ),
    _f(
        "reason",
        ("AttendanceEvent/AttendanceEventReason", "AttendanceEventReason"),
        "attendanceEventReason",
    ),
    _f("duration", ("AttendanceEvent/EventDuration", "EventDuration"), "eventDuration"),
)
PROGRAM = (
    STUDENT,
    _f(
        "program_type",
        "ProgramReference/ProgramIdentity/ProgramType",
        ("programReference.programTypeDescriptor",),
    ),
    _f(
        "program_name",
        "ProgramReference/ProgramIdentity/ProgramName",
        "programReference.programName",
    ),
    _f("begin", "BeginDate", "beginDate"),
    _f("end", "EndDate", "endDate"),
    _f("el_participation", "EnglishLearnerParticipation", "englishLearnerParticipation"),
    _f("eligible_504", "Section504Eligibility", "section504Eligibility"),
    _f(
        "food_services",
        "SchoolFoodServiceProgramService",
        "schoolFoodServiceProgramServices",
        _f(
            "service",
            "SchoolFoodServiceProgramService",
            "schoolFoodServiceProgramServiceDescriptor",
        ),
    ),
)
CONTACT = (
    _f("id", ("ContactUniqueId", "ParentUniqueId"), ("contactUniqueId", "parentUniqueId")),
    _f("first", ("Name/FirstName", "FirstName"), "firstName"),
    _f("last", ("Name/LastSurname", "LastSurname"), "lastSurname"),
    _f(
        "phones",
        "Telephone",
        "telephones",
        _f("number", "TelephoneNumber", "telephoneNumber"),
        _f("type", "TelephoneNumberType", "telephoneNumberTypeDescriptor"),
        _f("priority", "OrderOfPriority", "orderOfPriority"),
    ),
    _f(
        "emails",
        "ElectronicMail",
        "electronicMails",
        _f("address", "ElectronicMailAddress", "electronicMailAddress"),
        _f("primary", "PrimaryEmailAddressIndicator", "primaryEmailAddressIndicator"),
    ),
    _f(
        "addresses",
        "Address",
        "addresses",
        _f("street", "StreetNumberName", "streetNumberName"),
        _f("apartment", "ApartmentRoomSuiteNumber", "apartmentRoomSuiteNumber"),
        _f("city", "City", "city"),
        _f("state", "StateAbbreviation", "stateAbbreviationDescriptor"),
        _f("postal", "PostalCode", "postalCode"),
        _f("type", "AddressType", "addressTypeDescriptor"),
    ),
    LANGUAGES,
)
CONTACT_LINK = (
    STUDENT,
    _f(
        "contact",
        (
            "ContactReference/ContactIdentity/ContactUniqueId",
            "ParentReference/ParentIdentity/ParentUniqueId",
        ),
        ("contactReference.contactUniqueId", "parentReference.parentUniqueId"),
    ),
    _f("relation", "Relation", "relationDescriptor"),
    _f("primary", "PrimaryContactStatus", "primaryContactStatus"),
    _f("lives_with", "LivesWith", "livesWith"),
    _f("priority", "ContactPriority", "contactPriority"),
    _f("legal_guardian", "LegalGuardian", "legalGuardian"),
)
PROGRAM_KINDS = {
    "StudentProgramAssociation": "",
    "StudentSpecialEducationProgramAssociation": "iep",
    "StudentLanguageInstructionProgramAssociation": "english_learner",
    "StudentHomelessProgramAssociation": "homeless",
    "StudentSchoolFoodServiceProgramAssociation": "econ_disadvantaged",
    "StudentMigrantEducationProgramAssociation": "migrant",
    "StudentSection504ProgramAssociation": "section_504",
    "StudentCTEProgramAssociation": "",
    "StudentTitleIPartAProgramAssociation": "",
    "StudentNeglectedOrDelinquentProgramAssociation": "",
}

# The elements read, by Ed-Fi name (the ODS/API resource is the camelCase plural).
RESOURCES: dict[str, tuple[Field, ...]] = {
    "School": (
        _f("id", "SchoolId", "schoolId"),
        _f("name", "NameOfInstitution", "nameOfInstitution"),
        _f("grades", "GradeLevel", "gradeLevels", _f("grade", ".", "gradeLevelDescriptor")),
        _f(
            "categories",
            "SchoolCategory",
            "schoolCategories",
            _f("category", ".", "schoolCategoryDescriptor"),
        ),
        _f(
            "codes",
            "EducationOrganizationIdentificationCode",
            "identificationCodes",
            _f(
                "system",
                "EducationOrganizationIdentificationSystem",
                "educationOrganizationIdentificationSystemDescriptor",
            ),
            _f("code", "IdentificationCode", "identificationCode"),
        ),
    ),
    "Session": (
        SCHOOL,
        _f("name", "SessionName", "sessionName"),
        _f("school_year", "SchoolYear", ("schoolYearTypeReference.schoolYear", "schoolYear")),
        _f("begin", "BeginDate", "beginDate"),
        _f("end", "EndDate", "endDate"),
    ),
    "Calendar": (),
    "CalendarDate": (
        _f("date", "Date", "date"),
        _f(
            "events", "CalendarEvent", "calendarEvents", _f("event", ".", "calendarEventDescriptor")
        ),
        _f(
            "calendar",
            "CalendarReference/CalendarIdentity/CalendarCode",
            "calendarReference.calendarCode",
        ),
        _f(
            "school",
            "CalendarReference/CalendarIdentity/SchoolReference/SchoolIdentity/SchoolId",
            "calendarReference.schoolId",
        ),
        _f(
            "school_year",
            "CalendarReference/CalendarIdentity/SchoolYear",
            "calendarReference.schoolYear",
        ),
    ),
    "AttendanceEventCategoryDescriptor": (
        _f("code", "CodeValue", "codeValue"),
        _f("description", "Description", "description"),
        _f("short", "ShortDescription", "shortDescription"),
    ),
    "Student": (
        _f("id", "StudentUniqueId", "studentUniqueId"),
        _f("first", ("Name/FirstName", "FirstName"), "firstName"),
        _f("middle", ("Name/MiddleName", "MiddleName"), "middleName"),
        _f("last", ("Name/LastSurname", "LastSurname"), "lastSurname"),
        _f("birth", ("BirthData/BirthDate", "BirthDate"), "birthDate"),
        _f("birth_sex", ("BirthData/BirthSex", "BirthSex"), "birthSexDescriptor"),
    ),
    "StudentEducationOrganizationAssociation": (
        STUDENT,
        _f("sex", "Sex", "sexDescriptor"),
        _f("hispanic", "HispanicLatinoEthnicity", "hispanicLatinoEthnicity"),
        _f("races", "Race", "races", _f("race", ".", "raceDescriptor")),
        _f("lep", "LimitedEnglishProficiency", "limitedEnglishProficiencyDescriptor"),
        _f(
            "characteristics",
            "StudentCharacteristic",
            "studentCharacteristics",
            _f("kind", "StudentCharacteristic", "studentCharacteristicDescriptor"),
            PERIODS,
        ),
        _f(
            "indicators",
            "StudentIndicator",
            "studentIndicators",
            _f("name", "IndicatorName", "indicatorName"),
            _f("value", "Indicator", "indicator"),
            PERIODS,
        ),
        LANGUAGES,
    ),
    **dict.fromkeys(PROGRAM_KINDS, PROGRAM),
    "Contact": CONTACT,
    "Parent": CONTACT,
    "StudentContactAssociation": CONTACT_LINK,
    "StudentParentAssociation": CONTACT_LINK,
    "StudentSchoolAssociation": (
        STUDENT,
        SCHOOL,
        _f("school_year", "SchoolYear", ("schoolYear", "schoolYearTypeReference.schoolYear")),
        _f("entry", "EntryDate", "entryDate"),
        _f("grade", "EntryGradeLevel", "entryGradeLevelDescriptor"),
        _f("exit", "ExitWithdrawDate", "exitWithdrawDate"),
        _f("exit_type", "ExitWithdrawType", "exitWithdrawTypeDescriptor"),
    ),
    "StudentSchoolAttendanceEvent": (
        *EVENT,
        SCHOOL,
        _f("minutes", "SchoolAttendanceDuration", "schoolAttendanceDuration"),
        _f(
            "school_year",
            "SessionReference/SessionIdentity/SchoolYear",
            "sessionReference.schoolYear",
        ),
    ),
    "StudentSectionAttendanceEvent": (
        *EVENT,
        _f("school", "SectionReference//SchoolId", "sectionReference.schoolId"),
        _f(
            "section",
            "SectionReference/SectionIdentity/SectionIdentifier",
            "sectionReference.sectionIdentifier",
        ),
        _f("minutes", "SectionAttendanceDuration", "sectionAttendanceDuration"),
        _f("school_year", "SectionReference//SchoolYear", "sectionReference.schoolYear"),
    ),
}

INTERCHANGES = {
    "InterchangeEducationOrganization",
    "InterchangeEducationOrgCalendar",
    "InterchangeDescriptors",
    "InterchangeStudent",
    "InterchangeStudentEnrollment",
    "InterchangeStudentAttendance",
    "InterchangeStudentProgram",
    "InterchangeContact",
    "InterchangeParent",
    "InterchangeStudentParent",
    "InterchangeStudentIntervention",
    "InterchangeMasterSchedule",
    "InterchangeStaffAssociation",
    "InterchangeStudentCohort",
    "InterchangeStudentGrade",
    "InterchangeStudentTranscript",
    "InterchangeAssessmentMetadata",
    "InterchangeStudentAssessment",
    "InterchangeStudentGradebook",
    "InterchangeStudentDiscipline",
    "InterchangeFinance",
    "InterchangeSurvey",
    "InterchangeStandards",
    "InterchangePostSecondaryEvent",
}
NAMESPACE = re.compile(r"^http://ed-fi\.org/(0[3-5]\d\d|[3-5](\.\d+){0,2})$")
IDENTITY = {
    "StudentUniqueId",
    "ContactUniqueId",
    "ParentUniqueId",
    "SchoolId",
    "CalendarCode",
    "SchoolYear",
    "SessionName",
    "SectionIdentifier",
}

# ---------------------------------------------------------------------------------------
# Descriptor values and what they mean in Homeroom (keys: CodeValue, lower case)

CATEGORIES: dict[str, tuple[str, Decimal]] = {
    "in attendance": ("present", Decimal(0)),
    "present": ("present", Decimal(0)),
    "excused absence": ("excused", Decimal(1)),
    "unexcused absence": ("unexcused", Decimal(1)),
    "tardy": ("tardy", Decimal(0)),
    "early departure": ("early_departure", Decimal(0)),
    "partial": ("partial", Decimal("0.5")),
    "out of school suspension": ("oss", Decimal(1)),
    "out-of-school suspension": ("oss", Decimal(1)),
    "in school suspension": ("iss", Decimal(0)),
    "in-school suspension": ("iss", Decimal(0)),
    "attendance not taken": ("not_taken", Decimal(0)),
    "not taken": ("not_taken", Decimal(0)),
}
CALENDAR_KINDS = {
    "instructional day": "instructional",
    "student late arrival/early dismissal": "instructional",
    "make-up day": "makeup",
    "makeup day": "makeup",
    "holiday": "holiday",
    "teacher only day": "staff",
    "staff day": "staff",
    "weekend": "weekend",
    "emergency day": "other",
    "strike": "other",
    "weather day": "other",
    "non-instructional day": "other",
    "other": "other",
}
ORDINALS = (
    *("first", "second", "third", "fourth", "fifth", "sixth"),
    *("seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth"),
)
GRADES: dict[str, int | None] = {
    **dict.fromkeys(
        (
            "infant/toddler",
            "preschool/prekindergarten",
            "prekindergarten",
            "pre-kindergarten",
            "preschool",
            "early education",
            "pk",
        ),
        -1,
    ),
    **dict.fromkeys(("kindergarten", "k", "kg"), 0),
    **{f"{word} grade": n for n, word in enumerate(ORDINALS, start=1)},
    **{str(n): n for n in range(1, 13)},
    **{f"{n:02d}": n for n in range(1, 13)},
    **{f"grade {n}": n for n in range(1, 13)},
    # Known values that name no grade 1-12: skipped in a school's span, an error for a student.
    **dict.fromkeys(
        ("ungraded", "postsecondary", "adult education", "other", "thirteenth grade"), None
    ),
}
SCHOOL_LEVELS = {
    "elementary school": "elementary",
    "primary school": "elementary",
    "middle school": "middle",
    "junior high school": "middle",
    "high school": "high",
    "secondary school": "high",
}
SEXES = {"female": "F", "male": "M", "non-binary": "X", "nonbinary": "X", "not selected": "U"}
RACES = {
    "americanindianalaskanative": "american_indian",
    "americanindianoralaskanative": "american_indian",
    "asian": "asian",
    "blackafricanamerican": "black",
    "blackorafricanamerican": "black",
    "nativehawaiianpacificislander": "pacific_islander",
    "nativehawaiianorotherpacificislander": "pacific_islander",
    "white": "white",
    "choosenottorespond": "",
    "other": "",
}
LANGUAGE_CODES = {
    "en": ("eng", "en", "english"),
    "es": ("spa", "es", "spanish", "spanish; castilian"),
    "zh": ("zho", "chi", "cmn", "yue", "zh", "chinese", "mandarin", "cantonese"),
    "vi": ("vie", "vi", "vietnamese"),
    "ar": ("ara", "ar", "arabic"),
    "ht": ("hat", "ht", "haitian", "haitian creole", "haitian; haitian creole"),
    "so": ("som", "so", "somali"),
    "ru": ("rus", "ru", "russian"),
    "pt": ("por", "pt", "portuguese"),
}
LANGUAGES_BY_NAME = {name: code for code, names in LANGUAGE_CODES.items() for name in names}
LANGUAGE_USES = ("home language", "native language", "dominant language", "spoken language")
CHARACTERISTICS = {
    "economic disadvantaged": "econ_disadvantaged",
    "economically disadvantaged": "econ_disadvantaged",
    "low income": "econ_disadvantaged",
    "homeless": "homeless",
    "migrant": "migrant",
    "migratory": "migrant",
    "foster care": "foster_care",
    "section 504 handicapped": "section_504",
    "section 504": "section_504",
    "limited english proficiency": "english_learner",
    "english learner": "english_learner",
    "students with disabilities": "iep",
}
PROGRAM_TYPES = {
    "special education": "iep",
    "bilingual": "english_learner",
    "bilingual summer": "english_learner",
    "english as a second language (esl)": "english_learner",
    "section 504 placement": "section_504",
    "homeless": "homeless",
    "migrant education": "migrant",
}
LIMITED_ENGLISH = {"limited", "limited monitored 1", "limited monitored 2", "english learner"}
RELATIONS = {
    "mother": "mother",
    "father": "father",
    "stepmother": "mother",
    "stepfather": "father",
    "legal guardian": "guardian",
    "guardian": "guardian",
    "court appointed guardian": "guardian",
    "grandmother": "grandparent",
    "grandfather": "grandparent",
    "grandparent": "grandparent",
    "foster parent": "foster_parent",
    "foster mother": "foster_parent",
    "foster father": "foster_parent",
}
TRUE, FALSE = {"true", "1", "yes", "y", "t"}, {"false", "0", "no", "n", "f"}
ADDRESS_TYPES = ("home", "physical", "mailing")
LIMITS = {
    "local_id": 40,
    "name": 100,
    "school_name": 200,
    "code": 20,
    "description": 200,
    "reason": 200,
    "calendar_code": 40,
    "exit_reason": 100,
    "phone": 30,
    "email": 254,
    "address": 200,
    "city": 100,
    "postal": 10,
}
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(T00:00:00(\.0+)?Z?)?$")
YEAR_SPAN = re.compile(r"^(\d{4})-(\d{4})$")
DATES_ACCEPTED = (dt.date(1900, 1, 1), dt.date(2100, 12, 31))


def code_value(text: str) -> str:
    """The CodeValue of a descriptor given as a URI (`uri://ns/NameDescriptor#Code`) or bare."""
    return text.rpartition("#")[2].strip() if "#" in text else text.strip()


def _key(text: str) -> str:
    """A descriptor CodeValue as a lookup key: lower case, single spaces."""
    return " ".join(code_value(text).lower().split())


def _digits(text: str) -> int | None:
    """The whole number ASCII digits write, else None ('²' and '①' are digits to isdigit())."""
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _year_of(day: dt.date) -> str:
    """The school year holding a date by the July 1 rule, e.g. 2021-09-01 -> "2021-2022"."""
    first = day.year if day.month >= 7 else day.year - 1
    return f"{first}-{first + 1}"


# ---------------------------------------------------------------------------------------
# What the mapping gathers from one file (kept only if the whole file could be read)


@dataclass(slots=True)
class _Event:
    """An attendance event as read, before codes and roll-up are settled."""

    record: AttendanceRecord
    school_year: str
    section: str = ""


@dataclass(slots=True)
class _Demographics:
    """Sex, race/ethnicity and language of a student from an education organization association."""

    student_id: str
    where: Where
    gender: str = ""
    race_ethnicity: str = ""
    home_language: str = ""


@dataclass(slots=True)
class _Session:
    """A session (semester, trimester...) of a school in a school year."""

    school_id: str
    school_year: str
    begin: dt.date
    end: dt.date
    where: Where


@dataclass
class _Facts:
    """Records mapped from one file, merged into the run's once the file is read whole."""

    schools: list[SchoolRecord] = field(default_factory=list)
    sessions: list[_Session] = field(default_factory=list)
    calendar_dates: list[CalendarDateRecord] = field(default_factory=list)
    codes: list[AttendanceCodeRecord] = field(default_factory=list)
    students: list[tuple[StudentRecord, str]] = field(default_factory=list)
    demographics: list[_Demographics] = field(default_factory=list)
    characteristics: list[CharacteristicRecord] = field(default_factory=list)
    undated: list[tuple[str, str, Where]] = field(default_factory=list)
    guardians: list[GuardianRecord] = field(default_factory=list)
    links: list[StudentGuardianRecord] = field(default_factory=list)
    enrollments: list[EnrollmentRecord] = field(default_factory=list)
    events: list[_Event] = field(default_factory=list)
    section_events: list[_Event] = field(default_factory=list)
    deferred: list[Item] = field(default_factory=list)
    read: Counter = field(default_factory=Counter)

    def merge(self, other: "_Facts") -> None:
        """Add another file's facts to these."""
        for name in self.__dataclass_fields__:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            else:
                mine.extend(theirs)


ROWS_READ = {
    "School": "schools",
    "Session": "sessions",
    "Calendar": "calendars",
    "CalendarDate": "calendar_dates",
    "AttendanceEventCategoryDescriptor": "attendance_codes",
    "Student": "students",
    "StudentEducationOrganizationAssociation": "student_education_organization_associations",
    **dict.fromkeys(PROGRAM_KINDS, "program_associations"),
    "Contact": "guardians",
    "Parent": "guardians",
    "StudentContactAssociation": "student_guardians",
    "StudentParentAssociation": "student_guardians",
    "StudentSchoolAssociation": "enrollments",
    "StudentSchoolAttendanceEvent": "attendance",
    "StudentSectionAttendanceEvent": "section_attendance",
}


# ---------------------------------------------------------------------------------------
# The mapping, shared by both parsers


class _Reader:
    """Maps items from any number of files to records, then finishes them into a `Batch`."""

    def __init__(self, *, implied_enrollments: bool = False):
        self.batch = Batch()
        self.facts = _Facts()
        self.ids: dict[str, dict[str, str]] = {}
        self.implied_enrollments = implied_enrollments
        self.handlers: dict[str, Callable[[Item, _Facts], None]] = {
            "School": self._school,
            "Session": self._session,
            "Calendar": lambda item, facts: None,
            "CalendarDate": self._calendar_date,
            "AttendanceEventCategoryDescriptor": self._descriptor,
            "Student": self._student,
            "StudentEducationOrganizationAssociation": self._demographics,
            **dict.fromkeys(PROGRAM_KINDS, self._program),
            "Contact": self._contact,
            "Parent": self._contact,
            "StudentContactAssociation": self._contact_link,
            "StudentParentAssociation": self._contact_link,
            "StudentSchoolAssociation": self._enrollment,
            "StudentSchoolAttendanceEvent": self._school_event,
            "StudentSectionAttendanceEvent": self._section_event,
        }

    # -- reading items --------------------------------------------------------------------

    def map_item(self, item: Item, facts: _Facts) -> None:
        """Map one item into `facts`; an item with an unresolved reference waits for the end."""
        facts.read[ROWS_READ[item.element]] += 1
        if self._references_known(item):
            self.handlers[item.element](item, facts)
        else:
            facts.deferred.append(item)

    def _references_known(self, item: Item) -> bool:
        """Whether every `ref` of an item (and its entries) names an element already read."""
        for found in item.values.values():
            if isinstance(found, Ref) and found.name not in self.ids.get(found.ref, {}):
                return False
        return all(self._references_known(e) for entries in item.lists.values() for e in entries)

    def value(self, item: Item, name: str, *, required: bool = False) -> Value | None:
        """A field's value (references resolved); a missing required field is an error."""
        found = item.values.get(name)
        if isinstance(found, Ref):
            target = self.ids.get(found.ref)
            if target is None or found.name not in target:
                self.batch.error(
                    "unknown_reference",
                    f"{item.element} refers to an element id that no file read defines",
                    found.where,
                    value=found.ref,
                    hint=f"Include the file that holds the element with id {found.ref!r}.",
                )
                return None
            found = Value(target[found.name], found.where)
        if found is None and required:
            column = item.columns.get(name, name)
            self.batch.error(
                "missing_element",
                f"{item.element} without {column}",
                Where(item.where.file, item.where.line, column),
                hint=f"Every {item.element} needs {column}; export it again with that element.",
            )
        return found

    def text(self, item: Item, name: str, *, required: bool = False, limit: str = "") -> str | None:
        """A field's text; None when missing (an error if required) or longer than allowed."""
        found = self.value(item, name, required=required)
        if found is None:
            return None
        if limit and len(found.text) > LIMITS[limit]:
            self.batch.error(
                "too_long",
                f"value longer than the {LIMITS[limit]} characters Homeroom keeps",
                found.where,
                value=found.text[:80],
                hint="Shorten the value in the source system.",
            )
            return None
        return found.text

    def date(self, item: Item, name: str, *, required: bool = False) -> dt.date | bool | None:
        """A field's date; False when present but not a valid date (reported)."""
        found = self.value(item, name, required=required)
        if found is None:
            return None
        match = DATE.match(found.text)
        try:
            day = dt.date(*map(int, match.groups()[:3])) if match else None
        except ValueError:
            day = None
        if day is None or not DATES_ACCEPTED[0] <= day <= DATES_ACCEPTED[1]:
            self.batch.error(
                "bad_date",
                "not a valid date",
                found.where,
                value=found.text,
                hint="Write dates as YYYY-MM-DD between 1900 and 2100, e.g. 2021-08-31.",
            )
            return False
        return day

    def school_year(self, item: Item, name: str, *, required: bool = False) -> str | bool | None:
        """A SchoolYear ("2021-2022", or the API's 2022) as Homeroom's name; False if invalid."""
        found = self.value(item, name, required=required)
        if found is None:
            return None
        text = found.text.strip()
        if len(text) == 4 and (number := _digits(text)) is not None:
            return f"{number - 1}-{text}"
        span = YEAR_SPAN.match(text)
        if span and int(span[2]) == int(span[1]) + 1:
            return text
        self.batch.error(
            "bad_school_year",
            "not a school year",
            found.where,
            value=text,
            hint='Write the school year as "2021-2022" (XML) or 2022 (API).',
        )
        return False

    def number(self, item: Item, name: str, low: Decimal, high: Decimal) -> Decimal | bool | None:
        """A decimal field within [low, high]; False when present but invalid (reported)."""
        found = self.value(item, name)
        if found is None:
            return None
        try:
            number = Decimal(found.text.strip())
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or not low <= number <= high:
            self.batch.error(
                "bad_number",
                f"not a number from {low} to {high}",
                found.where,
                value=found.text,
                hint="Fix the value in the source system.",
            )
            return False
        return number

    def flag(self, item: Item, name: str) -> bool | None:
        """A boolean field (true/false/1/0); None when missing or not a boolean (reported)."""
        found = self.value(item, name)
        if found is None:
            return None
        text = found.text.strip().lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        self.batch.error(
            "bad_boolean",
            "not true or false",
            found.where,
            value=found.text,
            hint="Use true/false.",
        )
        return None

    def descriptor(
        self, item: Item, name: str, table: dict, what: str, *, required: bool = False
    ) -> tuple[object, str] | None:
        """Look a descriptor's CodeValue up in `table`: (meaning, CodeValue), or None (reported)."""
        found = self.value(item, name, required=required)
        if found is None:
            return None
        key = _key(found.text)
        if key in table:
            return table[key], code_value(found.text)
        known = ", ".join(sorted({code_value(k) for k in table}))
        self.batch.error(
            "unknown_descriptor",
            f"unknown {what} descriptor value",
            found.where,
            value=found.text,
            hint=f"Homeroom maps these {what} values: {known}. Map the local value to one of them.",
        )
        return None

    def _items_text(self, items: Iterable[Item], name: str) -> list[Value]:
        """The values of one field over repeated entries."""
        values = (self.value(entry, name) for entry in items)
        return [v for v in values if v is not None]

    # -- schools, calendars, codes ------------------------------------------------------

    def _school(self, item: Item, facts: _Facts) -> None:
        """School -> SchoolRecord (grade span from GradeLevel, level from SchoolCategory)."""
        school_id = self.text(item, "id", required=True, limit="local_id")
        name = self.text(item, "name", required=True, limit="school_name")
        grades = []
        for entry in item.lists.get("grades", []):
            found = self.descriptor(entry, "grade", GRADES, "GradeLevel")
            if found and found[0] is not None:
                grades.append(found[0])
        levels = [
            SCHOOL_LEVELS.get(_key(v.text), "other")
            for v in self._items_text(item.lists.get("categories", []), "category")
        ]
        state_id = ""
        for entry in item.lists.get("codes", []):
            system, code = self.value(entry, "system"), self.value(entry, "code")
            if system and code and _key(system.text) in {"sea", "state"}:
                state_id = code.text if len(code.text) <= LIMITS["local_id"] else ""
        if school_id is None or name is None:
            return
        lowest, highest = (min(grades), max(grades)) if grades else (None, None)
        level = next((lv for lv in levels if lv != "other"), "")
        if not level and lowest is not None:
            level = (
                "elementary"
                if highest <= 6
                else "middle"
                if lowest >= 5 and highest <= 8
                else "high"
                if lowest >= 9
                else "other"
            )
        facts.schools.append(
            SchoolRecord(
                school_id,
                name,
                item.where,
                state_id=state_id,
                level=level or "other",
                lowest_grade=lowest,
                highest_grade=highest,
            )
        )

    def _session(self, item: Item, facts: _Facts) -> None:
        """Session -> the school's span in a school year (school years are built from these)."""
        school = self.text(item, "school", required=True, limit="local_id")
        year = self.school_year(item, "school_year", required=True)
        begin = self.date(item, "begin", required=True)
        end = self.date(item, "end", required=True)
        if not (school and year and begin and end):
            return
        if end < begin:
            self._end_before_begin(item, "end", begin, end)
            return
        facts.sessions.append(_Session(school, year, begin, end, item.where))

    def _end_before_begin(self, item: Item, name: str, begin: dt.date, end: dt.date) -> None:
        """Report an end date before its begin date."""
        found = self.value(item, name)
        self.batch.error(
            "end_before_begin",
            f"{item.element} ends before it begins",
            found.where if found else item.where,
            value=f"{begin} .. {end}",
            hint="Fix the dates in the source system.",
        )

    def _calendar_date(self, item: Item, facts: _Facts) -> None:
        """CalendarDate -> CalendarDateRecord; a day counts if any of its events counts."""
        day = self.date(item, "date", required=True)
        calendar = self.text(item, "calendar", required=True, limit="calendar_code")
        school = self.text(item, "school", required=True, limit="local_id")
        year = self.school_year(item, "school_year", required=True)
        kinds = []
        for entry in item.lists.get("events", []):
            found = self.descriptor(entry, "event", CALENDAR_KINDS, "CalendarEvent")
            if found is None:
                return
            kinds.append(found[0])
        if not kinds:
            self.value(item, "events", required=True)
            return
        if not (day and calendar and school and year):
            return
        kind = next((k for k in ("instructional", "makeup") if k in kinds), kinds[0])
        facts.calendar_dates.append(
            CalendarDateRecord(school, year, day, kind, item.where, calendar_code=calendar)
        )

    def _descriptor(self, item: Item, facts: _Facts) -> None:
        """AttendanceEventCategoryDescriptor -> AttendanceCodeRecord (code = CodeValue)."""
        found = self.descriptor(item, "code", CATEGORIES, "AttendanceEventCategory", required=True)
        if found is None:
            return
        (category, fraction), code = found
        description = (self.text(item, "description") or self.text(item, "short") or code)[
            : LIMITS["description"]
        ]
        if len(code) > LIMITS["code"]:
            self.text(item, "code", limit="code")
            return
        facts.codes.append(AttendanceCodeRecord(code, description, category, fraction, item.where))

    # -- students -------------------------------------------------------------------------

    def _student(self, item: Item, facts: _Facts) -> None:
        """Student -> StudentRecord (grade settled at the end from enrollments or birth date)."""
        student_id = self.text(item, "id", required=True, limit="local_id")
        first = self.text(item, "first", required=True, limit="name")
        middle = self.text(item, "middle", limit="name")
        last = self.text(item, "last", required=True, limit="name")
        birth = self.date(item, "birth", required=True)
        sex = self.descriptor(item, "birth_sex", SEXES, "Sex")
        if not (student_id and first and last and birth):
            return
        record = StudentRecord(
            student_id, first, last, 0, item.where, middle_name=middle or "", birth_date=birth
        )
        facts.students.append((record, sex[0] if sex else ""))

    def _demographics(self, item: Item, facts: _Facts) -> None:
        """StudentEducationOrganizationAssociation -> sex, race/ethnicity, language, traits."""
        student = self.text(item, "student", required=True, limit="local_id")
        if student is None:
            return
        found = _Demographics(student, item.where)
        sex = self.descriptor(item, "sex", SEXES, "Sex")
        found.gender = sex[0] if sex else ""
        hispanic = self.flag(item, "hispanic")
        races = set()
        for entry in item.lists.get("races", []):
            race = self.descriptor(entry, "race", RACES, "Race")
            if race and race[0]:
                races.add(race[0])
        if hispanic:
            found.race_ethnicity = "hispanic"
        elif len(races) > 1:
            found.race_ethnicity = "two_or_more"
        elif races:
            found.race_ethnicity = races.pop()
        found.home_language = self._language(item.lists.get("languages", []))
        facts.demographics.append(found)
        lep = self.value(item, "lep")
        if lep and _key(lep.text) in LIMITED_ENGLISH:
            facts.undated.append((student, "english_learner", lep.where))
        for entry in item.lists.get("characteristics", []):
            kind = self.value(entry, "kind")
            if kind and _key(kind.text) in CHARACTERISTICS:
                self._periods(entry, student, CHARACTERISTICS[_key(kind.text)], facts)
        for entry in item.lists.get("indicators", []):
            name, value = self.value(entry, "name"), self.value(entry, "value")
            known = name and value and _key(name.text) in CHARACTERISTICS
            if known and value.text.strip().lower() in TRUE:
                self._periods(entry, student, CHARACTERISTICS[_key(name.text)], facts)

    def _periods(self, entry: Item, student: str, kind: str, facts: _Facts) -> None:
        """A characteristic for each Period of an entry, or undated when it has none."""
        periods = entry.lists.get("periods", [])
        if not periods:
            facts.undated.append((student, kind, entry.where))
        for period in periods:
            begin = self.date(period, "begin", required=True)
            end = self.date(period, "end")
            if not begin or end is False:
                continue
            if end and end < begin:
                self._end_before_begin(period, "end", begin, end)
                continue
            facts.characteristics.append(
                CharacteristicRecord(student, kind, begin, period.where, end_date=end or None)
            )

    def _language(self, entries: list[Item]) -> str:
        """The home language of Language entries: by use (home, native, ...), else the first."""
        choices = []
        for entry in entries:
            language = self.value(entry, "language")
            if language is None:
                continue
            uses = {_key(v.text) for v in self._items_text(entry.lists.get("uses", []), "use")}
            rank = min((LANGUAGE_USES.index(u) for u in uses if u in LANGUAGE_USES), default=9)
            choices.append(
                (rank, len(choices), LANGUAGES_BY_NAME.get(_key(language.text), "other"))
            )
        return min(choices)[2] if choices else ""

    def _program(self, item: Item, facts: _Facts) -> None:
        """A student program association -> a characteristic over its begin/end dates."""
        kind = PROGRAM_KINDS[item.element]
        if not kind:
            program_type = self.value(item, "program_type")
            kind = PROGRAM_TYPES.get(_key(program_type.text), "") if program_type else ""
        student = self.text(item, "student", required=True, limit="local_id")
        begin = self.date(item, "begin", required=True)
        end = self.date(item, "end")
        if not kind or not student or not begin or end is False:
            return
        if end and end < begin:
            self._end_before_begin(item, "end", begin, end)
            return
        if kind == "english_learner" and self.flag(item, "el_participation") is False:
            return
        if kind == "section_504" and self.flag(item, "eligible_504") is False:
            return
        services = [
            _key(v.text) for v in self._items_text(item.lists.get("food_services", []), "service")
        ]
        paid = services and not any("free" in s or "reduced" in s for s in services)
        if kind == "econ_disadvantaged" and paid:
            return
        facts.characteristics.append(
            CharacteristicRecord(student, kind, begin, item.where, end_date=end or None)
        )

    # -- guardians ------------------------------------------------------------------------

    def _contact(self, item: Item, facts: _Facts) -> None:
        """Contact (Parent in Data Standard 3/4) -> GuardianRecord."""
        contact_id = self.text(item, "id", required=True, limit="local_id")
        first = self.text(item, "first", required=True, limit="name")
        last = self.text(item, "last", required=True, limit="name")
        if not (contact_id and first and last):
            return
        record = GuardianRecord(contact_id, first, last, item.where)
        phones = []
        for entry in item.lists.get("phones", []):
            number, kind = self.value(entry, "number"), self.value(entry, "type")
            if number is None or (kind and _key(kind.text) == "fax"):
                continue
            priority = self.value(entry, "priority")
            rank = _digits(priority.text) if priority else None
            rank = 99 if rank is None else rank
            phones.append((rank, len(phones), number))
        if phones:
            record.phone = self._detail(min(phones)[2], "phone")
        emails = []
        for entry in item.lists.get("emails", []):
            address = self.value(entry, "address")
            if address is not None:
                emails.append((self.flag(entry, "primary") is not True, len(emails), address))
        if emails:
            record.email = self._detail(min(emails)[2], "email")
        addresses = []
        for entry in item.lists.get("addresses", []):
            kind = self.value(entry, "type")
            key = _key(kind.text) if kind else ""
            rank = ADDRESS_TYPES.index(key) if key in ADDRESS_TYPES else len(ADDRESS_TYPES)
            addresses.append((rank, len(addresses), entry))
        if addresses:
            entry = min(addresses)[2]
            street, apartment = self.value(entry, "street"), self.value(entry, "apartment")
            if street:
                line = f"{street.text} {apartment.text}" if apartment else street.text
                record.address_line = self._detail(Value(line, street.where), "address")
            if city := self.value(entry, "city"):
                record.city = self._detail(city, "city")
            if state := self.value(entry, "state"):
                record.state = code_value(state.text) if len(code_value(state.text)) == 2 else ""
            if postal := self.value(entry, "postal"):
                record.postal_code = self._detail(postal, "postal")
        record.preferred_language = self._language(item.lists.get("languages", [])) or None
        facts.guardians.append(record)

    def _detail(self, found: Value, limit: str) -> str:
        """A contact detail, left blank (and reported) when longer than Homeroom keeps."""
        if len(found.text) <= LIMITS[limit]:
            return found.text
        self.batch.finding(
            "value_too_long",
            f"contact detail longer than {LIMITS[limit]} characters; left blank",
            found.where,
            value=found.text[:80],
        )
        return ""

    def _contact_link(self, item: Item, facts: _Facts) -> None:
        """StudentContactAssociation (StudentParentAssociation) -> StudentGuardianRecord."""
        student = self.text(item, "student", required=True, limit="local_id")
        contact = self.text(item, "contact", required=True, limit="local_id")
        if not (student and contact):
            return
        relation = self.value(item, "relation")
        kind = RELATIONS.get(_key(relation.text), "other") if relation else "other"
        if kind == "other" and self.flag(item, "legal_guardian"):
            kind = "guardian"
        priority = self.value(item, "priority")
        rank = _digits(priority.text) if priority else None
        if rank is None or not 0 < rank < 1000:
            rank = 1 if self.flag(item, "primary") else 2
        lives_with = self.flag(item, "lives_with")
        facts.links.append(
            StudentGuardianRecord(
                student,
                contact,
                kind,
                item.where,
                contact_priority=rank,
                lives_with=lives_with,
            )
        )

    # -- enrollment and attendance ------------------------------------------------------

    def _enrollment(self, item: Item, facts: _Facts) -> None:
        """StudentSchoolAssociation -> EnrollmentRecord (school year from SchoolYear or dates)."""
        student = self.text(item, "student", required=True, limit="local_id")
        school = self.text(item, "school", required=True, limit="local_id")
        year = self.school_year(item, "school_year")
        entry = self.date(item, "entry", required=True)
        exit_date = self.date(item, "exit")
        grade = self.descriptor(item, "grade", GRADES, "GradeLevel", required=True)
        if grade and grade[0] is None:
            self.batch.error(
                "ungraded",
                "entry grade level names no grade Homeroom counts (pre-K to 12)",
                self.value(item, "grade").where,
                value=grade[1],
                hint="Give the student's grade level (pre-K, K, 1-12).",
            )
            return
        exit_type = self.value(item, "exit_type")
        exit_reason = code_value(exit_type.text)[: LIMITS["exit_reason"]] if exit_type else ""
        if not (student and school and entry and grade) or year is False or exit_date is False:
            return
        if exit_date and exit_date < entry:
            self._end_before_begin(item, "exit", entry, exit_date)
            return
        facts.enrollments.append(
            EnrollmentRecord(
                student,
                school,
                year or "",
                grade[0],
                entry,
                item.where,
                exit_date=exit_date or None,
                exit_reason=exit_reason,
            )
        )

    def _event(self, item: Item) -> _Event | None:
        """The fields shared by school and section attendance events."""
        student = self.text(item, "student", required=True, limit="local_id")
        school = self.text(item, "school", required=True, limit="local_id")
        day = self.date(item, "date", required=True)
        category = self.descriptor(
            item, "category", CATEGORIES, "AttendanceEventCategory", required=True
        )
        reason = self.text(item, "reason", limit="reason")
        duration = self.number(item, "duration", Decimal(0), Decimal(1))
        minutes = self.number(item, "minutes", Decimal(0), Decimal(1440))
        year = self.school_year(item, "school_year")
        if not (student and school and day and category):
            return None
        if any(v is False for v in (duration, minutes, year)):
            return None
        if len(category[1]) > LIMITS["code"]:
            self.text(item, "category", limit="code")
            return None
        record = AttendanceRecord(
            student,
            school,
            day,
            category[1],
            item.where,
            day_fraction=duration,
            minutes_missed=None if minutes is None else int(minutes),
            reason=reason or "",
        )
        return _Event(record, year or "")

    def _school_event(self, item: Item, facts: _Facts) -> None:
        """StudentSchoolAttendanceEvent -> AttendanceRecord (a daily event)."""
        if event := self._event(item):
            facts.events.append(event)

    def _section_event(self, item: Item, facts: _Facts) -> None:
        """StudentSectionAttendanceEvent -> kept for the roll-up to daily events at the end."""
        if event := self._event(item):
            event.section = self.text(item, "section") or ""
            facts.section_events.append(event)

    # -- finishing ------------------------------------------------------------------------

    def finish(self) -> Batch:
        """Settle references, years, codes, roll-up, grades and enrollments; return the batch."""
        facts, batch = self.facts, self.batch
        deferred, facts.deferred = facts.deferred, []
        for item in deferred:
            self.handlers[item.element](item, facts)
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
        return _year_of(day)

    def _attendance(self) -> None:
        """Daily events, section events rolled up to daily ones, and the codes they use."""
        batch, facts = self.batch, self.facts
        daily: dict[tuple, set[str]] = defaultdict(set)
        for e in facts.events:
            daily[e.record.student_id, e.record.school_id, e.record.date].add(e.record.code)
        by_day: dict[tuple, list[_Event]] = defaultdict(list)
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
            late = [e for e in events if CATEGORIES[_key(e.record.code)][0] == "tardy"]
            early = [e for e in events if CATEGORIES[_key(e.record.code)][0] == "early_departure"]
            for group in (late, early):
                if group:
                    rolled.append(group[0])
            for event in events:
                category = CATEGORIES[_key(event.record.code)][0]
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
                category, fraction = CATEGORIES[_key(code)]
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
        last_event: dict[str, _Event] = {}
        for event in sorted(self._events, key=lambda e: e.record.date):
            last_event[event.record.student_id] = event
        spans = {s.local_id: s for s in batch.schools}
        demographics: dict[str, list[_Demographics]] = defaultdict(list)
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

    def _estimate(self, record: StudentRecord, event: _Event | None, spans: dict) -> int:
        """A grade from the birth date: age on September 1 of the school year, minus 5."""
        if event is not None:
            year = int(event.school_year[:4])
        elif self.batch.school_years:
            year = int(self.batch.school_years[-1].name[:4])
        else:
            year = int(_year_of(dt.date.today())[:4])
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


# ---------------------------------------------------------------------------------------
# The XML parser


def _local(tag: object) -> str:
    """An element's local name (no namespace); '' for comments and processing instructions."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _children(element: etree._Element, name: str) -> Iterable[etree._Element]:
    """The child elements with a local name."""
    return (child for child in element if _local(child.tag) == name)


def _xml_find(element: etree._Element, path: str) -> tuple[etree._Element | None, etree._Element]:
    """The element at `path` (or None) and the deepest element reached on the way."""
    head, _, deep = path.partition("//")
    current = element
    for name in head.split("/") if head else []:
        if name == ".":
            continue
        child = next(_children(current, name), None)
        if child is None:
            return None, current
        current = child
    if deep:
        found = next((e for e in current.iter() if _local(e.tag) == deep), None)
        return found, current
    return current, current


def _xml_item(element: etree._Element, name: str, fields: tuple[Field, ...], file: str) -> Item:
    """An Item from an XML element, by the XML paths of `fields`."""
    item = Item(name, Where(file, element.sourceline or 0, name))
    for spec in fields:
        item.columns[spec.name] = spec.xml[0].rpartition("/")[2].replace(".", name)
        if spec.many:
            head, _, last = spec.xml[0].rpartition("/")
            parent = _xml_find(element, head)[0] if head else element
            entries = list(_children(parent, last)) if parent is not None else []
            item.lists[spec.name] = [_xml_item(e, last, spec.many, file) for e in entries]
            continue
        for path in spec.xml:
            found, reached = _xml_find(element, path)
            column = path.rpartition("/")[2] if path != "." else name
            if found is not None:
                text = (found.text or "").strip()
                if text:
                    where = Where(file, found.sourceline or item.where.line, column)
                    item.values[spec.name] = Value(text, where)
                    break
            elif reached is not element and reached.get("ref"):
                where = Where(file, reached.sourceline or item.where.line, _local(reached.tag))
                item.values[spec.name] = Ref(reached.get("ref"), column, where)
                break
    return item


def _identity(element: etree._Element) -> dict[str, str]:
    """The identity values of an element others may refer to by its id."""
    found: dict[str, str] = {}
    for e in element.iter():
        name = _local(e.tag)
        if name in IDENTITY and name not in found and e.text and e.text.strip():
            found[name] = e.text.strip()
    return found


def file_name(path: Path) -> str:
    """A file's name as problems and rows give it: bytes of the name that are not UTF-8
    (surrogate escapes on POSIX, which no database stores) become U+FFFD."""
    return path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _Unnamed:
    """A binary stream without a `name`: lxml encodes a file's name as the document's base
    URL, and raises on a name that is not UTF-8."""

    def __init__(self, handle: BinaryIO):
        self.read = handle.read


def _read_xml(reader: _Reader, path: Path, progress: ReadProgress) -> None:
    """Read one interchange file into the reader; a damaged file contributes only its error."""
    facts = _Facts()
    name = file_name(path)
    try:
        with progress.open_counted(path) as handle:
            complete = _parse_xml(reader, _Unnamed(handle), name, facts)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 0, 0)
        reader.batch.error(
            "bad_xml",
            f"not well-formed XML at line {line}, column {column}: {exc.msg}",
            Where(name, line or 0),
            hint="The file is damaged or truncated; export it again. Nothing of it was read.",
        )
    except OSError as exc:
        reader.batch.error(
            "unreadable_file", f"cannot read the file: {exc.strerror or exc}", Where(name, 0)
        )
    except Exception as exc:  # a bug must not lose the run's report: say it and go on
        reader.batch.error(
            "reader_failure",
            f"the Ed-Fi reader failed on this file ({type(exc).__name__}: {exc})",
            Where(name, 0),
            hint="This is a Homeroom bug; please report it with the file.",
        )
    else:
        if complete:
            reader.facts.merge(facts)


def _parse_xml(reader: _Reader, handle: BinaryIO, file: str, facts: _Facts) -> bool:
    """Stream an interchange, mapping each top-level element; False if the root is wrong."""
    events = etree.iterparse(
        handle,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    depth, root, skipped = 0, None, Counter()
    for event, element in events:
        if event == "start":
            depth += 1
            if depth == 1:
                root = element
                if not _root_ok(reader, element, file):
                    return False
            continue
        depth -= 1
        if depth != 1:
            continue
        name = _local(element.tag)
        if element.get("id"):
            reader.ids[element.get("id")] = _identity(element)
        if name in RESOURCES:
            reader.map_item(_xml_item(element, name, RESOURCES[name], file), facts)
        elif name:
            skipped[name] += 1
        element.clear()
        while element.getprevious() is not None:
            del root[0]
    _report_skipped(reader, file, skipped)
    return True


def _root_ok(reader: _Reader, root: etree._Element, file: str) -> bool:
    """Whether the root is an Ed-Fi interchange of a known Data Standard (reported if not)."""
    name = _local(root.tag)
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    where = Where(file, root.sourceline or 1, name)
    if name not in INTERCHANGES:
        reader.batch.error(
            "unknown_interchange",
            "the root element is not an Ed-Fi interchange Homeroom knows",
            where,
            value=name,
            hint="Give Ed-Fi interchange files (InterchangeStudentAttendance, ...) to this format.",
        )
        return False
    if not NAMESPACE.match(namespace):
        reader.batch.error(
            "unknown_namespace",
            "the interchange is not in an Ed-Fi Data Standard 3, 4 or 5 namespace",
            where,
            value=namespace,
            hint='Export with xmlns="http://ed-fi.org/5.2.0" (or the 3.x/4.x namespace).',
        )
        return False
    return True


def _report_skipped(reader: _Reader, file: str, skipped: Counter) -> None:
    """One finding per file for the elements Homeroom does not read."""
    if skipped:
        reader.batch.finding(
            "elements_not_read",
            "elements Homeroom does not use were skipped",
            Where(file, 0),
            value=", ".join(f"{name} x{count}" for name, count in sorted(skipped.items())),
        )


# ---------------------------------------------------------------------------------------
# Public interface


def read_edfi_xml(
    paths: list[Path],
    *,
    implied_enrollments: bool = False,
    progress: ReadProgress | None = None,
) -> Batch:
    """Read Ed-Fi interchange XML files (any order, any mix of interchanges) into a Batch."""
    reader = _Reader(implied_enrollments=implied_enrollments)
    progress = progress or ReadProgress()
    for path in map(Path, paths):
        with progress.file(path):
            _read_xml(reader, path, progress)
    return reader.finish()


def read_edfi_json(
    paths: list[Path],
    *,
    implied_enrollments: bool = False,
    progress: ReadProgress | None = None,
) -> Batch:
    """Read Ed-Fi ODS/API JSON response files (one resource array per file) into a Batch."""
    from homeroom.ingest.edfi_json import read_json

    reader = _Reader(implied_enrollments=implied_enrollments)
    progress = progress or ReadProgress()
    for path in map(Path, paths):
        with progress.file(path):  # a JSON file is read whole: it counts when done
            read_json(reader, path)
    return reader.finish()


def read_edfi(
    paths: list[Path],
    *,
    implied_enrollments: bool = False,
    progress: ReadProgress | None = None,
) -> Batch:
    """Read Ed-Fi files of either kind, telling XML from JSON by each file's first character."""
    from homeroom.ingest.edfi_json import read_json

    reader = _Reader(implied_enrollments=implied_enrollments)
    progress = progress or ReadProgress()
    for path in map(Path, paths):
        with progress.file(path):
            if _first_character(path) in "[{":
                read_json(reader, path)
            else:
                _read_xml(reader, path, progress)
    return reader.finish()


def _first_character(path: Path) -> str:
    """The first non-blank character of a file ('' if unreadable or blank)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return ""
    return chr(head[0]) if head else ""


__all__ = ["RESOURCES", "code_value", "read_edfi", "read_edfi_json", "read_edfi_xml"]
