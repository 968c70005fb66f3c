"""OneRoster 1.2 CSV rostering: a small district's bulk export, imported through the engine."""

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command

from homeroom.access.gatekeeper import visible_students
from homeroom.accounts.models import User
from homeroom.core.models import District
from homeroom.ingest.adapters.oneroster import read_oneroster
from homeroom.ingest.formats import FORMATS, ReadOptions, source_file
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import Batch, Severity
from homeroom.ingest.sync import ImportRejected, do_import
from homeroom.roster.models import Guardian, Section, SectionEnrollment, Student, StudentGuardian

USERS_HEADER = (
    "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,"
    "userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,"
    "preferredFamilyName,primaryOrgSourcedId,pronouns"
)

# A bulk export of Riverside Unified: Lincoln Elementary and Central High, the 2025-2026
# school year with a fall and a spring term, two teachers, six students, two guardians.
EXPORT = {
    "manifest.csv": """\
propertyName,value
manifest.version,1.0
oneroster.version,1.2
file.academicSessions,bulk
file.categories,absent
file.classes,bulk
file.classResources,absent
file.courses,bulk
file.courseResources,absent
file.demographics,bulk
file.enrollments,bulk
file.lineItemLearningObjectiveIds,absent
file.lineItems,absent
file.lineItemScoreScales,absent
file.orgs,bulk
file.resources,absent
file.resultLearningObjectiveIds,absent
file.results,absent
file.resultScoreScales,absent
file.roles,bulk
file.scoreScales,absent
file.userProfiles,absent
file.userResources,absent
file.users,bulk
source.systemName,Riverside SIS
source.systemCode,RSIS
""",
    "orgs.csv": """\
sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId
org-rusd,,,Riverside Unified,district,RUSD,
org-lincoln,,,Lincoln Elementary,school,101,org-rusd
org-central,,,Central High,school,301,org-rusd
""",
    "academicSessions.csv": """\
sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear
as-2026,,,2025-2026,schoolYear,2025-08-11,2026-06-12,,2026
as-fall,,,Fall 2025,term,2025-08-11,2025-12-19,as-2026,2026
as-spring,,,Spring 2026,term,2026-01-05,2026-06-12,as-2026,2026
""",
    "courses.csv": """\
sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes
co-hr,,,as-2026,Homeroom,HR,"KG,03",org-lincoln,,
co-alg,,,as-2026,Algebra I,MA101,"09,10",org-central,Mathematics,
co-bio,,,as-2026,Biology,SC201,"10,11",org-central,Science,
""",
    "users.csv": USERS_HEADER
    + """
u-rivera,,,true,mrivera,,Maria,Rivera,,T100,m.rivera@riverside.example,,,,,,,,,,,org-lincoln,
u-okafor,,,true,jokafor,,James,Okafor,,T200,j.okafor@riverside.example,,,,,,,,,,,org-central,
u-ana,,,true,ana.alvarez,,Ana María,Álvarez,,1001,,,,u-rosa,KG,,,,,,,org-lincoln,
u-ben,,,true,ben.alvarez,,Ben,Álvarez,Luis,1002,,,,u-rosa,03,,,,,,,org-lincoln,
u-carla,,,true,carla.chen,,Carla,Chen,,1003,,,,,03,,,,,,,org-lincoln,
u-dev,,,true,dev.patel,,Dev,Patel,,3001,,,,,09,,,,,,,org-central,
u-eli,,,true,eli.okoro,,Eli,Okoro,,,,,,,10,,,,,,,org-central,
u-fay,,,true,fay.nguyen,,Fay,Nguyen,,3006,,,,,11,,,,,,,org-central,
u-rosa,,,true,,,Rosa,Álvarez,,G1,rosa@family.example,,555-0101,"u-ana,u-ben",,,,,,,,org-lincoln,
u-sam,,,true,,,Sam,Patel,,G2,,555-0199,,u-dev,,,,,,,,org-central,
""",
    "roles.csv": """\
sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId
r-1,,,u-rivera,primary,teacher,,,org-lincoln,
r-2,,,u-okafor,primary,teacher,,,org-central,
r-3,,,u-ana,primary,student,,,org-lincoln,
r-4,,,u-ben,primary,student,,,org-lincoln,
r-5,,,u-carla,primary,student,,,org-lincoln,
r-6,,,u-dev,primary,student,,,org-central,
r-7,,,u-eli,primary,student,,,org-central,
r-8,,,u-fay,primary,student,,,org-central,
r-9,,,u-rosa,primary,parent,,,org-lincoln,
r-10,,,u-sam,primary,guardian,,,org-central,
""",
    "demographics.csv": """\
sourcedId,status,dateLastModified,birthDate,sex,americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,publicSchoolResidenceStatus
u-ana,,,2020-03-14,female,false,false,false,false,true,false,true,US,TX,,
u-ben,,,2017-06-02,male,false,true,false,false,true,false,false,US,TX,,
u-dev,,,2010-11-30,male,false,false,true,false,false,false,false,,,,
u-eli,,,2009-01-15,other,false,false,false,false,false,false,false,,,,
u-fay,,,2008-05-05,female,false,true,false,false,false,false,false,,,,
""",
    "classes.csv": """\
sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods
c-hr12,,,Room 12 Homeroom,"KG,03",co-hr,HR12,homeroom,Room 12,org-lincoln,"as-fall,as-spring",,,HR
c-alg,,,Algebra I - Period 2,"09,10",co-alg,MA101-2,scheduled,,org-central,as-fall,Mathematics,,2
c-bio,,,Biology - Periods 3-4,"10,11",co-bio,SC201-1,scheduled,,org-central,as-spring,Science,,"3,4"
""",
    "enrollments.csv": """\
sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate
e-1,,,c-hr12,org-lincoln,u-rivera,teacher,true,,
e-2,,,c-hr12,org-lincoln,u-ana,student,false,,
e-3,,,c-hr12,org-lincoln,u-ben,student,false,,
e-4,,,c-hr12,org-lincoln,u-carla,student,false,2025-09-15,
e-5,,,c-alg,org-central,u-okafor,teacher,true,,
e-6,,,c-alg,org-central,u-dev,student,false,,
e-7,,,c-alg,org-central,u-eli,student,false,,
e-8,tobedeleted,2025-09-01T10:00:00Z,c-alg,org-central,u-fay,student,false,,
e-9,,,c-bio,org-central,u-okafor,teacher,true,,
e-10,,,c-bio,org-central,u-eli,student,false,,
e-11,,,c-bio,org-central,u-fay,student,false,2026-01-05,2026-03-31
""",
}

