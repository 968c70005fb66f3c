"""CSV and XLSX import with mapping profiles: real exports, encodings, roll-ups, errors."""

import csv
import dataclasses
import datetime as dt
import random
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from homeroom.attendance.models import AttendanceEvent
from homeroom.core.models import District, School
from homeroom.demo.district import DistrictParameters, generate_district
from homeroom.demo.export import write_district_csv
from homeroom.ingest.adapters.tabular import display_names, read_tabular
from homeroom.ingest.adapters.tabular.profiles import Profile, load_profile
from homeroom.ingest.formats import source_file
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import Batch, Severity, Where
from homeroom.ingest.sync import do_import
from homeroom.roster.models import Student

DATA = Path(__file__).parents[4] / ".." / "shared" / "data"
OEA = DATA / "oea-contoso"
BATCH1 = OEA / "ssds" / "test_data" / "batch1"
BATCH2 = OEA / "ssds" / "test_data" / "batch2"
FRAMEWORK = OEA / "framework" / "contoso_sis"
DAY_FILES = [
    FRAMEWORK / "day1" / "students" / "part1.csv",
    FRAMEWORK / "day1" / "studentattendance" / "part1.csv",
    FRAMEWORK / "day2" / "studentattendance" / "part1.csv",
]

SMALL_PROFILE = """
[profile]
date_format = "%m/%d/%Y"

[codes]
A = { category = "unexcused", description = "Absent" }
T = { category = "tardy", description = "Tardy" }

[[students]]
file = "roster.*"
distinct = true
local_id = "Student ID"
first_name = "First Name"
last_name = "Last Name"
grade = "Grade"

[attendance]
file = "roster.*"
mode = "exceptions"
student_id = "Student ID"
school_id = "School"
date = "Date"
code = { column = "Code", normalize = "upper" }
minutes_missed = "Minutes"
"""
SMALL_ROWS = [
    ["Student ID", "First Name", "Last Name", "Grade", "School", "Date", "Code", "Minutes"],
    ["S1", "José", "Muñoz", "K", "101", "09/08/2025", "A", ""],
    ["S1", "José", "Muñoz", "K", "101", "09/09/2025", "t", "12"],
    ["S2", "Zoë", "O'Brien, Jr.", "3", "101", "09/08/2025", "A", ""],
]


def profile_from(tmp_path: Path, text: str, name: str = "district.toml") -> Profile:
    """A profile written to a file and loaded."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_profile(str(path))


def write_rows(path: Path, rows: list[list[str]], encoding="utf-8", delimiter=",") -> Path:
    """A delimited text file of `rows`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return path


def records_of(batch: Batch) -> list[tuple]:
    """Every record of a batch, with the file name left out (lines kept)."""
    out = []
    for name in ("students", "attendance", "attendance_codes"):
        for record in getattr(batch, name):
            where = Where("", record.where.line) if record.where.file.startswith("roster") else None
            out.append((name, dataclasses.replace(record, where=where or record.where)))
    return out


def codes(batch: Batch, severity: Severity = Severity.ERROR) -> Counter:
    """How many problems of each code the batch holds."""
    return Counter(p.code for p in batch.problems if p.severity == severity)


def import_batch(batch: Batch, district: District, paths: list[Path]) -> ImportRun:
    """Write a batch as the `homeroom import csv` command does."""
    return do_import(
        batch,
        district=district,
        source_format="csv",
        files=[source_file(p) for p in paths],
    )


@pytest.fixture
def district(db) -> District:
    return District.objects.create(name="Contoso", timezone="America/Los_Angeles")


# -- OEA Contoso: the real sample export ---------------------------------------------------


def test_oea_batch1_reads_every_row(tmp_path):
    # given the OEA Contoso positive-attendance export
    path = BATCH1 / "studentattendance.csv"
    # when it is read with the shipped profile
    batch = read_tabular([path], load_profile("oea-contoso"))
    # then every row becomes a record: 600 students, 20 school days, 5 schools
    assert batch.rows_read == {"studentattendance.csv": 12000}
    assert len(batch.attendance) == 12000
    assert len({r.student_id for r in batch.attendance}) == 600
    assert len({r.date for r in batch.attendance}) == 20
    assert len({r.school_id for r in batch.attendance}) == 5
    assert (len(batch.schools), len(batch.students)) == (5, 600)
    assert Counter(r.code for r in batch.attendance) == {"P": 10715, "A": 1285}
    assert batch.problems == []
    first = batch.attendance[0]
    assert (first.where, first.date) == (Where("studentattendance.csv", 2), dt.date(2022, 1, 3))


