"""The forecast on a generated district (four years, known outcomes): trained on one year,
tested on a later one, explained, scored as of any date without seeing later records;
the commands and the nightly pipeline around it."""

import csv
import datetime as dt
import io
import json

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from sklearn.metrics import roc_auc_score

from homeroom.attendance.models import AttendanceCode, AttendanceEvent
from homeroom.core.models import AuditEntry
from homeroom.demo.district import DistrictParameters
from homeroom.metrics.rules import load_rule_profile
from homeroom.metrics.tests.districts import load_generated, module_district
from homeroom.pipeline.models import NightlyRun
from homeroom.roster.models import Enrollment, Student
from homeroom.warnings.actions import analysis_engine
from homeroom.warnings.forecast import FALLBACKS, MINIMUM_GROUP, features, gap_by_chance
from homeroom.warnings.models import Flag, RiskModel, RiskScore
from homeroom.warnings.snapshots import take_snapshot, year_before, year_end
from homeroom.warnings.training import folds_of

TODAY = dt.date(2026, 11, 23)
NAME = "Forecast Test District"


@pytest.fixture(scope="module")
def district(django_db_setup, django_db_blocker, tmp_path_factory):
    """600 students over four school years (2023-24 to 2026-27, the last up to today)."""
    params = DistrictParameters(name=NAME, students=600, years=4, seed=11, today=TODAY)
    directory = tmp_path_factory.mktemp("forecast")
    with module_district(django_db_blocker, lambda: load_generated(params, directory)) as made:
        yield made


@pytest.fixture(scope="module")
def trained(district, django_db_blocker):
    """The forecast trained once for the module (kept: the tests read it)."""
    with django_db_blocker.unblock():
        call_command("risk", "train", "--today", str(TODAY), "--district", NAME, verbosity=0)
        yield RiskModel.objects.get(district=district)


def risk(*arguments: str) -> str:
    output = io.StringIO()
    call_command("risk", *arguments, "--district", NAME, stdout=output, stderr=io.StringIO())
    return output.getvalue()


@pytest.mark.django_db
def test_trained_on_an_earlier_year_tested_on_a_later_one_and_beats_the_baselines(trained):
    assert trained.trained_years == ["2024-2025"]  # 2023-24 only gives its attendance
    assert trained.evaluated_year == "2025-2026"
    for week in ("4", "10", "20"):
        result = trained.evaluation["weeks"][week]
        model = result["methods"]["model"]["roc_auc"]
        fallbacks = {n: result["methods"][n]["roc_auc"] for n in FALLBACKS}
        best = max(fallbacks, key=fallbacks.get)
        # the generator's students keep their habits from year to year: learnable
        assert model > 0.8
        assert result["chosen"] == ("model" if model > fallbacks[best] else best)
    assert trained.parameters["10"]["chosen"] == trained.evaluation["weeks"]["10"]["chosen"]


@pytest.mark.django_db
def test_the_report_has_every_figure_by_group_and_hides_small_groups(trained, tmp_path):
    printed = risk("evaluate", "--output", str(tmp_path))
    assert "forecast-report.html" in printed
    data = json.loads((tmp_path / "forecast-report.json").read_text())
    assert set(data["weeks"]) == {"2", "4", "6", "10", "20"}
    week = data["weeks"]["4"]
    assert set(week["methods"]) == {
        "model",
        "chronic_last_year",
        "september",
        "projection",
        "rate_sum",
        "district_flags",
    }
    # every checkpoint week compares the method used with each baseline, with an interval
    for result in data["weeks"].values():
        others = set(result["methods"]) - {result["chosen"], "model"}
        assert others <= set(result["margins"])
        for margin in result["margins"].values():
            assert margin["low"] <= margin["roc_auc"] <= margin["high"]
    assert data["evaluation"] == "later year"
    figures = week["methods"]["model"]
    for name in ("roc_auc", "pr_auc", "brier", "precision_at_capacity", "recall_at_capacity"):
        assert 0 <= figures[name] <= 1
    groups = {(g["group"], g["value"]) for g in figures["groups"]}
    assert ("gender", "F") in groups and ("home_language", "en") in groups
    assert all(g["students"] >= MINIMUM_GROUP for g in figures["groups"])
    # the largest gap between groups of 100+, beside the gap chance alone would make
    gap = week["methods"][week["chosen"]]["largest_gap"]
    assert gap["lowest"]["students"] >= 100 and gap["highest"]["students"] >= 100
    assert gap["gap"] == gap["highest"]["roc_auc"] - gap["lowest"]["roc_auc"] > 0
    assert 0 < gap["by_chance"]["median"] < gap["by_chance"]["high"]
    html = (tmp_path / "forecast-report.html").read_text()
    assert "evaluated on 2025-2026" in html and "Calibration" in html
    assert "by chance alone" in html
    assert "http" not in html  # nothing loaded from elsewhere