FALL_DAY = dt.date(2025, 10, 1)


def write_export(folder: Path, files: dict[str, str | bytes] = EXPORT) -> Path:
    """Write the export's files (text as UTF-8) into `folder` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
    return folder


def changed(**replacements: tuple[str, str]) -> dict[str, str]:
    """The export with `old` replaced by `new` in the named files (dots as underscores)."""
    files = dict(EXPORT)
    for key, (old, new) in replacements.items():
        name = key.replace("_", ".")
        assert old in files[name], (name, old)
        files[name] = files[name].replace(old, new, 1)
    return files


def line_of(name: str, needle: str, files: dict = EXPORT) -> int:
    """The 1-based line of the file holding `needle`."""
    text = files[name]
    return text[: text.index(needle)].count("\n") + 1


def import_folder(folder: Path, district: District) -> ImportRun:
    """Read the folder as OneRoster and import it for the district."""
    files = [source_file(path) for path in sorted(folder.glob("*.csv"))]
    batch = read_oneroster([folder])
    return do_import(batch, district=district, source_format="oneroster", files=files)


def held(district: District) -> dict[str, list]:
    """Everything a OneRoster import writes for the district, comparable."""
    sections = Section.objects.filter(school__district=district)
    return {
        "students": sorted(
            Student.objects.filter(district=district).values_list(
                "local_id", "first_name", "last_name", "grade", "gender", "race_ethnicity"
            )
        ),
        "guardians": sorted(
            Guardian.objects.filter(district=district).values_list("local_id", "phone", "email")
        ),
        "links": sorted(
            StudentGuardian.objects.filter(student__district=district).values_list(
                "student__local_id", "guardian__local_id", "relationship", "contact_priority"
            )
        ),
        "sections": sorted(
            sections.values_list("school__local_id", "school_year__name", "local_id", "name")
        ),
        "teachers": sorted(sections.values_list("local_id", "teachers__username")),
        "memberships": sorted(
            SectionEnrollment.objects.filter(section__in=sections).values_list(
                "student__local_id", "section__local_id", "start_date", "end_date"
            )
        ),
    }


@pytest.fixture
def district(db) -> District:
    """A fresh district whose only staff account is Ms. Rivera's (matched by username)."""
    district = District.objects.create(name="Riverside Unified", timezone="America/Chicago")
    User.objects.create_user(username="mrivera", role="teacher", district=district)
    User.objects.create_user(username="jokafor", role="teacher")  # another district's
    return district


