"""The sync engine: atomic, idempotent, scoped and traceable, whatever the format."""

import csv
import datetime as dt
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import ProtectedError

from homeroom.access.gatekeeper import visible_students
from homeroom.attendance.models import AttendanceCode, AttendanceEvent, Category
from homeroom.core.models import Calendar, CalendarDate, District, School, SchoolYear
from homeroom.demo.district import DistrictParameters, generate_district
from homeroom.demo.export import write_district_csv
from homeroom.ingest.actions import NewDistrict, do_import_files
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import (
    AttendanceCodeRecord,
    AttendanceRecord,
    AttendanceScope,
    Batch,
    SchoolYearRecord,
    SectionEnrollmentRecord,
    SectionRecord,
    StudentRecord,
    Where,
)
from homeroom.ingest.sync import ImportRejected, SourceFile, do_import
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

pytestmark = pytest.mark.django_db

FILE = SourceFile(name="attendance.csv", sha256="0" * 64, size=100)


def weekday(cast, n: int) -> dt.date:
    """The n-th weekday (1-based) of the cast's school year: an instructional day."""
    day, seen = cast.this_year.start_date, 0
    while True:
        if day.weekday() < 5:
            seen += 1
            if seen == n:
                return day
        day += dt.timedelta(days=1)


def absence(student, day, code="A", line=2, school="101", fraction=None, reason=""):
    return AttendanceRecord(
        student_id=student.local_id,
        school_id=school,
        date=day,
        code=code,
        where=Where("attendance.csv", line),
        day_fraction=None if fraction is None else Decimal(fraction),
        reason=reason,
    )


def run(cast, records, scope=None, **options) -> ImportRun:
    batch = Batch(attendance=list(records), attendance_scope=scope)
    return do_import(batch, district=cast.district, source_format="test", files=[FILE], **options)


def held(cast):
    return sorted(
        (e.student.local_id, e.date, e.code.code, e.day_fraction)
        for e in AttendanceEvent.objects.select_related("student", "code")
    )


def test_import_then_reimport_changes_nothing(cast):
    # given a file with three absences
    records = [absence(cast.ana, weekday(cast, n), line=n + 1) for n in (1, 2, 3)]
    first = run(cast, records)
    # when the same file is imported again
    again = run(cast, records)
    # then the second run inserts, updates and deletes nothing
    assert first.counts["attendance"]["inserted"] == 3
    assert again.counts["attendance"] == first.counts["attendance"] | {
        "inserted": 0,
        "unchanged": 3,
    }
    assert AttendanceEvent.objects.count() == 3
    event = AttendanceEvent.objects.get(date=weekday(cast, 2))
    assert (event.source_run, event.source_file, event.source_line) == (first, "attendance.csv", 3)
    # and names no student whose attendance changed, so the summaries recompute nobody
    assert list(again.attendance_students.all()) == []


# -- A nightly full re-export ---------------------------------------------------------------

EXPORT_TODAY = dt.date(2025, 3, 5)  # the generated year has attendance through 2025-03-04
EXPORT_DISTRICT = "Riverbend Public Schools"
EXPORTED = (  # every table an export fills, compared row by row, provenance included
    School,
    SchoolYear,
    AttendanceCode,
    Calendar,
    CalendarDate,
    Student,
    StudentCharacteristic,
    Guardian,
    StudentGuardian,
    ContactPreference,
    Enrollment,
    Section,
    SectionEnrollment,
    AttendanceEvent,
)


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def exports(tmp_path) -> dict[str, list[Path]]:
    """A generated district's full export ("new day") and the same export without the
    attendance of its last day ("base"): last night's export and tonight's."""
    params = DistrictParameters(students=60, years=1, seed=3, today=EXPORT_TODAY)
    tonight = write_district_csv(generate_district(params), tmp_path / "tonight")
    events = tmp_path / "tonight" / "attendance_events.csv"
    last_day = max(row["date"] for row in csv_rows(events))
    (tmp_path / "last-night").mkdir()
    for path in tonight:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        if path == events:  # the date is the third column
            lines = [line for line in lines if line.split(",")[2] != last_day]
        (tmp_path / "last-night" / path.name).write_text("".join(lines), encoding="utf-8")
    return {
        "base": sorted((tmp_path / "last-night").glob("*.csv")),
        "new day": sorted(tonight),
        "last day": last_day,
    }