@pytest.mark.django_db
def test_a_feature_as_of_week_4_cannot_see_week_5(district):
    """Records dated after the as-of date change nothing; one dated before it does."""
    profile = load_rule_profile(district.rule_profile)
    as_of = dt.date(2026, 9, 15)

    def week_four(*, nightly: bool = False) -> dict:
        with analysis_engine(district, as_of=as_of if nightly else None) as engine:
            snapshot = take_snapshot(engine, profile, as_of)
            table = features(snapshot, year_before(engine, profile, snapshot.window))
        return table.fillna(-1).to_dict("index")  # NaN (no prior year) is not NaN

    before = week_four()
    # the nightly's export (this year and the two before, not four) sees the same
    assert week_four(nightly=True) == before
    pupil_id = next(iter(before))
    span = Enrollment.objects.filter(student_id=pupil_id, entry_date__lte=as_of).latest(
        "entry_date"
    )
    code = AttendanceCode.objects.get(district=district, code="A")
    # when a week-5 absence is recorded and the student leaves in week 6
    AttendanceEvent.objects.create(
        student_id=pupil_id, school=span.school, date=as_of + dt.timedelta(days=6), code=code
    )
    Enrollment.objects.filter(pk=span.pk).update(exit_date=as_of + dt.timedelta(days=10))
    # then the week-4 features are exactly as they were
    assert week_four() == before
    # but an absence on the as-of date itself (a Tuesday) is seen
    AttendanceEvent.objects.create(student_id=pupil_id, school=span.school, date=as_of, code=code)
    assert week_four()[pupil_id]["days_absent"] == before[pupil_id]["days_absent"] + 1
    # the combined rate counts each day of this year so far and the two before once
    with analysis_engine(district) as engine:
        years = [year_end(engine, profile, engine.window(dt.date(y, 6, 1))) for y in (2026, 2025)]
    returning = next(
        s
        for s, row in before.items()
        if row["prior_rate"] > 0 and years[1]["days_enrolled"].get(s, 0) > 0
    )
    row = before[returning]
    days = row["days_enrolled"] + sum(y.loc[returning, "days_enrolled"] for y in years)
    absent = row["days_absent"] + sum(
        y.loc[returning, "absence_rate"] * y.loc[returning, "days_enrolled"] for y in years
    )
    assert row["combined_rate"] == pytest.approx(absent / days)
    new = next(row for row in before.values() if row["prior_rate"] == -1)  # no last year
    assert new["combined_rate"] == pytest.approx(new["absence_rate"])


