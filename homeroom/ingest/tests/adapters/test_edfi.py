"""The Ed-Fi adapter: Grand Bend sample counts, findings, re-imports, bad input, JSON = XML."""

import dataclasses
import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homeroom.attendance.models import AttendanceCode, AttendanceEvent
from homeroom.core.models import CalendarDate, District, School, SchoolYear
from homeroom.ingest.adapters.edfi import read_edfi, read_edfi_json, read_edfi_xml
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import Batch, Severity
from homeroom.ingest.sync import ImportRejected, SourceFile, do_import
from homeroom.roster.models import Enrollment, Guardian, Student, StudentCharacteristic

DATA = Path(__file__).resolve().parents[4] / ".." / "shared" / "data"
GRAND_BEND = DATA / "edfi-grandbend"
NS = "http://ed-fi.org/5.2.0"
SUNDAY = dt.date(2022, 5, 15)


def grand_bend(*names: str) -> list[Path]:
    """Grand Bend sample files (all XML files when no name is given); fails if missing."""
    files = [GRAND_BEND / n for n in names] if names else sorted(GRAND_BEND.glob("*.xml"))
    missing = [str(f) for f in files if not f.is_file()]
    assert files and not missing, (
        f"The Ed-Fi Grand Bend sample is missing: expected its XML files in {GRAND_BEND}"
        " (shared/data/edfi-grandbend beside the project root). Missing: "
        f"{', '.join(missing) or 'every *.xml'}"
    )
    return files


def import_batch(batch: Batch, district: District, files: list[Path], **options) -> ImportRun:
    """Run the sync engine on a batch read from `files`."""
    sources = [SourceFile(f.name, "0" * 64, f.stat().st_size) for f in files]
    return do_import(batch, district=district, source_format="edfi-xml", files=sources, **options)


def codes(batch: Batch, severity: Severity | None = None) -> Counter:
    """How many problems of each code the batch holds."""
    return Counter(p.code for p in batch.problems if severity in (None, p.severity))


def values(batch: Batch, code: str) -> set[str]:
    """The values of the problems with a code."""
    return {p.value for p in batch.problems if p.code == code}


def held_state() -> tuple:
    """What the database holds, to check a rejected run changed nothing."""
    return (
        sorted(AttendanceEvent.objects.values_list("student__local_id", "date", "code__code")),
        sorted(Student.objects.values_list("local_id", "grade", "race_ethnicity")),
        Enrollment.objects.count(),
        StudentCharacteristic.objects.count(),
        Guardian.objects.count(),
        CalendarDate.objects.count(),
    )


@pytest.fixture(scope="module")
def sample() -> Batch:
    """The whole Grand Bend sample read once (tests that import read their own copy)."""
    return read_edfi_xml(grand_bend())


# ---------------------------------------------------------------------------------------
# Grand Bend as read


def test_grand_bend_attendance_counts(sample):
    events = sample.attendance
    assert len(events) == 1917
    assert len({e.student_id for e in events}) == 227
    assert {e.school_id for e in events} == {"255901001", "255901044", "255901107"}
    assert Counter(e.code for e in events) == {
        "Excused Absence": 1077,
        "Unexcused Absence": 773,
        "Tardy": 66,
        "Partial": 1,
    }
    assert (min(e.date for e in events), max(e.date for e in events)) == (
        dt.date(2021, 8, 23),
        dt.date(2022, 5, 27),
    )
    assert sample.errors == []
    # Every one of the 66 section tardies has its daily tardy: none adds a daily event.
    assert sample.rows_read["section_attendance"] == 66
    assert sample.rows_read["section_attendance_rolled_up"] == 0
    assert codes(sample)["section_daily_mismatch"] == 0


def test_grand_bend_events_keep_file_line_and_details(sample):
    first = sample.attendance[0]
    assert (first.where.file, first.where.line, first.where.column) == (
        "StudentSchoolAttendance.xml",
        3,
        "StudentSchoolAttendanceEvent",
    )
    assert (first.student_id, first.school_id, first.date) == (
        "604822",
        "255901001",
        dt.date(2021, 8, 31),
    )
    assert (first.code, first.day_fraction, first.reason) == (
        "Excused Absence",
        Decimal(1),
        "Absent excused",
    )
    partial = next(e for e in sample.attendance if e.code == "Partial")
    assert (partial.day_fraction, partial.minutes_missed, partial.where.line) == (None, 10, 90)