def import_export(paths: list[Path]) -> ImportRun:
    district = District.objects.filter(name=EXPORT_DISTRICT).first()
    return do_import_files(
        paths,
        district=district or NewDistrict(EXPORT_DISTRICT, "America/New_York"),
        source_format="csv",
        profile="homeroom-generator",
    )


def every_row() -> dict[str, list[tuple]]:
    return {m.__name__: sorted(m.objects.values_list(), key=repr) for m in EXPORTED}


def test_reimporting_an_identical_full_export_writes_nothing(exports):
    # given last night's full export, imported
    first = import_export(exports["base"])
    before = every_row()
    # when the same files are imported again
    again = import_export(exports["base"])
    # then every row of every file is reported unchanged, and nothing is written: no row
    # (its provenance and a contact preference's `updated_at` included) differs
    files = {p.stem: len(csv_rows(p)) for p in exports["base"]}
    codes = {r["code"]: r["category"] for r in csv_rows(exports["base"][0])}
    events = csv_rows(next(p for p in exports["base"] if p.stem == "attendance_events"))
    stored = sum(codes[row["code"]] != "present" for row in events)
    for entity, stem in {
        "schools": "schools",
        "school_years": "school_years",
        "attendance_codes": "attendance_codes",
        "calendar_dates": "calendar_dates",
        "students": "students",
        "characteristics": "student_characteristics",
        "guardians": "guardians",
        "student_guardians": "student_guardians",
        "contact_preferences": "contact_preferences",
        "enrollments": "enrollments",
        "sections": "sections",
        "section_enrollments": "section_enrollments",
    }.items():
        assert again.counts[entity] | {"read": 0} == first.counts[entity] | {
            "read": 0,
            "inserted": 0,
            "unchanged": files[stem],
        }, entity
    assert again.counts["attendance"] | {} == {
        "read": len(events),
        "inserted": 0,
        "updated": 0,
        "deleted": 0,
        "unchanged": stored,
        "skipped": 0,
        "present": len(events) - stored,
    }
    assert "recorded_through" not in again.counts
    assert every_row() == before
    assert list(again.attendance_students.all()) == []


def test_a_full_export_with_one_new_day_inserts_that_day_and_nothing_else(exports):
    # given last night's full export, imported
    import_export(exports["base"])
    before = every_row()
    # when tonight's export, the same files with one more day of attendance, is imported
    tonight = import_export(exports["new day"])
    # then exactly that day's absences are inserted, from tonight's run, and no other row
    # changes
    codes = {r["code"]: r["category"] for r in csv_rows(exports["new day"][0])}
    events = csv_rows(next(p for p in exports["new day"] if p.stem == "attendance_events"))
    new_day = [
        (r["student_id"], r["date"], r["code"])
        for r in events
        if r["date"] == exports["last day"] and codes[r["code"]] != "present"
    ]
    assert len(new_day) > 0
    counts = tonight.counts["attendance"]
    assert (counts["inserted"], counts["updated"], counts["deleted"]) == (len(new_day), 0, 0)
    assert counts["unchanged"] == len(before["AttendanceEvent"])
    changed = {e: c for e, c in tonight.counts.items() if c["inserted"] or c["updated"]}
    assert set(changed) == {"attendance", "recorded_through"}
    after = every_row()
    for model in EXPORTED[1:-1]:
        assert after[model.__name__] == before[model.__name__], model.__name__
    recorded = School.objects.values_list("recorded_through", flat=True)
    assert {day.isoformat() for day in recorded} == {exports["last day"]}
    added = Counter(after["AttendanceEvent"]) - Counter(before["AttendanceEvent"])
    assert len(added) == len(after["AttendanceEvent"]) - len(before["AttendanceEvent"])
    inserted = AttendanceEvent.objects.filter(source_run=tonight)
    assert sorted(
        (e.student.local_id, e.date.isoformat(), e.code.code)
        for e in inserted.select_related("student", "code")
    ) == sorted(new_day)
    # and the summaries will recompute that day's absent students alone
    assert {s.local_id for s in tonight.attendance_students.all()} == {s for s, _, _ in new_day}