def test_a_bulk_export_rosters_a_fresh_district(tmp_path, district):
    # given the district's OneRoster export
    folder = write_export(tmp_path / "export")
    # when it is imported
    run = import_folder(folder, district)
    # then students, guardians, sections and memberships are in place
    counts = {name: c["inserted"] for name, c in run.counts.items()}
    assert counts == {
        "schools": 2,
        "school_years": 1,
        "students": 6,
        "guardians": 2,
        "student_guardians": 3,
        "sections": 3,
        "section_teachers": 1,
        "section_enrollments": 7,
    }
    rows = held(district)
    assert rows["sections"] == [
        ("101", "2025-2026", "c-hr12", "Room 12 Homeroom"),
        ("301", "2025-2026", "c-alg", "Algebra I - Period 2"),
        ("301", "2025-2026", "c-bio", "Biology - Periods 3-4"),
    ]
    assert rows["links"] == [
        ("1001", "G1", "guardian", 1),
        ("1002", "G1", "guardian", 1),
        ("3001", "G2", "guardian", 1),
    ]
    assert ("u-eli", "Eli", "Okoro", 10, "X", "unknown") in rows["students"]
    assert ("1001", "Ana María", "Álvarez", 0, "F", "hispanic") in rows["students"]
    assert ("1002", "Ben", "Álvarez", 3, "M", "two_or_more") in rows["students"]
    # and Ms. Rivera sees exactly her homeroom; Carla only from the day she joined it
    rivera = User.objects.get(username="mrivera")
    assert sorted(s.local_id for s in visible_students(rivera, on=FALL_DAY)) == [
        "1001",
        "1002",
        "1003",
    ]
    assert sorted(s.local_id for s in visible_students(rivera, on=dt.date(2025, 9, 1))) == [
        "1001",
        "1002",
    ]
    # and Mr. Okafor, who has no account here, is reported for each of his two classes
    assert run.problem_counts == {
        "finding:teacher_without_account": 2,
        "finding:deleted_row": 1,
    }
    unmatched = [p for p in run.problems if p["code"] == "teacher_without_account"]
    assert {(p["file"], p["value"]) for p in unmatched} == {("classes.csv", "jokafor")}
    [deleted] = [p for p in run.problems if p["code"] == "deleted_row"]
    assert (deleted["file"], deleted["line"]) == ("enrollments.csv", 9)


def test_the_same_export_again_changes_nothing(tmp_path, district):
    folder = write_export(tmp_path / "export")
    import_folder(folder, district)
    before = held(district)
    # when the same export is imported again
    again = import_folder(folder, district)
    # then every entity is unchanged
    for name, counts in again.counts.items():
        assert counts["inserted"] == counts["updated"] == counts["deleted"] == 0, name
        assert counts["unchanged"] == counts["read"], name
    assert held(district) == before


def test_a_student_dropped_from_a_class_leaves_it_and_nothing_else_changes(tmp_path, district):
    # given the export imported
    import_folder(write_export(tmp_path / "monday"), district)
    before = held(district)
    # when Tuesday's export no longer has Eli in Algebra
    tuesday = changed(enrollments_csv=("e-7,,,c-alg,org-central,u-eli,student,false,,\n", ""))
    run = import_folder(write_export(tmp_path / "tuesday", tuesday), district)
    # then that membership is gone and nothing else moved
    assert run.counts["section_enrollments"] | {} == {
        "read": 6,
        "inserted": 0,
        "updated": 0,
        "deleted": 1,
        "unchanged": 6,
        "skipped": 0,
        "present": 0,
    }
    for name, counts in run.counts.items():
        if name != "section_enrollments":
            assert counts["inserted"] == counts["updated"] == counts["deleted"] == 0, name
    after = held(district)
    assert set(before["memberships"]) - set(after["memberships"]) == {
        ("u-eli", "c-alg", dt.date(2025, 8, 11), dt.date(2025, 12, 19))
    }
    assert {k: v for k, v in after.items() if k != "memberships"} == {
        k: v for k, v in before.items() if k != "memberships"
    }


