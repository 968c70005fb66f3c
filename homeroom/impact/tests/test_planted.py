"""The estimates find an effect the generator planted, and none where none was planted
(one seed here; `benchmarks/impact_validation.py` runs 20 and docs/benchmarks.md has them)."""

import datetime as dt

import pytest

from homeroom.demo.district import DistrictParameters, generate_district
from homeroom.demo.export import write_district_csv
from homeroom.demo.loading import load_generated_district, load_intervention_history
from homeroom.impact.selectors import district_impact
from homeroom.metrics.tests.districts import module_district

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 5, 15)
PARAMS = DistrictParameters(
    students=1500,
    years=1,
    seed=1,
    today=TODAY,
    name="Planted Unified",
    planted_effects=(),
    planted_days=(("check-and-connect", 1.5),),
)


@pytest.fixture(scope="module")
def planted(django_db_setup, django_db_blocker, tmp_path_factory):
    """The generated district, loaded with its history, and what the generator removed."""
    generated = generate_district(PARAMS)
    directory = tmp_path_factory.mktemp("planted")
    write_district_csv(generated, directory)

    def make():
        district = load_generated_district(directory).district
        load_intervention_history(district, directory)
        return district

    with module_district(django_db_blocker, make) as district:
        yield district, generated.history["planted_days"]["check-and-connect"]


def test_planted_days_are_found_and_none_where_none_was_planted(planted):
    district, truth = planted
    # given 1.5 days per student planted for Check & Connect over 6 weeks (the days the
    # generator could remove: fewer for students who would not have missed that many)
    assert truth["students"] > 20 and 0.8 < truth["removed_per_student"] <= 1.5
    # when the impact table is computed
    rows = {row.key: row for row in district_impact(district, as_of=TODAY, weeks=6).rows}
    # then Check & Connect's interval holds the days removed and lies above zero
    found = rows["type:check-and-connect"]
    assert found.low <= truth["removed_per_student"] <= found.high
    assert found.low > 0
    # and the types given at random beside it, with nothing planted, are found to have none
    for kind in ("type:weekly-check-in", "type:small-group-workshop"):
        assert rows[kind].low <= 0 <= rows[kind].high, rows[kind].reading