def test_grand_bend_reference_data(sample):
    assert sample.rows_read["students"] == len(sample.students) == 960
    assert [(s.local_id, s.level, s.lowest_grade, s.highest_grade) for s in sample.schools] == [
        ("255901001", "high", 9, 12),
        ("255901044", "middle", 6, 8),
        ("255901107", "elementary", 1, 5),
    ]
    [year] = sample.school_years
    assert (year.name, year.start_date, year.end_date) == (
        "2021-2022",
        dt.date(2021, 8, 23),
        dt.date(2022, 5, 27),
    )
    assert [(d.school_id, d.calendar_code, d.date, d.kind) for d in sample.calendar_dates] == [
        ("255901107", "2010605675", dt.date(2021, 8, 23), "instructional"),
        ("255901107", "2010605675", dt.date(2021, 12, 17), "instructional"),
    ]
    assert {(c.code, c.category, c.day_fraction) for c in sample.attendance_codes} == {
        ("Early departure", "early_departure", 0),
        ("Excused Absence", "excused", 1),
        ("In Attendance", "present", 0),
        ("Partial", "partial", Decimal("0.5")),
        ("Present", "present", 0),
        ("Tardy", "tardy", 0),
        ("Unexcused Absence", "unexcused", 1),
    }
    assert sample.rows_read["program_associations"] == 706
    assert Counter(c.kind for c in sample.characteristics) == {
        "migrant": 275,
        "iep": 97,
        "econ_disadvantaged": 82,
        "english_learner": 78,
        "homeless": 11,
        "section_504": 3,
    }
    assert (len(sample.guardians), len(sample.student_guardians)) == (1873, 1872)
    link = sample.student_guardians[0]  # ContactReference ref="PRNT_778393" resolved
    assert (link.student_id, link.guardian_id, link.relationship, link.contact_priority) == (
        "604821",
        "778393",
        "mother",
        1,
    )
    # No enrollment interchange: grades are estimated from birth dates, and it is said once.
    assert codes(sample)["grade_estimated"] == 1
    tyrone = next(s for s in sample.students if s.local_id == "604821")  # born 2014-11-13
    assert (tyrone.grade, tyrone.birth_date) == (1, dt.date(2014, 11, 13))
    assert sample.enrollments == []
    skipped = values(sample, "elements_not_read")
    assert any("InterventionStudy x1" in v for v in skipped)
    assert not any("StudentInterventionAssociation" in v for v in skipped)  # read since #20


# ---------------------------------------------------------------------------------------
# Grand Bend through the sync engine


@pytest.mark.django_db
def test_grand_bend_imports_with_findings_and_reimports_unchanged():
    district = District.objects.create(name="Grand Bend ISD")
    files = grand_bend()
    batch = read_edfi_xml(files)
    first = import_batch(batch, district, files)
    assert first.status == ImportRun.Status.SUCCEEDED
    assert first.counts["attendance"]["inserted"] == AttendanceEvent.objects.count() == 1917
    assert Student.objects.filter(district=district).count() == 960
    assert School.objects.filter(district=district).count() == 3
    found = codes(batch, Severity.FINDING)
    # No enrollment in the sample: every event is kept but outside enrollment.
    assert found["outside_enrollment"] == 1917
    # Only the elementary school has a calendar (two dates), so the other two have none...
    assert values(batch, "no_calendar") == {"255901001", "255901044"}
    # ...and the elementary school's two dates are almost none of its attendance's dates
    assert values(batch, "calendar_incomplete") == {"255901107"}
    # ...and the elementary school's events off those two dates are on dates its calendar
    # does not list, except the Sunday tardies: a weekend is never a school day.
    elementary = [e for e in batch.attendance if e.school_id == "255901107"]
    off_calendar = [
        e for e in elementary if e.date not in {dt.date(2021, 8, 23), dt.date(2021, 12, 17)}
    ]
    weekend = [e for e in off_calendar if e.date.weekday() >= 5]
    assert found["non_instructional_day"] == len(weekend)
    assert found["date_not_in_calendar"] == len(off_calendar) - len(weekend)
    sunday = {f"{e.student_id} {e.date}" for e in batch.attendance if e.date == SUNDAY}
    assert sunday == {"604891 2022-05-15", "604906 2022-05-15", "604923 2022-05-15"}
    assert sunday <= values(batch, "non_instructional_day")
    # The student with an Excused Absence and a Partial on one day.
    assert values(batch, "conflicting_events") == {"604822 2021-12-15"}
    assert first.problem_counts["finding:conflicting_events"] == 1

    again = import_batch(read_edfi_xml(files), district, files)
    # (the first import recorded the schools' attendance to its last day; again, no later)
    assert "recorded_through" in first.counts
    assert again.counts.keys() == first.counts.keys() - {"recorded_through"}
    for entity, counts in again.counts.items():
        changed = {k: counts[k] for k in ("inserted", "updated", "deleted")}
        assert changed == {"inserted": 0, "updated": 0, "deleted": 0}, entity
        assert counts["unchanged"] == counts["read"] - counts["skipped"] - counts["present"], entity
    assert AttendanceEvent.objects.count() == 1917


@pytest.mark.django_db
def test_implied_enrollments_span_the_sessions_and_are_reported():
    district = District.objects.create(name="Grand Bend ISD")
    files = grand_bend()
    batch = read_edfi_xml(files, implied_enrollments=True)
    spans = {(e.student_id, e.school_id) for e in batch.attendance}
    assert len(batch.enrollments) == len(spans) == codes(batch)["implied_enrollment"]
    enrollment = batch.enrollments[0]
    assert (enrollment.entry_date, enrollment.exit_date, enrollment.exit_reason) == (
        dt.date(2021, 8, 23),
        dt.date(2022, 5, 27),
        "",
    )
    run = import_batch(batch, district, files)
    assert codes(batch)["outside_enrollment"] == 0
    assert Enrollment.objects.count() == len(spans)
    assert run.counts["enrollments"]["inserted"] == len(spans)
    again = import_batch(read_edfi_xml(files, implied_enrollments=True), district, files)
    assert again.counts["enrollments"]["unchanged"] == len(spans)
    assert again.counts["attendance"]["unchanged"] == 1917


