"""The Ed-Fi mapping shared by the XML and JSON parsers: items from any file to records.

Each parser turns a source element (an XML element of an interchange, or one resource of an
API response array) into an `Item`; `Reader` maps items to normalized records the same way
whatever the parser was, and `finish` settles what needs every file read (finish.py).
docs/import-edfi.md describes the rules. Bad input never raises: it becomes
`batch.error(...)` with file, line, element and value.
"""

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from homeroom.ingest.adapters.edfi.descriptors import (
    ADDRESS_TYPES,
    CALENDAR_KINDS,
    CATEGORIES,
    CHARACTERISTICS,
    LANGUAGE_USES,
    LANGUAGES_BY_NAME,
    LIMITED_ENGLISH,
    PROGRAM_TYPES,
    RACES,
    RELATIONS,
    SCHOOL_LEVELS,
    SEXES,
    code_value,
    descriptor_key,
    digits,
)
from homeroom.ingest.adapters.edfi.facts import (
    Demographics,
    Event,
    Facts,
    InterventionFacts,
    InterventionLink,
    Session,
)
from homeroom.ingest.adapters.edfi.fields import ItemFields
from homeroom.ingest.adapters.edfi.finish import finish_batch
from homeroom.ingest.adapters.edfi.resources import PROGRAM_KINDS, ROWS_READ, Item, Value
from homeroom.ingest.adapters.vocabulary import EDFI_GRADE_LEVELS, LIMITS, TRUE_WORDS
from homeroom.ingest.limits import megabytes, over_size, refuse_file
from homeroom.ingest.records import (
    AttendanceCodeRecord,
    AttendanceRecord,
    Batch,
    CalendarDateRecord,
    CharacteristicRecord,
    EnrollmentRecord,
    GuardianRecord,
    SchoolRecord,
    StudentGuardianRecord,
    StudentRecord,
    Where,
)


