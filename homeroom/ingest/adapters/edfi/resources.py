"""The Ed-Fi elements Homeroom reads: each field's XML and JSON paths, and what a parser hands on.

A parser (`xml.py`, `json.py`) turns a source element into an `Item` by the paths of
`RESOURCES`; the `Reader` maps items to records the same way whatever the parser was.
"""

from dataclasses import dataclass, field

from homeroom.ingest.records import Where


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
    # An Intervention gives the dates and the education organization; the association names
    # the student (Ed-Fi gives it no dates of its own).
    "Intervention": (
        _f("code", "InterventionIdentificationCode", "interventionIdentificationCode"),
        _f(
            "school",
            "EducationOrganizationReference/EducationOrganizationIdentity/EducationOrganizationId",
            "educationOrganizationReference.educationOrganizationId",
        ),
        _f("begin", "BeginDate", "beginDate"),
        _f("end", "EndDate", "endDate"),
    ),
    "StudentInterventionAssociation": (
        STUDENT,
        _f(
            "intervention",
            "InterventionReference/InterventionIdentity/InterventionIdentificationCode",
            "interventionReference.interventionIdentificationCode",
        ),
        _f(
            "school",
            "InterventionReference/InterventionIdentity//EducationOrganizationId",
            "interventionReference.educationOrganizationId",
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
    "Intervention": "interventions",
    "StudentInterventionAssociation": "student_interventions",
}