# ---------------------------------------------------------------------------------------
# Bad input: errors with file and line, never an exception; the engine rejects the run


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """A file in tmp_path."""
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def attendance_xml(*events: str) -> str:
    """An attendance interchange with the given StudentSchoolAttendanceEvent bodies."""
    body = "".join(
        f"<StudentSchoolAttendanceEvent>{e}</StudentSchoolAttendanceEvent>\n" for e in events
    )
    root = "InterchangeStudentAttendance"
    return f'<?xml version="1.0"?>\n<{root} xmlns="{NS}">\n{body}</{root}>\n'


def event(
    day: str = "2021-09-01",
    category: str = "Excused Absence",
    student: str = "604822",
    extra: str = "",
) -> str:
    """The body of a school attendance event."""
    date = f"<EventDate>{day}</EventDate>" if day else ""
    return (
        f"<AttendanceEvent>{date}<AttendanceEventCategory>"
        f"uri://ed-fi.org/AttendanceEventCategoryDescriptor#{category}</AttendanceEventCategory>"
        f"</AttendanceEvent><StudentReference><StudentIdentity><StudentUniqueId>{student}"
        "</StudentUniqueId></StudentIdentity></StudentReference><SchoolReference><SchoolIdentity>"
        f"<SchoolId>255901001</SchoolId></SchoolIdentity></SchoolReference>{extra}"
    )


SAMPLE_ATTENDANCE = GRAND_BEND / "StudentSchoolAttendance.xml"


def corrupted(tmp_path: Path) -> dict[str, Path]:
    """Damaged copies of the sample's attendance file and small bad interchanges."""
    original = grand_bend("StudentSchoolAttendance.xml")[0].read_bytes()
    files = {
        f"truncated at {at}": write(tmp_path, f"truncated-{at}.xml", original[:at])
        for at in (0, 30, 250, 1000, len(original) // 2, len(original) - 3)
    }
    files["garbage bytes"] = write(tmp_path, "garbage.xml", bytes(range(256)) * 4)
    files["garbage inside"] = write(
        tmp_path, "inside.xml", original[:5000] + b"\x00\xff<<&&" + original[5000:]
    )
    files["wrong root"] = write(
        tmp_path, "root.xml", f'<?xml version="1.0"?>\n<Roster xmlns="{NS}"/>'
    )
    files["wrong namespace"] = write(
        tmp_path, "ns.xml", '<InterchangeStudentAttendance xmlns="http://example.org/x"/>'
    )
    files["invalid date"] = write(
        tmp_path, "date.xml", attendance_xml(event(), event("2021-02-30"))
    )
    files["missing EventDate"] = write(tmp_path, "nodate.xml", attendance_xml(event(day="")))
    files["unknown category"] = write(
        tmp_path, "cat.xml", attendance_xml(event(category="Skipped"))
    )
    files["bad duration"] = write(
        tmp_path,
        "dur.xml",
        attendance_xml(event(extra="<SchoolAttendanceDuration>-5</SchoolAttendanceDuration>")),
    )
    return files


def test_bad_input_gives_errors_with_file_and_line(tmp_path):
    for what, path in corrupted(tmp_path).items():
        batch = read_edfi_xml([path])
        assert batch.errors, what
        for error in batch.errors:
            assert error.where is not None and error.where.file == path.name, what
            assert error.message and error.hint, what
        if what.startswith("truncated at") and what != "truncated at 0":
            assert batch.errors[0].code == "bad_xml"
            assert batch.attendance == [], "a damaged file contributes nothing"
    date_error = read_edfi_xml([tmp_path / "date.xml"]).errors
    assert [(e.code, e.where.line, e.where.column, e.value) for e in date_error] == [
        ("bad_date", 4, "EventDate", "2021-02-30")
    ]
    missing = read_edfi_xml([tmp_path / "nodate.xml"]).errors
    assert [(e.code, e.where.line, e.where.column) for e in missing] == [
        ("missing_element", 3, "EventDate")
    ]
    unknown = read_edfi_xml([tmp_path / "cat.xml"]).errors
    assert [(e.code, e.value) for e in unknown] == [
        ("unknown_descriptor", "uri://ed-fi.org/AttendanceEventCategoryDescriptor#Skipped")
    ]
    truncated = read_edfi_xml([tmp_path / "truncated-1000.xml"]).errors[0]
    assert truncated.where.line > 1 and "line" in truncated.message


@pytest.mark.django_db
def test_bad_input_is_rejected_and_the_database_is_unchanged(tmp_path):
    district = District.objects.create(name="Grand Bend ISD")
    files = grand_bend("EducationOrganization.xml", "Student.xml", "StudentSchoolAttendance.xml")
    import_batch(read_edfi_xml(files[:2]), district, files[:2])
    before = held_state()
    for what, path in corrupted(tmp_path).items():
        batch = read_edfi_xml([*files[:2], path])
        with pytest.raises(ImportRejected) as rejected:
            import_batch(batch, district, [path])
        assert held_state() == before, what
        recorded = ImportRun.objects.get(pk=rejected.value.run.pk)
        assert recorded.status == ImportRun.Status.REJECTED
        assert all(p["file"] == path.name for p in recorded.problems if p["severity"] == "error")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_files_never_raise(tmp_path, data):
    original = attendance_xml(
        event(),
        event(
            "2021-09-02", "Tardy", extra="<SchoolAttendanceDuration>5</SchoolAttendanceDuration>"
        ),
    ).encode()
    cut = data.draw(st.integers(0, len(original)))
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, len(original) - 1), st.integers(0, 255)), max_size=4)
    )
    damaged = bytearray(original[:cut] + original[cut:])
    for at, byte in flips:
        damaged[at] = byte
    damaged = bytes(damaged[: data.draw(st.integers(0, len(damaged)))])
    xml_batch = read_edfi_xml([write(tmp_path, "damaged.xml", damaged)])
    json_batch = read_edfi_json([write(tmp_path, "studentSchoolAttendanceEvents.json", damaged)])
    for batch in (xml_batch, json_batch):
        assert isinstance(batch, Batch)
        assert all(
            p.where is None or p.where.file.startswith(("damaged", "student"))
            for p in batch.problems
        )


