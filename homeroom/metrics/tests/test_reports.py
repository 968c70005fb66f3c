"""What `homeroom metrics` writes for spreadsheets, and the audit entry of its export."""

import csv
import io

import pytest
from django.core.management import call_command

from homeroom.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def metrics_csv(cast, kind: str) -> list[dict[str, str]]:
    output = io.StringIO()
    call_command(
        "metrics",
        kind,
        "--as-of",
        cast.today.isoformat(),
        "--district",
        cast.district.name,
        "--format",
        "csv",
        stdout=output,
        stderr=io.StringIO(),
    )
    return list(csv.DictReader(io.StringIO(output.getvalue())))


def test_a_student_id_that_is_a_formula_is_written_as_text(cast):
    # given Ana's local id, sent by the SIS, is a formula
    cast.ana.local_id = "=1+2"
    cast.ana.save(update_fields=["local_id"])
    # when the students' metrics are exported as CSV
    rows = metrics_csv(cast, "students")
    # then the cell starts with an apostrophe: a spreadsheet shows it, and does not run it
    ids = {row["student_local_id"] for row in rows}
    assert "'=1+2" in ids and "=1+2" not in ids
    assert "S2" in ids  # the other ids are untouched


def test_a_per_student_export_is_audited_with_how_many_rows(cast):
    # when the students' metrics are exported
    rows = metrics_csv(cast, "students")
    # then one export entry says what, how many rows and from which command
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert entry.subject == "metrics students"
    assert entry.count == len(rows) > 0
    assert entry.command == "homeroom metrics"
    assert entry.district == cast.district


def test_aggregates_are_not_per_student_rows_and_write_no_entry(cast):
    metrics_csv(cast, "schools")
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_the_parquet_export_is_audited_with_how_many_students_left(cast, tmp_path):
    call_command(
        "export", "parquet", str(tmp_path / "facts"), "--district", cast.district.name, verbosity=0
    )
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert (entry.subject, entry.command) == ("export parquet", "homeroom export")
    assert entry.count == 7  # the cast's seven students, Hal who left included