@pytest.mark.django_db
def test_oea_batch1_imports_absences_and_counts_presence_then_reimports_unchanged(district):
    # given the OEA export and its profile
    paths = [BATCH1 / "studentattendance.csv"]
    profile = load_profile("oea-contoso")
    # when it is imported
    run = import_batch(read_tabular(paths, profile), district, paths)
    # then absences are stored, presence rows counted, not stored
    assert run.counts["attendance"] | {} == {
        "read": 12000,
        "inserted": 1285,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
        "skipped": 0,
        "present": 10715,
    }
    assert run.counts["students"]["inserted"] == 600
    assert run.counts["schools"]["inserted"] == 5
    assert AttendanceEvent.objects.count() == 1285
    assert School.objects.filter(district=district).count() == 5
    # the export holds no calendar and no enrollment: reported, rows kept
    assert run.problem_counts == {
        "finding:no_calendar": 5,
        "finding:outside_enrollment": 1285,
    }
    event = AttendanceEvent.objects.select_related("code").order_by("source_line").first()
    assert event.code.code == "A" and event.source_file == "studentattendance.csv"
    # when the same file is imported again, nothing changes
    again = import_batch(read_tabular(paths, profile), district, paths)
    assert again.counts["attendance"] | {} == run.counts["attendance"] | {
        "inserted": 0,
        "unchanged": 1285,
    }
    for entity in ("students", "schools", "attendance_codes"):
        counts = again.counts[entity]
        assert counts["unchanged"] == counts["read"] > 0, entity
    assert AttendanceEvent.objects.count() == 1285


@pytest.mark.django_db
def test_oea_demographics_become_students_and_characteristics(district):
    paths = [BATCH1 / "studentdemographics.csv"]
    run = import_batch(read_tabular(paths, load_profile("oea-contoso")), district, paths)
    assert run.counts["students"]["inserted"] == 100
    # 11 English learners, 19 in special education, 41 low income
    assert run.counts["characteristics"]["inserted"] == 71
    st3 = Student.objects.get(district=district, local_id="st3")
    assert (st3.race_ethnicity, st3.home_language) == ("hispanic", "en")
    assert sorted(st3.characteristics.values_list("kind", flat=True)) == [
        "econ_disadvantaged",
        "english_learner",
        "iep",
    ]
    # batch2 takes st3 out of low income
    later = [BATCH2 / "studentdemographics.csv"]
    import_batch(read_tabular(later, load_profile("oea-contoso")), district, later)
    assert sorted(st3.characteristics.values_list("kind", flat=True)) == [
        "english_learner",
        "iep",
    ]
    assert Student.objects.get(local_id="st4").home_language == "other"  # French


def test_oea_batch2_month_first_dates_parse_with_the_profile():
    batch = read_tabular([BATCH2 / "studentattendance.csv"], load_profile("oea-contoso"))
    assert batch.errors == []
    assert len(batch.attendance) == 20
    assert sorted({r.date for r in batch.attendance}) == [
        dt.date(2020, 8, 15),
        dt.date(2020, 8, 16),
        dt.date(2020, 8, 17),
        dt.date(2020, 9, 1),
        dt.date(2020, 9, 2),
    ]


def test_a_profile_that_does_not_fix_the_date_order_rejects_ambiguous_dates(tmp_path):
    # given the OEA profile without its date_format
    text = (Path(load_profile("oea-contoso").path)).read_text(encoding="utf-8")
    text = text.replace('date_format = ["%Y-%m-%d", "%m/%d/%Y"]\n', "")
    profile = profile_from(tmp_path, text, "no-date-order.toml")
    # when batch2 (8/16/2020 ... 9/1/2020) is read
    batch = read_tabular([BATCH2 / "studentattendance.csv"], profile)
    # then 8/16/2020 is read (16 is no month) but 9/1/2020 is an error saying how to fix it
    ambiguous = [p for p in batch.errors if p.code == "ambiguous_date"]
    assert len(ambiguous) == 9
    first = ambiguous[0]
    assert first.where == Where("studentattendance.csv", 13, "attendance_date")
    assert first.value == "9/1/2020"
    assert "2020-01-09 or 2020-09-01" in first.message
    assert 'date_format = "%m/%d/%Y"' in first.hint
    assert str(first).startswith("studentattendance.csv, line 13, column attendance_date:")
    # rows with an error yield no record; the others do
    assert len(batch.attendance) == 11