# ---------------------------------------------------------------------------------------
# Rules on small interchanges: section roll-up, enrollments, demographics, Data Standard 4


def test_section_events_roll_up_only_when_no_daily_event(tmp_path):
    def section(student, day, category):
        return (
            f"<StudentSectionAttendanceEvent><AttendanceEvent><EventDate>{day}</EventDate>"
            f"<AttendanceEventCategory>uri://ed-fi.org/AttendanceEventCategoryDescriptor#{category}"
            "</AttendanceEventCategory></AttendanceEvent><StudentReference><StudentIdentity>"
            f"<StudentUniqueId>{student}</StudentUniqueId></StudentIdentity></StudentReference>"
            "<SectionReference><SectionIdentity><SectionIdentifier>MATH-1</SectionIdentifier>"
            "<CourseOfferingReference><CourseOfferingIdentity><SchoolReference><SchoolIdentity>"
            "<SchoolId>255901001</SchoolId></SchoolIdentity></SchoolReference>"
            "</CourseOfferingIdentity></CourseOfferingReference></SectionIdentity></SectionReference>"
            "<SectionAttendanceDuration>7</SectionAttendanceDuration></StudentSectionAttendanceEvent>\n"
        )

    sections = write(
        tmp_path,
        "sections.xml",
        f'<InterchangeStudentAttendance xmlns="{NS}">\n'
        + section("S1", "2021-09-01", "Tardy")  # no daily event: becomes a daily tardy
        + section("S1", "2021-09-01", "Tardy")  # a second period late: still one daily tardy
        + section("S2", "2021-09-01", "Unexcused Absence")  # a period missed is no day missed
        + section("S3", "2021-09-01", "Tardy")  # S3 has a daily absence that day
        + "</InterchangeStudentAttendance>",
    )
    daily = write(tmp_path, "daily.xml", attendance_xml(event(student="S3")))
    batch = read_edfi_xml([sections, daily])
    assert sorted(
        (e.student_id, e.code, e.minutes_missed, e.where.file) for e in batch.attendance
    ) == [
        ("S1", "Tardy", 7, "sections.xml"),
        ("S3", "Excused Absence", None, "daily.xml"),
    ]
    assert values(batch, "section_absence_not_rolled_up") == {
        "S2 2021-09-01 Unexcused Absence MATH-1"
    }
    assert values(batch, "section_daily_mismatch") == {
        "S3 2021-09-01 Tardy (daily: Excused Absence)"
    }
    assert batch.rows_read["section_attendance_rolled_up"] == 1


ENROLLMENT = f"""<?xml version="1.0"?>
<InterchangeStudentEnrollment xmlns="{NS}">
  <StudentSchoolAssociation>
    <StudentReference><StudentIdentity><StudentUniqueId>604822</StudentUniqueId></StudentIdentity></StudentReference>
    <SchoolReference><SchoolIdentity><SchoolId>255901001</SchoolId></SchoolIdentity></SchoolReference>
    <EntryDate>2021-08-23</EntryDate>
    <EntryGradeLevel>uri://ed-fi.org/GradeLevelDescriptor#Tenth grade</EntryGradeLevel>
    <ExitWithdrawDate>2022-01-31</ExitWithdrawDate>
    <ExitWithdrawType>uri://ed-fi.org/ExitWithdrawTypeDescriptor#Transferred</ExitWithdrawType>
  </StudentSchoolAssociation>
  <StudentEducationOrganizationAssociation>
    <StudentReference><StudentIdentity><StudentUniqueId>604822</StudentUniqueId></StudentIdentity></StudentReference>
    <EducationOrganizationReference><EducationOrganizationIdentity><EducationOrganizationId>255901</EducationOrganizationId></EducationOrganizationIdentity></EducationOrganizationReference>
    <Sex>uri://ed-fi.org/SexDescriptor#Female</Sex>
    <HispanicLatinoEthnicity>false</HispanicLatinoEthnicity>
    <Race>uri://ed-fi.org/RaceDescriptor#White</Race>
    <Race>uri://ed-fi.org/RaceDescriptor#Asian</Race>
    <StudentCharacteristic>
      <StudentCharacteristic>Foster Care</StudentCharacteristic>
      <Period><BeginDate>2021-10-01</BeginDate><EndDate>2022-03-01</EndDate></Period>
    </StudentCharacteristic>
    <StudentCharacteristic>
      <StudentCharacteristic>uri://ed-fi.org/StudentCharacteristicDescriptor#Immigrant</StudentCharacteristic>
    </StudentCharacteristic>
    <Language>
      <Language>uri://ed-fi.org/LanguageDescriptor#eng</Language>
      <LanguageUse>uri://ed-fi.org/LanguageUseDescriptor#Spoken language</LanguageUse>
    </Language>
    <Language>
      <Language>uri://ed-fi.org/LanguageDescriptor#spa</Language>
      <LanguageUse>uri://ed-fi.org/LanguageUseDescriptor#Home language</LanguageUse>
    </Language>
    <StudentIndicator>
      <IndicatorName>Homeless</IndicatorName><Indicator>Yes</Indicator>
    </StudentIndicator>
  </StudentEducationOrganizationAssociation>
  <StudentEducationOrganizationAssociation>
    <StudentReference><StudentIdentity><StudentUniqueId>604823</StudentUniqueId></StudentIdentity></StudentReference>
    <HispanicLatinoEthnicity>true</HispanicLatinoEthnicity>
    <Race>uri://ed-fi.org/RaceDescriptor#White</Race>
  </StudentEducationOrganizationAssociation>
</InterchangeStudentEnrollment>
"""


