"""The same bad rows get the same answer whatever the format (issue 19 E): a student twice
with different names, columns without a name, a file whose reading was given up, and dates
no school could have."""

import pytest

from homeroom.core.models import District
from homeroom.ingest.adapters.edfi import read_edfi_xml
from homeroom.ingest.adapters.oneroster import read_oneroster
from homeroom.ingest.adapters.tabular import read_tabular
from homeroom.ingest.adapters.tabular.profiles import load_profile
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import Batch, Severity
from homeroom.ingest.sync import ImportRejected, do_import
from homeroom.roster.models import Student

GENERATOR = load_profile("homeroom-generator")
STUDENTS_HEADER = (
    "student_id,state_id,first_name,middle_name,last_name,birth_date,grade,gender,"
    "race_ethnicity,home_language"
)
NS = "http://ed-fi.org/5.2.0"


def problems(batch: Batch, code: str) -> list:
    return [p for p in batch.problems if p.code == code]


def csv_students(tmp_path, *rows: str):
    path = tmp_path / "students.csv"
    path.write_text("\n".join([STUDENTS_HEADER, *rows]) + "\n")
    return read_tabular([path], GENERATOR)


def edfi_students(tmp_path, *students: tuple[str, str, str]):
    body = "".join(
        f"<Student><StudentUniqueId>{sid}</StudentUniqueId><BirthData><BirthDate>2015-03-01"
        f"</BirthDate></BirthData><Name><FirstName>{first}</FirstName>"
        f"<LastSurname>{last}</LastSurname></Name></Student>"
        for sid, first, last in students
    )
    path = tmp_path / "Student.xml"
    path.write_text(f'<InterchangeStudent xmlns="{NS}">{body}</InterchangeStudent>')
    return read_edfi_xml([path])


def import_into(batch: Batch, **options) -> ImportRun:
    district = District.objects.create(name="Validated")
    return do_import(batch, district=district, source_format="test", files=[], **options)


@pytest.mark.django_db
def test_a_student_twice_with_different_names_is_reported_by_csv_and_edfi_alike(tmp_path):
    # given the same student id twice, the second time with another first name
    from_csv = csv_students(
        tmp_path,
        "104446,,Ana,,Alvarez,2015-03-01,3,F,hispanic,es",
        "104446,,Anna,,Alvarez,2015-03-01,3,F,hispanic,es",
    )
    from_edfi = edfi_students(tmp_path, ("104446", "Ana", "Alvarez"), ("104446", "Anna", "Alvarez"))
    # when each is imported
    runs = [import_into(from_csv), import_into(from_edfi)]
    # then both report a duplicate record, keep the later row, and still import
    for batch, run in zip((from_csv, from_edfi), runs, strict=True):
        [duplicate] = problems(batch, "duplicate_record")
        assert duplicate.severity == Severity.FINDING and duplicate.value == "104446"
        assert run.status == ImportRun.Status.SUCCEEDED
    names = Student.objects.filter(local_id="104446").values_list("first_name", flat=True)
    assert list(names) == ["Anna", "Anna"]


@pytest.mark.django_db
def test_the_same_student_row_twice_is_no_news(tmp_path):
    row = "104446,,Ana,,Alvarez,2015-03-01,3,F,hispanic,es"
    batch = csv_students(tmp_path, row, row)
    import_into(batch)
    assert problems(batch, "duplicate_record") == []


def test_columns_without_a_name_are_errors_when_the_profile_allows_no_extra_column(tmp_path):
    # given a students file whose header ends with 20,000 empty column names
    path = tmp_path / "students.csv"
    empty = "," * 20_000
    path.write_text(
        f"{STUDENTS_HEADER}{empty}\n104446,,Ana,,Alvarez,2015-03-01,3,F,hispanic,es{empty}\n"
    )
    # when it is read with the generator's exact profile
    batch = read_tabular([path], GENERATOR)
    # then one error says so, with the count
    [error] = problems(batch, "unknown_column")
    assert error.severity == Severity.ERROR
    assert "20,000 columns without a name" in error.message


@pytest.mark.django_db
def test_a_file_given_up_on_is_rejected_even_when_skipping_bad_rows(tmp_path):
    # given a students file whose first 1,001 rows have a grade no school has
    rows = [f"{100000 + n},,Ana,,Alvarez,2015-03-01,42,F,hispanic,es" for n in range(1001)]
    rows.append("200000,,Ben,,Brooks,2015-03-01,3,M,white,en")
    batch = csv_students(tmp_path, *rows)
    assert problems(batch, "too_many_errors")
    # when it is imported skipping the rows with errors
    with pytest.raises(ImportRejected):
        import_into(batch, on_error="skip")
    # then nothing was imported: the rows after the 1,000th error were never read
    assert not Student.objects.exists()


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "9999-12-31"])
def test_a_date_no_record_can_carry_is_a_bad_date_in_every_format(tmp_path, day):
    from_csv = csv_students(tmp_path, f"104446,,Ana,,Alvarez,{day},3,F,hispanic,es")
    path = tmp_path / "Student.xml"
    path.write_text(
        f'<InterchangeStudent xmlns="{NS}"><Student><StudentUniqueId>104446</StudentUniqueId>'
        f"<BirthData><BirthDate>{day}</BirthDate></BirthData><Name><FirstName>Ana</FirstName>"
        "<LastSurname>Alvarez</LastSurname></Name></Student></InterchangeStudent>"
    )
    from_edfi = read_edfi_xml([path])
    folder = tmp_path / "oneroster"
    folder.mkdir()
    (folder / "academicSessions.csv").write_text(
        "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,"
        f"schoolYear\ny1,active,,2026-2027,schoolYear,{day},2027-06-05,,2027\n"
    )
    from_oneroster = read_oneroster([folder])
    for batch in (from_csv, from_edfi, from_oneroster):
        assert [p.value for p in problems(batch, "bad_date")] == [day], batch.problems