def test_oea_period_files_roll_up_with_day_first_dates():
    # given day1 and day2 of the framework sample, with its students
    batch = read_tabular(DAY_FILES, load_profile("oea-contoso-periods"))
    # then each file is told apart by its folder, and the repeated row is reported once
    assert batch.rows_read == {
        "students/part1.csv": 2,
        "day1/studentattendance/part1.csv": 1462,
        "day2/studentattendance/part1.csv": 1467,
    }
    assert batch.errors == []
    [duplicate] = batch.problems
    assert (duplicate.code, duplicate.where) == (
        "duplicate_row",
        Where("day1/studentattendance/part1.csv", 3),
    )
    assert duplicate.hint == "First seen at day1/studentattendance/part1.csv, line 2."
    # 2 x 244 student-days of six periods; absent on half or more of them -> daily A
    assert len(batch.attendance) == 488
    daily = Counter((r.student_id, r.code) for r in batch.attendance)
    assert daily == {("st1", "P"): 218, ("st1", "A"): 26, ("st2", "P"): 217, ("st2", "A"): 27}
    dates = {r.date for r in batch.attendance}
    assert min(dates) == dt.date(2019, 9, 1) and max(dates) == dt.date(2020, 5, 30)
    # 27/05/2020 is day first: st1 missed 2 of its 6 periods (sec27, sec31), less than half
    by_day = {(r.student_id, r.date): r for r in batch.attendance}
    assert by_day["st1", dt.date(2020, 5, 27)].code == "P"
    # st1's 28/05/2020 has five periods in day1 and the sixth in day2: one daily row
    assert by_day["st1", dt.date(2020, 5, 28)].where.file == "day1/studentattendance/part1.csv"
    assert [s.local_id for s in batch.students] == ["st1", "st4"]
    albert = batch.students[0]
    assert (albert.first_name, albert.grade, albert.gender) == ("Albert", 11, "M")


@pytest.mark.django_db
def test_oea_period_files_import(district):
    batch = read_tabular(DAY_FILES, load_profile("oea-contoso-periods"))
    run = import_batch(batch, district, DAY_FILES)
    assert run.counts["attendance"] | {} == {
        "read": 488,
        "inserted": 26,
        "updated": 0,
        "deleted": 0,
        "unchanged": 0,
        "skipped": 244,  # st2 is in no students file
        "present": 218,
    }
    assert run.problem_counts["finding:student_not_rostered"] == 244
    assert run.problem_counts["finding:duplicate_row"] == 1
    assert AttendanceEvent.objects.filter(student__local_id="st1").count() == 26


# -- Encodings, delimiters, XLSX -----------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "finding"),
    [
        ("utf-8", None),
        ("utf-8-sig", None),
        ("utf-16", "read as UTF-16 (byte order mark)"),
        ("windows-1252", "read as Windows-1252: the bytes are not valid UTF-8 (first on line 2)"),
    ],
)
def test_every_encoding_gives_the_same_records(tmp_path, encoding, finding):
    # given the same file saved as UTF-8 and as the encoding
    profile = profile_from(tmp_path, SMALL_PROFILE)
    reference = read_tabular([write_rows(tmp_path / "a" / "roster.csv", SMALL_ROWS)], profile)
    path = write_rows(tmp_path / "b" / "roster.csv", SMALL_ROWS, encoding=encoding)
    # when it is read with encoding = "auto"
    batch = read_tabular([path], profile)
    # then the records are the same, and a guess other than UTF-8 is said
    assert records_of(batch) == records_of(reference)
    assert [s.first_name for s in batch.students] == ["José", "Zoë"]
    assert batch.errors == []
    said = [p.message for p in batch.problems if p.code == "encoding_detected"]
    assert said == ([finding] if finding else [])


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_found(tmp_path, delimiter):
    profile = profile_from(tmp_path, SMALL_PROFILE)
    reference = read_tabular([write_rows(tmp_path / "a" / "roster.csv", SMALL_ROWS)], profile)
    path = write_rows(tmp_path / "b" / "roster.csv", SMALL_ROWS, delimiter=delimiter)
    batch = read_tabular([path], profile)
    assert batch.problems == []
    assert records_of(batch) == records_of(reference)
    assert [s.last_name for s in batch.students] == ["Muñoz", "O'Brien, Jr."]


def test_a_workbook_gives_the_same_records_as_the_csv(tmp_path):
    # given the rows as a CSV file and as an Excel workbook with real dates and numbers
    profile = profile_from(tmp_path, SMALL_PROFILE)
    reference = read_tabular([write_rows(tmp_path / "roster.csv", SMALL_ROWS)], profile)
    book = Workbook()
    sheet = book.active
    sheet.append(SMALL_ROWS[0])
    for row in SMALL_ROWS[1:]:
        month, day, year = (int(n) for n in row[5].split("/"))
        grade = int(row[3]) if row[3].isdigit() else row[3]
        minutes = int(row[7]) if row[7] else None
        sheet.append([*row[:3], grade, int(row[4]), dt.datetime(year, month, day), row[6], minutes])
    book.save(tmp_path / "roster.xlsx")
    # when the workbook is read
    batch = read_tabular([tmp_path / "roster.xlsx"], profile)
    # then it gives the same records, with worksheet row numbers as lines
    assert batch.problems == []
    assert records_of(batch) == records_of(reference)
    assert batch.attendance[1].where == Where("roster.xlsx", 3)
    assert batch.attendance[1].minutes_missed == 12