def test_enrollment_interchange_gives_enrollments_grades_and_demographics(tmp_path):
    enrollment = write(tmp_path, "StudentEnrollment.xml", ENROLLMENT)
    files = [*grand_bend("Student.xml", "EducationOrgCalendar.xml"), enrollment]
    batch = read_edfi_xml(files, implied_enrollments=True)
    assert batch.errors == []
    [spell] = batch.enrollments
    assert (spell.student_id, spell.school_id, spell.school_year, spell.grade) == (
        "604822",
        "255901001",
        "2021-2022",
        10,
    )
    assert (spell.entry_date, spell.exit_date, spell.exit_reason) == (
        dt.date(2021, 8, 23),
        dt.date(2022, 1, 31),
        "Transferred",
    )
    assert (spell.where.file, spell.where.line) == ("StudentEnrollment.xml", 3)
    students = {s.local_id: s for s in batch.students}
    lisa, julie = students["604822"], students["604823"]
    assert (lisa.grade, lisa.gender, lisa.race_ethnicity, lisa.home_language) == (
        10,
        "F",
        "two_or_more",
        "es",
    )
    assert julie.race_ethnicity == "hispanic"  # Hispanic overrides race
    assert sorted(
        (c.student_id, c.kind, c.start_date, c.end_date) for c in batch.characteristics
    ) == [
        ("604822", "foster_care", dt.date(2021, 10, 1), dt.date(2022, 3, 1)),
        ("604822", "homeless", dt.date(2021, 8, 23), None),  # no Period: from the school year
    ]
    assert codes(batch)["characteristic_undated"] == 1
    assert codes(batch)["implied_enrollment"] == 0


def test_data_standard_4_namespace_and_parent_interchange(tmp_path):
    old = "http://ed-fi.org/4.0.0"
    parents = write(
        tmp_path,
        "Parent.xml",
        f'<InterchangeParent xmlns="{old}"><Parent id="P1"><ParentUniqueId>77</ParentUniqueId>'
        "<Name><FirstName>Ana</FirstName><LastSurname>Ruiz</LastSurname></Name></Parent>"
        "<StudentParentAssociation><StudentReference><StudentIdentity><StudentUniqueId>5"
        '</StudentUniqueId></StudentIdentity></StudentReference><ParentReference ref="P1"/>'
        "<Relation>uri://ed-fi.org/RelationDescriptor#Grandmother</Relation>"
        "</StudentParentAssociation></InterchangeParent>",
    )
    attendance = write(tmp_path, "att.xml", attendance_xml(event()).replace(NS, old))
    batch = read_edfi_xml([parents, attendance])
    assert batch.errors == []
    assert [(g.local_id, g.first_name) for g in batch.guardians] == [("77", "Ana")]
    assert [(s.student_id, s.guardian_id, s.relationship) for s in batch.student_guardians] == [
        ("5", "77", "grandparent")
    ]
    assert len(batch.attendance) == 1


def test_a_reference_to_an_id_no_file_defines_is_an_error(tmp_path):
    path = write(
        tmp_path,
        "links.xml",
        f'<InterchangeContact xmlns="{NS}">\n<StudentContactAssociation><StudentReference>'
        "<StudentIdentity><StudentUniqueId>5</StudentUniqueId></StudentIdentity></StudentReference>"
        '\n<ContactReference ref="NOPE"/></StudentContactAssociation></InterchangeContact>',
    )
    [error] = read_edfi_xml([path]).errors
    assert (error.code, error.value, error.where.line, error.where.column) == (
        "unknown_reference",
        "NOPE",
        3,
        "ContactReference",
    )


# ---------------------------------------------------------------------------------------
# ODS/API JSON: the same resources give the same batch


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def find(element: ET.Element, path: str) -> str | None:
    """Text at a slash path of local names (namespace added)."""
    found = element.find("/".join(f"{{{NS}}}{p}" for p in path.split("/")))
    return found.text.strip() if found is not None and found.text else None


def all_text(element: ET.Element, path: str) -> list[str]:
    return [
        e.text.strip() for e in element.findall("/".join(f"{{{NS}}}{p}" for p in path.split("/")))
    ]


