"""The impact estimates on a hand-built school, where the answer is worked out by hand.

Lincoln's grade 3 gets 12 students given an intervention on the 16th school day and 12
alike who were not; grade 4 gets the nudge letters' holdout: 12 households drawn to get
the letter, 12 held out. Every student missed the 3rd and 6th school days before the
start (2 of 15 days: Tier 2, one of them in the last two weeks). In the 4 weeks from the
start (20 school days) the served students miss 0, 1 or 2 days (4 each: 1 a student on
average) and the others 3 each: 2 days recovered per student.
"""

import datetime as dt
import math
import statistics
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import timezone

from homeroom.attendance.models import AttendanceEvent
from homeroom.conftest import enroll, school_days
from homeroom.core.models import AuditEntry
from homeroom.impact.actions import do_refresh_impact, do_set_intervention_cost
from homeroom.impact.selectors import district_impact, impact_estimates
from homeroom.interventions.models import Case, Intervention, InterventionType
from homeroom.outreach.models import MessageKind, TriggerHit
from homeroom.roster.models import Student

pytestmark = pytest.mark.django_db

WEEKS = 4
START = 15  # the 16th school day (index 15): 15 school days before it
T_11 = 2.200985  # Student's t, 97.5% quantile, 11 degrees of freedom (tables)
T_22 = 2.073873  # the same, 22 degrees of freedom (Welch's, for two groups of 12 alike)


def _absent(cast, pupil, days) -> None:
    AttendanceEvent.objects.bulk_create(
        AttendanceEvent(student=pupil, school=cast.lincoln, date=day, code=cast.codes["A"])
        for day in days
    )


@pytest.fixture
def world(cast):
    """The hand-built school (see the module's docstring)."""
    days = school_days(cast.this_year)
    start = days[START]
    assert start + dt.timedelta(weeks=WEEKS) <= cast.today, "the cast's year is long enough"
    before = [days[2], days[5]]
    after = [days[START + 5], days[START + 10], days[START + 15]]

    def pupil(local_id: str, grade: int) -> Student:
        made = Student.objects.create(
            district=cast.district,
            local_id=local_id,
            first_name=local_id,
            last_name="X",
            grade=grade,
        )
        enroll(made, cast.lincoln, cast.this_year)
        return made

    kind = InterventionType.objects.create(district=cast.district, key="mentor", name="Mentoring")
    served, others = [], []
    for k in range(12):
        treated = pupil(f"T{k}", 3)
        _absent(cast, treated, before + after[: k % 3])
        Intervention.objects.create(student=treated, kind=kind, started_on=start, owner=cast.admin)
        served.append(treated)
        control = pupil(f"C{k}", 3)
        _absent(cast, control, before + after)
        others.append(control)
    # Served before the start (a case): not a comparison, though alike before; had they
    # been one, their 20 days absent after would show.
    earlier = pupil("EARLY", 3)
    _absent(cast, earlier, before + days[START : START + 20])
    Case.objects.create(
        student=earlier,
        school=cast.lincoln,
        tier=2,
        source=Case.Source.MANUAL,
        opened_on=days[START - 3],
        opened_by=cast.admin,
    )
    # The nudge round: the letter's households miss 0-2 days after, the held-out ones 2-4.
    decided = timezone.make_aware(dt.datetime.combine(start, dt.time(3)))
    mark = f"{cast.this_year.name}:nudge:1"
    later = [*after, days[START + 18]]
    for k in range(24):
        held = k >= 12
        child = pupil(f"N{k}", 4)
        _absent(cast, child, before + later[: k % 3 + (2 if held else 0)])
        hit = TriggerHit.objects.create(
            student=child, kind=MessageKind.NUDGE, mark=mark, held_out=held
        )
        TriggerHit.objects.filter(pk=hit.pk).update(at=decided)
    return cast