def test_corrections_and_deletions_in_scope_take_effect_and_nothing_outside(cast):
    # given Ana's absences on days 1-3 and Carla's at Central on day 2
    run(cast, [absence(cast.ana, weekday(cast, n)) for n in (1, 2, 3)])
    run(cast, [absence(cast.carla, weekday(cast, 2), school="301")])
    # when Lincoln's file for days 1-3 drops day 1 and makes day 2 a half day
    scope = AttendanceScope({"101"}, weekday(cast, 1), weekday(cast, 3))
    result = run(
        cast,
        [absence(cast.ana, weekday(cast, 2), fraction="0.5"), absence(cast.ana, weekday(cast, 3))],
        scope=scope,
    )
    # then day 1 is gone, day 2 is corrected, and Central's event is untouched
    assert result.counts["attendance"] | {} == {
        "read": 2,
        "inserted": 0,
        "updated": 1,
        "deleted": 1,
        "unchanged": 1,
        "skipped": 0,
        "present": 0,
    }
    assert held(cast) == [
        ("S1", weekday(cast, 2), "A", Decimal("0.500")),
        ("S1", weekday(cast, 3), "A", None),
        ("S3", weekday(cast, 2), "A", None),
    ]


def test_an_error_rejects_the_run_and_changes_nothing(cast):
    # given held data, then a file whose third row has an unknown code
    run(cast, [absence(cast.ana, weekday(cast, 1))])
    before = held(cast)
    records = [absence(cast.ana, weekday(cast, n), line=n + 1) for n in (1, 2)]
    records.append(absence(cast.ben, weekday(cast, 3), code="ZZ", line=4))
    # when it is imported
    with pytest.raises(ImportRejected) as rejected:
        run(cast, records)
    # then the database holds what it held, and the run says where the problem is
    assert held(cast) == before
    recorded = ImportRun.objects.get(pk=rejected.value.run.pk)
    assert recorded.status == ImportRun.Status.REJECTED
    [problem] = recorded.problems
    assert (problem["file"], problem["line"], problem["value"]) == ("attendance.csv", 4, "ZZ")
    assert "unknown attendance code" in problem["text"]


def test_skip_mode_imports_the_good_rows_and_reports_the_rest(cast):
    records = [absence(cast.ana, weekday(cast, 1)), absence(cast.ben, weekday(cast, 2), "ZZ")]
    result = run(cast, records, on_error="skip")
    assert held(cast) == [("S1", weekday(cast, 1), "A", None)]
    assert result.problem_counts == {"error:unknown_code": 1}


def test_dry_run_reports_but_writes_nothing(cast):
    result = run(cast, [absence(cast.ana, weekday(cast, 1))], dry_run=True)
    assert result.counts["attendance"]["inserted"] == 1
    assert AttendanceEvent.objects.count() == 0
    assert not ImportRun.objects.exists()


def test_findings_are_counted_listed_and_the_rows_kept(cast):
    saturday = next(
        weekday(cast, 1) + dt.timedelta(days=i)
        for i in range(7)
        if (weekday(cast, 1) + dt.timedelta(days=i)).weekday() == 5
    )
    stranger = AttendanceRecord("NOPE", "101", weekday(cast, 1), "A", Where("attendance.csv", 9))
    records = [
        absence(cast.ana, saturday, line=2),
        absence(cast.ana, weekday(cast, 4), "E", line=3),
        absence(cast.ana, weekday(cast, 4), "T", line=4),
        absence(cast.ana, weekday(cast, 5), line=5),
        absence(cast.ana, weekday(cast, 5), line=6),
        absence(cast.carla, weekday(cast, 5), line=7),  # Carla is enrolled at Central
        stranger,
    ]
    result = run(cast, records)
    assert result.problem_counts == {
        "finding:non_instructional_day": 1,
        "finding:conflicting_events": 1,
        "finding:duplicate_row": 1,
        "finding:outside_enrollment": 1,
        "finding:student_not_rostered": 1,
    }
    lines = {p["code"]: p["line"] for p in result.problems}
    assert lines == {
        "non_instructional_day": 2,
        "conflicting_events": 3,
        "duplicate_row": 6,
        "outside_enrollment": 7,
        "student_not_rostered": 9,
    }
    assert AttendanceEvent.objects.count() == 5


