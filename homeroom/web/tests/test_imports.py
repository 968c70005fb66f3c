"""The import pages: upload -> validation report -> confirm, and the runs they leave."""

import dataclasses
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from homeroom.attendance.models import AttendanceCode, AttendanceEvent
from homeroom.core.models import AuditEntry
from homeroom.ingest.formats import FORMATS
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import Batch, Where
from homeroom.ingest.sync import do_import
from homeroom.pipeline.uploads import UploadOptions, receive_upload, uploads_root
from homeroom.web.import_tables import PROBLEMS_PER_PAGE
from homeroom.web.tests.import_files import (
    PROFILE,
    absence_and_unknown_code,
    attendance_csv,
    csv_file,
    school_days,
    two_absences,
)
from homeroom.web.tests.page_text import rows_by_first_cell, table_rows

pytestmark = pytest.mark.django_db

CONFIRM = "Confirm import"


@pytest.fixture(autouse=True)
def private_uploads(settings, tmp_path):
    """Uploads go to a directory of the test's own."""
    settings.DATA_DIR = tmp_path


def upload(client, *files, source_format="csv", profile=PROFILE, on_error="reject", **extra):
    """Submit the upload form as a person would; returns the response, redirects followed."""
    data = {"source_format": source_format, "profile": profile, "on_error": on_error, **extra}
    data["files"] = list(files)
    return client.post(reverse("web:import_new"), data, follow=True)


def confirm_url(response) -> str:
    """The address the report's confirm button posts to."""
    token = response.resolver_match.kwargs["token"]
    return reverse("web:import_confirm", args=[token])


def use_csv_reader(monkeypatch, read) -> None:
    """Make the csv format read files with `read` for the rest of the test."""
    monkeypatch.setitem(FORMATS, "csv", dataclasses.replace(FORMATS["csv"], read=read))


def database_state(cast) -> dict:
    """What an upload must not change before it is confirmed."""
    return {
        "events": list(AttendanceEvent.objects.values_list("pk", flat=True)),
        "runs": list(ImportRun.objects.values_list("pk", flat=True)),
        "codes": list(AttendanceCode.objects.order_by("code").values()),
        "audit": AuditEntry.objects.count(),
    }


# Upload -> report -> confirm


def test_upload_shows_what_would_change_and_writes_nothing(cast, client):
    # given the district admin and a file of two events
    client.force_login(cast.admin)
    before = database_state(cast)
    # when they upload it
    response = upload(client, csv_file(two_absences(cast)))
    # then the report says what the import would insert, and offers to confirm
    assert response.status_code == 200
    assert response.resolver_match.url_name == "import_report"
    counts = rows_by_first_cell(response.text, "Rows the import would write")
    assert counts["Attendance events"]["Read"] == "2"
    assert counts["Attendance events"]["Inserted"] == "2"
    assert "Ready to import. Nothing has been changed yet." in response.text
    assert CONFIRM in response.text
    # and nothing is written: no event, no run, no code, no audit entry
    assert database_state(cast) == before
    # and the file is kept under the data directory, not in static files
    (kept,) = uploads_root().glob("*/files/absences.csv")
    assert kept.read_bytes() == two_absences(cast)
    assert oct(kept.stat().st_mode & 0o777) == "0o600"