def test_matched_estimate_recovers_the_days_worked_out_by_hand(world):
    # when the impact table is computed with 4 weeks after each start
    report = district_impact(world.district, as_of=world.today, weeks=WEEKS)
    row = next(row for row in report.rows if row.key == "type:mentor")
    # then the 12 served students are compared, each with 5 alike not served before (the
    # student with the earlier case is not one), 3 - 1 = 2 days recovered per student
    assert (row.treated, row.comparison) == (12, 5)
    assert row.days_recovered == pytest.approx(2.0)
    # and the interval is the t interval of the 12 differences (3, 2, 1, 3, 2, 1, ...)
    differences = [3 - k % 3 for k in range(12)]
    half = T_11 * statistics.stdev(differences) / math.sqrt(12)
    assert (row.low, row.high) == (
        pytest.approx(2 - half, abs=1e-4),
        pytest.approx(2 + half, abs=1e-4),
    )
    assert row.reading == (
        "About 2.0 days more attendance per student over 4 weeks, interval 1.5 to 2.5, 12 students."
    )


def test_nudge_holdout_is_a_difference_in_means(world):
    # when the impact table is computed
    report = district_impact(world.district, as_of=world.today, weeks=WEEKS)
    (row,) = [row for row in report.rows if row.grouping == "experiment"]
    # then the letter's 12 are compared with the 12 held out: days absent after,
    # letter: 0, 1, 2, ... (mean 1); held out: 2, 3, 4, ... (mean 3): 2 days recovered
    letter = [k % 3 for k in range(12)]
    held = [k % 3 + 2 for k in range(12)]
    assert (row.method, row.treated, row.comparison) == ("randomized", 12, 12)
    assert row.days_recovered == pytest.approx(2.0)
    # with Welch's interval: equal spreads, so 22 degrees of freedom
    half = T_22 * math.sqrt(statistics.variance(letter) / 12 + statistics.variance(held) / 12)
    assert (row.low, row.high) == (
        pytest.approx(2 - half, abs=1e-4),
        pytest.approx(2 + half, abs=1e-4),
    )


def test_cost_per_day_recovered_uses_the_recorded_cost(world):
    # given the district's administrator records a cost of $300 per student mentored
    do_set_intervention_cost(world.admin, district=world.district, key="type:mentor", cost="300")
    # when the impact table is read
    do_refresh_impact(world.district, as_of=world.today, weeks=WEEKS)
    rows = impact_estimates(world.admin)
    row = next(row for row in rows if row.key == "type:mentor")
    # then a day recovered costs 300 / 2 = $150, and the change was audited
    assert row.cost_per_day == pytest.approx(150.0)
    entry = AuditEntry.objects.get(subject="intervention cost type:mentor")
    assert (entry.user, entry.details["after"]) == (world.admin, "300.00")


def test_costs_refuse_bad_amounts_and_other_roles(world):
    from django.core.exceptions import ValidationError

    # an amount that is not one, a negative one, or someone not a district administrator
    with pytest.raises(ValidationError, match="not an amount"):
        do_set_intervention_cost(world.admin, district=world.district, key="case", cost="lots")
    with pytest.raises(ValidationError, match="from 0"):
        do_set_intervention_cost(world.admin, district=world.district, key="case", cost="-5")
    with pytest.raises(PermissionDenied):
        do_set_intervention_cost(world.analyst, district=world.district, key="case", cost="5")
    # change nothing
    assert not AuditEntry.objects.filter(subject__startswith="intervention cost").exists()


@pytest.mark.parametrize("username", ["principal", "counselor", "teacher", "viewer"])
def test_only_district_roles_read_impact(world, username):
    # a school's staff may not read the district's impact table
    with pytest.raises(PermissionDenied):
        impact_estimates(getattr(world, username))


def test_command_prints_the_table_and_records_costs(world):
    # given a cost recorded from the command line
    out = StringIO()
    name = ("--district", world.district.name)
    call_command("impact", *name, "--set-cost", "type:mentor", "100", stdout=out)
    assert AuditEntry.objects.get(subject="intervention cost type:mentor").command
    # when the table is printed
    out = StringIO()
    call_command(
        "impact", *name, "--as-of", world.today.isoformat(), "--weeks", str(WEEKS), stdout=out
    )
    text = out.getvalue()
    # then it reads as the page does, with the cost per day: 100 / 2 = 50
    assert "Mentoring: About 2.0 days more attendance per student over 4 weeks" in text
    assert " 50.00 " in text
