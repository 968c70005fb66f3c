"""The night's pipeline on the cast: its steps in order, each run once, one run record, and
a failed step that keeps what the nights before it wrote."""

import pytest

from homeroom.conftest import add_absence, school_days
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import Batch
from homeroom.ingest.sync import ImportRejected, do_import
from homeroom.metrics.models import StudentSummary, SummaryState
from homeroom.pipeline.actions import NightlyImport, do_refresh_after_import, do_run_nightly
from homeroom.pipeline.models import NightlyRun
from homeroom.reports.models import GroupMonth
from homeroom.warnings.models import Flag
from homeroom.web.tests.import_files import PROFILE, attendance_csv

pytestmark = pytest.mark.django_db


def absent_days(student) -> float:
    return StudentSummary.objects.get(student=student, school__isnull=True).days_absent


def open_flag_kinds(student) -> set[str]:
    return set(
        Flag.objects.filter(student=student, cleared_on__isnull=True).values_list("kind", flat=True)
    )


def test_a_night_refreshes_the_metrics_then_raises_flags_and_records_every_step(cast):
    # given Ana absent on the 3rd and 8th school days of the year
    days = school_days(cast.this_year)
    for day in (days[2], days[7]):
        add_absence(cast, cast.ana, cast.lincoln, day)
    # when the night runs as of the 10th school day
    run = do_run_nightly(cast.district, as_of=days[9])
    # then the run records each step in order, the forecast skipped for want of a model
    assert run.status == NightlyRun.Status.SUCCEEDED and run.finished_at is not None
    assert [(s["step"], s["status"].split(":")[0]) for s in run.steps] == [
        ("metrics", "done"),
        ("flags", "done"),
        ("forecast", "skipped"),
        ("case defaults", "done"),
        ("case flags", "done"),
        ("truancy", "done"),
        ("tiers", "done"),
        ("outreach", "done"),
        ("impact", "done"),
        ("report figures", "done"),
    ]
    # and the summaries are as of that day, with Ana's two absences, and Ana is flagged
    assert SummaryState.objects.get(district=cast.district).as_of == days[9]
    assert absent_days(cast.ana) == 2
    assert "early_absences" in open_flag_kinds(cast.ana)
    assert open_flag_kinds(cast.ben) == set()
    # and the reports' student-group figures reach that day
    months = GroupMonth.objects.filter(district=cast.district, group_type="district")
    assert months.latest("as_of").as_of == days[9]


def test_a_night_with_files_imports_them_and_the_metrics_step_takes_them_in(cast, tmp_path):
    # given the summaries of a first night, and tonight's file with two absences of Ben's
    days = school_days(cast.this_year)
    do_run_nightly(cast.district, as_of=days[9])
    path = tmp_path / "absences.csv"
    path.write_bytes(
        attendance_csv([("S2", "101", days[3], "A", ""), ("S2", "101", days[4], "E", "")])
    )
    # when the night runs with the file
    run = do_run_nightly(cast.district, as_of=days[9], files=NightlyImport([path], "csv", PROFILE))
    # then the import is one step, its run summarized by the metrics step (not by the import)
    assert [s["step"] for s in run.steps][:2] == ["import", "metrics"]
    imported = ImportRun.objects.get(pk=run.steps[0]["counts"]["run"])
    assert imported.summarized
    assert run.steps[0]["counts"]["attendance"]["inserted"] == 2
    assert absent_days(cast.ben) == 2


def test_a_night_whose_import_is_rejected_stops_and_keeps_the_summaries(cast, tmp_path):
    # given a first night's summaries with Ana's one absence
    days = school_days(cast.this_year)
    add_absence(cast, cast.ana, cast.lincoln, days[1])
    do_run_nightly(cast.district, as_of=days[9])
    path = tmp_path / "absences.csv"
    path.write_bytes(attendance_csv([("S1", "101", days[3], "ZZZ", "")]))
    # when tonight's file holds a code the district does not have
    with pytest.raises(ImportRejected):
        do_run_nightly(cast.district, as_of=days[10], files=NightlyImport([path], "csv", PROFILE))
    # then the run says the import failed, and nothing after it ran
    run = NightlyRun.objects.latest("pk")
    assert run.status == NightlyRun.Status.FAILED and run.error.startswith("import: ")
    assert [s["step"] for s in run.steps] == ["import"]
    assert SummaryState.objects.get(district=cast.district).as_of == days[9]
    assert absent_days(cast.ana) == 1


def test_the_same_night_twice_changes_nothing_the_second_time(cast):
    days = school_days(cast.this_year)
    for day in (days[2], days[7]):
        add_absence(cast, cast.ana, cast.lincoln, day)
    do_run_nightly(cast.district, as_of=days[9])
    flags = list(Flag.objects.order_by("pk").values_list("pk", "kind", "raised_on", "cleared_on"))
    again = do_run_nightly(cast.district, as_of=days[9])
    flag_step = next(s for s in again.steps if s["step"] == "flags")
    assert (flag_step["counts"]["raised"], flag_step["counts"]["cleared"]) == (0, 0)
    assert (
        list(Flag.objects.order_by("pk").values_list("pk", "kind", "raised_on", "cleared_on"))
        == flags
    )


def test_a_tier_that_rises_is_counted_by_the_tiers_step(cast, tmp_path):
    # given a night where Gabe has missed nothing
    days = school_days(cast.this_year)
    do_run_nightly(cast.district, as_of=days[19])
    # when tonight's file says he missed 5 of his 20 days (25%: the most intensive tier)
    path = tmp_path / "absences.csv"
    path.write_bytes(attendance_csv([("S6", "101", day, "A", "") for day in days[10:15]]))
    run = do_run_nightly(cast.district, as_of=days[19], files=NightlyImport([path], "csv", PROFILE))
    # then the tiers step counts one student raised
    tiers = next(s for s in run.steps if s["step"] == "tiers")
    assert tiers["counts"] == {"raised": 1, "lowered": 0}


def test_only_a_committed_import_refreshes_the_summaries(cast, summaries):
    dry = do_import(Batch(), district=cast.district, source_format="csv", files=[], dry_run=True)
    assert do_refresh_after_import(dry) is None
    real = do_import(Batch(), district=cast.district, source_format="csv", files=[])
    assert do_refresh_after_import(real) == summaries


def test_a_night_as_of_a_later_day_moves_the_summaries_forward(cast):
    days = school_days(cast.this_year)
    do_run_nightly(cast.district, as_of=days[9])
    do_run_nightly(cast.district, as_of=days[10])
    state = SummaryState.objects.get(district=cast.district)
    assert state.as_of == days[10]