def test_confirm_imports_the_reported_files_and_shows_the_run(cast, client):
    # given an upload whose report is ready
    client.force_login(cast.admin)
    report = upload(client, csv_file(two_absences(cast)))
    # when the admin confirms
    response = client.post(confirm_url(report), follow=True)
    # then the events are written by a run of the admin's
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.SUCCEEDED
    assert not run.dry_run
    assert run.user == cast.admin
    events = AttendanceEvent.objects.filter(source_run=run)
    assert sorted(events.values_list("student__local_id", "code__code")) == [
        ("S1", "A"),
        ("S2", "T"),
    ]
    # and the run page opens, showing the counts and the file with its SHA-256
    assert response.resolver_match.url_name == "import_run"
    assert f"Import run {run.pk}" in response.text
    counts = rows_by_first_cell(response.text, "Rows written")
    assert counts["Attendance events"]["Inserted"] == "2"
    assert run.files[0]["sha256"] in response.text
    assert "101" in response.text  # the scope: Lincoln's attendance over the two days
    # and the import is in the audit trail, in the same transaction as the run
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.student_id, entry.subject) == (
        AuditEntry.Action.IMPORT,
        None,
        f"import run {run.pk}",
    )
    assert entry.user == cast.admin
    assert entry.details["status"] == "succeeded"
    # and the uploaded files are gone; a second confirm finds nothing
    assert not list(uploads_root().iterdir())
    assert client.post(confirm_url(report)).status_code == 404
    assert ImportRun.objects.count() == 1


def test_unknown_code_is_reported_with_file_and_line_and_cannot_be_confirmed(cast, client):
    # given a file whose second data row has a code the profile does not know
    client.force_login(cast.admin)
    content = absence_and_unknown_code(cast)
    before = database_state(cast)
    # when the admin uploads it
    response = upload(client, csv_file(content))
    # then the report lists the error where it is, and offers no confirmation
    assert "Rejected: 1 error, so nothing can be imported." in response.text
    header, *problems = table_rows(response.text, "Every problem listed")
    (problem,) = [dict(zip(header, row, strict=True)) for row in problems]
    assert problem["Severity"] == "Error"
    assert problem["Problem"] == "Attendance code not known"  # unknown_code, in words
    assert problem["File"] == "absences.csv"
    assert problem["Line"] == "3"
    assert problem["Value"] == "Z"
    assert "[codes]" in problem["How to fix"]
    assert CONFIRM not in response.text
    # and the database is exactly as it was (not even a rejected run is recorded)
    assert database_state(cast) == before
    # and confirming anyway is refused
    refused = client.post(confirm_url(response))
    assert refused.status_code == 409
    assert database_state(cast) == before


def test_files_changed_after_the_report_are_refused(cast, client):
    # given a report on a file, and the kept file changed afterwards
    client.force_login(cast.admin)
    report = upload(client, csv_file(two_absences(cast)))
    (kept,) = uploads_root().glob("*/files/absences.csv")
    kept.write_bytes(kept.read_bytes().replace(b",T,", b",A,"))
    # when the admin confirms
    response = client.post(confirm_url(report))
    # then nothing is imported, and the page says why
    assert response.status_code == 409
    assert "The files changed after the report was made (absences.csv)" in response.text
    assert CONFIRM not in response.text
    assert not AttendanceEvent.objects.exists()
    assert not ImportRun.objects.exists()
    assert not AuditEntry.objects.exists()


def test_a_run_rejected_at_confirmation_is_recorded_and_shown(cast, client, monkeypatch):
    # given a report that was ready, and an error the real import then meets
    client.force_login(cast.admin)
    report = upload(client, csv_file(two_absences(cast)))

    def read_with_an_error(paths, options):
        batch = Batch()
        batch.error("unknown_school", "unknown school id", Where("absences.csv", 2), value="101")
        return batch

    use_csv_reader(monkeypatch, read_with_an_error)
    # when the admin confirms
    response = client.post(confirm_url(report), follow=True)
    # then the rejected run is recorded, audited and shown; nothing else is written
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.REJECTED
    assert response.resolver_match.url_name == "import_run"
    assert "Rejected: nothing was changed." in response.text
    assert AuditEntry.objects.get().details["status"] == "rejected"
    assert not AttendanceEvent.objects.exists()