def test_a_named_sheet_is_read_and_a_missing_one_reported(tmp_path):
    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["nothing here"])
    data = book.create_sheet("Absences")
    for row in SMALL_ROWS:
        data.append(row)
    book.save(tmp_path / "roster.xlsx")
    text = SMALL_PROFILE.replace(
        'file = "roster.*"\nmode', 'file = "roster.*"\nsheet = "Absences"\nmode'
    )
    text = text.replace("distinct = true", 'distinct = true\nsheet = "Absences"')
    batch = read_tabular([tmp_path / "roster.xlsx"], profile_from(tmp_path, text))
    assert batch.problems == [] and len(batch.attendance) == 3
    wrong = profile_from(tmp_path, text.replace('"Absences"', '"Absent"'), "wrong.toml")
    batch = read_tabular([tmp_path / "roster.xlsx"], wrong)
    assert codes(batch) == {"missing_sheet": 1}
    assert "Notes, Absences" in batch.errors[0].hint


def test_undecodable_bytes_are_errors_on_their_line(tmp_path):
    profile = profile_from(
        tmp_path, SMALL_PROFILE.replace("[profile]\n", '[profile]\nencoding = "utf-8"\n')
    )
    path = write_rows(tmp_path / "roster.csv", SMALL_ROWS)
    data = path.read_bytes().replace("Zoë".encode(), "Zo\xeb".encode("latin-1"))
    path.write_bytes(data)
    batch = read_tabular([path], profile)
    [problem] = batch.errors
    assert (problem.code, problem.where, problem.value) == (
        "encoding",
        Where("roster.csv", 4),
        "b'\\xeb'",
    )
    assert len(batch.attendance) == 2  # the damaged row yields nothing


# -- Period roll-up rules, each with a worked example ---------------------------------------

PERIOD_PROFILE = """
[codes]
P = {{ category = "present" }}
A = {{ category = "unexcused" }}
E = {{ category = "excused" }}
T = {{ category = "tardy" }}
N = {{ category = "not_taken" }}

[attendance]
file = "periods.csv"
mode = "{mode}"
student_id = "student"
school_id = "school"
date = "date"
period = "period"
code = "code"
minutes_missed = "minutes"

[attendance.periods]
rule = "{rule}"
{extra}
"""


def period_file(tmp_path: Path, days: dict[str, str]) -> Path:
    """Rows for student S1 at school 301, one per period: {"2025-09-08": "AAPPTP"}."""
    rows = [["student", "school", "date", "period", "code", "minutes"]]
    for date, periods in days.items():
        for number, code in enumerate(periods, 1):
            rows.append(["S1", "301", date, str(number), code, "50" if code in "AE" else ""])
    return write_rows(tmp_path / "periods.csv", rows)


def rolled_up(tmp_path, rule, days, mode="positive", extra=""):
    """The daily rows of `days` under `rule`: {date: (code, day_fraction, minutes)}."""
    text = PERIOD_PROFILE.format(mode=mode, rule=rule, extra=extra)
    batch = read_tabular([period_file(tmp_path, days)], profile_from(tmp_path, text))
    assert batch.errors == []
    return {str(r.date): (r.code, r.day_fraction, r.minutes_missed) for r in batch.attendance}


# Six periods a day: Monday all missed, Tuesday three missed (two excused), Wednesday two
# missed and a tardy, Thursday none, Friday attendance not taken in any period.
WEEK = {
    "2025-09-08": "AAAAAA",
    "2025-09-09": "EEAPPP",
    "2025-09-10": "AAPTPP",
    "2025-09-11": "PPPPPP",
    "2025-09-12": "NNNNNN",
}


def test_all_periods_rule_counts_only_a_day_missed_entirely(tmp_path):
    assert rolled_up(tmp_path, "all_periods", WEEK) == {
        "2025-09-08": ("A", None, 300),
        "2025-09-09": ("P", None, None),
        "2025-09-10": ("P", None, None),
        "2025-09-11": ("P", None, None),
        "2025-09-12": ("N", None, None),
    }


