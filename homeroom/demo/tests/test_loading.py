"""Loading generated-district files through the generic import engine: counts, traceability,
atomicity, clear errors, and the same result as `homeroom import csv`."""

import csv
import datetime as dt
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from homeroom.accounts.models import Role, User
from homeroom.attendance.models import AttendanceCode, AttendanceEvent
from homeroom.core.models import AuditEntry, Calendar, CalendarDate, District, School, SchoolYear
from homeroom.demo.district import DistrictParameters, generate_district
from homeroom.demo.export import write_district_csv
from homeroom.demo.files import COLUMNS
from homeroom.demo.loading import (
    SOURCE_FORMAT,
    DistrictExistsError,
    GeneratedFileError,
    delete_district,
    load_generated_district,
    teacher_sections,
)
from homeroom.ingest.models import ImportRun
from homeroom.metrics.engines import database_engine
from homeroom.roster import models as roster

# file stem -> (model, the entity the import run counts it under)
LOADED = {
    "schools": (School, "schools"),
    "school_years": (SchoolYear, "school_years"),
    "calendar_dates": (CalendarDate, "calendar_dates"),
    "students": (roster.Student, "students"),
    "student_characteristics": (roster.StudentCharacteristic, "characteristics"),
    "guardians": (roster.Guardian, "guardians"),
    "contact_preferences": (roster.ContactPreference, "contact_preferences"),
    "student_guardians": (roster.StudentGuardian, "student_guardians"),
    "enrollments": (roster.Enrollment, "enrollments"),
    "sections": (roster.Section, "sections"),
    "section_enrollments": (roster.SectionEnrollment, "section_enrollments"),
    "attendance_codes": (AttendanceCode, "attendance_codes"),
    "attendance_events": (AttendanceEvent, "attendance"),
}
NOT_IMPORTED = ("district", "staff")  # the district is made from district.csv; staff unread


def rows_of(directory: Path, stem: str) -> list[list[str]]:
    """A CSV file's data rows (the header left out)."""
    with (directory / f"{stem}.csv").open(encoding="utf-8", newline="") as file:
        return list(csv.reader(file))[1:]


def rewrite(path: Path, change) -> None:
    """Rewrite a CSV file after `change(table)` edits its rows (the header is table[0])."""
    with path.open(encoding="utf-8", newline="") as file:
        table = list(csv.reader(file))
    change(table)
    with path.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(table)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """A small generated district: 250 students, 3 schools, two school years."""
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
    models = (District, ImportRun, Calendar, *(model for model, _entity in LOADED.values()))
    return not any(model.objects.exists() for model in models)


def test_loading_stores_every_row_and_counts_it(db, generated):
    # when
    run = load_generated_district(generated)

    # then
    assert run.status == ImportRun.Status.SUCCEEDED
    assert run.source_format == SOURCE_FORMAT
    assert run.finished_at is not None
    for stem, (model, entity) in LOADED.items():
        in_file = len(rows_of(generated, stem))
        assert model.objects.count() == in_file, stem
        assert run.counts[entity]["read"] == run.counts[entity]["inserted"] == in_file, stem
    name, state, timezone = rows_of(generated, "district")[0]
    district = District.objects.get()
    assert (district.name, district.state, district.timezone) == (name, state, timezone)
    assert run.district == district
    assert Calendar.objects.count() == 3 * 2
    assert set(Calendar.objects.values_list("code", flat=True)) == {"default"}
    assert sorted(f["name"] for f in run.files) == sorted(f"{s}.csv" for s in LOADED)
    for entry in run.files:
        expected = hashlib.sha256((generated / entry["name"]).read_bytes()).hexdigest()
        assert entry["sha256"] == expected
    assert not roster.Section.teachers.through.objects.exists()
    assert not run.problem_counts.keys() - {"finding:teacher_without_account"}
    assert AuditEntry.objects.filter(action=AuditEntry.Action.IMPORT).count() == 1


def test_every_event_and_enrollment_points_back_to_its_line(db, generated):
    # given
    run = load_generated_district(generated)
    lines = {n: row for n, row in enumerate(rows_of(generated, "attendance_events"), start=2)}

    # when
    event = AttendanceEvent.objects.select_related("student", "school", "code").order_by("?")[0]
    spans = roster.Enrollment.objects.filter(source_run=run)

    # then
    assert event.source_run == run
    assert event.source_file == "attendance_events.csv"
    student_id, school_id, date, code = lines[event.source_line][:4]
    assert (event.student.local_id, event.school.local_id) == (student_id, school_id)
    assert (event.date.isoformat(), event.code.code) == (date, code)
    assert spans.count() == roster.Enrollment.objects.count()
    assert set(spans.values_list("source_file", flat=True)) == {"enrollments.csv"}
    assert sorted(spans.values_list("source_line", flat=True)) == list(range(2, spans.count() + 2))


