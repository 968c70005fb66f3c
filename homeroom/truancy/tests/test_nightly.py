"""The night's truancy step, inside the pipeline's run."""

import pytest

from homeroom.pipeline.actions import do_run_nightly
from homeroom.truancy.tests.conftest import absent, choose, school_days_from, steps_of

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
    assert line["counts"] == {"pack": "california@1", "eligible": 1, "blocked": 0, "review": 0}
    assert steps_of(cast.ana) == [("not1", "eligible")]


def test_a_district_without_a_pack_finds_nobody(cast):
    absent(cast, cast.ana, cast.this_year.start_date)
    run = do_run_nightly(cast.district, as_of=cast.today)
    line = next(line for line in run.steps if line["step"] == "truancy")
    assert line["counts"]["pack"] is None
    assert steps_of(cast.ana) == []