NON_UTF8 = EXPORT["users.csv"].encode("utf-8").replace(b"Chen", "Ch\xe9n".encode("cp1252"))
TRUNCATED = EXPORT["users.csv"][: EXPORT["users.csv"].index("u-rosa,,,true") + 30]

CORRUPTIONS = {
    "missing column": (
        changed(classes_csv=("classCode,classType,", "classCode,")),
        ("missing_column", "classes.csv", 1, "classType"),
    ),
    "bad date": (
        changed(enrollments_csv=("student,false,2025-09-15", "student,false,2025-09-31")),
        ("bad_date", "enrollments.csv", line_of("enrollments.csv", "e-4,"), "beginDate"),
    ),
    "unknown class": (
        changed(enrollments_csv=("e-10,,,c-bio", "e-10,,,c-chem")),
        ("unknown_class", "enrollments.csv", line_of("enrollments.csv", "e-10"), "classSourcedId"),
    ),
    "truncated file": (
        EXPORT | {"users.csv": TRUNCATED},
        ("short_row", "users.csv", line_of("users.csv", "u-rosa,,,true"), ""),
    ),
    "non-UTF-8 bytes": (
        EXPORT | {"users.csv": NON_UTF8},
        ("bad_encoding", "users.csv", line_of("users.csv", "u-carla"), ""),
    ),
    "empty file": (EXPORT | {"orgs.csv": ""}, ("empty_file", "orgs.csv", 1, "")),
}