def test_an_import_that_fails_unexpectedly_changes_nothing_and_can_be_retried(
    cast, client, monkeypatch
):
    # given a report that was ready, and a reader that then fails
    client.force_login(cast.admin)
    report = upload(client, csv_file(two_absences(cast)))
    read = FORMATS["csv"].read

    def crash(paths, options):
        raise RuntimeError("the disk is on fire")

    use_csv_reader(monkeypatch, crash)
    # when the admin confirms
    response = client.post(confirm_url(report))
    # then the page says so, and nothing is written
    assert response.status_code == 409
    assert "The import failed and nothing was changed" in response.text
    assert database_state(cast)["runs"] == []
    assert not AuditEntry.objects.exists()
    # and once the fault is gone, the same report can be confirmed
    use_csv_reader(monkeypatch, read)
    assert client.post(confirm_url(report)).status_code == 302
    assert AttendanceEvent.objects.count() == 2


def test_skipping_rows_with_errors_imports_the_others(cast, client):
    # given a file with one good row and one with an unknown code, errors to be skipped
    client.force_login(cast.admin)
    content = absence_and_unknown_code(cast)
    # when the admin uploads it and confirms
    report = upload(client, csv_file(content), on_error="skip")
    assert "1 row with errors will be left out." in report.text
    client.post(confirm_url(report))
    # then the good row is imported, and the run lists the skipped one
    assert list(AttendanceEvent.objects.values_list("student__local_id", flat=True)) == ["S1"]
    run = ImportRun.objects.get()
    assert run.problem_counts == {"error:unknown_code": 1}


def test_many_problems_are_listed_page_by_page(cast, client):
    # given a file of more bad rows than a page of problems holds
    client.force_login(cast.admin)
    (day,) = school_days(cast, 1)
    rows = [(f"S{n}", "101", day, "Z", "") for n in range(1, PROBLEMS_PER_PAGE + 31)]
    report = upload(client, csv_file(attendance_csv(rows)))
    # when the admin turns to the second page of the report
    second = client.get(report.request["PATH_INFO"], {"page": 2})
    # then it lists the rest
    _header, *shown = table_rows(second.text, "Every problem listed")
    assert len(shown) == 30
    assert "Page 2 of 2" in second.text


# What the form refuses


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"files": []}, "Choose the files to import."),
        ({"source_format": "dbase"}, "Select a valid choice."),
        ({"profile": ""}, "Choose the mapping profile for csv files."),
        ({"profile": "../../etc/passwd"}, "Select a valid choice."),
        ({"source_format": "edfi-xml"}, "absences.csv: a edfi-xml import takes .xml files."),
    ],
)
def test_form_refuses_what_cannot_be_imported(cast, client, fields, message):
    # given the district admin
    client.force_login(cast.admin)
    data = {"files": [csv_file(two_absences(cast))]} | fields
    # when they submit the form with a field missing or wrong
    response = upload(client, *data.pop("files"), **data)
    # then the form comes back saying what to fix, and nothing is kept
    assert response.status_code == 400
    assert message in response.text
    assert not uploads_root().exists() or not list(uploads_root().iterdir())


def test_oneroster_takes_a_zip_and_refuses_a_damaged_one(cast, client):
    client.force_login(cast.admin)
    # given a file named .zip that is not a zip
    response = upload(
        client, csv_file(b"not a zip", "export.zip"), source_format="oneroster", profile=""
    )
    # then the form says so
    assert response.status_code == 400
    assert "export.zip: is not a zip file" in response.text
    # given a real zip (of an empty export): it is read, and the report lists its problems
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("manifest.csv", "propertyName,value\noneroster.version,1.2\n")
    response = upload(
        client, csv_file(archive.getvalue(), "export.zip"), source_format="oneroster", profile=""
    )
    assert response.resolver_match.url_name == "import_report"


def test_oversized_upload_is_refused(cast, client, settings):
    # given a limit smaller than the file
    settings.HOMEROOM_MAX_UPLOAD_BYTES = 50
    client.force_login(cast.admin)
    # when the admin uploads it
    response = upload(client, csv_file(two_absences(cast)))
    # then the form says the files are too large, and nothing is kept
    assert response.status_code == 400
    assert "The files hold more than 50\xa0bytes together, so none was kept" in response.text
    assert "Choose the files to import." not in response.text
    assert not uploads_root().exists() or not list(uploads_root().iterdir())


