"""The dashboards, read as a person reads them, against figures counted by hand."""

import datetime as dt
import math
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from homeroom.conftest import add_absence, school_days
from homeroom.core.models import CalendarDate
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import StudentSummary
from homeroom.roster.models import StudentCharacteristic
from homeroom.web.tests.page_text import figure, rows_by_first_cell, student_ids_linked

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(shared_cast):
    """The cast, built once for this module (conftest: `shared_cast`); what a test writes
    is rolled back in a savepoint."""
    return shared_cast


@pytest.fixture
def world(cast):
    """The cast with absences: Ana misses a fifth of her days so far (severe chronic,
    tier 3), Ben a tenth (moderate, tier 2), Carla her first day; then the refresh."""
    days = [day for day in school_days(cast.this_year) if day <= cast.today]
    ana_days = days[: math.ceil(len(days) * 0.2)]
    ben_days = days[: math.ceil(len(days) * 0.1)]
    for day in ana_days:
        add_absence(cast, cast.ana, cast.lincoln, day)
    for day in ben_days:
        add_absence(cast, cast.ben, cast.lincoln, day)
    add_absence(cast, cast.carla, cast.central, days[0])
    do_refresh_summaries(cast.district)
    month_ago = cast.today - dt.timedelta(days=30)
    eli_days = [day for day in days if day <= month_ago]
    return cast, days, ana_days, ben_days, eli_days


def _percent(share: float) -> str:
    return f"{share * 100:.1f}%"


def _link_query(html: str, text: str) -> dict[str, list[str]]:
    """The query of the link whose text is `text`."""
    found = re.search(rf'<a href="([^"]*)">{re.escape(text)}</a>', html)
    assert found, f"no link {text!r}"
    return parse_qs(urlsplit(found.group(1).replace("&amp;", "&")).query)


def test_district_dashboard_counts_by_hand(world, client):
    cast, days, ana_days, ben_days, eli_days = world
    # given the district administrator
    client.force_login(cast.admin)
    # when they open the first page
    page = client.get(reverse("web:home")).text
    # then it is the district's dashboard, each student counted once
    assert figure(page, "Students enrolled") == "6"
    enrolled = 5 * len(days) + len(eli_days)
    absent = len(ana_days) + len(ben_days) + 1
    assert figure(page, "Attendance rate (ADA)") == _percent(1 - absent / enrolled)
    assert figure(page, "Chronic absence rate") == "33.3%"  # Ana and Ben of six counted
    assert "2 chronically absent</a> of 6 students counted" in page
    # and the bands and tiers say who is where, each linked to its students
    bands = rows_by_first_cell(page, "Attendance bands")
    assert bands["Severe chronic absence (20% or more)"]["Students"] == "1"
    assert bands["Moderate chronic absence (10% to under 20%)"]["Students"] == "1"
    assert bands["Satisfactory (under 5%)"]["Share"] == "66.7%"
    tiers = rows_by_first_cell(page, "MTSS tiers")
    assert [tiers[t]["Students"] for t in tiers] == ["1", "1", "4"]
    assert _link_query(page, "2 chronically absent") == {"chronic": ["1"]}
    # and the schools' rows add up to what each links to
    schools = rows_by_first_cell(page, "Each school's students")
    assert schools["Lincoln Elementary"]["Students"] == "4"
    assert schools["Central High"]["Students"] == "2"
    assert schools["Lincoln Elementary"]["Chronically absent"] == "2"
    lincoln = StudentSummary.objects.filter(school=cast.lincoln)
    assert lincoln.count() == 4 and lincoln.filter(chronic=True).count() == 2
    # and a school's name opens its dashboard
    assert reverse("web:school_dashboard", args=[cast.lincoln.pk]) in page