def test_half_or_more_rule_counts_a_day_missed_at_least_half(tmp_path):
    # Tuesday: 3 of 6 is half -> absent, with the code most missed periods carry (E)
    assert rolled_up(tmp_path, "half_or_more", WEEK) == {
        "2025-09-08": ("A", None, 300),
        "2025-09-09": ("E", None, 150),
        "2025-09-10": ("P", None, None),  # 2 of 6; a tardy is not an absence
        "2025-09-11": ("P", None, None),
        "2025-09-12": ("N", None, None),
    }


def test_fraction_rule_counts_the_share_of_periods_missed(tmp_path):
    assert rolled_up(tmp_path, "fraction", WEEK, extra='absent_code = "A"') == {
        "2025-09-08": ("A", Decimal("1.000"), 300),
        "2025-09-09": ("A", Decimal("0.500"), 150),
        "2025-09-10": ("A", Decimal("0.333"), 100),
        "2025-09-11": ("P", None, None),
        "2025-09-12": ("N", None, None),
    }


def test_an_exceptions_only_period_file_uses_the_periods_per_day(tmp_path):
    # only the missed periods are in the file; the student had 7 that day
    days = {"2025-09-08": "AAA", "2025-09-09": "AAAA", "2025-09-10": "T"}
    extra = "periods_per_day = 7"
    assert rolled_up(tmp_path, "half_or_more", days, "exceptions", extra) == {
        "2025-09-09": ("A", None, 200),
    }
    assert rolled_up(tmp_path, "fraction", days, "exceptions", extra) == {
        "2025-09-08": ("A", Decimal("0.429"), 150),
        "2025-09-09": ("A", Decimal("0.571"), 200),
    }


def test_a_period_given_two_different_codes_is_an_error(tmp_path):
    path = write_rows(
        tmp_path / "periods.csv",
        [
            ["student", "school", "date", "period", "code", "minutes"],
            ["S1", "301", "2025-09-08", "1", "A", ""],
            ["S1", "301", "2025-09-08", "1", "P", ""],
        ],
    )
    text = PERIOD_PROFILE.format(mode="positive", rule="all_periods", extra="")
    batch = read_tabular([path], profile_from(tmp_path, text))
    [conflict] = batch.errors
    assert (conflict.code, conflict.where.line) == ("duplicate_conflict", 3)
    assert conflict.hint == "The other row is at periods.csv, line 2; keep one of them."


# -- The generator's export round-trips ---------------------------------------------------


@pytest.mark.django_db
def test_a_generated_district_round_trips_through_its_profile(tmp_path, district):
    # given a small generated district written as CSV
    generated = generate_district(
        DistrictParameters(students=60, years=1, seed=11, today=dt.date(2025, 3, 2))
    )
    paths = write_district_csv(generated, tmp_path / "generated")
    lines = {p.stem: len(p.read_text(encoding="utf-8").splitlines()) - 1 for p in paths}
    # when every file is imported with the homeroom-generator profile
    profile = load_profile("homeroom-generator")
    batch = read_tabular(paths, profile)
    assert batch.errors == []
    run = import_batch(batch, district, paths)
    # then every row of every file arrived
    entity_files = {
        "schools": "schools",
        "school_years": "school_years",
        "calendar_dates": "calendar_dates",
        "students": "students",
        "characteristics": "student_characteristics",
        "guardians": "guardians",
        "contact_preferences": "contact_preferences",
        "student_guardians": "student_guardians",
        "enrollments": "enrollments",
        "sections": "sections",
        "section_enrollments": "section_enrollments",
        "attendance_codes": "attendance_codes",
    }
    for entity, stem in entity_files.items():
        counts = run.counts[entity]
        assert counts["read"] == counts["inserted"] == lines[stem], entity
    attendance = run.counts["attendance"]
    assert attendance["read"] == lines["attendance_events"] > 0
    assert attendance["inserted"] + attendance["present"] == lines["attendance_events"]
    assert Student.objects.filter(district=district).count() == lines["students"]
    findings = {code.split(":")[1] for code in run.problem_counts}
    assert findings <= {"file_ignored", "teacher_without_account", "conflicting_events"}
    # and importing the same files again changes nothing
    again = import_batch(read_tabular(paths, profile), district, paths)
    for entity, counts in again.counts.items():
        if entity != "section_teachers":
            assert counts["inserted"] == counts["updated"] == counts["deleted"] == 0, entity


# -- Errors a clerk can act on -------------------------------------------------------------


def test_missing_columns_name_the_expected_ones(tmp_path):
    rows = [[c.replace("Code", "Attendance Code") for c in SMALL_ROWS[0]], *SMALL_ROWS[1:]]
    batch = read_tabular(
        [write_rows(tmp_path / "roster.csv", rows)], profile_from(tmp_path, SMALL_PROFILE)
    )
    [missing] = batch.errors
    assert missing.code == "missing_column"
    assert missing.where == Where("roster.csv", 1, "Code")
    assert "Expected columns: Student ID, School, Date, Code, Minutes" in missing.hint
    assert "Attendance Code" in missing.hint
    assert batch.attendance == [] and len(batch.students) == 2  # other mappings still read