def test_a_bad_row_in_the_middle_names_file_line_and_column_and_stores_nothing(db, files):
    # given: a date that does not exist in the middle of the events, and a bad share later
    path = files / "attendance_events.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    middle = len(lines) // 2
    fields = lines[middle].split(",")
    fields[2] = "2025-02-30"
    lines[middle] = ",".join(fields)
    fields = lines[-1].split(",")
    fields[4] = "1.5"
    lines[-1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # when
    with pytest.raises(GeneratedFileError) as raised:
        load_generated_district(files)

    # then
    error = raised.value
    assert (error.file, error.line, error.column) == ("attendance_events.csv", middle + 1, "date")
    assert "not a date" in error.message
    assert "'2025-02-30'" in error.message
    assert "(1 more error; nothing was loaded)" in error.message
    assert str(error).startswith(f"attendance_events.csv, line {middle + 1}, column date: ")
    assert nothing_stored()


@pytest.mark.parametrize(
    ("stem", "column", "value", "reported_column", "message"),
    [
        ("students", "grade", "13", "grade", "not a grade"),
        ("students", "gender", "Q", "gender", "not an accepted value"),
        ("enrollments", "student_id", "999999", None, "unknown student id"),
        ("attendance_events", "code", "ZZ", None, "unknown attendance code"),
        ("attendance_events", "day_fraction", "1.5", "day_fraction", "between 0 and 1"),
        ("contact_preferences", "preferred", "maybe", "preferred", "expected true or false"),
        ("calendar_dates", "kind", "snow", "kind", "not an accepted value"),
    ],
)
def test_bad_values_are_reported_where_they_are(
    db, files, stem, column, value, reported_column, message
):
    # given
    def spoil(table: list[list[str]]) -> None:
        table[3][table[0].index(column)] = value

    rewrite(files / f"{stem}.csv", spoil)

    # when
    with pytest.raises(GeneratedFileError) as raised:
        load_generated_district(files)

    # then
    error = raised.value
    assert (error.file, error.line, error.column) == (f"{stem}.csv", 4, reported_column)
    assert message in error.message
    assert f"(value: '{value}')" in error.message
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
    (files / "district.csv").unlink()
    with pytest.raises(GeneratedFileError, match=r"district\.csv: the file is missing"):
        load_generated_district(files)
    assert nothing_stored()


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "'Mars/Olympus' is not a time zone name"),
        ("name", "", "is empty; a value is required"),
        ("state", "Vermont", "is not a two-letter postal code"),
    ],
)
def test_a_bad_district_row_is_reported_before_anything_is_read(db, files, column, value, message):
    # given
    def spoil(table: list[list[str]]) -> None:
        table[1][table[0].index(column)] = value

    rewrite(files / "district.csv", spoil)

    # when
    with pytest.raises(GeneratedFileError) as raised:
        load_generated_district(files)

    # then
    assert (raised.value.file, raised.value.line, raised.value.column) == (
        "district.csv",
        2,
        column,
    )
    assert message in raised.value.message
    assert nothing_stored()


def test_loading_the_same_district_twice_is_refused(db, generated):
    # given
    load_generated_district(generated)

    # when / then
    with pytest.raises(DistrictExistsError, match="already in the database") as raised:
        load_generated_district(generated)
    assert (raised.value.file, raised.value.line, raised.value.column) == (
        "district.csv",
        2,
        "name",
    )
    assert District.objects.count() == 1
    assert ImportRun.objects.count() == 1


def test_the_import_command_finds_a_loaded_district_unchanged(db, generated):
    # given: the district loaded by the demo's loader
    load_generated_district(generated)
    name = rows_of(generated, "district")[0][0]
    paths = sorted(str(path) for path in generated.glob("*.csv"))

    # when: the same files are imported as any district's export would be
    output = io.StringIO()
    call_command(
        "import", "csv", *paths, "--profile", "homeroom-generator", "--district", name, "--json",
        stdout=output,
    )  # fmt: skip

    # then: one engine, one result: nothing to insert, update or delete
    summary = json.loads(output.getvalue())
    assert summary["status"] == ImportRun.Status.SUCCEEDED
    assert {entity for _stem, (_model, entity) in LOADED.items()} <= summary["counts"].keys()
    for entity, counts in summary["counts"].items():
        assert counts["inserted"] == counts["updated"] == counts["deleted"] == 0, entity
        assert counts["unchanged"] == counts["read"], entity
    assert District.objects.count() == 1
    assert ImportRun.objects.count() == 2


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


def test_the_loaded_calendar_counts_instructional_and_makeup_days_up_to_each_date(db, tmp_path):
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

    # when the files are loaded, and the metrics read the school's days
    run = load_generated_district(write_minimal(tmp_path, kinds))
    engine = database_engine(run.district)
    counted = engine.run(engine.facts.school_days.order_by("date")).to_pylist()

    # then each date keeps its kind, and the running count of school days includes it
    dates = CalendarDate.objects.order_by("date")
    assert [d.kind for d in dates] == kinds
    assert [day["through"] for day in counted] == [1, 2, 2, 3, 3, 3, 3, 4, 4, 5]
    student = roster.Student.objects.get()
    assert (student.local_id, student.grade, student.home_language) == ("S1", 0, "es")


def test_delete_district_removes_it_and_everything_under_it(db, generated):
    # given
    run = load_generated_district(generated)
    district = run.district
    teacher = User.objects.create_user(
        username="t1", password="pw-long-enough", role=Role.TEACHER, district=district
    )
    roster.Section.objects.first().teachers.add(teacher)
    other = District.objects.create(name="Other District")

    # when
    deleted = delete_district(district)

    # then
    assert deleted["attendance.AttendanceEvent"] == len(rows_of(generated, "attendance_events"))
    assert list(District.objects.all()) == [other]
    assert not User.objects.filter(username="t1").exists()
    assert not any(model.objects.exists() for model, _entity in LOADED.values())
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