def test_a_reader_failure_is_a_message_not_a_crash(cast, client, monkeypatch):
    # given a reader that fails in a way nobody foresaw
    def crash(paths, options):
        raise RuntimeError("the disk is on fire")

    use_csv_reader(monkeypatch, crash)
    client.force_login(cast.admin)
    # when the admin uploads a file
    response = upload(client, csv_file(two_absences(cast)))
    # then the report says the files could not be read, and offers nothing to confirm
    assert response.status_code == 200
    assert "The files could not be read" in response.text
    assert "RuntimeError: the disk is on fire" in response.text
    assert CONFIRM not in response.text
    assert not ImportRun.objects.exists()


def test_uploaded_names_are_sanitised(cast, client):
    client.force_login(cast.admin)
    # when a file arrives with a path and odd characters in its name
    upload(client, csv_file(two_absences(cast), "..\\..\\week 1;rm -rf.csv"))
    # then it is kept under a plain name inside its upload's own directory
    (kept,) = uploads_root().glob("*/files/*")
    assert kept.name == "week 1_rm -rf.csv"


# Who sees what


def test_analyst_lists_runs_but_cannot_upload(cast, client):
    # given a run in the district, and the district analyst
    run = do_import(Batch(), district=cast.district, source_format="csv", files=[], user=cast.admin)
    client.force_login(cast.analyst)
    # when they open Imports
    response = client.get(reverse("web:imports"))
    # then they see the run, and are not offered an upload
    assert response.status_code == 200
    assert reverse("web:import_run", args=[run.pk]) in response.text
    assert reverse("web:import_new") not in response.text
    assert client.get(reverse("web:import_run", args=[run.pk])).status_code == 200
    # and an upload of theirs is refused before anything is kept
    assert upload(client, csv_file(two_absences(cast))).status_code == 404
    assert not uploads_root().exists()


def test_an_upload_is_its_uploaders_alone(cast, client):
    # given an upload by the cast's admin, and a second admin of the same district
    client.force_login(cast.admin)
    report = upload(client, csv_file(two_absences(cast)))
    cast.former.is_active = True
    cast.former.save(update_fields=["is_active"])
    client.force_login(cast.former)
    # then the other admin can neither see nor confirm it
    assert client.get(report.request["PATH_INFO"]).status_code == 404
    assert client.post(confirm_url(report)).status_code == 404
    assert not AttendanceEvent.objects.exists()


def test_runs_list_shows_every_run_of_the_district_newest_first(cast, client):
    # given a run from the command line, then one from the web with a finding
    do_import(Batch(), district=cast.district, source_format="edfi-xml", files=[])
    do_import(Batch(), district=cast.other_district, source_format="oneroster", files=[])
    client.force_login(cast.admin)
    first, _ = school_days(cast, 2)
    content = attendance_csv([("S1", "101", first, "A", ""), ("S1", "101", first, "A", "")])
    client.post(confirm_url(upload(client, csv_file(content))))
    # when the admin opens Imports
    response = client.get(reverse("web:imports"))
    # then both runs of the district are listed, newest first, with who, what and problems
    header, *rows = table_rows(response.text, "Import runs, newest first")
    runs = [dict(zip(header, row, strict=True)) for row in rows]
    assert [run["Format"] for run in runs] == ["csv", "edfi-xml"]
    assert runs[0]["By"] == "admin"
    assert runs[1]["By"] == "command line"
    assert runs[0]["Files"] == "absences.csv"
    assert runs[0]["Status"] == "Succeeded"
    assert "Attendance events: 1 inserted" in runs[0]["Changes"]
    assert runs[0]["Problems"] == "Finding Same row twice \u00d7 1"  # duplicate_row
    assert runs[1]["Changes"] == "nothing"