def year(text: str) -> int:
    return int(text[-4:])


def clean(resource: dict) -> dict:
    """Drop absent values, as the API leaves them out."""
    return {k: v for k, v in resource.items() if v not in (None, [], {})}


def to_api(element: ET.Element, ids: dict[str, str]) -> tuple[str, dict] | None:
    """An interchange element as the ODS/API resource (name, JSON object) it corresponds to."""
    name = local(element.tag)
    student = {"studentUniqueId": find(element, "StudentReference/StudentIdentity/StudentUniqueId")}
    event = {
        "eventDate": find(element, "AttendanceEvent/EventDate"),
        "attendanceEventCategoryDescriptor": find(
            element, "AttendanceEvent/AttendanceEventCategory"
        ),
        "attendanceEventReason": find(element, "AttendanceEvent/AttendanceEventReason"),
        "eventDuration": float(d)
        if (d := find(element, "AttendanceEvent/EventDuration"))
        else None,
        "studentReference": student,
    }
    if name == "School":
        return "schools", clean(
            {
                "schoolId": int(find(element, "SchoolId")),
                "nameOfInstitution": find(element, "NameOfInstitution"),
                "gradeLevels": [
                    {"gradeLevelDescriptor": g} for g in all_text(element, "GradeLevel")
                ],
                "schoolCategories": [
                    {"schoolCategoryDescriptor": c} for c in all_text(element, "SchoolCategory")
                ],
                "identificationCodes": [
                    {
                        "educationOrganizationIdentificationSystemDescriptor": find(
                            c, "EducationOrganizationIdentificationSystem"
                        ),
                        "identificationCode": find(c, "IdentificationCode"),
                    }
                    for c in element.findall(f"{{{NS}}}EducationOrganizationIdentificationCode")
                ],
            }
        )
    if name == "Session":
        return "sessions", {
            "sessionName": find(element, "SessionName"),
            "schoolReference": {
                "schoolId": int(find(element, "SchoolReference/SchoolIdentity/SchoolId"))
            },
            "schoolYearTypeReference": {"schoolYear": year(find(element, "SchoolYear"))},
            "beginDate": find(element, "BeginDate"),
            "endDate": find(element, "EndDate"),
        }
    if name == "CalendarDate":
        identity = "CalendarReference/CalendarIdentity/"
        return "calendarDates", {
            "date": find(element, "Date"),
            "calendarReference": {
                "calendarCode": find(element, identity + "CalendarCode"),
                "schoolId": int(
                    find(element, identity + "SchoolReference/SchoolIdentity/SchoolId")
                ),
                "schoolYear": year(find(element, identity + "SchoolYear")),
            },
            "calendarEvents": [
                {"calendarEventDescriptor": e} for e in all_text(element, "CalendarEvent")
            ],
        }
    if name == "AttendanceEventCategoryDescriptor":
        return "attendanceEventCategoryDescriptors", {
            "codeValue": find(element, "CodeValue"),
            "shortDescription": find(element, "ShortDescription"),
            "description": find(element, "Description"),
            "namespace": find(element, "Namespace"),
        }
    if name == "Student":
        return "students", clean(
            {
                "studentUniqueId": find(element, "StudentUniqueId"),
                "firstName": find(element, "Name/FirstName"),
                "middleName": find(element, "Name/MiddleName"),
                "lastSurname": find(element, "Name/LastSurname"),
                "birthDate": find(element, "BirthData/BirthDate"),
                "birthSexDescriptor": find(element, "BirthData/BirthSex"),
            }
        )
    if name == "StudentSchoolAttendanceEvent":
        session = "SessionReference/SessionIdentity/"
        return "studentSchoolAttendanceEvents", clean(
            {
                **event,
                "schoolReference": {
                    "schoolId": int(find(element, "SchoolReference/SchoolIdentity/SchoolId"))
                },
                "sessionReference": {
                    "schoolId": int(
                        find(element, session + "SchoolReference/SchoolIdentity/SchoolId")
                    ),
                    "schoolYear": year(find(element, session + "SchoolYear")),
                    "sessionName": find(element, session + "SessionName"),
                },
                "schoolAttendanceDuration": int(m)
                if (m := find(element, "SchoolAttendanceDuration"))
                else None,
                "arrivalTime": find(element, "ArrivalTime"),
            }
        )
    if name == "StudentSectionAttendanceEvent":
        identity = "SectionReference/SectionIdentity/"
        offering = identity + "CourseOfferingReference/CourseOfferingIdentity/"
        return "studentSectionAttendanceEvents", clean(
            {
                **event,
                "sectionReference": {
                    "localCourseCode": find(element, offering + "LocalCourseCode"),
                    "schoolId": int(
                        find(element, offering + "SchoolReference/SchoolIdentity/SchoolId")
                    ),
                    "schoolYear": year(
                        find(element, offering + "SessionReference/SessionIdentity/SchoolYear")
                    ),
                    "sectionIdentifier": find(element, identity + "SectionIdentifier"),
                    "sessionName": find(
                        element, offering + "SessionReference/SessionIdentity/SessionName"
                    ),
                },
                "sectionAttendanceDuration": int(find(element, "SectionAttendanceDuration")),
            }
        )
    if name.startswith("Student") and name.endswith("ProgramAssociation"):
        program = "ProgramReference/ProgramIdentity/"
        services = all_text(
            element, "SchoolFoodServiceProgramService/SchoolFoodServiceProgramService"
        )
        flag = find(element, "EnglishLearnerParticipation")
        return name[0].lower() + name[1:] + "s", clean(
            {
                "studentReference": student,
                "programReference": {
                    "educationOrganizationId": 255901,
                    "programName": find(element, program + "ProgramName"),
                    "programTypeDescriptor": find(element, program + "ProgramType"),
                },
                "beginDate": find(element, "BeginDate"),
                "endDate": find(element, "EndDate"),
                "englishLearnerParticipation": None if flag is None else flag in ("1", "true"),
                "schoolFoodServiceProgramServices": [
                    {"schoolFoodServiceProgramServiceDescriptor": s} for s in services
                ],
            }
        )
    if name == "Contact":
        return "contacts", clean(
            {
                "contactUniqueId": find(element, "ContactUniqueId"),
                "firstName": find(element, "Name/FirstName"),
                "lastSurname": find(element, "Name/LastSurname"),
                "telephones": [
                    clean(
                        {
                            "telephoneNumber": find(t, "TelephoneNumber"),
                            "telephoneNumberTypeDescriptor": find(t, "TelephoneNumberType"),
                            "orderOfPriority": int(p)
                            if (p := find(t, "OrderOfPriority"))
                            else None,
                        }
                    )
                    for t in element.findall(f"{{{NS}}}Telephone")
                ],
                "electronicMails": [
                    clean(
                        {
                            "electronicMailAddress": find(m, "ElectronicMailAddress"),
                            "electronicMailTypeDescriptor": find(m, "ElectronicMailType"),
                        }
                    )
                    for m in element.findall(f"{{{NS}}}ElectronicMail")
                ],
                "addresses": [
                    clean(
                        {
                            "streetNumberName": find(a, "StreetNumberName"),
                            "apartmentRoomSuiteNumber": find(a, "ApartmentRoomSuiteNumber"),
                            "city": find(a, "City"),
                            "stateAbbreviationDescriptor": find(a, "StateAbbreviation"),
                            "postalCode": find(a, "PostalCode"),
                            "addressTypeDescriptor": find(a, "AddressType"),
                        }
                    )
                    for a in element.findall(f"{{{NS}}}Address")
                ],
            }
        )
    if name == "StudentContactAssociation":
        reference = element.find(f"{{{NS}}}ContactReference")
        return "studentContactAssociations", clean(
            {
                "studentReference": student,
                "contactReference": {"contactUniqueId": ids[reference.get("ref")]},
                "relationDescriptor": find(element, "Relation"),
                "primaryContactStatus": find(element, "PrimaryContactStatus") == "true",
                "livesWith": (lw == "true") if (lw := find(element, "LivesWith")) else None,
            }
        )
    return None