@pytest.mark.parametrize("files, expected", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_a_corrupted_export_is_rejected_with_file_and_line(tmp_path, district, files, expected):
    # given the district rostered from a good export
    import_folder(write_export(tmp_path / "good"), district)
    before = held(district)
    # when a damaged export is read and imported
    folder = write_export(tmp_path / "bad", files)
    batch = read_oneroster([folder])
    with pytest.raises(ImportRejected) as rejected:
        import_folder(folder, district)
    # then the first error says what and where, and the database is as it was
    code = expected[0]
    first = batch.errors[0]
    assert (first.code, first.where.file, first.where.line, first.where.column) == expected
    assert rejected.value.run.status == ImportRun.Status.REJECTED
    assert f"error:{code}" in rejected.value.run.problem_counts
    assert held(district) == before


def test_directory_zip_and_files_give_the_same_batch(tmp_path):
    folder = write_export(tmp_path / "export")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in EXPORT:
            zipped.write(folder / name, f"riverside-2025/{name}")
        zipped.writestr("__MACOSX/riverside-2025/._users.csv", b"\x00\x05\x16\x07")
    from_folder = read_oneroster([folder])
    assert not from_folder.errors
    assert read_oneroster([archive]) == from_folder
    assert read_oneroster(sorted(folder.iterdir())) == from_folder
    assert FORMATS["oneroster"].read([folder], ReadOptions()) == from_folder


def test_the_import_command_reads_the_export_files(tmp_path, district, capsys):
    folder = write_export(tmp_path / "export")
    call_command("import", "oneroster", *sorted(folder.iterdir()), "--district", district.name)
    assert "succeeded" in capsys.readouterr().out
    assert Student.objects.filter(district=district).count() == 6


# -- the reader alone: rules and edge cases ----------------------------------------------


def read(tmp_path: Path, files: dict[str, str | bytes]) -> Batch:
    """Write the files into a fresh directory and read it."""
    return read_oneroster([write_export(tmp_path / "export", files)])


def problems(batch: Batch) -> list[tuple[str, str, str, int | None]]:
    """Each problem as (severity, code, file, line)."""
    return [
        (p.severity.value, p.code, p.where.file if p.where else "", p.where.line if p.where else 0)
        for p in batch.problems
    ]


def test_students_get_the_documented_ids_grades_and_demographics(tmp_path):
    batch = read(tmp_path, EXPORT)
    students = {s.local_id: s for s in batch.students}
    assert list(students) == ["1001", "1002", "1003", "3001", "u-eli", "3006"]
    ana, ben, carla = students["1001"], students["1002"], students["1003"]
    assert (ana.grade, ana.birth_date, ana.gender, ana.race_ethnicity) == (
        0,
        dt.date(2020, 3, 14),
        "F",
        "hispanic",
    )
    assert (ben.middle_name, ben.race_ethnicity) == ("Luis", "two_or_more")
    assert (carla.birth_date, carla.gender, carla.race_ethnicity) == (None, None, None)
    assert students["3001"].race_ethnicity == "black"
    assert students["3006"].race_ethnicity == "asian"
    assert (ana.where.file, ana.where.line, ana.where.column) == ("users.csv", 4, "identifier")
    assert students["u-eli"].where.column == "sourcedId"
    rosa, sam = batch.guardians
    assert (rosa.local_id, rosa.phone, rosa.email) == ("G1", "555-0101", "rosa@family.example")
    assert (sam.local_id, sam.phone) == ("G2", "555-0199")
    assert [(y.name, y.start_date, y.end_date) for y in batch.school_years] == [
        ("2025-2026", dt.date(2025, 8, 11), dt.date(2026, 6, 12))
    ]
    assert [(s.local_id, s.name) for s in batch.schools] == [
        ("101", "Lincoln Elementary"),
        ("301", "Central High"),
    ]
    assert batch.rows_read["users.csv"] == 10


def test_sections_carry_teachers_periods_and_default_membership_dates(tmp_path):
    batch = read(tmp_path, EXPORT)
    homeroom, algebra, biology = batch.sections
    assert (homeroom.is_homeroom, homeroom.period, homeroom.teacher_ids) == (
        True,
        "HR",
        ["mrivera"],
    )
    assert (algebra.is_homeroom, biology.period, biology.teacher_ids) == (False, "3,4", ["jokafor"])
    spans = {
        (m.student_id, m.section_id): (m.start_date, m.end_date) for m in batch.section_enrollments
    }
    assert spans[("1001", "c-hr12")] == (dt.date(2025, 8, 11), dt.date(2026, 6, 12))
    assert spans[("1003", "c-hr12")] == (dt.date(2025, 9, 15), dt.date(2026, 6, 12))
    assert spans[("3006", "c-bio")] == (dt.date(2026, 1, 5), dt.date(2026, 3, 31))
    assert ("3006", "c-alg") not in spans


def test_teachers_without_username_are_named_by_email(tmp_path):
    files = changed(users_csv=("true,jokafor,", "true,,"))
    batch = read(tmp_path, files)
    assert batch.sections[1].teacher_ids == ["j.okafor@riverside.example"]


def test_oneroster_1_1_style_role_column_is_read_without_roles_file(tmp_path):
    users = EXPORT["users.csv"].splitlines()
    roles = {"u-rivera": "teacher", "u-okafor": "teacher", "u-rosa": "parent", "u-sam": "guardian"}
    lines = [users[0] + ",role"] + [
        line + "," + roles.get(line.split(",")[0], "student") for line in users[1:]
    ]
    files = {k: v for k, v in EXPORT.items() if k not in ("roles.csv", "manifest.csv")}
    batch = read(tmp_path, files | {"users.csv": "\n".join(lines) + "\n"})
    assert not batch.errors
    assert len(batch.students) == 6 and len(batch.guardians) == 2
    assert ("finding", "no_manifest", "", 0) in problems(batch)


def test_users_without_any_roles_are_an_error(tmp_path):
    files = {k: v for k, v in EXPORT.items() if k not in ("roles.csv", "manifest.csv")}
    batch = read(tmp_path, files)
    assert [(p.code, p.where.file, p.where.column) for p in batch.errors] == [
        ("missing_file", "users.csv", "role")
    ]
    assert not batch.students and not batch.section_enrollments


def test_manifest_absent_and_delta_entries(tmp_path):
    absent = changed(manifest_csv=("file.demographics,bulk", "file.demographics,absent"))
    batch = read(tmp_path / "absent", absent)
    assert not batch.errors
    assert "file_marked_absent" in {p.code for p in batch.problems}
    assert {s.gender for s in batch.students} == {None}
    delta = changed(manifest_csv=("file.enrollments,bulk", "file.enrollments,delta"))
    batch = read(tmp_path / "delta", delta)
    assert [(p.code, p.where.file, p.where.line) for p in batch.errors] == [
        ("delta_not_supported", "manifest.csv", line_of("manifest.csv", "file.enrollments"))
    ]
    missing = {k: v for k, v in EXPORT.items() if k != "demographics.csv"}
    batch = read(tmp_path / "missing", missing)
    assert [p.code for p in batch.errors] == ["missing_file"]


def test_bom_crlf_and_quoted_line_breaks_keep_line_numbers(tmp_path):
    users = EXPORT["users.csv"].replace("Ana María", '"Ana\nMaría"').replace("\n", "\r\n")
    batch = read(tmp_path, EXPORT | {"users.csv": b"\xef\xbb\xbf" + users.encode()})
    assert not batch.errors
    lines = {s.local_id: s.where.line for s in batch.students}
    assert (lines["1001"], lines["1002"]) == (4, 6)
    assert batch.students[0].first_name == "Ana\r\nMaría"  # as the file holds it


def test_reference_and_value_errors_name_the_place(tmp_path):
    files = changed(
        classes_csv=('org-lincoln,"as-fall,as-spring"', "org-rusd,as-winter"),
        users_csv=(",03,,,,,,,org-lincoln,\nu-dev", ",13,,,,,,,org-lincoln,\nu-dev"),
        demographics_csv=("u-eli,,,2009-01-15,other,false", "u-eli,,,2009-01-15,other,maybe"),
        academicSessions_csv=("2026-01-05,2026-06-12,as-2026", "2026-01-05,2025-06-12,as-2026"),
        orgs_csv=("org-central,,,Central High,school,301", "org-central,,,Central High,school,101"),
    )
    batch = read(tmp_path, files)
    found = {(p.code, p.where.file, p.where.line, p.where.column) for p in batch.errors}
    assert found == {
        ("duplicate_id", "orgs.csv", 4, "identifier"),
        ("dates_out_of_order", "academicSessions.csv", 4, "endDate"),
        ("bad_grade", "users.csv", line_of("users.csv", "u-carla"), "grades"),
        ("bad_value", "demographics.csv", 5, "americanIndianOrAlaskaNative"),
        ("not_a_school", "classes.csv", 2, "schoolSourcedId"),
    }
    # rows that depend on a row in error are skipped without more noise
    assert {m.section_id for m in batch.section_enrollments} == set()


def test_unknown_references_and_orphans(tmp_path):
    files = changed(
        enrollments_csv=("e-6,,,c-alg,org-central,u-dev", "e-6,,,c-alg,org-central,u-nobody"),
        users_csv=('"u-ana,u-ben"', '"u-ana,u-ben,u-rivera,u-ghost"'),
        academicSessions_csv=(
            "as-fall,,,Fall 2025,term,2025-08-11,2025-12-19,as-2026",
            "as-fall,,,Fall 2025,term,2025-08-11,2025-12-19,as-2025",
        ),
    )
    batch = read(tmp_path, files)
    assert {(p.code, p.where.file, p.where.column) for p in batch.errors} == {
        ("unknown_user", "users.csv", "agentSourcedIds"),
        ("unknown_session", "academicSessions.csv", "parentSourcedId"),
    }
    assert ("agent_not_linked", "users.csv") in {(p.code, p.where.file) for p in batch.problems}
    # the fall classes hang on the broken term: neither they nor their enrollments are read,
    # and the enrollment naming an unknown user is in one of them, so it says nothing more
    assert [s.local_id for s in batch.sections] == ["c-bio"]
    assert {m.section_id for m in batch.section_enrollments} == {"c-bio"}


def test_a_term_without_parent_finds_its_year_by_the_school_year_column(tmp_path):
    files = changed(academicSessions_csv=("2025-12-19,as-2026,2026", "2025-12-19,,2026"))
    batch = read(tmp_path, files)
    assert not batch.errors
    assert [s.school_year for s in batch.sections] == ["2025-2026"] * 3


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00\x01\x02\xff\xfe" * 50, b'sourcedId,name,type\n"org-1,School', b"\n\n  \n"],
    ids=["empty", "binary", "open quote", "blank"],
)
def test_damaged_files_give_errors_not_exceptions(tmp_path, data):
    batch = read(tmp_path, EXPORT | {"orgs.csv": data})
    assert batch.errors
    assert all(p.where is not None and p.where.file for p in batch.errors)
    assert all(p.severity == Severity.ERROR for p in batch.errors)