def test_imports_are_in_the_navigation_of_those_who_may_see_them(cast, client):
    for user, offered in [(cast.admin, True), (cast.analyst, True), (cast.principal, False)]:
        client.force_login(user)
        page = client.get(reverse("web:home")).text
        assert (f'href="{reverse("web:imports")}"' in page) is offered


def test_the_upload_form_still_checks_the_csrf_token(cast):
    # given a browser session of the admin that does not send the form's token
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.admin)
    # when a file is posted to the upload form
    response = upload(client, csv_file(two_absences(cast)))
    # then it is refused, as every other form is
    assert response.status_code == 403
    assert not uploads_root().exists()


def test_deleting_most_of_a_school_is_shown_and_needs_an_explicit_allow(cast, client):
    # given 100 absences of Ana's and Ben's held at Lincoln over the first 50 days
    days = school_days(cast, 50)
    held = [(s, "101", day, "A", "") for s in ("S1", "S2") for day in days]
    first = csv_file(attendance_csv(held), name="held.csv")
    client.force_login(cast.admin)
    client.post(confirm_url(upload(client, first)))
    assert AttendanceEvent.objects.count() == 100
    # when a file over the same 50 days keeps only 10 of them
    kept = held[:5] + held[45:50]
    report = upload(client, csv_file(attendance_csv(kept), name="broken.csv"))
    # then the report says what would go, imports nothing, and offers no plain confirm
    assert "would delete 90 of the 100 events held for Lincoln Elementary (101)" in report.text
    assert CONFIRM not in report.text
    assert AttendanceEvent.objects.count() == 100
    # when the admin allows the deletions, the report is made again, ready to confirm
    token = report.resolver_match.kwargs["token"]
    allowed = client.post(reverse("web:import_allow_deletes", args=[token]), follow=True)
    assert CONFIRM in allowed.text and "Large deletions" in allowed.text
    counts = rows_by_first_cell(allowed.text, "Rows the import would write")
    assert counts["Attendance events"]["Deleted"] == "90"
    assert AttendanceEvent.objects.count() == 100
    # and confirmed, the import deletes them
    client.post(confirm_url(allowed))
    assert AttendanceEvent.objects.count() == 10


def test_allowing_deletions_a_report_never_asked_for_is_refused(cast, client):
    client.force_login(cast.admin)
    report = upload(client, csv_file(two_absences(cast)))
    token = report.resolver_match.kwargs["token"]
    response = client.post(reverse("web:import_allow_deletes", args=[token]))
    assert response.status_code == 409
    assert "no deletions waiting to be allowed" in response.text


def test_a_zip_whose_file_is_too_large_unzipped_is_refused_in_the_report(cast, client, settings):
    # given a OneRoster zip of 1,300 bytes or so whose users.csv is 100,000 newlines
    # unzipped, and a limit of 64 kB a file
    settings.HOMEROOM_MAX_IMPORT_BYTES = 64 * 1024
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("orgs.csv", "sourcedId,name,type\norg-1,Lincoln Elementary,school\n")
        zipped.writestr("users.csv", "sourcedId,givenName,familyName,role\n" + "\n" * 100_000)
    upload = SimpleUploadedFile("roster.zip", buffer.getvalue(), content_type="application/zip")
    assert upload.size < settings.HOMEROOM_MAX_IMPORT_BYTES
    # when the admin uploads it for a report
    made = receive_upload(
        user=cast.admin, options=UploadOptions(source_format="oneroster"), files=[upload]
    )
    client.force_login(cast.admin)
    page = client.get(reverse("web:import_report", args=[made.token])).content.decode()
    # then the report names the file and the limit, and there is nothing to confirm
    assert "users.csv" in page
    assert "the file holds 97.7 KB uncompressed; Homeroom reads at most 64.0 KB" in page
    assert "Confirm import" not in page