def write_api_json(files: list[Path], folder: Path) -> list[Path]:
    """Write the resources of interchange files as ODS/API response files (one per resource)."""
    resources: dict[str, list[dict]] = {}
    for path in files:
        root = ET.parse(path).getroot()
        ids = {e.get("id"): find(e, "ContactUniqueId") for e in root if e.get("id")}
        for element in root:
            if converted := to_api(element, ids):
                resources.setdefault(converted[0], []).append(converted[1])
    written = []
    for name, items in resources.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(items, indent=2))
        written.append(path)
    return written


def without_places(batch: Batch) -> dict:
    """The batch's records and problems with file, line and column left out."""

    def strip(record):
        return {k: v for k, v in dataclasses.asdict(record).items() if k != "where"}

    shape = {}
    for name in (f.name for f in dataclasses.fields(batch)):
        value = getattr(batch, name)
        if isinstance(value, list) and name != "problems":
            shape[name] = sorted((strip(r) for r in value), key=repr)
    shape["problems"] = sorted(
        (p.severity, p.code, p.value) for p in batch.problems if p.code != "elements_not_read"
    )
    shape["rows_read"] = {k: v for k, v in batch.rows_read.items() if k != "calendars"}
    return shape


def test_json_from_the_api_gives_the_same_batch_as_xml(tmp_path):
    names = (
        "AttendanceEventCategoryDescriptor.xml",
        "EducationOrganization.xml",
        "EducationOrgCalendar.xml",
        "Student.xml",
        "StudentProgram.xml",
        "Contact.xml",
        "StudentSchoolAttendance.xml",
        "StudentSectionAttendance-Tardy.xml",
    )
    files = grand_bend(*names)
    json_files = write_api_json(files, tmp_path)
    assert {p.name for p in json_files} >= {"studentSchoolAttendanceEvents.json", "students.json"}
    for implied in (False, True):
        from_xml = read_edfi_xml(files, implied_enrollments=implied)
        from_json = read_edfi_json(json_files, implied_enrollments=implied)
        assert from_json.errors == []
        assert without_places(from_json) == without_places(from_xml)
    # JSON lines are the lines where each resource's object begins.
    first = from_json.attendance[0]
    assert (first.where.file, first.where.line, first.where.column) == (
        "studentSchoolAttendanceEvents.json",
        2,
        "StudentSchoolAttendanceEvent",
    )
    # read_edfi tells the formats apart by content, even mixed in one run.
    mixed = read_edfi([*json_files[:3], *files[3:]])
    assert len(mixed.attendance) == 1917 and mixed.errors == []