def test_unknown_columns_are_reported_or_refused_as_the_profile_says(tmp_path):
    rows = [[*r, "x"] for r in SMALL_ROWS]
    rows[0][-1] = "Homeroom"
    path = write_rows(tmp_path / "roster.csv", rows)
    batch = read_tabular([path], profile_from(tmp_path, SMALL_PROFILE))
    [finding] = batch.problems
    assert (finding.code, finding.value) == ("unused_columns", "Homeroom")
    strict = profile_from(
        tmp_path,
        SMALL_PROFILE.replace("[profile]\n", '[profile]\nextra_columns = "error"\n'),
        "strict.toml",
    )
    [error] = read_tabular([path], strict).errors
    assert (error.code, error.where) == ("unknown_column", Where("roster.csv", 1, "Homeroom"))


def test_row_errors_name_file_line_column_and_value(tmp_path):
    rows = [
        SMALL_ROWS[0],
        ["S1", "Ana", "Alvarez", "14", "101", "09/08/2025", "A", ""],
        ["S1", "Ana", "Alvarez", "K", "101", "09/31/2025", "A", ""],
        ["S1", "Ana", "Alvarez", "K", "101", "09/10/2025", "ZZ", ""],
        ["S1", "Ana", "Alvarez", "K", "101", "09/11/2025", "A", "ten"],
        ["S1", "Ana", "Alvarez", "K", "101", "09/12/2025", "A"],
        ["S1", "Ana", "", "K", "101", "09/15/2025", "A", ""],
        ["S1", "Ana", "Alvarez", "K", "101", "09/16/2025", "A", "", "", ""],
    ]
    batch = read_tabular(
        [write_rows(tmp_path / "roster.csv", rows)], profile_from(tmp_path, SMALL_PROFILE)
    )
    found = [(p.code, p.where.line, p.where.column, p.value) for p in batch.errors]
    assert found == [
        ("bad_grade", 2, "Grade", "14"),
        ("bad_date", 3, "Date", "09/31/2025"),
        ("unknown_code", 4, "Code", "ZZ"),
        ("bad_number", 5, "Minutes", "ten"),
        ("ragged_row", 6, "", ""),
        ("missing_value", 7, "Last Name", ""),
    ]
    unknown = batch.errors[2]
    assert "[codes] in district.toml" in unknown.hint
    # a trailing empty cell is not ragged; rows without errors are kept
    assert [r.where.line for r in batch.attendance] == [2, 7, 8]


def test_empty_files_and_files_no_entity_reads(tmp_path):
    profile = profile_from(tmp_path, SMALL_PROFILE)
    empty = tmp_path / "e" / "roster.csv"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    header_only = write_rows(tmp_path / "x" / "roster.csv", SMALL_ROWS[:1])
    stranger = write_rows(tmp_path / "grades.csv", [["a"], ["b"]])
    batch = read_tabular([empty, header_only, stranger], profile)
    assert [(p.severity, p.code, p.where.file) for p in batch.problems] == [
        (Severity.ERROR, "empty_file", "e/roster.csv"),
        (Severity.FINDING, "no_rows", "x/roster.csv"),
        (Severity.ERROR, "unmatched_file", "grades.csv"),
    ]


def test_dates_out_of_order_are_errors_before_the_database_sees_them(tmp_path):
    text = """
[enrollments]
file = "enrollments.csv"
student_id = "student"
school_id = "school"
school_year = "year"
grade = "grade"
entry_date = "entry"
exit_date = "exit"
"""
    path = write_rows(
        tmp_path / "enrollments.csv",
        [
            ["student", "school", "year", "grade", "entry", "exit"],
            ["S1", "101", "2025-2026", "3", "2025-09-02", "2025-08-01"],
            ["S2", "101", "2025-2026", "3", "2025-09-02", ""],
        ],
    )
    batch = read_tabular([path], profile_from(tmp_path, text))
    [error] = batch.errors
    assert (error.code, error.where.column) == ("dates_out_of_order", "exit")
    assert [e.student_id for e in batch.enrollments] == ["S2"]


def test_ids_follow_the_profile_scheme(tmp_path):
    text = (
        SMALL_PROFILE
        + '\n[ids.student]\nprefix = "R-"\nnormalize = ["strip_leading_zeros", "upper"]\n'
    )
    rows = [SMALL_ROWS[0], ["00s1", "Ana", "Alvarez", "K", "101", "09/08/2025", "A", ""]]
    batch = read_tabular([write_rows(tmp_path / "roster.csv", rows)], profile_from(tmp_path, text))
    assert [s.local_id for s in batch.students] == ["R-S1"]
    assert [a.student_id for a in batch.attendance] == ["R-S1"]