def test_weekly_trend_and_last_year(world, client):
    cast, days, ana_days, ben_days, _eli_days = world
    client.force_login(cast.admin)
    page = client.get(reverse("web:home")).text
    # then the first week's rate is its absences over its student-days, by hand
    first_monday = days[0] - dt.timedelta(days=days[0].weekday())
    week = [day for day in days if first_monday <= day < first_monday + dt.timedelta(days=7)]
    absent = sum(day in ana_days for day in week) + sum(day in ben_days for day in week) + 1
    weeks = rows_by_first_cell(page, "Attendance rate by week")
    first = weeks[f"{first_monday:%b} {first_monday.day}, {first_monday.year}"]
    assert first["This year"] == _percent(1 - absent / (6 * len(week)))
    # and last year (Hal alone at Lincoln, never absent) stands beside this year's
    assert first["Last year"] == "100.0%"
    assert "1 a year ago (+5)" in page
    assert "+33.3 pts on 0.0% a year ago" in page
    # when last year is hidden, its column and line go
    hidden = client.get(reverse("web:home"), {"compare": "0"}).text
    assert (
        "Last year" not in rows_by_first_cell(hidden, "Attendance rate by week")[first["Week of"]]
    )


def test_school_and_grade_dashboards_add_up(world, client):
    cast, _days, ana_days, *_ = world
    client.force_login(cast.principal)
    # when the principal opens their first page, they land on their school's dashboard
    response = client.get(reverse("web:home"), follow=True)
    page = response.text
    assert response.redirect_chain[-1][0] == reverse("web:school_dashboard", args=[cast.lincoln.pk])
    assert figure(page, "Students enrolled") == "4"
    grades = rows_by_first_cell(page, "Each grade's students")
    assert sorted(grades) == ["Grade 2", "Grade 3", "Grade 4", "Grade 5"]
    assert sum(int(row["Students"]) for row in grades.values()) == 4
    assert _link_query(page, "4") == {"school": [str(cast.lincoln.pk)]}
    # when they open grade 3, Ana is its one student, linked to her page
    grade = client.get(reverse("web:grade_dashboard", args=[cast.lincoln.pk, 3])).text
    assert figure(grade, "Students enrolled") == "1"
    assert figure(grade, "Chronic absence rate") == "100.0%"
    assert student_ids_linked(grade) == {cast.ana.pk}
    students = rows_by_first_cell(grade, "This grade's students")
    assert students["Alvarez, Ana"]["Days absent"] == str(len(ana_days))
    assert _link_query(grade, "1") == {"school": [str(cast.lincoln.pk)], "grade": ["3"]}


def test_small_groups_are_not_shown(world, client):
    cast, *_ = world
    # given one English learner (far fewer than ten), summarized
    StudentCharacteristic.objects.create(
        student=cast.ana, kind="english_learner", start_date=cast.this_year.start_date
    )
    do_refresh_summaries(cast.district)
    client.force_login(cast.admin)
    # then the district's groups say the group is too small, and its dashboard says so too
    page = client.get(reverse("web:home")).text
    groups = rows_by_first_cell(page, "Student groups")
    assert "not shown" in groups["English learner"]["Students"]
    group = client.get(reverse("web:group_dashboard", args=["english_learner"])).text
    assert "Fewer than 10 students of this group" in group
    assert "Students enrolled" not in group


def test_unknown_places_do_not_exist(world, client):
    cast, *_ = world
    client.force_login(cast.admin)
    for url in (
        reverse("web:school_dashboard", args=[10**9]),
        reverse("web:grade_dashboard", args=[cast.lincoln.pk, "x"]),
        reverse("web:group_dashboard", args=["no-such-group"]),
    ):
        assert client.get(url).status_code == 404


