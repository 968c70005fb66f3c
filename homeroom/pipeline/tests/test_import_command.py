"""`homeroom import`: a new district only with a committed import; large deletions asked for."""

import getpass
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from homeroom.attendance.models import AttendanceEvent
from homeroom.core.models import AuditEntry, District
from homeroom.web.tests.import_files import PROFILE, attendance_csv, school_days

pytestmark = pytest.mark.django_db


def import_file(path, *options: str) -> str:
    out = io.StringIO()
    call_command("import", "csv", str(path), "--profile", PROFILE, *options, stdout=out)
    return out.getvalue()


def test_a_rejected_import_into_a_new_district_leaves_no_district(tmp_path):
    # given a file whose only row has a code no district has
    path = tmp_path / "absences.csv"
    path.write_text("student_id,school_id,date,code,minutes\n1,101,2026-12-04,ZZ,\n")
    # when it is imported into a district not held yet
    with pytest.raises(CommandError, match="import rejected: nothing was changed"):
        import_file(path, "--district", "GhostTown")
    # then there is no such district afterwards
    assert not District.objects.filter(name="GhostTown").exists()


def test_a_dry_run_into_a_new_district_leaves_no_district(tmp_path):
    path = tmp_path / "schools.csv"
    path.write_text("student_id,school_id,date,code,minutes\n")
    import_file(path, "--district", "GhostTown", "--dry-run")
    assert not District.objects.filter(name="GhostTown").exists()


def test_large_deletions_need_the_flag(cast, tmp_path):
    # given 100 absences held at Lincoln over 50 days
    days = school_days(cast, 50)
    held = [(s, "101", day, "A", "") for s in ("S1", "S2") for day in days]
    (tmp_path / "held.csv").write_bytes(attendance_csv(held))
    import_file(tmp_path / "held.csv", "--district", cast.district.name)
    # when a file over the same days keeps 10 of them
    (tmp_path / "kept.csv").write_bytes(attendance_csv(held[:5] + held[45:50]))
    # then without the flag it is refused, saying so, and nothing is deleted
    with pytest.raises(CommandError, match="import rejected"):
        import_file(tmp_path / "kept.csv", "--district", cast.district.name)
    assert AttendanceEvent.objects.count() == 100
    # and with it, the events go
    said = import_file(
        tmp_path / "kept.csv", "--district", cast.district.name, "--allow-large-deletes"
    )
    assert "90 deleted" in said
    assert AttendanceEvent.objects.count() == 10


def test_an_import_from_the_command_line_is_audited_with_the_command_and_its_user(cast, tmp_path):
    # given three absences at Lincoln
    days = school_days(cast, 2)
    rows = [("S1", "101", days[0], "A", ""), ("S2", "101", days[0], "A", "")]
    rows.append(("S2", "101", days[1], "T", ""))
    (tmp_path / "absences.csv").write_bytes(attendance_csv(rows))
    # when they are imported from the command line
    import_file(tmp_path / "absences.csv", "--district", cast.district.name)
    # then one entry says which command, run by whom on the server, changed 3 records
    entry = AuditEntry.objects.get()
    assert entry.action == AuditEntry.Action.IMPORT
    assert (entry.user, entry.command) == (None, "homeroom import")
    assert entry.system_user == getpass.getuser()
    assert entry.count == 3
    assert entry.district == cast.district
    assert entry.details["files"] == ["absences.csv"]


def test_a_dry_run_is_not_audited(cast, tmp_path):
    days = school_days(cast, 1)
    (tmp_path / "absences.csv").write_bytes(attendance_csv([("S1", "101", days[0], "A", "")]))
    import_file(tmp_path / "absences.csv", "--district", cast.district.name, "--dry-run")
    assert not AuditEntry.objects.exists()


def test_the_summary_names_each_problem_in_words_beside_its_code(cast, tmp_path):
    # given a file with one row for a student the district never rostered, skipped
    day = school_days(cast, 1)[0]
    (tmp_path / "one.csv").write_bytes(attendance_csv([("S99", "101", day, "A", "")]))
    # when it is imported, rows with errors skipped
    said = import_file(tmp_path / "one.csv", "--district", cast.district.name, "--on-error", "skip")
    # then the run's status and its problem are words, the code kept for the docs
    assert "Import run " in said and ": succeeded, changed:" in said
    assert "Attendance for a student never rostered (student_not_rostered): 1" in said
