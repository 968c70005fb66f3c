"""The audit trail as administrators read it: `/audit/` and `homeroom audit`.

The trail is made through the front door (pages opened, a refused attempt, a command-line
import, an export), and read back with each filter.
"""

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from homeroom.access.audit import CSV_COLUMNS
from homeroom.conftest import PASSWORD
from homeroom.core.models import AuditEntry
from homeroom.web.audit import ENTRIES_PER_PAGE
from homeroom.web.tests.import_files import PROFILE, attendance_csv, school_days

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(shared_cast):
    """The cast, built once for this module (conftest: `shared_cast`); what a test writes
    is rolled back in a savepoint."""
    return shared_cast


@pytest.fixture
def trail(cast, client, tmp_path) -> dict[str, AuditEntry]:
    """The admin opened Ana's page, the teacher was refused Ben's, a command imported an
    absence of Ana's, and the admin signed in wrongly once; each on a day of its own."""
    client.force_login(cast.admin)
    client.get(reverse("web:student", args=[cast.ana.pk]))
    client.force_login(cast.teacher)
    client.get(reverse("web:student", args=[cast.ben.pk]))
    client.logout()
    day = school_days(cast, 1)[0]
    (tmp_path / "absences.csv").write_bytes(attendance_csv([("S1", "101", day, "A", "")]))
    call_command(
        "import",
        "csv",
        str(tmp_path / "absences.csv"),
        "--profile",
        PROFILE,
        "--district",
        cast.district.name,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    client.post("/login/", {"username": "admin", "password": "wrong"})
    entries = {
        "view": AuditEntry.objects.get(action="view"),
        "denied": AuditEntry.objects.get(action="denied"),
        "import": AuditEntry.objects.get(action="import"),
        "failed": AuditEntry.objects.get(action="login_failed"),
    }
    for n, entry in enumerate(entries.values()):  # Nov 1, 2, 3, 4 at noon UTC
        AuditEntry.objects.filter(pk=entry.pk).update(
            at=dt.datetime(2026, 11, n + 1, 12, tzinfo=dt.UTC)
        )
    return entries


def page_rows(client, **query) -> list[list[str]]:
    """The cells of the audit table's rows, as a person reads them."""
    client.login(username="admin", password=PASSWORD)
    response = client.get("/audit/", query)
    assert response.status_code == 200
    text = response.content.decode()
    if 'id="audit-entries"' not in text:
        return []
    body = text.split("<tbody>")[1].split("</tbody>")[0]
    rows = []
    for row in body.split("<tr>")[1:]:
        cells = [
            cell.split(">", 1)[1].split("</t")[0]
            for cell in row.split("<t")[1:]
            if cell[:1] in "hd"
        ]
        rows.append([_text(cell) for cell in cells])
    return rows


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_admin_reads_who_did_what_to_which_student_in_words(cast, client, trail):
    rows = page_rows(client)
    # newest first: the failed sign-in, the import, the refusal, the view
    assert [row[2] for row in rows] == [
        "Sign-in failed",
        "Imported",
        "Refused: not visible",
        "Viewed",
    ]
    view, denied = rows[3], rows[2]
    assert view[0] == "Nov 1, 2026, 6:00 a.m."  # noon UTC in Chicago
    assert view[1] == "admin" and view[3] == "Ana Alvarez (S1)" and view[4] == "student page"
    assert denied[1] == "teacher" and denied[3] == "Ben Brooks (S2)"
    imported = rows[1]
    assert imported[1].startswith("homeroom import (system user ")
    assert imported[5] == "1"  # one absence written


@pytest.mark.parametrize(
    ("query", "actions"),
    [
        ({"who": "teacher"}, ["Refused: not visible"]),
        ({"who": "command-line"}, ["Imported"]),
        ({"student": "S1"}, ["Viewed"]),
        ({"student": "brooks"}, ["Refused: not visible"]),
        ({"action": "view"}, ["Viewed"]),
        ({"start": "2026-11-02", "end": "2026-11-03"}, ["Imported", "Refused: not visible"]),
        ({"end": "2026-11-01"}, ["Viewed"]),
    ],
)
def test_each_filter_narrows_the_trail(cast, client, trail, query, actions):
    assert [row[2] for row in page_rows(client, **query)] == actions


def test_a_range_that_ends_before_it_starts_is_explained(cast, client, trail):
    client.login(username="admin", password=PASSWORD)
    response = client.get("/audit/", {"start": "2026-11-03", "end": "2026-11-01"})
    assert "The From date is after the To date." in response.content.decode()


def test_the_trail_is_paged(cast, client):
    # given more views than a page holds
    AuditEntry.objects.bulk_create(
        AuditEntry(
            district=cast.district,
            user=cast.admin,
            action="view",
            student_id=cast.ana.pk,
            subject="student page",
        )
        for _ in range(ENTRIES_PER_PAGE + 3)
    )
    # then the first page holds a page of them, the second the rest, with links between
    assert len(page_rows(client)) == ENTRIES_PER_PAGE
    assert len(page_rows(client, page=2)) == 3
    response = client.get("/audit/", {"action": "view"})
    assert 'href="?action=view&amp;page=2"' in response.content.decode()


def test_the_download_is_the_filtered_trail_in_words_safe_for_spreadsheets(cast, client, trail):
    # given Ana's id, from the SIS, is a formula
    cast.ana.local_id = "=1+2"
    cast.ana.save(update_fields=["local_id"])
    client.login(username="admin", password=PASSWORD)
    # when the admin downloads the views
    response = client.get("/audit/", {"action": "view", "download": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    # then the file has the labels and the one view, its id written as text
    assert response["Content-Disposition"] == 'attachment; filename="audit.csv"'
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1][1:7] == [
        "admin",
        "Role covers the whole district",
        "Viewed",
        "'=1+2",
        "Ana Alvarez",
        "student page",
    ]
    assert rows[1][0] == "2026-11-01T06:00:00-06:00"  # CST from that morning
    assert len(rows) == 2
    # and the download is itself in the trail
    export = AuditEntry.objects.get(action="export")
    assert (export.user, export.subject, export.count) == (cast.admin, "audit trail", 1)


def test_other_districts_entries_are_not_shown(cast, client, trail):
    AuditEntry.objects.create(
        district=cast.other_district, user=cast.outsider, action="view", subject="student page"
    )
    assert len(page_rows(client)) == 4


def audit(*arguments: str) -> list[list[str]]:
    output = io.StringIO()
    arguments = ("--district", "Riverside Unified", *arguments)
    call_command("audit", *arguments, stdout=output, stderr=io.StringIO())
    return list(csv.reader(io.StringIO(output.getvalue())))


def test_the_command_writes_the_trail_filtered_and_audits_the_export(cast, trail):
    # when the server's operator asks for the command-line entries of November 3
    rows = audit("--user", "command-line", "--from", "2026-11-03", "--to", "2026-11-03")
    # then they get the import, with its command and count
    assert rows[0] == list(CSV_COLUMNS)
    assert [(row[3], row[7]) for row in rows[1:]] == [("Imported", "1")]
    assert rows[1][1].startswith("homeroom import (system user ")
    # and the export is in the trail, named by its command
    export = AuditEntry.objects.get(action="export")
    assert (export.command, export.count, export.district) == ("homeroom audit", 1, cast.district)


def test_the_command_filters_by_student_and_action(cast, trail, tmp_path):
    path = tmp_path / "audit.csv"
    call_command(
        "audit",
        "--district",
        cast.district.name,
        "--student",
        "S2",
        "--action",
        "denied",
        "--output",
        str(path),
        stderr=io.StringIO(),
    )
    rows = list(csv.reader(io.StringIO(Path(path).read_text())))
    assert [(row[1], row[3], row[4]) for row in rows[1:]] == [
        ("teacher", "Refused: not visible", "S2")
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "2026-11-31"], "'2026-11-31' is not a date; write it as YYYY-MM-DD"),
        (["--from", "2026-11-03", "--to", "2026-11-01"], "--from is after --to"),
        (["--action", "peek"], "invalid choice: 'peek'"),
    ],
)
def test_bad_arguments_are_one_line(cast, arguments, message):
    with pytest.raises(CommandError, match=message):
        audit("--district", cast.district.name, *arguments)


def test_an_unwritable_output_is_one_line(cast, tmp_path):
    with pytest.raises(CommandError, match=r"audit\.csv"):
        audit("--district", cast.district.name, "--output", str(tmp_path / "missing" / "audit.csv"))


def test_a_student_no_longer_held_keeps_their_number(cast, trail):
    # given the view of a student since deleted from the district
    AuditEntry.objects.create(
        district=cast.district, action="view", student_id=987654, subject="student page"
    )
    rows = audit("--action", "view")
    assert rows[1][5] == "student #987654 (no longer held)" and rows[1][1] == "Homeroom"


@pytest.mark.parametrize("username", ["analyst", "principal", "teacher"])
def test_no_one_but_an_administrator_finds_the_page(cast, client, username):
    client.login(username=username, password=PASSWORD)
    response = client.get("/audit/")
    assert response.status_code == 404
    # (a principal's home is their school's dashboard: followed there)
    home = client.get("/", follow=True).content.decode()
    assert "Audit" not in home.split("</nav>")[0].split('aria-label="Main"')[1]
