"""The forecast's writes called directly: `do_train_forecast` stores a numbered model named
by its years and rules; `do_score_students` replaces every student's stored forecast.

Training costs seconds whatever the district's size (most of it compiling the snapshots'
queries), so the module loads one small generated district (four years, the last up to
today) and trains on it once; scoring mostly takes what was known on a date, read once,
as the nightly pipeline passes it. The forecast's quality and the `risk` command are
tested in test_forecast.py.
"""

import datetime as dt

import pytest

from homeroom.conftest import add_forecast
from homeroom.core.models import CalendarDate, SchoolYear
from homeroom.demo.district import DistrictParameters
from homeroom.metrics.rules import load_rule_profile
from homeroom.metrics.tests.districts import load_generated, module_district
from homeroom.roster.models import Enrollment
from homeroom.warnings import training
from homeroom.warnings.actions import (
    WarningError,
    analysis_engine,
    current_model,
    do_score_students,
    do_train_forecast,
)
from homeroom.warnings.forecast import ESTIMATOR
from homeroom.warnings.models import RiskModel, RiskScore
from homeroom.warnings.snapshots import known_on

TODAY = dt.date(2026, 11, 23)
NAME = "Actions Test District"
PROFILE = "california"  # not the default: the model must name the district's own rules
THIS_YEAR = "2026-2027"
OCTOBER, NOVEMBER = dt.date(2026, 10, 1), dt.date(2026, 11, 20)  # a Thursday, a Friday


def earlier_forecast(district, version: int) -> RiskModel:
    """A model stored before, as an earlier training would have left it (weights unused)."""
    return RiskModel.objects.create(
        district=district,
        version=version,
        estimator=ESTIMATOR,
        rule_profile="attendance-works@1",
        trained_years=["2023-2024"],
        parameters={},
        evaluation={},
    )


@pytest.fixture(scope="module")
def district(django_db_setup, django_db_blocker, tmp_path_factory):
    """100 students over four school years (2023-24 to 2026-27), under California's rules,
    with a forecast (version 1) trained before."""
    params = DistrictParameters(name=NAME, students=100, years=4, seed=11, today=TODAY)
    directory = tmp_path_factory.mktemp("actions")

    def make():
        made = load_generated(params, directory)
        made.rule_profile = PROFILE
        made.save(update_fields=["rule_profile"])
        earlier_forecast(made, version=1)
        return made

    with module_district(django_db_blocker, make) as made:
        yield made


@pytest.fixture(scope="module")
def engine(district, django_db_blocker):
    """The district's facts, exported once: the tests below change no attendance."""
    with django_db_blocker.unblock(), analysis_engine(district) as facts:
        yield facts


@pytest.fixture(scope="module")
def trained(district, engine, django_db_blocker):
    """The forecast trained once for the module (version 2), with the progress it said."""
    said = []
    with django_db_blocker.unblock():
        model = do_train_forecast(district, today=TODAY, engine=engine, say=said.append)
    return model, said


@pytest.fixture(scope="module")
def known(engine):
    """What was known on October 1 and on November 20, read once for the module."""
    profile = load_rule_profile(PROFILE)
    return {day: known_on(engine, profile, day) for day in (OCTOBER, NOVEMBER)}


def enrolled_by(district, as_of: dt.date) -> set[int]:
    """The students with an enrollment this school year that began on or before `as_of`."""
    spans = Enrollment.objects.filter(
        student__district=district, school_year__name=THIS_YEAR, entry_date__lte=as_of
    )
    return set(spans.values_list("student_id", flat=True))


def school_week(district, as_of: dt.date) -> int:
    """The school week holding `as_of`: week 1 starts on the year's first school day."""
    first = (
        CalendarDate.objects.filter(
            calendar__school__district=district,
            calendar__school_year__name=THIS_YEAR,
            kind=CalendarDate.Kind.INSTRUCTIONAL,
        )
        .order_by("date")
        .values_list("date", flat=True)
        .first()
    )
    return (as_of - first).days // 7 + 1


def stored(district) -> list[tuple]:
    """The district's stored forecasts, one tuple per student, by student."""
    scores = RiskScore.objects.filter(student__district=district).order_by("student_id")
    return list(scores.values_list("student_id", "as_of", "week", "probability", "factors"))


# Training


@pytest.mark.django_db
def test_training_stores_the_next_version_named_by_its_years_and_rules(district, trained):
    # given the district's earlier forecast, version 1
    model, said = trained
    # then training stored version 2, the one scores now use, and kept version 1
    assert model.version == 2
    assert current_model(district) == model
    versions = RiskModel.objects.filter(district=district).order_by("version")
    assert list(versions.values_list("version", flat=True)) == [1, 2]
    # learnt on 2024-25 (2023-24 gives its attendance only), tested on 2025-26, the latest
    # complete year (2026-27 is not over), under the district's rules
    assert model.trained_years == ["2024-2025"]
    assert model.evaluated_year == "2025-2026"
    assert model.rule_profile == "california@1"
    assert model.estimator == ESTIMATOR
    assert str(model) == "forecast v2 (2024-2025)"
    # one set of weights per checkpoint week, the method used among those fitted
    assert set(model.parameters) == {"2", "4", "6", "10", "20"}
    for week in model.parameters.values():
        assert week["chosen"] in week["methods"]
    assert model.evaluation["evaluated_year"] == "2025-2026"
    assert model.seconds > 0
    # and it said which year and week it was working on
    assert said[0] == "2024-2025, week 2" and said[-1] == "2025-2026, week 20"


