"""The night's truancy step, inside the pipeline's run."""

import pytest

from homeroom.pipeline.actions import do_run_nightly
from homeroom.truancy.models import TruancyRun
from homeroom.truancy.tests.conftest import absent, choose, night, school_days_from, steps_of

pytestmark = pytest.mark.django_db


def test_the_night_records_students_who_reached_the_next_step(cast):
    # given California's pack and Ana absent without excuse three times
    choose(cast, "california")
    days = school_days_from(cast.this_year.start_date, 3)
    for day in days:
        absent(cast, cast.ana, day)
    # when the night runs
    run = do_run_nightly(cast.district, as_of=cast.today)
    # then its truancy step, after the case flags, found Ana eligible for the first notice
    names = [line["step"] for line in run.steps]
    assert names.index("truancy") == names.index("case flags") + 1
    line = next(line for line in run.steps if line["step"] == "truancy")
    assert line["counts"] == {
        "pack": "california@1",
        "eligible": 1,
        "blocked": 0,
        "review": 0,
        "evaluated": 1,
    }
    assert steps_of(cast.ana) == [("not1", "eligible")]


def test_a_district_without_a_pack_finds_nobody(cast):
    absent(cast, cast.ana, cast.this_year.start_date)
    run = do_run_nightly(cast.district, as_of=cast.today)
    line = next(line for line in run.steps if line["step"] == "truancy")
    assert line["counts"]["pack"] is None
    assert steps_of(cast.ana) == []


def test_a_night_evaluates_only_the_students_whose_absences_or_steps_changed(cast):
    # given California, Ana absent twice without excuse and once excused, Ben three times
    choose(cast, "california")
    days = school_days_from(cast.this_year.start_date, 3)
    absent(cast, cast.ana, days[0])
    absent(cast, cast.ana, days[1])
    excused = absent(cast, cast.ana, days[2], code="E")
    for day in days:
        absent(cast, cast.ben, day)
    # the first night evaluates both (Ana's two count) and finds Ben
    assert night(cast) | {"pack": None} == {
        "pack": None,
        "eligible": 1,
        "blocked": 0,
        "review": 0,
        "evaluated": 2,
    }
    # a night with nothing new evaluates nobody
    assert night(cast)["evaluated"] == 0
    # when the SIS re-codes Ana's excused absence as unexcused (the same event, an old
    # date: no new row), the next night evaluates her alone and finds her first notice
    excused.code = cast.codes["A"]
    excused.save(update_fields=["code"])
    counts = night(cast)
    assert (counts["evaluated"], counts["eligible"]) == (1, 1)
    assert steps_of(cast.ana) == [("not1", "eligible")]
    # and a night after the district's pack changed evaluates everyone again
    choose(cast, "california", text='[[steps]]\nkey = "not1"\ndeadline_days = 5\n')
    assert night(cast)["evaluated"] == 2
    assert TruancyRun.objects.get().pack == "california@1, district copy r2"
