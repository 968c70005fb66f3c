"""Interventions the SIS records, imported from Ed-Fi (XML and JSON) and a CSV profile:
counted against the sample independently, replaced per student and school, re-imported
unchanged, and checked like every other record."""

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from homeroom.core.models import District
from homeroom.ingest.actions import do_import_files
from homeroom.ingest.adapters.edfi import read_edfi_json, read_edfi_xml
from homeroom.ingest.models import ImportRun
from homeroom.ingest.sync import ImportRejected
from homeroom.roster.models import SisIntervention

pytestmark = pytest.mark.django_db

GRAND_BEND = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "edfi-grandbend"
NS = {"e": "http://ed-fi.org/5.2.0"}
HEADER = "student_id,intervention_code,intervention_name,start_date,end_date,school_id\n"


def sample(name: str) -> Path:
    path = GRAND_BEND / name
    assert path.is_file(), f"The Ed-Fi Grand Bend sample is missing: expected {path}"
    return path


def associations_in_sample() -> list[tuple[str, str]]:
    """(student, intervention code) of every association, read with ElementTree, not Homeroom."""
    root = ET.parse(sample("StudentIntervention.xml")).getroot()
    return [
        (
            a.findtext("e:StudentReference/e:StudentIdentity/e:StudentUniqueId", namespaces=NS),
            a.findtext(".//e:InterventionIdentificationCode", namespaces=NS),
        )
        for a in root.findall("e:StudentInterventionAssociation", NS)
    ]


def grand_bend_import(**options) -> ImportRun:
    files = [sample("Student.xml"), sample("EducationOrganization.xml")]
    files.append(sample("StudentIntervention.xml"))
    return do_import_files(
        files,
        district=District.objects.get_or_create(name="Grand Bend ISD")[0],
        source_format="edfi-xml",
        **options,
    )


def csv_import(cast, tmp_path: Path, rows: str, name: str = "interventions.csv", **options):
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    return do_import_files(
        [path],
        district=cast.district,
        source_format="csv",
        profile="sis-interventions",
        **options,
    )


def held(district=None) -> list[tuple]:
    rows = SisIntervention.objects.all()
    if district is not None:
        rows = rows.filter(student__district=district)
    return sorted(
        rows.values_list(
            "student__local_id", "code", "name", "start_date", "end_date", "school__local_id"
        )
    )


def test_grand_bend_imports_every_association_with_its_interventions_dates():
    expected = associations_in_sample()
    run = grand_bend_import()
    assert run.status == ImportRun.Status.SUCCEEDED
    assert run.counts["student_interventions"]["inserted"] == len(expected) == 25
    stored = SisIntervention.objects.select_related("student", "school", "source_run")
    assert Counter((s.student.local_id, s.code) for s in stored) == Counter(expected)
    # Ed-Fi keeps the dates on the Intervention: its BeginDate, its school, no EndDate.
    first = stored.get(student__local_id="604822")
    assert (first.start_date, first.end_date, first.school.local_id) == (
        dt.date(2021, 8, 23),
        None,
        "255901001",
    )
    assert (first.source_run, first.source_file, first.source_line) == (
        run,
        "StudentIntervention.xml",
        98,
    )


def test_grand_bend_reimported_unchanged_changes_nothing():
    first = grand_bend_import()
    again = grand_bend_import()
    assert again.counts["student_interventions"] == {
        **dict.fromkeys(("inserted", "updated", "deleted", "skipped", "present"), 0),
        "read": 25,
        "unchanged": 25,
    }
    # The rows keep the run that wrote them: the timeline names where they came from.
    assert set(SisIntervention.objects.values_list("source_run", flat=True)) == {first.pk}


def test_json_reads_the_same_associations_as_xml(tmp_path):
    xml = read_edfi_xml([sample("StudentIntervention.xml")])
    interventions = tmp_path / "interventions.json"
    interventions.write_text(
        json.dumps(
            [
                {
                    "interventionIdentificationCode": "255901001-CheckAndConnect-NinthGrade",
                    "educationOrganizationReference": {"educationOrganizationId": 255901001},
                    "beginDate": "2021-08-23",
                    "interventionClassDescriptor": "uri://ed-fi.org/InterventionClassDescriptor#Practice",
                }
            ]
        )
    )
    links = tmp_path / "studentInterventionAssociations.json"
    links.write_text(
        json.dumps(
            [
                {
                    "studentReference": {"studentUniqueId": student},
                    "interventionReference": {
                        "educationOrganizationId": 255901001,
                        "interventionIdentificationCode": code,
                    },
                }
                for student, code in associations_in_sample()
            ]
        )
    )
    from_json = read_edfi_json([interventions, links])
    assert from_json.errors == []

    def plain(batch):
        return sorted(
            (r.student_id, r.code, r.start_date, r.end_date, r.school_id)
            for r in batch.student_interventions
        )

    assert plain(from_json) == plain(xml)