@pytest.mark.django_db
def test_a_districts_first_forecast_is_version_1(district, engine, trained, monkeypatch):
    # given no forecast stored (rolled back after the test), and the training's result
    # known already (training again would cost seconds and teach nothing here)
    model, _ = trained
    result = training.Trained(
        parameters=model.parameters,
        evaluation=model.evaluation,
        trained_years=model.trained_years,
        evaluated_year=model.evaluated_year,
    )
    monkeypatch.setattr(training, "train", lambda *arguments: result)
    RiskModel.objects.filter(district=district).delete()
    # when the forecast is trained
    first = do_train_forecast(district, today=TODAY, engine=engine)
    # then it is version 1, with the training's years and weights
    assert first.version == 1
    assert first.trained_years == ["2024-2025"] and first.parameters == model.parameters


@pytest.mark.django_db
def test_training_before_three_complete_years_is_refused_and_stores_nothing(
    district, engine, trained
):
    # given a date in 2025-26: only 2023-24 and 2024-25 are complete
    with pytest.raises(WarningError, match=r"needs three complete school years") as refused:
        do_train_forecast(district, today=dt.date(2025, 11, 1), engine=engine)
    # then the message names the years there are, and no model is added
    assert "the data hold 2 (2023-2024, 2024-2025)" in str(refused.value)
    assert RiskModel.objects.filter(district=district).count() == 2


# Scoring


@pytest.mark.django_db
def test_scoring_gives_every_enrolled_student_one_forecast_as_of_the_date(district, trained, known):
    model, _ = trained
    # when the students are scored from what was known on October 1
    counts = do_score_students(district, known=known[OCTOBER])
    # then each student enrolled by then has one forecast, by the current model, this year
    scores = RiskScore.objects.filter(student__district=district)
    assert set(scores.values_list("student_id", flat=True)) == enrolled_by(district, OCTOBER)
    assert scores.count() == counts["scored"] == len(enrolled_by(district, OCTOBER))
    this_year = SchoolYear.objects.get(district=district, name=THIS_YEAR)
    assert {(s.model_id, s.school_year_id, s.as_of) for s in scores} == {
        (model.pk, this_year.pk, OCTOBER)
    }
    assert counts["week"] == school_week(district, OCTOBER)
    assert {s.week for s in scores} == {counts["week"]}
    # with a probability, the method chosen for that week's checkpoint, reasons in words
    assert all(0 < s.probability < 1 for s in scores)
    assert counts["likely_chronic"] == scores.filter(probability__gte=0.5).count()
    checkpoint = max(week for week in (2, 4, 6, 10, 20) if week <= counts["week"])
    assert {s.method for s in scores} == {model.parameters[str(checkpoint)]["chosen"]}
    assert all(isinstance(reason, str) for s in scores for reason in s.factors)


@pytest.mark.django_db
def test_scoring_a_later_day_replaces_every_earlier_forecast(district, trained, known):
    # given forecasts as of October 1
    do_score_students(district, known=known[OCTOBER])
    # when the students are scored as of November 20
    counts = do_score_students(district, known=known[NOVEMBER])
    # then every stored forecast is of November 20, one per student enrolled by then
    rows = stored(district)
    assert {as_of for _, as_of, *_ in rows} == {NOVEMBER}
    assert [student for student, *_ in rows] == sorted(enrolled_by(district, NOVEMBER))
    assert counts["scored"] == len(rows)
    assert {week for _, _, week, *_ in rows} == {school_week(district, NOVEMBER)}


@pytest.mark.django_db
def test_each_forecast_keeps_the_one_of_the_day_before_it(district, trained, known):
    # given forecasts as of October 1, then November 20
    do_score_students(district, known=known[OCTOBER])
    october = dict(RiskScore.objects.values_list("student_id", "probability"))
    do_score_students(district, known=known[NOVEMBER])
    # when November 20 is scored again (a night run twice)
    do_score_students(district, known=known[NOVEMBER])
    # then each November forecast carries its student's October one (None if new since)
    rows = RiskScore.objects.filter(student__district=district)
    assert rows.exists()
    assert {row.student_id: row.previous_probability for row in rows} == {
        row.student_id: october.get(row.student_id) for row in rows
    }


@pytest.mark.django_db
def test_scoring_the_same_day_twice_changes_nothing(district, trained, known):
    first = do_score_students(district, known=known[NOVEMBER])
    before = stored(district)
    # when the night's scoring runs again for the same date
    again = do_score_students(district, known=known[NOVEMBER])
    # then the same forecasts are stored, no more
    assert again == first
    assert stored(district) == before


@pytest.mark.django_db
def test_scoring_without_a_trained_model_is_refused_in_words(district, known):
    # given the district's models removed (rolled back after the test)
    RiskModel.objects.filter(district=district).delete()
    # when the students are scored, it is refused, saying how to train one
    with pytest.raises(WarningError, match=r"^no forecast has been trained yet: run 'homeroom"):
        do_score_students(district, known=known[NOVEMBER])
    assert not RiskScore.objects.filter(student__district=district).exists()


@pytest.mark.django_db
def test_scoring_one_district_leaves_another_districts_forecasts(district, trained, known, cast):
    # given a forecast stored for Ana of the cast's district
    theirs = add_forecast(cast, cast.ana, 0.4, factors=["Absent 4 of the last 30 days"])
    # when the generated district's students are scored
    do_score_students(district, known=known[NOVEMBER])
    # then Ana's forecast is still there, as it was
    kept = RiskScore.objects.get(student=cast.ana)
    assert (kept.pk, kept.probability, kept.factors) == (theirs.pk, 0.4, theirs.factors)