def test_a_declared_scope_is_set_and_rows_outside_it_refused(tmp_path):
    text = SMALL_PROFILE + '\n[attendance.scope]\nschools = ["101", "102"]\nstart = 2025-09-01\n'
    rows = [*SMALL_ROWS, ["S2", "Zoë", "O'Brien, Jr.", "3", "101", "08/29/2025", "A", ""]]
    batch = read_tabular([write_rows(tmp_path / "roster.csv", rows)], profile_from(tmp_path, text))
    [outside] = batch.errors
    assert (outside.code, outside.where.line, outside.value) == ("outside_scope", 5, "2025-08-29")
    assert batch.attendance_scope.school_ids == {"101", "102"}
    assert (batch.attendance_scope.start, batch.attendance_scope.end) == (
        dt.date(2025, 9, 1),
        dt.date(2025, 9, 9),
    )


@pytest.mark.django_db
def test_skip_mode_imports_the_rows_without_errors(tmp_path, cast):
    # given a file for the cast's district (codes held, none in the profile) with a bad date
    profile = profile_from(
        tmp_path,
        """
[attendance]
file = "absences.csv"
mode = "exceptions"
student_id = "student"
school_id = "school"
date = "date"
code = "code"
""",
    )
    monday = cast.this_year.start_date + dt.timedelta(days=7 - cast.this_year.start_date.weekday())
    rows = [
        ["student", "school", "date", "code"],
        ["S1", "101", monday.isoformat(), "A"],
        ["S2", "101", "2025-02-30", "A"],
    ]
    batch = read_tabular([write_rows(tmp_path / "absences.csv", rows)], profile)
    # when it is imported with --on-error skip
    run = do_import(batch, district=cast.district, source_format="csv", files=[], on_error="skip")
    # then the good row is in and the bad one reported
    assert run.problem_counts == {"error:bad_date": 1}
    assert run.counts["attendance"]["inserted"] == 1
    assert AttendanceEvent.objects.get().student == cast.ana


def test_damaged_files_are_reported_never_raised(tmp_path):
    # given a good file, then hundreds of damaged copies of it
    profile = profile_from(tmp_path, SMALL_PROFILE)
    good = write_rows(tmp_path / "roster.csv", SMALL_ROWS * 3).read_bytes()
    book = Workbook()
    for row in SMALL_ROWS:
        book.active.append(row)
    book.save(tmp_path / "book.xlsx")
    workbook = (tmp_path / "book.xlsx").read_bytes()
    chance = random.Random(20250908)
    for n in range(300):
        data = bytearray(workbook if n % 5 == 0 else good)
        for _ in range(chance.randint(1, 8)):
            if not data:
                break
            at = chance.randrange(len(data))
            action = chance.randrange(4)
            if action == 0:
                data[at] = chance.randrange(256)
            elif action == 1:
                del data[at : at + chance.randint(1, 40)]
            elif action == 2:
                data[at:at] = bytes(chance.randrange(256) for _ in range(chance.randint(1, 9)))
            else:
                data = data[:at]
        path = tmp_path / f"d{n}" / ("roster.xlsx" if n % 5 == 0 else "roster.csv")
        path.parent.mkdir()
        path.write_bytes(bytes(data))
        # when it is read, then it returns a batch (with problems, maybe records)
        batch = read_tabular([path], profile)
        assert isinstance(batch, Batch)


def test_an_old_excel_file_and_a_broken_workbook_say_what_to_do(tmp_path):
    profile = profile_from(tmp_path, SMALL_PROFILE)
    old = tmp_path / "roster.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 100)
    broken = tmp_path / "x" / "roster.xlsx"
    broken.parent.mkdir()
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    batch = read_tabular([old, broken], profile)
    assert codes(batch) == {"unreadable_file": 2}
    assert "save it as .xlsx or CSV" in batch.errors[0].hint


def test_display_names_tell_same_named_files_apart():
    paths = [Path("a/day1/x/part1.csv"), Path("a/day2/x/part1.csv"), Path("a/other.csv")]
    assert display_names(paths) == ["day1/x/part1.csv", "day2/x/part1.csv", "other.csv"]