def test_paths_that_are_not_an_export(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
    batch = read_oneroster(
        [tmp_path / "missing.csv", tmp_path / "notes.txt", tmp_path / "broken.zip"]
    )
    assert [p.code for p in batch.problems] == [
        "no_such_file",
        "file_not_read",
        "bad_zip",
        "no_files",
    ]


def test_an_unused_file_in_the_zip_is_never_decompressed(tmp_path, settings):
    # given a zip of the export with an unused results.csv larger than the limit, its
    # compressed bytes damaged so that reading it at all would fail
    settings.HOMEROOM_MAX_IMPORT_BYTES = 64 * 1024
    folder = write_export(tmp_path / "export")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name in EXPORT:
            zipped.write(folder / name, name)
        zipped.writestr("results.csv", b"sourcedId,score\n" + b"r,1\n" * 200_000)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zipped:
        info = zipped.getinfo("results.csv")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 100 : start + 200] = b"\xff" * 100
    archive.write_bytes(bytes(data))
    # when it is read
    batch = read_oneroster([archive])
    # then the export reads as if results.csv were not there
    assert not batch.errors
    assert batch == read_oneroster([folder])


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path, settings):
    # given a users.csv of 3,000 bytes, and a limit of 2,000
    settings.HOMEROOM_MAX_IMPORT_BYTES = 2000
    users = USERS_HEADER + "\n" + "u-x,,,true,x,,X,Y,,1,,,,,KG,,,,,,,org-lincoln,\n" * 60
    assert 2000 < len(users.encode()) < 4000
    batch = read(tmp_path, EXPORT | {"users.csv": users})
    # then it is refused by name, saying why and how to change the limit
    refused = [p for p in batch.errors if p.code == "file_too_large"]
    assert [(p.where.file, p.where.line) for p in refused] == [("users.csv", 1)]
    size = len(users.encode()) / 1024
    assert f"holds {size:.1f} KB uncompressed; Homeroom reads at most 2.0 KB" in refused[0].message
    assert "HOMEROOM_MAX_IMPORT_MB" in refused[0].hint