def test_json_resource_is_told_by_name_or_by_keys(tmp_path):
    events = [
        {
            "studentReference": {"studentUniqueId": "5"},
            "schoolReference": {"schoolId": 255901001},
            "eventDate": "2021-09-01",
            "attendanceEventCategoryDescriptor": "uri://ed-fi.org/AttendanceEventCategoryDescriptor#Tardy",
            "eventDuration": 0.25,
        }
    ]
    by_name = write(tmp_path, "2022-studentSchoolAttendanceEvents.json", json.dumps(events))
    by_keys = write(tmp_path, "export-page-1.json", json.dumps(events))
    for path in (by_name, by_keys):
        [record] = read_edfi_json([path]).attendance
        assert (record.student_id, record.code, record.day_fraction) == (
            "5",
            "Tardy",
            Decimal("0.25"),
        )


def test_bad_json_gives_errors_with_file_and_line(tmp_path):
    good = json.dumps(
        [{"studentUniqueId": "5", "firstName": "A", "lastSurname": "B", "birthDate": "2010-01-01"}]
        * 3,
        indent=2,
    )
    cases = {
        "truncated": good[: len(good) // 2],
        "not an array": '{"studentUniqueId": "5"}',
        "garbage": "\x00\x01 not json",
        "bad date": good.replace("2010-01-01", "01/02/2010", 1),
        "wrong shape": good.replace('"5"', '{"x": 1}', 1),
        "deep": "[" * 100000,
        "after the array": good + " []",
        "NUL character": good.replace('"A"', '"A\\u0000"', 1),
    }
    for what, text in cases.items():
        path = write(tmp_path, "students.json", text)
        batch = read_edfi_json([path])
        assert batch.errors, what
        assert all(e.where.file == "students.json" for e in batch.errors), what
    unknown = write(tmp_path, "things.json", '[{"a": 1}]')
    [error] = read_edfi_json([unknown]).errors
    assert error.code == "unknown_resource"
    bad_date = read_edfi_json([write(tmp_path, "students.json", cases["bad date"])]).errors
    assert [(e.code, e.where.line, e.where.column) for e in bad_date] == [
        ("bad_date", 2, "birthDate")
    ]


@pytest.mark.django_db
def test_json_import_then_xml_reimport_changes_nothing(tmp_path):
    district = District.objects.create(name="Grand Bend ISD")
    files = grand_bend(
        "AttendanceEventCategoryDescriptor.xml",
        "EducationOrganization.xml",
        "EducationOrgCalendar.xml",
        "Student.xml",
        "StudentSchoolAttendance.xml",
    )
    json_files = write_api_json(files, tmp_path)
    import_batch(read_edfi_json(json_files), district, json_files)
    again = import_batch(read_edfi_xml(files), district, files)
    assert again.counts["attendance"]["unchanged"] == 1917
    assert again.counts["students"]["unchanged"] == 960
    assert SchoolYear.objects.filter(district=district).count() == 1
    assert AttendanceCode.objects.filter(district=district).count() == 7


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("StudentAttendance.xml", attendance_xml(event(), event(day="2021-09-02"))),
        ("studentSchoolAttendanceEvents.json", json.dumps([{"id": n} for n in range(50)])),
    ],
)
def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, name, content):
    # given an interchange a byte over the limit
    path = write(tmp_path, name, content)
    with override_settings(HOMEROOM_MAX_IMPORT_BYTES=path.stat().st_size - 1):
        batch = read_edfi([path])
    # then it is refused by name, and nothing of it is read
    assert [(p.code, p.where.file) for p in batch.errors] == [("file_too_large", name)]
    assert not batch.attendance


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (
            "StudentAttendance.xml",
            attendance_xml(*(event(day=f"2021-09-{d:02}") for d in range(1, 6))),
        ),
        (
            "studentSchoolAttendanceEvents.json",
            json.dumps(
                [
                    {
                        "attendanceEventCategoryDescriptor": "uri://ed-fi.org/"
                        "AttendanceEventCategoryDescriptor#Excused Absence",
                        "eventDate": f"2021-09-{d:02}",
                        "schoolReference": {"schoolId": 255901001},
                        "studentReference": {"studentUniqueId": "604822"},
                    }
                    for d in range(1, 6)
                ]
            ),
        ),
    ],
)
def test_a_file_over_the_row_limit_is_refused_and_nothing_of_it_kept(tmp_path, name, content):
    # given an interchange of five records, one over a limit of four
    path = write(tmp_path, name, content)
    with override_settings(HOMEROOM_MAX_IMPORT_ROWS=4):
        batch = read_edfi([path])
    # then the file is refused by name, saying the limit, and none of its records is kept
    refused = [p for p in batch.errors if p.code == "file_too_large"]
    assert [p.where.file for p in refused] == [name]
    assert "more than 4 records" in refused[0].message
    assert not batch.attendance
    # and at the limit itself the same file is read, all five days
    with override_settings(HOMEROOM_MAX_IMPORT_ROWS=5):
        read = read_edfi([path])
    assert not [p for p in read.errors if p.code == "file_too_large"]
    assert len(read.attendance) == 5