def test_a_file_with_a_thousand_errors_stops_with_one_more_saying_so(tmp_path):
    # given a file read with the wrong date format throughout
    rows = [SMALL_ROWS[0]] + [["S1", "Ana", "Alvarez", "K", "101", "2025-09-08", "A", ""]] * 1500
    batch = read_tabular(
        [write_rows(tmp_path / "roster.csv", rows)], profile_from(tmp_path, SMALL_PROFILE)
    )
    # then reading stops after 1,000 errors, and says why
    assert codes(batch) == {"bad_date": 1000, "too_many_errors": 1}
    assert "delimiter, encoding, columns" in batch.errors[-1].hint


def test_a_column_the_profile_reads_twice_in_the_header_is_refused(tmp_path):
    rows = [[*SMALL_ROWS[0], "Code"], *[[*r, "A"] for r in SMALL_ROWS[1:]]]
    batch = read_tabular(
        [write_rows(tmp_path / "roster.csv", rows)], profile_from(tmp_path, SMALL_PROFILE)
    )
    assert codes(batch) == {"duplicate_column": 1}
    assert batch.errors[0].where == Where("roster.csv", 1, "Code")


def test_schools_codes_and_minutes(tmp_path):
    # given a schools file with a reversed grade span, a codes file, and minutes-only rows
    text = """
[schools]
file = "schools.csv"
local_id = "id"
name = "name"
lowest_grade = "low"
highest_grade = "high"

[attendance_codes]
file = "codes.csv"
code = "code"
category = { column = "meaning", map = { Absent = "unexcused", Late = "tardy" } }

[attendance]
file = "absences.csv"
mode = "exceptions"
minutes_per_day = 400
student_id = "student"
school_id = { value = "101" }
date = "date"
code = "code"
minutes_missed = "minutes"
"""
    schools = write_rows(
        tmp_path / "schools.csv", [["id", "name", "low", "high"], ["9", "X", "5", "K"]]
    )
    codes_file = write_rows(
        tmp_path / "codes.csv", [["code", "meaning"], ["A", "Absent"], ["L", "late"]]
    )
    absences = write_rows(
        tmp_path / "absences.csv",
        [["student", "date", "code", "minutes"], ["S1", "2025-09-08", "L", "100"]],
    )
    batch = read_tabular([schools, codes_file, absences], profile_from(tmp_path, text))
    # then each is read as the profile says
    assert [(p.code, p.where.column) for p in batch.errors] == [("grades_out_of_order", "low")]
    assert [
        (c.code, c.category, c.description, c.day_fraction) for c in batch.attendance_codes
    ] == [
        ("A", "unexcused", "A", Decimal(1)),
        ("L", "tardy", "L", Decimal(0)),
    ]
    [late] = batch.attendance
    assert (late.school_id, late.code, late.day_fraction) == ("101", "L", Decimal("0.250"))


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, settings):
    # given the small roster, and a limit a byte under its size
    path = write_rows(tmp_path / "roster.csv", SMALL_ROWS)
    settings.HOMEROOM_MAX_IMPORT_BYTES = path.stat().st_size - 1
    # when it is read
    batch = read_tabular([path], profile_from(tmp_path, SMALL_PROFILE))
    # then it is refused by name, and nothing of it is read
    refused = [p for p in batch.errors if p.code == "file_too_large"]
    assert [(p.where.file, p.where.line) for p in refused] == [("roster.csv", 1)]
    assert "HOMEROOM_MAX_IMPORT_MB" in refused[0].hint
    assert not batch.students and not batch.attendance


def test_a_file_past_the_line_limit_is_refused(tmp_path, settings):
    # given a roster of a header, three rows and 5,000 empty lines; a limit of 100 lines
    settings.HOMEROOM_MAX_IMPORT_ROWS = 100
    path = write_rows(tmp_path / "roster.csv", SMALL_ROWS)
    with path.open("a") as handle:
        handle.write("\r\n" * 5000)
    batch = read_tabular([path], profile_from(tmp_path, SMALL_PROFILE))
    # then the file is refused, saying so
    refused = [p for p in batch.errors if p.code == "file_too_large"]
    assert len(refused) == 1 and "has more than 100 lines" in refused[0].message


def test_a_workbook_is_measured_uncompressed(tmp_path, settings):
    # given a workbook of the roster with 2,000 repeated rows: small zipped, large unzipped
    book = Workbook()
    for row in SMALL_ROWS + [SMALL_ROWS[1]] * 2000:
        book.active.append(row)
    book.save(tmp_path / "roster.xlsx")
    settings.HOMEROOM_MAX_IMPORT_BYTES = (tmp_path / "roster.xlsx").stat().st_size * 2
    # then its uncompressed size is what the limit is held to
    batch = read_tabular([tmp_path / "roster.xlsx"], profile_from(tmp_path, SMALL_PROFILE))
    assert [p.where.file for p in batch.errors if p.code == "file_too_large"] == ["roster.xlsx"]