def test_days_beside_a_break_against_the_rest(cast, client):
    # given a Wednesday holiday in the third week at both schools, and Ana absent the day after
    days = [day for day in school_days(cast.this_year) if day <= cast.today]
    holiday = next(day for day in days[10:] if day.weekday() == 2)
    CalendarDate.objects.filter(date=holiday, calendar__school_year=cast.this_year).update(
        kind=CalendarDate.Kind.HOLIDAY
    )
    add_absence(cast, cast.ana, cast.lincoln, holiday + dt.timedelta(days=1))
    do_refresh_summaries(cast.district)
    client.force_login(cast.admin)
    # when the district's dashboard opens
    page = client.get(reverse("web:home")).text
    # then the Tuesday before and the Thursday after stand apart (a weekend is no break),
    # each with the six students enrolled then
    rows = rows_by_first_cell(page, "Student-days absent on the school days beside a break")
    assert rows["Day before a break"]["Student-days enrolled"] == "6"
    assert rows["Day before a break"]["Absent"] == "0.0%"
    assert rows["Day after a break"]["Student-days enrolled"] == "6"
    assert rows["Day after a break"]["Absent"] == "16.7%"  # Ana, one of six


def test_an_earlier_date_shows_the_figures_kept_for_it(world, client):
    cast, days, ana_days, ben_days, _ = world
    client.force_login(cast.admin)
    # when the admin chooses the second Friday of the year
    second = [day for day in days if day.weekday() == 4][1]
    page = client.get(reverse("web:home"), {"as_of": second.isoformat()}).text
    # then the figures are the days to that Friday: all six enrolled, Ana's and Ben's
    # absences so far (both chronic once counted), Carla's first day (chronic too while
    # she has ten days or fewer: 1 of 10 is 10%)
    to_then = [day for day in days if day <= second]
    absent = sum(d <= second for d in ana_days) + sum(d <= second for d in ben_days) + 1
    assert figure(page, "Students enrolled") == "6"
    assert figure(page, "Attendance rate (ADA)") == _percent(1 - absent / (6 * len(to_then)))
    counted = 6 if len(to_then) >= 10 else 0
    chronic = (2 + (len(to_then) <= 10)) if counted else 0
    assert f"{chronic} chronically absent of {counted} students counted" in page
    # and they are not links (the student list shows the latest date), as the page says
    assert "the numbers here are not links" in page
    assert "?chronic=1" not in page
    # when the date asked for is not one kept, the page says so and shows the latest
    wrong = client.get(reverse("web:home"), {"as_of": "2001-01-01"}).text
    assert "No figures are kept for “2001-01-01”" in wrong
    assert "2 chronically absent</a> of 6 students counted" in wrong


def test_the_districts_rows_are_the_school_pages_and_the_summaries_added_up(world, client):
    cast, *_ = world
    client.force_login(cast.admin)
    # when the administrator opens the district's dashboard (figures the refresh stored)
    page = client.get(reverse("web:home")).text
    schools = rows_by_first_cell(page, "Each school's students")
    summaries = StudentSummary.objects.filter(school_year=cast.this_year)
    for school in (cast.lincoln, cast.central):
        # then each school's row says what that school's own dashboard says
        own = client.get(reverse("web:school_dashboard", args=[school.pk])).text
        row = schools[school.name]
        assert row["Students"] == figure(own, "Students enrolled")
        assert row["Attendance rate"] == figure(own, "Attendance rate (ADA)")
        assert row["Chronic absence rate"] == figure(own, "Chronic absence rate")
        # and what the school's summaries add up to, counted here
        there = list(summaries.filter(school=school))
        enrolled = sum(s.days_enrolled for s in there)
        absent = sum(s.days_absent for s in there)
        assert row["Students"] == str(len(there))
        assert row["Attendance rate"] == _percent(1 - absent / enrolled)
        assert row["Chronically absent"] == str(sum(s.counted and s.chronic for s in there))
    # and each grade's row, over all schools, is the overall summaries of that grade
    grades = rows_by_first_cell(page, "Each grade's students, over all their schools")
    overall = list(summaries.filter(school__isnull=True))
    for grade in {s.grade for s in overall}:
        of_grade = [s for s in overall if s.grade == grade]
        label = "Kindergarten" if grade == 0 else f"Grade {grade}"
        assert grades[label]["Students"] == str(len(of_grade))
        absent = sum(s.days_absent for s in of_grade)
        enrolled = sum(s.days_enrolled for s in of_grade)
        assert grades[label]["Attendance rate"] == _percent(1 - absent / enrolled)