class Reader(ItemFields):
    """Maps items from any number of files to records, then finishes them into a `Batch`."""

    def __init__(self, *, implied_enrollments: bool = False):
        super().__init__()
        self.facts = Facts()
        self.implied_enrollments = implied_enrollments
        self.handlers: dict[str, Callable[[Item, Facts], None]] = {
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
            "Intervention": self._intervention,
            "StudentInterventionAssociation": self._intervention_link,
        }

    # -- reading items --------------------------------------------------------------------

    def map_item(self, item: Item, facts: Facts) -> None:
        """Map one item into `facts`; an item with an unresolved reference waits for the end."""
        facts.read[ROWS_READ[item.element]] += 1
        if self.references_known(item):
            self.handlers[item.element](item, facts)
        else:
            facts.deferred.append(item)

    # -- schools, calendars, codes ------------------------------------------------------

    def _school(self, item: Item, facts: Facts) -> None:
        """School -> SchoolRecord (grade span from GradeLevel, level from SchoolCategory)."""
        school_id = self.text(item, "id", required=True, limit="local_id")
        name = self.text(item, "name", required=True, limit="school_name")
        grades = []
        for entry in item.lists.get("grades", []):
            found = self.descriptor(entry, "grade", EDFI_GRADE_LEVELS, "GradeLevel")
            if found and found[0] is not None:
                grades.append(found[0])
        levels = [
            SCHOOL_LEVELS.get(descriptor_key(v.text), "other")
            for v in self.items_text(item.lists.get("categories", []), "category")
        ]
        state_id = ""
        for entry in item.lists.get("codes", []):
            system, code = self.value(entry, "system"), self.value(entry, "code")
            if system and code and descriptor_key(system.text) in {"sea", "state"}:
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

    def _session(self, item: Item, facts: Facts) -> None:
        """Session -> the school's span in a school year (school years are built from these)."""
        school = self.text(item, "school", required=True, limit="local_id")
        year = self.school_year(item, "school_year", required=True)
        begin = self.date(item, "begin", required=True)
        end = self.date(item, "end", required=True)
        if not (school and year and begin and end):
            return
        if end < begin:
            self.end_before_begin(item, "end", begin, end)
            return
        facts.sessions.append(Session(school, year, begin, end, item.where))

    def _calendar_date(self, item: Item, facts: Facts) -> None:
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

    def _descriptor(self, item: Item, facts: Facts) -> None:
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

    def _student(self, item: Item, facts: Facts) -> None:
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

    def _demographics(self, item: Item, facts: Facts) -> None:
        """StudentEducationOrganizationAssociation -> sex, race/ethnicity, language, traits."""
        student = self.text(item, "student", required=True, limit="local_id")
        if student is None:
            return
        found = Demographics(student, item.where)
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
        if lep and descriptor_key(lep.text) in LIMITED_ENGLISH:
            facts.undated.append((student, "english_learner", lep.where))
        for entry in item.lists.get("characteristics", []):
            kind = self.value(entry, "kind")
            if kind and descriptor_key(kind.text) in CHARACTERISTICS:
                self._periods(entry, student, CHARACTERISTICS[descriptor_key(kind.text)], facts)
        for entry in item.lists.get("indicators", []):
            name, value = self.value(entry, "name"), self.value(entry, "value")
            known = name and value and descriptor_key(name.text) in CHARACTERISTICS
            if known and value.text.strip().lower() in TRUE_WORDS:
                self._periods(entry, student, CHARACTERISTICS[descriptor_key(name.text)], facts)

    def _periods(self, entry: Item, student: str, kind: str, facts: Facts) -> None:
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
                self.end_before_begin(period, "end", begin, end)
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
            uses = {
                descriptor_key(v.text) for v in self.items_text(entry.lists.get("uses", []), "use")
            }
            rank = min((LANGUAGE_USES.index(u) for u in uses if u in LANGUAGE_USES), default=9)
            choices.append(
                (rank, len(choices), LANGUAGES_BY_NAME.get(descriptor_key(language.text), "other"))
            )
        return min(choices)[2] if choices else ""

    def _program(self, item: Item, facts: Facts) -> None:
        """A student program association -> a characteristic over its begin/end dates."""
        kind = PROGRAM_KINDS[item.element]
        if not kind:
            program_type = self.value(item, "program_type")
            kind = PROGRAM_TYPES.get(descriptor_key(program_type.text), "") if program_type else ""
        student = self.text(item, "student", required=True, limit="local_id")
        begin = self.date(item, "begin", required=True)
        end = self.date(item, "end")
        if not kind or not student or not begin or end is False:
            return
        if end and end < begin:
            self.end_before_begin(item, "end", begin, end)
            return
        if kind == "english_learner" and self.flag(item, "el_participation") is False:
            return
        if kind == "section_504" and self.flag(item, "eligible_504") is False:
            return
        services = [
            descriptor_key(v.text)
            for v in self.items_text(item.lists.get("food_services", []), "service")
        ]
        paid = services and not any("free" in s or "reduced" in s for s in services)
        if kind == "econ_disadvantaged" and paid:
            return
        facts.characteristics.append(
            CharacteristicRecord(student, kind, begin, item.where, end_date=end or None)
        )

    # -- guardians ------------------------------------------------------------------------

    def _contact(self, item: Item, facts: Facts) -> None:
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
            if number is None or (kind and descriptor_key(kind.text) == "fax"):
                continue
            priority = self.value(entry, "priority")
            rank = digits(priority.text) if priority else None
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
            key = descriptor_key(kind.text) if kind else ""
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

    def _contact_link(self, item: Item, facts: Facts) -> None:
        """StudentContactAssociation (StudentParentAssociation) -> StudentGuardianRecord."""
        student = self.text(item, "student", required=True, limit="local_id")
        contact = self.text(item, "contact", required=True, limit="local_id")
        if not (student and contact):
            return
        relation = self.value(item, "relation")
        kind = RELATIONS.get(descriptor_key(relation.text), "other") if relation else "other"
        if kind == "other" and self.flag(item, "legal_guardian"):
            kind = "guardian"
        priority = self.value(item, "priority")
        rank = digits(priority.text) if priority else None
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

    def _enrollment(self, item: Item, facts: Facts) -> None:
        """StudentSchoolAssociation -> EnrollmentRecord (school year from SchoolYear or dates)."""
        student = self.text(item, "student", required=True, limit="local_id")
        school = self.text(item, "school", required=True, limit="local_id")
        year = self.school_year(item, "school_year")
        entry = self.date(item, "entry", required=True)
        exit_date = self.date(item, "exit")
        grade = self.descriptor(item, "grade", EDFI_GRADE_LEVELS, "GradeLevel", required=True)
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
            self.end_before_begin(item, "exit", entry, exit_date)
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

    def _event(self, item: Item) -> Event | None:
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
        return Event(record, year or "")

    def _school_event(self, item: Item, facts: Facts) -> None:
        """StudentSchoolAttendanceEvent -> AttendanceRecord (a daily event)."""
        if event := self._event(item):
            facts.events.append(event)

    def _section_event(self, item: Item, facts: Facts) -> None:
        """StudentSectionAttendanceEvent -> kept for the roll-up to daily events at the end."""
        if event := self._event(item):
            event.section = self.text(item, "section") or ""
            facts.section_events.append(event)

    # -- interventions ----------------------------------------------------------------------

    def _intervention(self, item: Item, facts: Facts) -> None:
        """Intervention -> its code, education organization and dates, for its students."""
        code = self.text(item, "code", required=True, limit="intervention_code")
        school = self.text(item, "school", limit="local_id")
        begin = self.date(item, "begin", required=True)
        end = self.date(item, "end")
        if not (code and begin) or end is False:
            return
        if end and end < begin:
            self.end_before_begin(item, "end", begin, end)
            return
        facts.interventions.append(
            InterventionFacts(code, school or "", begin, end or None, item.where)
        )

    def _intervention_link(self, item: Item, facts: Facts) -> None:
        """StudentInterventionAssociation -> kept until every Intervention is read."""
        student = self.text(item, "student", required=True, limit="local_id")
        code = self.text(item, "intervention", required=True, limit="intervention_code")
        # An XML reference by `ref` gives no education organization: the code alone matches.
        school = item.values.get("school")
        if student and code:
            school_id = school.text if isinstance(school, Value) else ""
            facts.intervention_links.append(InterventionLink(student, code, school_id, item.where))

    def finish(self) -> Batch:
        """Map the items that waited for a reference, then settle every file's facts."""
        deferred, self.facts.deferred = self.facts.deferred, []
        for item in deferred:
            self.handlers[item.element](item, self.facts)
        return finish_batch(self.batch, self.facts, implied_enrollments=self.implied_enrollments)


def read_file(reader: Reader, path: Path, parse: Callable[[Facts], bool]) -> None:
    """Read one file into the reader with `parse`; a damaged file contributes only its error.

    `parse` maps the file's items into the facts it is given and says whether the file was
    read whole; only then are they merged into the reader's.
    """
    facts = Facts()
    name = file_name(path)
    try:
        if over_size(size := path.stat().st_size):
            refuse_file(reader.batch, name, f"holds {megabytes(size)}")
            return
        complete = parse(facts)
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


def file_name(path: Path) -> str:
    """A file's name as problems and rows give it: bytes of the name that are not UTF-8
    (surrogate escapes on POSIX, which no database stores) become U+FFFD."""
    return path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