def test_presence_rows_are_counted_not_stored(cast):
    AttendanceCode.objects.create(
        district=cast.district,
        code="P",
        description="Present",
        category=Category.PRESENT,
        day_fraction=0,
    )
    records = [absence(cast.ana, weekday(cast, n), code="P") for n in (1, 2, 3)]
    records.append(absence(cast.ana, weekday(cast, 4)))
    result = run(cast, records)
    assert result.counts["attendance"]["present"] == 3
    assert held(cast) == [("S1", weekday(cast, 4), "A", None)]


def test_students_and_codes_are_upserted_by_local_id(cast):
    batch = Batch(
        students=[
            StudentRecord("S1", "Ana María", "Alvarez", 3, Where("students.csv", 2)),
            StudentRecord("S99", "Zoe", "Zeller", 1, Where("students.csv", 3)),
        ],
        attendance_codes=[
            AttendanceCodeRecord(
                "A", "Unexcused", Category.UNEXCUSED, Decimal(1), Where("codes.csv", 2)
            ),
        ],
    )
    result = do_import(batch, district=cast.district, source_format="test", files=[FILE])
    assert result.counts["students"] | {} == {
        "read": 2,
        "inserted": 1,
        "updated": 1,
        "deleted": 0,
        "unchanged": 0,
        "skipped": 0,
        "present": 0,
    }
    assert result.counts["attendance_codes"]["unchanged"] == 1
    assert Student.objects.get(local_id="S1").first_name == "Ana María"
    assert Student.objects.filter(district=cast.district).count() == 8


def test_sections_replace_those_held_and_find_their_teachers(cast):
    # given Room 3 at Lincoln taught by the cast teacher, with Ana in it
    year = cast.this_year.name
    where = Where("classes.csv", 2)
    batch = Batch(
        sections=[
            SectionRecord("101", year, "HR4", "Room 4", where, teacher_ids=["TEACHER", "nobody"]),
        ],
        section_enrollments=[
            SectionEnrollmentRecord("S2", "101", year, "HR4", cast.this_year.start_date, where),
        ],
    )
    # when the SIS now exports only Room 4, with Ben, taught by the teacher
    result = do_import(batch, district=cast.district, source_format="test", files=[FILE])
    # then Room 3 is gone, the teacher (matched by username) now sees Ben, not Ana
    assert list(Section.objects.filter(school=cast.lincoln).values_list("name", flat=True)) == [
        "Room 4"
    ]
    assert result.counts["sections"]["deleted"] == 1
    assert result.problem_counts == {"finding:teacher_without_account": 1}
    assert [s.local_id for s in visible_students(cast.teacher)] == ["S2"]


def test_a_source_that_does_not_say_keeps_what_another_source_said(cast):
    # given Ana's home language and birth date from the SIS
    sis = Batch(
        students=[
            StudentRecord(
                "S1",
                "Ana",
                "Alvarez",
                3,
                Where("students.csv", 2),
                home_language="es",
                birth_date=dt.date(2017, 3, 1),
            ),
        ]
    )
    do_import(sis, district=cast.district, source_format="csv", files=[FILE])
    # when a roster without languages or birth dates is imported
    roster = Batch(students=[StudentRecord("S1", "Ana", "Alvarez", 4, Where("users.csv", 2))])
    result = do_import(roster, district=cast.district, source_format="oneroster", files=[FILE])
    # then the grade changes and the rest is kept
    ana = Student.objects.get(local_id="S1")
    assert (ana.grade, ana.home_language, ana.birth_date) == (4, "es", dt.date(2017, 3, 1))
    assert result.counts["students"]["updated"] == 1


def test_problems_with_nul_bytes_are_stored_on_every_database(cast):
    batch = Batch(attendance=[absence(cast.ana, weekday(cast, 1), code="A\x00B")])
    with pytest.raises(ImportRejected) as rejected:
        run(cast, batch.attendance)
    [problem] = ImportRun.objects.get(pk=rejected.value.run.pk).problems
    assert problem["value"] == "A\\x00B"