@pytest.mark.django_db
def test_scores_as_of_a_past_date_list_every_student_with_factors(trained):
    rows = json.loads(risk("scores", "--as-of", "2026-10-01", "--format", "json"))
    assert rows["as_of"] == "2026-10-01" and rows["model_version"] == trained.version
    students = rows["students"]
    probabilities = [s["probability"] for s in students]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(0 < p < 1 for p in probabilities)
    top = students[0]
    assert top["factors"] and all(isinstance(f, str) for f in top["factors"])
    csv_text = risk("scores", "--as-of", "2026-10-01")
    assert csv_text.splitlines()[0].startswith("student_local_id,school_local_id,grade,probability")
    assert len(csv_text.splitlines()) == len(students) + 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["scores", "--as-of", "2026-13-01"], "'2026-13-01' is not a date; write it as YYYY-MM-DD"),
        (["scores", "--as-of", "2026-10-01", "--format", "xml"], "invalid choice: 'xml'"),
        (["scores", "--as-of", "1990-10-01"], "no school year starts on or before 1990-10-01"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(trained, arguments, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        risk(*arguments)


@pytest.mark.django_db
def test_without_a_model_the_scores_say_how_to_train_one(district):
    RiskModel.objects.filter(district=district).delete()  # rolled back after the test
    with pytest.raises(CommandError, match=r"no forecast has been trained yet: run 'homeroom"):
        risk("scores", "--as-of", "2026-10-01")


def train_output(today: str) -> tuple[RiskModel, str]:
    said = io.StringIO()
    call_command("risk", "train", "--today", today, "--district", NAME, stderr=said)
    return RiskModel.objects.filter(district__name=NAME).latest("version"), said.getvalue()


@pytest.mark.django_db
def test_a_year_whose_records_stop_early_is_current_never_a_test_year(trained):
    """The calendar of 2026-27 runs to June 2027 but its records stop on Nov 20, 2026 (the
    last school day before the export): a clock set past June changes nothing. Asked
    with --dry-run, which says what training would use without fitting anything."""
    models = RiskModel.objects.count()
    said = risk("train", "--today", "2027-08-01", "--dry-run")
    assert RiskModel.objects.count() == models  # nothing trained, nothing stored
    assert said.splitlines()[0] == (
        "As of Aug 1, 2027 the forecast would be trained on 2024-2025 and evaluated on "
        "2025-2026 (nothing was trained):"
    )
    assert "  2026-2027: current, attendance recorded through Nov 20, 2026" in said
    assert "Tested on 2025-2026, a later complete year the forecast never saw" in said
    # the same years as the module's training with the clock on the export's date
    assert trained.trained_years == ["2024-2025"] and trained.evaluated_year == "2025-2026"
    assert trained.evaluation["evaluation"] == "later year"
    current = next(y for y in trained.evaluation["data"] if y["year"] == "2026-2027")
    assert current["status"] == "current" and current["recorded_through"] == "2026-11-20"
    assert f"  {current['words']}" in said


@pytest.mark.django_db
def test_with_two_complete_years_it_trains_on_the_later_and_cross_validates(district):
    """On Nov 1, 2025 only 2023-24 and 2024-25 are complete: the earlier gives last year's
    attendance; the later is trained on and evaluated by folds of its own students (one
    school: whole schools cannot be held out)."""
    planned = risk("train", "--today", "2025-11-01", "--dry-run")
    assert "trained on 2024-2025 and evaluated on 2024-2025" in planned
    assert "evaluated by cross-validation inside it" in planned
    model, said = train_output("2025-11-01")
    assert model.trained_years == ["2024-2025"] and model.evaluated_year == "2024-2025"
    assert model.evaluation["evaluation"] == "cross-validation"
    assert "5-fold cross-validation inside it, grouped by student" in said
    assert "weaker than a test on a later year" in said
    statuses = {y["year"]: y["status"] for y in model.evaluation["data"]}
    assert statuses == {
        "2023-2024": "complete",
        "2024-2025": "complete",
        "2025-2026": "current",
        "2026-2027": "no attendance",
    }
    week = model.evaluation["weeks"]["10"]
    # every student of the year is scored once, by a model that did not see them
    assert week["methods"]["model"]["students"] == week["trained_on"]
    assert week["methods"]["model"]["roc_auc"] > 0.8


@pytest.mark.django_db
def test_one_complete_year_is_refused_saying_what_the_data_hold(district):
    with pytest.raises(
        CommandError,
        match=r"needs two complete school years.*hold 1 \(2023-2024\); "
        r"2024-2025 is current \(attendance recorded through Nov 1, 2024\)",
    ):
        risk("train", "--today", "2024-11-01")


def test_folds_hold_out_whole_schools_largest_first():
    schools = pd.Series(["A"] * 5 + ["B"] * 4 + ["C"] * 3 + ["D"] * 2 + ["E", "F"])
    labels = pd.Series([True, False] * 8)
    by, folds = folds_of(schools, labels)
    assert by == "school"
    fold_of = {school: set(folds[schools.to_numpy() == school]) for school in "ABCDEF"}
    # A to E one fold each, largest first; F joins the smallest fold so far (E's)
    assert fold_of == {"A": {0}, "B": {1}, "C": {2}, "D": {3}, "E": {4}, "F": {4}}
    # two schools are too few to hold out: students are dealt out, both outcomes per fold
    by, folds = folds_of(pd.Series(["A"] * 8 + ["B"] * 8), labels)
    assert by == "student"
    assert sorted(np.bincount(folds[labels.to_numpy()])) == [1, 1, 2, 2, 2]


def test_the_gap_by_chance_is_what_equally_ranked_groups_of_those_sizes_show():
    rng = np.random.default_rng(3)
    truth = np.arange(20000) < 3000
    score = truth + rng.normal(0, 0.8, 20000)
    # a perfect ranking is perfect in every group, whatever their size: no gap by chance
    perfect = gap_by_chance(truth, truth.astype(float), [(10, 90), (40, 160)])
    assert perfect == {"median": 0.0, "high": 0.0}
    # simulated independently: one ranking quality for everyone, ten random groups of 100
    # students (15 chronic) drawn from the 20,000; their best-to-worst spread, 300 times
    positive, negative = score[truth], score[~truth]
    spreads = []
    for _ in range(300):
        aucs = [
            roc_auc_score(
                [1] * 15 + [0] * 85,
                np.concatenate([rng.choice(positive, 15), rng.choice(negative, 85)]),
            )
            for _ in range(10)
        ]
        spreads.append(max(aucs) - min(aucs))
    chance = gap_by_chance(truth, score, [(15, 85)] * 10)
    assert chance["median"] == pytest.approx(np.median(spreads), abs=0.02)
    assert chance["high"] == pytest.approx(np.percentile(spreads, 95), abs=0.03)
    assert chance["median"] > 0.1  # far above a 0.05 target, with no real difference
    # the larger the groups, the smaller the gap chance alone makes
    assert gap_by_chance(truth, score, [(150, 850)] * 10)["high"] < chance["median"]


@pytest.mark.django_db
def test_nightly_twice_changes_nothing_and_a_failed_import_keeps_the_results(
    district, trained, tmp_path
):
    """One test for the nights on the 600-student district: each night costs seconds, and
    the failed night needs results of a night before it to keep."""
    output = io.StringIO()
    call_command("nightly", "--as-of", "2026-11-20", "--district", NAME, stdout=output)
    assert "Nightly run" in output.getvalue() and "succeeded" in output.getvalue()
    first = NightlyRun.objects.latest("pk")
    assert [s["step"] for s in first.steps] == [
        "metrics",
        "flags",
        "forecast",
        "case defaults",
        "case flags",
        "truancy",
        "tiers",
        "outreach",
        "impact",
        "report figures",
    ]
    flags = Flag.objects.filter(student__district=district).count()
    assert flags > 0
    stored = RiskScore.objects.filter(student__district=district)
    assert stored.count() > 0 and {s.as_of for s in stored} == {dt.date(2026, 11, 20)}
    assert all(isinstance(f, str) for s in stored for f in s.factors)
    assert stored.order_by("-probability").first().factors  # the riskiest, with reasons
    assert Flag.objects.filter(checked_on=dt.date(2026, 11, 20)).count() == flags
    # when the night runs again
    call_command("nightly", "--as-of", "2026-11-20", "--district", NAME, stdout=io.StringIO())
    second = NightlyRun.objects.latest("pk")
    flag_step = next(s for s in second.steps if s["step"] == "flags")
    assert flag_step["counts"]["raised"] == 0 and flag_step["counts"]["cleared"] == 0
    assert Flag.objects.filter(student__district=district).count() == flags
    # and a later night checks the flags again as of its own date
    call_command("nightly", "--as-of", "2026-11-23", "--district", NAME, stdout=io.StringIO())
    still_open = Flag.objects.filter(student__district=district, cleared_on__isnull=True)
    assert {f.checked_on for f in still_open} == {dt.date(2026, 11, 23)}
    # and a night whose import fails stops there and keeps the results held
    scores = list(RiskScore.objects.values_list("student_id", "probability").order_by("student_id"))
    assert scores
    bad = tmp_path / "attendance.csv"
    bad.write_text("student_id,school_id,date,code\nX,1,2026-11-24,ZZZ\n")
    with pytest.raises(CommandError, match="nightly run failed: import"):
        call_command(
            "nightly",
            str(bad),
            "--format",
            "csv",
            "--profile",
            "homeroom-generator",
            "--district",
            NAME,
            "--as-of",
            "2026-11-24",
            stdout=io.StringIO(),
        )
    run = NightlyRun.objects.latest("pk")
    assert run.status == NightlyRun.Status.FAILED and run.steps[0]["step"] == "import"
    assert (
        list(RiskScore.objects.values_list("student_id", "probability").order_by("student_id"))
        == scores
    )
    assert {f.checked_on for f in still_open.all()} == {dt.date(2026, 11, 23)}


@pytest.mark.django_db
def test_scores_as_csv_write_a_formula_id_as_text_and_are_audited(trained):
    # given a student whose local id is a formula (rolled back after the test)
    first = json.loads(risk("scores", "--as-of", "2026-10-01", "--format", "json"))
    top = first["students"][0]["student_local_id"]
    Student.objects.filter(district=trained.district, local_id=top).update(local_id="=1+2")
    AuditEntry.objects.all().delete()
    # when the scores are written as CSV
    rows = list(csv.DictReader(io.StringIO(risk("scores", "--as-of", "2026-10-01"))))
    # then the id is text to a spreadsheet, and the export says how many rows left
    assert rows[0]["student_local_id"] == "'=1+2"
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.subject, entry.count) == ("export", "risk scores", len(rows))
    assert entry.command == "homeroom risk scores"