def test_an_association_whose_intervention_no_file_read_is_an_error(tmp_path):
    text = sample("StudentIntervention.xml").read_text(encoding="utf-8")
    start, end = (
        text.index("\t<Intervention>"),
        text.index("</Intervention>") + len("</Intervention>"),
    )
    damaged = tmp_path / "StudentIntervention.xml"
    damaged.write_text(text[:start] + text[end:], encoding="utf-8")
    batch = read_edfi_xml([damaged])
    assert Counter(p.code for p in batch.errors) == {"unknown_intervention": 25}
    assert batch.student_interventions == []


def test_the_csv_profile_imports_and_reimports_unchanged(cast, tmp_path):
    rows = (
        "S1,CNC,Check & Connect mentoring,2025-09-15,,101\n"
        "0S2,ATT,Attendance contract,2025-10-01,2025-12-19,101\n"
        "S3,CNC,,2025-09-20,,\n"
    )
    run = csv_import(cast, tmp_path, rows)
    assert run.counts["student_interventions"]["inserted"] == 3
    assert held() == [
        ("S1", "CNC", "Check & Connect mentoring", dt.date(2025, 9, 15), None, "101"),
        ("S2", "ATT", "Attendance contract", dt.date(2025, 10, 1), dt.date(2025, 12, 19), "101"),
        ("S3", "CNC", "", dt.date(2025, 9, 20), None, None),
    ]
    again = csv_import(cast, tmp_path, rows)
    assert (again.counts["student_interventions"]["unchanged"], held()[0][0]) == (3, "S1")
    assert (
        sum(again.counts["student_interventions"][k] for k in ("inserted", "updated", "deleted"))
        == 0
    )


def test_a_file_replaces_the_interventions_of_its_students_and_schools_only(cast, tmp_path):
    csv_import(
        cast,
        tmp_path,
        "S1,CNC,,2025-09-15,,101\n"
        "S1,ATT,,2025-10-01,,101\n"
        "S2,CNC,,2025-09-15,,101\n"
        "S3,CNC,,2025-09-20,,301\n",
    )
    # The SIS ended S1's mentoring and dropped the contract; S2 is not in this file but is
    # at school 101, which the file speaks for; S3's school is not in it, so S3 keeps theirs.
    run = csv_import(cast, tmp_path, "S1,CNC,,2025-09-15,2025-11-01,101\n")
    counts = run.counts["student_interventions"]
    assert (counts["updated"], counts["deleted"], counts["unchanged"]) == (1, 2, 0)
    assert held() == [
        ("S1", "CNC", "", dt.date(2025, 9, 15), dt.date(2025, 11, 1), "101"),
        ("S3", "CNC", "", dt.date(2025, 9, 20), None, "301"),
    ]


def problems_of(rejected) -> Counter:
    return Counter((p["severity"], p["code"]) for p in rejected.value.run.problems)


def test_bad_dates_are_errors_of_the_file(cast, tmp_path):
    rows = (
        "S1,CNC,,2025-09-15,,101\n"
        "S2,CNC,,2025-10-01,2025-09-01,101\n"  # ends before it starts
        "S3,CNC,,0001-01-01,,\n"  # outside the dates any record may carry
    )
    with pytest.raises(ImportRejected) as rejected:
        csv_import(cast, tmp_path, rows)
    assert problems_of(rejected) == {("error", "dates_out_of_order"): 1, ("error", "bad_date"): 1}
    assert held() == []


def test_unknown_students_are_errors_and_duplicates_and_unknown_schools_findings(cast, tmp_path):
    rows = (
        "S1,CNC,,2025-09-15,,101\n"
        "NOBODY,CNC,,2025-09-15,,101\n"  # unknown student: an error, as for other records
        "S4,CNC,,2025-09-15,,999\n"  # not a school: kept without one, said once
        "S4,ATT,,2025-09-15,,999\n"
        "S1,CNC,Mentor,2025-09-15,,101\n"  # the same intervention twice: the later kept
    )
    with pytest.raises(ImportRejected) as rejected:
        csv_import(cast, tmp_path, rows)
    assert problems_of(rejected) == {
        ("error", "unknown_student"): 1,
        ("finding", "intervention_school_unknown"): 1,
        ("finding", "duplicate_record"): 1,
    }
    assert held() == []
    run = csv_import(cast, tmp_path, rows, on_error="skip")
    assert run.status == ImportRun.Status.SUCCEEDED
    assert held() == [
        ("S1", "CNC", "Mentor", dt.date(2025, 9, 15), None, "101"),
        ("S4", "ATT", "", dt.date(2025, 9, 15), None, None),
        ("S4", "CNC", "", dt.date(2025, 9, 15), None, None),
    ]