def test_a_zip_member_over_the_size_limit_is_refused_from_the_zips_directory(tmp_path, settings):
    # given a zip whose users.csv (mostly newlines, so it compresses to little) is larger
    # uncompressed than the limit, which every other file of the export is under
    settings.HOMEROOM_MAX_IMPORT_BYTES = max(len(c.encode()) for c in EXPORT.values()) + 1
    files = EXPORT | {"users.csv": USERS_HEADER + "\n" * 50_000}
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, content in files.items():
            zipped.writestr(name, content)
    with zipfile.ZipFile(archive) as zipped:  # compressed, it is under the limit
        assert zipped.getinfo("users.csv").compress_size < settings.HOMEROOM_MAX_IMPORT_BYTES
    # then users.csv alone is refused, by its uncompressed size
    batch = read_oneroster([archive])
    refused = [p.where.file for p in batch.errors if p.code == "file_too_large"]
    assert refused == ["users.csv"]


def test_a_file_of_endless_newlines_stops_at_the_line_limit(tmp_path, settings):
    # given a users.csv of a header and 100,000 empty lines, and a limit of 1,000 lines
    settings.HOMEROOM_MAX_IMPORT_ROWS = 1000
    batch = read(tmp_path, EXPORT | {"users.csv": USERS_HEADER + "\n" * 100_000})
    # then the file is refused as too long, and no user is read from it
    refused = [p for p in batch.errors if p.code == "file_too_large"]
    assert len(refused) == 1 and "has more than 1,000 lines" in refused[0].message
    assert not batch.students
