"""Educator growth on a small worked example, every figure counted by hand below.

Every school's calendar in the cast has the same school days (every weekday), so "day n"
is the n-th school day at Lincoln Elementary and at Central High alike. As of day 40,
with Central High's attendance recorded through day 38:

- Gabe (Lincoln, on the counselor's caseload and case): an intervention the counselor
  started on day 21. Before: days 1-20, absent days 3, 7, 11, 15 -> 16/20 = 80.0%. Since:
  days 21-40 (20 days), absent day 25 and half of day 30 (a tardy on day 22 is present)
  -> 18.5/20 = 92.5%. Change +12.5 points.
- Gabe again: an intervention the counselor started on day 38. Before: days 18-37, absent
  day 25 and half of day 30 -> 18.5/20. Since: days 38-40, 3 < 5: too early to tell
  (Gabe counts once overall, at day 21).
- Carla (Central, grade 9, the counselor's case): an intervention a second counselor
  (serving Central High) started on day 31. Before: days 11-30, excused on day 12 ->
  19/20 = 95.0%. Since: days 31-38 only (recorded through 38; the absence on day 39 is
  not counted yet), absent days 32 and 33 -> 6/8 = 75.0%. Change -20.0 points.
- Ana (Lincoln): an intervention the principal started on day 21, neither the counselor's
  nor on the counselor's case: not listed for the counselor.

The counselor overall: 2 students, mean change (12.5 - 20) / 2 = -3.75 points, shown
"3.8 pts" after a minus sign (half up); 1 improved; 1 too early.
"""

from fractions import Fraction

import pytest
from django.urls import reverse

from homeroom.accounts.models import Role
from homeroom.conftest import add_absence, make_user
from homeroom.core.models import School
from homeroom.interventions import actions
from homeroom.interventions.growth import my_growth
from homeroom.interventions.tests.conftest import day, kind, open_case

pytestmark = pytest.mark.django_db


def start(cast, user, student, on):
    return actions.do_start_intervention(
        user,
        student_id=student.pk,
        intervention_type_id=kind(cast, "weekly-check-in").pk,
        started_on=on,
    )


@pytest.fixture
def worked(playbook):
    cast = playbook
    open_case(cast, "gabe", opened_on=day(cast, 1))
    open_case(cast, "carla", opened_on=day(cast, 1))
    for n in (3, 7, 11, 15, 25):
        add_absence(cast, cast.gabe, cast.lincoln, day(cast, n))
    add_absence(cast, cast.gabe, cast.lincoln, day(cast, 30), fraction="0.5")
    add_absence(cast, cast.gabe, cast.lincoln, day(cast, 22), code="T")
    add_absence(cast, cast.carla, cast.central, day(cast, 12), code="E")
    for n in (32, 33, 39):
        add_absence(cast, cast.carla, cast.central, day(cast, n))
    School.objects.filter(pk=cast.central.pk).update(recorded_through=day(cast, 38))
    add_absence(cast, cast.ana, cast.lincoln, day(cast, 5))
    start(cast, cast.counselor, cast.gabe, day(cast, 21))
    start(cast, cast.counselor, cast.gabe, day(cast, 38))
    central_counselor = make_user("counselor2", Role.COUNSELOR, cast.district)
    central_counselor.schools.add(cast.central)
    start(cast, central_counselor, cast.carla, day(cast, 31))
    start(cast, cast.principal, cast.ana, day(cast, 21))
    return cast


def test_growth_before_and_since_each_intervention_counted_by_hand(worked):
    cast = worked
    growth = my_growth(
        cast.counselor, start=cast.this_year.start_date, end=cast.today, as_of=day(cast, 40)
    )
    rows = [
        (
            row.intervention.student.first_name,
            row.intervention.started_on,
            row.days_before,
            row.exact_before,
            row.days_after,
            row.too_early,
            row.exact_change,
        )
        for row in growth.rows
    ]
    assert rows == [
        ("Gabe", day(cast, 21), 20, Fraction(16, 20), 20, False, Fraction(125, 1000)),
        ("Carla", day(cast, 31), 20, Fraction(19, 20), 8, False, Fraction(-20, 100)),
        ("Gabe", day(cast, 38), 20, Fraction(37, 40), 3, True, None),
    ]
    assert growth.rows[0].rate_after == pytest.approx(0.925)
    assert growth.rows[1].rate_after == pytest.approx(0.75)
    assert growth.rows[2].rate_after is None
    assert growth.students == 2
    assert growth.mean_change == pytest.approx(-0.0375)
    assert growth.improved == 1
    assert growth.too_early == 1


def test_growth_is_only_the_users_own(worked):
    cast = worked
    mine = my_growth(
        cast.principal, start=cast.this_year.start_date, end=cast.today, as_of=day(cast, 40)
    )
    # The principal sees Gabe too, but only started Ana's intervention.
    assert [row.intervention.student_id for row in mine.rows] == [cast.ana.pk]
    # Before day 21: absent on day 5 -> 19/20; since: days 21-40, none absent.
    assert mine.rows[0].exact_change == Fraction(1, 20)
    teacher = my_growth(
        cast.teacher, start=cast.this_year.start_date, end=cast.today, as_of=day(cast, 40)
    )
    assert teacher.rows == [] and teacher.students == 0 and teacher.mean_change is None


def test_growth_window_keeps_to_interventions_started_in_it(worked):
    cast = worked
    growth = my_growth(cast.counselor, start=day(cast, 25), end=day(cast, 35), as_of=day(cast, 40))
    assert [row.intervention.started_on for row in growth.rows] == [day(cast, 31)]


def test_growth_on_my_follow_through_page(worked, client):
    cast = worked
    start(cast, cast.counselor, cast.gabe, cast.today)  # today: too early whatever the date
    client.force_login(cast.counselor)
    page = client.get(reverse("interventions:follow_through")).text
    assert "Your students' attendance since your interventions" in page
    assert "no comparison group" in page
    assert "+12.5 pts" in page  # Gabe, from day 21: 20 days either side by today
    assert "\u221220.0 pts" in page  # Carla: Central recorded through day 38
    assert "\u22123.8 pts" in page  # the mean of the two: whatever today, the same days
    assert "Too early to tell" in page
    assert "Ana Alvarez" not in page