def test_a_student_left_with_no_characteristics_loses_the_old_ones(cast):
    from homeroom.ingest.records import CharacteristicRecord
    from homeroom.roster.models import StudentCharacteristic

    where = Where("students.csv", 2)
    ana = StudentRecord("S1", "Ana", "Alvarez", 3, where)
    ben = StudentRecord("S2", "Ben", "Brooks", 4, where)
    start = cast.this_year.start_date
    do_import(
        Batch(
            students=[ana, ben],
            characteristics=[
                CharacteristicRecord("S1", "homeless", start, where),
                CharacteristicRecord("S2", "iep", start, where),
            ],
        ),
        district=cast.district,
        source_format="t",
        files=[FILE],
    )
    # when the next full export no longer lists Ana as homeless
    do_import(
        Batch(
            students=[ana, ben],
            characteristics=[
                CharacteristicRecord("S2", "iep", start, where),
            ],
        ),
        district=cast.district,
        source_format="t",
        files=[FILE],
    )
    held = StudentCharacteristic.objects.values_list("student__local_id", "kind")
    assert list(held) == [("S2", "iep")]


@pytest.mark.parametrize("many_ids", [1000, 0], ids=["few ids: an IN list", "many: by district"])
def test_a_file_replaces_the_characteristics_of_the_students_it_names_only(
    cast, monkeypatch, many_ids
):
    from homeroom.ingest import sync
    from homeroom.ingest.records import CharacteristicRecord

    # (a full export names more students than MANY_IDS: the held rows are then read for
    # the whole district and those of other students left alone)
    monkeypatch.setattr(sync, "MANY_IDS", many_ids)
    where = Where("students.csv", 2)
    ana = StudentRecord("S1", "Ana", "Alvarez", 3, where)
    ben = StudentRecord("S2", "Ben", "Brooks", 4, where)
    start = cast.this_year.start_date
    batch = Batch(
        students=[ana, ben],
        characteristics=[
            CharacteristicRecord("S1", "homeless", start, where),
            CharacteristicRecord("S2", "iep", start, where),
        ],
    )
    do_import(batch, district=cast.district, source_format="t", files=[FILE])
    # when a file about Ben alone says he is an English learner, not on an IEP
    batch = Batch(
        students=[ben],
        characteristics=[CharacteristicRecord("S2", "english_learner", start, where)],
    )
    run = do_import(batch, district=cast.district, source_format="t", files=[FILE])
    # then Ben's characteristics are replaced and Ana's are kept
    held = StudentCharacteristic.objects.values_list("student__local_id", "kind")
    assert sorted(held) == [("S1", "homeless"), ("S2", "english_learner")]
    assert (
        run.counts["characteristics"]["inserted"],
        run.counts["characteristics"]["deleted"],
    ) == (1, 1)


def test_skipping_bad_rows_never_deletes_what_they_might_have_been(cast):
    # given Ana's tardy and absence held for days 1 and 2
    run(cast, [absence(cast.ana, weekday(cast, 1), "T"), absence(cast.ana, weekday(cast, 2))])
    # when the next file (days 1 and 2) has the tardy with a mistyped code, imported
    # skipping bad rows
    result = run(
        cast,
        [
            absence(cast.ana, weekday(cast, 1), "TT"),
            absence(cast.ben, weekday(cast, 1)),
            absence(cast.ana, weekday(cast, 2)),
        ],
        on_error="skip",
    )
    # then the held tardy is kept, and the run says deletions were withheld
    assert held(cast) == [
        ("S1", weekday(cast, 1), "T", None),
        ("S1", weekday(cast, 2), "A", None),
        ("S2", weekday(cast, 1), "A", None),
    ]
    assert result.counts["attendance"]["deleted"] == 0
    assert result.problem_counts == {"error:unknown_code": 1, "finding:deletions_withheld": 1}


