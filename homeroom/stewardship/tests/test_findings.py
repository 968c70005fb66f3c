"""The coding audit finds each planted pattern at its school, with the rows behind it, and
nothing at the clean schools (world.py plants them; the figures here are worked by hand)."""

from collections.abc import Iterator

import pytest

from homeroom.core.models import District
from homeroom.metrics.tests.districts import module_district
from homeroom.stewardship.findings import Rows
from homeroom.stewardship.selectors import district_findings
from homeroom.stewardship.tests import world

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def district(django_db_setup, django_db_blocker) -> Iterator[District]:
    with module_district(django_db_blocker, world.build) as held:
        yield held


@pytest.fixture(scope="module")
def findings(district, django_db_blocker):
    with django_db_blocker.unblock():
        return district_findings(district, as_of=world.AS_OF)


def _found(findings, pattern):
    return {f.school: f for f in findings if f.pattern == pattern}


def _id(district, name):
    return district.schools.get(name=name).pk


def test_the_clean_schools_have_no_finding(findings):
    # given Maple and Oak, recorded like an ordinary school every day
    # then no pattern names them
    assert {f.school for f in findings} == {"Birch", "Cedar", "Dogwood", "Elm", "Fir"}


def test_a_sharp_drop_is_found_from_the_week_it_began(district, findings):
    # given Birch, 6 absences a day (of 40 students: 15% of student-days) until Oct 28,
    # then 1 a day (2.5%), while the rest of the district stays at 15%
    (drop,) = _found(findings, "sharp_drop").values()
    # then the drop is dated the week it began, with both rates, in plain words; the rest
    # of the district (5 schools of 40) lost Cedar's 2 empty days before and 1 after
    before, after = 50, 33
    rest_before = (5 * 6 * before - 2 * 6) / (5 * 40 * before)
    rest_after = (5 * 6 * after - 6) / (5 * 40 * after)
    assert drop.school == "Birch"
    assert "15.0% of student-days in the 10 weeks before Oct 28, 2024 to 2.5%" in drop.summary
    assert (
        f"the rest of the district went from {100 * rest_before:.1f}% to {100 * rest_after:.1f}%"
    ) in drop.summary
    # and its rows are Birch's absences two weeks either side: 7 weeks after it in all,
    # 33 school days (Thanksgiving's 2 holidays out), one absence each
    assert drop.count == 33
    assert drop.rows.as_query() == {
        "school": str(_id(district, "Birch")),
        "kind": "absent",
        "from": "2024-10-14",
        "to": "2024-11-10",
    }


def test_school_days_without_any_row_are_found_but_not_holidays(district, findings):
    # given Cedar with nothing recorded on three school days, and nobody anywhere on the
    # Thanksgiving holidays
    gaps = _found(findings, "days_without_rows")
    # then Cedar's three days are found, and no holiday anywhere
    assert set(gaps) == {"Cedar"}
    assert gaps["Cedar"].count == 3
    assert "Sep 10, 2024, Oct 15, 2024, Nov 5, 2024" in gaps["Cedar"].summary
    assert gaps["Cedar"].rows == Rows(
        school_id=_id(district, "Cedar"),
        kind="days",
        start=world.GAPS[0],
        end=world.GAPS[-1],
    )


def test_period_absences_without_a_daily_absence_are_counted_by_student_day(findings):
    # given Fir's 4 student-days with only a period absence, and 2 with a daily one too
    periods = _found(findings, "periods_without_daily")
    # then the 4 are found, not the 2
    assert set(periods) == {"Fir"}
    assert periods["Fir"].count == 4
    assert periods["Fir"].summary.startswith("4 student-days with period absences")


def test_an_excused_share_far_from_the_district_is_found(findings):
    # given Dogwood's absences all excused; the rest of the district: half, except Birch,
    # whose 1 absence a day after the drop is unexcused
    days = len(world.school_days())  # 83
    after = len([d for d in world.school_days() if d >= world.DROP_FROM])  # 33
    excused = 4 * 3 * days + 3 * days - 3 * 3 + 3 * (days - after)  # Maple..Fir, Cedar, Birch
    total = 4 * 6 * days + 6 * (days - 3) + 6 * (days - after) + after
    shares = _found(findings, "excused_share")
    # then Dogwood is found, with both shares as the page writes them
    assert set(shares) == {"Dogwood"}
    rest = f"{round(100 * excused / total, 1):.1f}%"
    assert shares["Dogwood"].summary.startswith(f"100.0% of its {6 * days:,} absences")
    assert f"{rest} in the rest of the district" in shares["Dogwood"].summary
    assert shares["Dogwood"].rows.kind == "excused"


def test_late_arrivals_coded_present_are_found_twice_over(district, findings):
    # given Elm: no tardy all year, and 83 rows of "L: Late arrival" counted as present
    tardies = [f for f in findings if f.pattern == "tardies_as_present"]
    # then both signs are found at Elm, and nowhere else
    assert {f.school for f in tardies} == {"Elm"}
    code, none = sorted(tardies, key=lambda f: f.rows.kind)
    assert code.rows.kind == "code" and code.count == len(world.school_days())
    assert "Code L (“Late arrival”)" in code.summary
    # the rest of the district: 1 tardy a school day per 40 students (Cedar's 3 empty days
    # had none), so about 82 at Elm
    days = len(world.school_days())
    expected = (6 * days - 3) / (6 * 40 * days) * 40 * days
    assert none.rows.kind == "late"
    assert f"predicts about {expected:.0f}" in none.summary
