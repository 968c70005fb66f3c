"""Loading generated-district files: counts, traceability, atomicity, clear errors."""

import csv
import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest

from homeroom.accounts.models import Role, User
from homeroom.attendance.models import AttendanceCode, AttendanceEvent
from homeroom.core.models import AuditEntry, Calendar, CalendarDate, District, School, SchoolYear
from homeroom.demo.district import DistrictParameters, generate_district
from homeroom.demo.export import FILE_STEMS, write_district_csv
from homeroom.ingest.generator_format import (
    COLUMNS,
    SOURCE_FORMAT,
    DistrictExistsError,
    GeneratedFileError,
    delete_district,
    load_generated_district,
    teacher_sections,
)
from homeroom.ingest.models import ImportRun
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

MODELS = {
    "schools": School,
    "school_years": SchoolYear,
    "calendar_dates": CalendarDate,
    "students": Student,
    "student_characteristics": StudentCharacteristic,
    "guardians": Guardian,
    "contact_preferences": ContactPreference,
    "student_guardians": StudentGuardian,
    "enrollments": Enrollment,
    "sections": Section,
    "section_enrollments": SectionEnrollment,
    "attendance_codes": AttendanceCode,
    "attendance_events": AttendanceEvent,
}


def rows_of(directory: Path, stem: str) -> list[list[str]]:
    """A CSV file's data rows (the header left out)."""
    with (directory / f"{stem}.csv").open(encoding="utf-8", newline="") as file:
        return list(csv.reader(file))[1:]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A small generated district: 250 students, 3 schools, one school year so far."""
    directory = tmp_path_factory.mktemp("generated")
    params = DistrictParameters(
        students=250, schools=3, years=2, seed=4, today=dt.date(2025, 12, 5)
    )
    write_district_csv(generate_district(params), directory)
    return directory


@pytest.fixture
def files(generated, tmp_path) -> Path:
    """A private copy of the generated files, free to spoil."""
    copy = tmp_path / "files"
    shutil.copytree(generated, copy)
    return copy


def nothing_stored() -> bool:
    """Whether the database holds no row of any loaded kind."""
    return not any(
        model.objects.exists() for model in (District, ImportRun, Calendar, *MODELS.values())
    )


def test_loading_stores_every_row_and_counts_it(db, generated):
    # when
    run = load_generated_district(generated)

    # then
    assert run.status == ImportRun.Status.SUCCEEDED
    assert run.source_format == SOURCE_FORMAT
    assert run.finished_at is not None
    for stem, model in MODELS.items():
        in_file = len(rows_of(generated, stem))
        assert model.objects.count() == in_file, stem
        assert run.counts[stem] == in_file, stem
    assert run.counts["calendars"] == Calendar.objects.count() == 3 * 2
    assert set(Calendar.objects.values_list("code", flat=True)) == {"default"}
    assert [f["name"] for f in run.files] == [f"{stem}.csv" for stem in FILE_STEMS]
    for entry in run.files:
        expected = hashlib.sha256((generated / entry["name"]).read_bytes()).hexdigest()
        assert entry["sha256"] == expected
    assert not Section.teachers.through.objects.exists()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.IMPORT).count() == 1


def test_every_event_and_enrollment_points_back_to_its_line(db, generated):
    # given
    run = load_generated_district(generated)
    lines = {n: row for n, row in enumerate(rows_of(generated, "attendance_events"), start=2)}

    # when
    event = AttendanceEvent.objects.select_related("student", "school", "code").order_by("?")[0]
    spans = Enrollment.objects.filter(source_run=run)

    # then
    assert event.source_run == run
    assert event.source_file == "attendance_events.csv"
    student_id, school_id, date, code = lines[event.source_line][:4]
    assert (event.student.local_id, event.school.local_id) == (student_id, school_id)
    assert (event.date.isoformat(), event.code.code) == (date, code)
    assert spans.count() == Enrollment.objects.count()
    assert set(spans.values_list("source_file", flat=True)) == {"enrollments.csv"}
    assert sorted(spans.values_list("source_line", flat=True)) == list(range(2, spans.count() + 2))


def test_a_bad_row_in_the_middle_names_file_line_and_column_and_stores_nothing(db, files):
    # given
    path = files / "attendance_events.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    middle = len(lines) // 2
    fields = lines[middle].split(",")
    fields[2] = "2025-02-30"
    lines[middle] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # when
    with pytest.raises(GeneratedFileError) as raised:
        load_generated_district(files)

    # then
    error = raised.value
    assert (error.file, error.line, error.column) == ("attendance_events.csv", middle + 1, "date")
    assert "'2025-02-30' is not a date" in str(error)
    assert str(error).startswith(f"attendance_events.csv, line {middle + 1}, column date:")
    assert nothing_stored()


@pytest.mark.parametrize(
    ("stem", "column", "value", "message"),
    [
        ("students", "grade", "13", "is not a grade"),
        ("students", "gender", "Q", "is not one of"),
        ("enrollments", "student_id", "999999", "student '999999' is not defined"),
        ("attendance_events", "code", "ZZ", "attendance code 'ZZ' is not defined"),
        ("attendance_events", "day_fraction", "1.5", "between 0 and 1"),
        ("contact_preferences", "preferred", "maybe", "is not true or false"),
        ("sections", "teacher_id", "E99999", "is not in staff.csv"),
        ("calendar_dates", "kind", "snow", "is not one of"),
    ],
)
def test_bad_values_are_reported_where_they_are(db, files, stem, column, value, message):
    # given
    path = files / f"{stem}.csv"
    with path.open(encoding="utf-8", newline="") as file:
        table = list(csv.reader(file))
    table[3][table[0].index(column)] = value
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(table)

    # when
    with pytest.raises(GeneratedFileError) as raised:
        load_generated_district(files)

    # then
    assert (raised.value.file, raised.value.line, raised.value.column) == (
        f"{stem}.csv",
        4,
        column,
    )
    assert message in raised.value.message
    assert nothing_stored()


def test_a_missing_column_or_file_is_reported(db, files):
    # given
    path = files / "guardians.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("postal_code", "zip", 1), encoding="utf-8")

    # when / then
    with pytest.raises(GeneratedFileError, match=r"guardians.csv, line 1, column postal_code"):
        load_generated_district(files)
    (files / "guardians.csv").unlink()
    with pytest.raises(GeneratedFileError, match=r"guardians\.csv: the file is missing"):
        load_generated_district(files)
    assert nothing_stored()


def test_a_gap_in_a_calendar_is_refused(db, files):
    # given
    path = files / "calendar_dates.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    del lines[40]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # when / then
    with pytest.raises(GeneratedFileError, match="follows a gap"):
        load_generated_district(files)
    assert nothing_stored()


def test_loading_the_same_district_twice_is_refused(db, generated):
    # given
    load_generated_district(generated)

    # when / then
    with pytest.raises(DistrictExistsError, match="already in the database"):
        load_generated_district(generated)
    assert District.objects.count() == 1
    assert ImportRun.objects.count() == 1


def write_minimal(directory: Path, kinds: list[str]) -> Path:
    """A one-school district whose calendar has the given kinds from 2025-08-25 on."""
    start = dt.date(2025, 8, 25)
    end = start + dt.timedelta(days=len(kinds) - 1)
    rows = {stem: [] for stem in COLUMNS}
    rows["district"] = [["Tiny District", "VT", "America/New_York"]]
    rows["schools"] = [["1", "", "Tiny School", "elementary", "0", "5"]]
    rows["school_years"] = [["2025-2026", start.isoformat(), end.isoformat()]]
    rows["calendar_dates"] = [
        ["1", "2025-2026", (start + dt.timedelta(days=k)).isoformat(), kind]
        for k, kind in enumerate(kinds)
    ]
    rows["students"] = [["S1", "", "Ana", "", "Ruiz", "", "K", "F", "hispanic", "es"]]
    rows["enrollments"] = [["S1", "1", "2025-2026", "0", start.isoformat(), "", ""]]
    rows["attendance_codes"] = [["A", "Absent", "unexcused", "1"]]
    rows["attendance_events"] = [["S1", "1", start.isoformat(), "A", "", "", ""]]
    for stem, columns in COLUMNS.items():
        with (directory / f"{stem}.csv").open("w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows(rows[stem])
    return directory


def test_instructional_index_counts_instructional_and_makeup_days_up_to_each_date(db, tmp_path):
    # given
    kinds = [
        "instructional",  # Mon
        "instructional",
        "holiday",
        "instructional",
        "staff",
        "weekend",
        "weekend",
        "makeup",  # Mon
        "other",
        "instructional",
    ]

    # when
    load_generated_district(write_minimal(tmp_path, kinds))

    # then
    dates = CalendarDate.objects.order_by("date")
    assert [d.instructional_index for d in dates] == [1, 2, 2, 3, 3, 3, 3, 4, 4, 5]
    assert [d.kind for d in dates] == kinds
    student = Student.objects.get()
    assert (student.local_id, student.grade, student.home_language) == ("S1", 0, "es")


def test_delete_district_removes_it_and_everything_under_it(db, generated):
    # given
    run = load_generated_district(generated)
    district = run.district
    teacher = User.objects.create_user(
        username="t1", password="pw-long-enough", role=Role.TEACHER, district=district
    )
    Section.objects.first().teachers.add(teacher)
    other = District.objects.create(name="Other District")

    # when
    deleted = delete_district(district)

    # then
    assert deleted["attendance.AttendanceEvent"] == len(rows_of(generated, "attendance_events"))
    assert list(District.objects.all()) == [other]
    assert not User.objects.filter(username="t1").exists()
    assert not any(model.objects.exists() for model in MODELS.values())
    assert not ImportRun.objects.exists()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.DELETE).exists()
    # and the same files load again
    assert load_generated_district(generated).status == ImportRun.Status.SUCCEEDED


def test_teacher_sections_lists_each_teachers_sections(generated):
    # when
    taught = teacher_sections(generated)

    # then
    sections = rows_of(generated, "sections")
    assert sum(len(keys) for keys in taught.values()) == len(sections)
    school_id, school_year, section_id, *_rest, teacher_id, _grade = sections[0]
    assert (school_id, school_year, section_id) in taught[teacher_id]