def planner_rows(model) -> float:
    """How many rows the database's planner believes the table holds."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # main's: temporary tables analyzed (the metrics' stages) have their own
            cursor.execute("SELECT name FROM main.sqlite_master WHERE name = 'sqlite_stat1'")
            if cursor.fetchone() is None:
                return 0
            cursor.execute("SELECT stat FROM main.sqlite_stat1 WHERE tbl = %s", [table])
            stat = cursor.fetchone()
            return 0 if stat is None else int(stat[0].split()[0])
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        return cursor.fetchone()[0]


def test_a_large_import_tells_the_planner_the_new_size_at_once(cast):
    # given the planner last saw the attendance table empty
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AttendanceEvent._meta.db_table}")
    assert planner_rows(AttendanceEvent) <= 0
    # when a file of 1,050 absences is imported
    days = [weekday(cast, n) for n in range(1, 211)]
    pupils = (cast.ana, cast.ben, cast.gabe, cast.eli, cast.hal)
    records = [absence(p, d) for p in pupils for d in days]
    run(cast, records)
    # then the planner knows of them at once (without waiting for PostgreSQL's autovacuum;
    # SQLite estimates from a sample of 1,000 rows)
    seen = planner_rows(AttendanceEvent)
    assert seen == pytest.approx(1050, rel=0.25)  # SQLite extrapolates from its sample
    # and a change under a tenth of a large table (and 50 rows) is left to autovacuum
    run(cast, [*records, absence(cast.carla, weekday(cast, 1))])
    assert AttendanceEvent.objects.count() == 1051
    assert planner_rows(AttendanceEvent) == seen


def test_an_import_tells_the_planner_of_any_change_to_a_small_table(cast):
    # given the planner knows the district's attendance codes
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AttendanceCode._meta.db_table}")
    codes = AttendanceCode.objects.count()
    assert planner_rows(AttendanceCode) == codes
    # when an import adds one code (autovacuum would wait for 50 changes)
    new_code = AttendanceCodeRecord(
        "FT", "Field trip", Category.PRESENT, Decimal(0), Where("codes.csv", 2)
    )
    result = do_import(
        Batch(attendance_codes=[new_code]),
        district=cast.district,
        source_format="test",
        files=[FILE],
    )
    # then the planner counts it at once
    assert result.counts["attendance_codes"]["inserted"] == 1
    assert planner_rows(AttendanceCode) == codes + 1


def test_imported_events_keep_their_keys_whatever_is_deleted(cast):
    # given two absences imported for Ana
    result = run(cast, [absence(cast.ana, weekday(cast, n), line=n + 1) for n in (1, 2)])
    events = list(AttendanceEvent.objects.filter(student=cast.ana))
    # then neither their code nor their school can be deleted while they hold it
    for held in (AttendanceCode.objects.get(district=cast.district, code="A"), cast.lincoln):
        with pytest.raises(ProtectedError) as refused:
            held.delete()
        assert set(events) <= set(refused.value.protected_objects)
    # and deleting their import run keeps them, without a run
    result.delete()
    kept = AttendanceEvent.objects.filter(pk__in=[e.pk for e in events])
    assert list(kept.values_list("source_run_id", flat=True)) == [None, None]
    # and deleting the student deletes them
    cast.ana.delete()
    assert not AttendanceEvent.objects.exists()


# Imports that must not destroy data (issue 19 A and B)


def test_a_row_dated_outside_the_school_years_is_an_error_and_widens_nothing(cast):
    # given 60 absences held for Ana and Ben over the year's first 30 days
    days = [weekday(cast, n) for n in range(1, 31)]
    run(cast, [absence(p, d) for p in (cast.ana, cast.ben) for d in days])
    # when a file holds one real row and one mistyped as 1900-01-01 (no school year's)
    rows = [absence(cast.ana, days[-1], line=2), absence(cast.ana, dt.date(1900, 1, 1), line=3)]
    # then by default the run is rejected with the row named, and nothing changes
    with pytest.raises(ImportRejected) as rejected:
        run(cast, rows)
    problem = rejected.value.run.problems[0]
    assert (problem["code"], problem["line"], problem["value"]) == (
        "date_outside_school_years",
        3,
        "1900-01-01",
    )
    assert len(held(cast)) == 60
    # and skipping bad rows, the file speaks for its good row's day alone: nothing deleted
    skipped = run(cast, rows, on_error="skip")
    assert skipped.status == ImportRun.Status.SUCCEEDED
    assert skipped.scope == {
        "schools": ["101"],
        "start": days[-1].isoformat(),
        "end": days[-1].isoformat(),
    }
    assert skipped.counts["attendance"]["deleted"] == 0
    assert len(held(cast)) == 60


def hundred_absences_held(cast) -> tuple[AttendanceScope, list[AttendanceRecord]]:
    """Ana and Ben absent at Lincoln on each of the first 50 days, imported; returned with
    the scope of a file for those days."""
    days = [weekday(cast, n) for n in range(1, 51)]
    everything = [absence(p, d) for p in (cast.ana, cast.ben) for d in days]
    run(cast, everything)
    return AttendanceScope({"101"}, days[0], days[-1]), everything


def test_a_file_that_would_delete_most_of_a_school_must_be_allowed_to(cast):
    # given 100 absences held at Lincoln over the first 50 days
    scope, everything = hundred_absences_held(cast)
    # when a file for those 50 days holds only 10 of them (90 would go: 90%)
    kept = everything[:10]
    with pytest.raises(ImportRejected) as rejected:
        run(cast, kept, scope=scope)
    # then it is refused, saying how many of how many, and nothing is deleted
    problem = rejected.value.run.problems[0]
    assert problem["code"] == "large_deletion"
    assert "delete 90 of the 100 events held for Lincoln Elementary (101)" in problem["text"]
    assert len(held(cast)) == 100
    # and allowed explicitly, it deletes them
    allowed = run(cast, kept, scope=scope, allow_large_deletes=True)
    assert allowed.counts["attendance"]["deleted"] == 90
    assert len(held(cast)) == 10


def test_a_correction_under_a_fifth_of_a_school_needs_no_permission(cast):
    scope, everything = hundred_absences_held(cast)
    # 19 of 100 withdrawn by the SIS
    corrected = run(cast, everything[19:], scope=scope)
    assert corrected.counts["attendance"]["deleted"] == 19


@pytest.mark.parametrize(
    ("start", "end", "wrong"),
    [
        (dt.date(1, 1, 1), dt.date(9999, 12, 31), "runs 3,652,059 days"),
        (dt.date(2030, 8, 1), dt.date(2029, 6, 1), "ends before it starts"),
        (dt.date(1985, 8, 1), dt.date(1986, 6, 1), "starts in 1985"),
        (dt.date(2099, 8, 1), dt.date(2100, 6, 1), "starts in 2099"),
    ],
)
def test_an_impossible_school_year_is_refused(cast, start, end, wrong):
    # given a school years file with a year no district has
    year = SchoolYearRecord("2026-2027x", start, end, Where("school_years.csv", 2))
    # when it is imported, the run is rejected and no year is added
    with pytest.raises(ImportRejected) as rejected:
        do_import(Batch(school_years=[year]), district=cast.district, source_format="csv", files=[])
    problem = rejected.value.run.problems[0]
    assert problem["code"] == "implausible_school_year" and wrong in problem["text"]
    assert not SchoolYear.objects.filter(name="2026-2027x").exists()


def test_a_school_year_overlapping_another_is_refused(cast):
    # given this year held, and a file naming another year that starts inside it
    start = cast.this_year.start_date + dt.timedelta(days=30)
    year = SchoolYearRecord("2099-2100", start, start + dt.timedelta(days=300), Where("y.csv", 4))
    with pytest.raises(ImportRejected) as rejected:
        do_import(Batch(school_years=[year]), district=cast.district, source_format="csv", files=[])
    problem = rejected.value.run.problems[0]
    assert (problem["code"], problem["line"]) == ("overlapping_school_years", 4)
    assert cast.this_year.name in problem["text"]
    # while the held year sent again with its own dates is fine
    same = SchoolYearRecord(
        cast.this_year.name, cast.this_year.start_date, cast.this_year.end_date, Where("y.csv", 2)
    )
    again = do_import(
        Batch(school_years=[same]), district=cast.district, source_format="csv", files=[]
    )
    assert again.counts["school_years"]["unchanged"] == 1
