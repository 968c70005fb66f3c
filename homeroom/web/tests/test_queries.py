"""The key pages cost the same number of queries however many students, flags and runs
they show (Zulip's habit): each page is counted for every role with the cast, then again
after twenty more students (enrolled, absent, flagged, forecast) or runs, and an N+1
(a query per row) makes the counts differ."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from homeroom.accounts.models import CaseloadAssignment
from homeroom.conftest import add_absence, add_forecast, school_days
from homeroom.ingest.models import ImportRun
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.roster.models import (
    ContactPreference,
    Enrollment,
    Guardian,
    SectionEnrollment,
    Student,
    StudentCharacteristic,
    StudentGuardian,
)
from homeroom.warnings.models import Flag
from homeroom.web.tests.page_text import student_ids_linked

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(shared_cast):
    """The cast, built once for this module (conftest: `shared_cast`); what a test writes
    is rolled back in a savepoint."""
    return shared_cast


MORE = 20
RUN_LINK = re.compile(r'href="/imports/(\d+)/"')


def queries_of(client, user, url: str) -> tuple[int, str]:
    """How many queries the page costs the user, and the page."""
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), response.text


def counts_for(cast, client, usernames, url: str) -> tuple[dict[str, int], dict[str, str]]:
    """Per user: the page's query count and its text."""
    counts, pages = {}, {}
    for name in usernames:
        counts[name], pages[name] = queries_of(client, getattr(cast, name), url)
    return counts, pages


def past_school_days(cast, count: int) -> list[dt.date]:
    """The first `count` school days of the cast's year, all before today."""
    days = [day for day in school_days(cast.this_year) if day < cast.today][:count]
    assert len(days) == count
    return days


def flag_and_forecast(cast, student, probability: float) -> None:
    """Two open flags and a cleared one on the student, and a forecast, as a night leaves them."""
    year = cast.this_year
    raised = cast.today - dt.timedelta(days=10)
    for kind in (Flag.Kind.CONSECUTIVE, Flag.Kind.RECENT_ABSENCES):
        Flag.objects.create(
            student=student,
            school_year=year,
            kind=kind,
            raised_on=raised,
            checked_on=cast.today,
            reason=f"Seen by the night's rules ({student.first_name})",
        )
    Flag.objects.create(
        student=student,
        school_year=year,
        kind=Flag.Kind.EARLY_ABSENCES,
        raised_on=raised - dt.timedelta(days=20),
        cleared_on=raised,
        checked_on=raised,
        reason="2 absences in the first 20 school days",
    )
    add_forecast(
        cast,
        student,
        probability,
        year=year,
        factors=["Absent 2 of the last 30 days"],
        absent_two_in_september=True,
    )


@pytest.fixture
def night(cast):
    """The cast after a night: summaries computed, Ana, Carla and Gabe flagged and forecast."""
    first, second = past_school_days(cast, 2)
    add_absence(cast, cast.ana, cast.lincoln, first)
    add_absence(cast, cast.carla, cast.central, second, code="E")
    for number, student in enumerate((cast.ana, cast.carla, cast.gabe)):
        flag_and_forecast(cast, student, 0.2 + number / 10)
    do_refresh_summaries(cast.district)
    return cast


def add_students(cast) -> list[Student]:
    """Twenty more students, each reached by every role that serves students: half in
    Room 3 at Lincoln, half in grade 9 at Central, all on the counselor's caseload; each
    absent twice, flagged and forecast, and the summaries computed again."""
    days = past_school_days(cast, 2)
    added = []
    for number in range(MORE):
        at_lincoln = number % 2 == 0
        school, grade = (cast.lincoln, 3) if at_lincoln else (cast.central, 9)
        student = Student.objects.create(
            district=cast.district,
            local_id=f"N{number:02}",
            first_name=f"New{number:02}",
            last_name="Newton",
            grade=grade,
        )
        Enrollment.objects.create(
            student=student,
            school=school,
            school_year=cast.this_year,
            grade=grade,
            entry_date=cast.this_year.start_date,
        )
        if at_lincoln:
            SectionEnrollment.objects.create(
                student=student, section=cast.homeroom, start_date=cast.this_year.start_date
            )
        CaseloadAssignment.objects.create(
            user=cast.counselor, student=student, start_date=cast.this_year.start_date
        )
        for day, code in zip(days, ("A", "E"), strict=True):
            add_absence(cast, student, school, day, code=code)
        flag_and_forecast(cast, student, 0.5 + number / 100)
        added.append(student)
    do_refresh_summaries(cast.district)
    return added


def assert_same_queries(before: dict[str, int], after: dict[str, int]) -> None:
    # then no user's page costs more queries for more rows
    assert after == before


# Overview


def test_overview_costs_the_same_queries_for_more_students(night, client):
    # given each role's first page of the cast (the admin's and analyst's: the district's
    # dashboard; the principal and the viewer are sent to their school's, below)
    users = ("admin", "analyst", "counselor", "teacher")
    before, pages = counts_for(night, client, users, reverse("web:home"))
    # when twenty more students are enrolled, absent and summarized
    add_students(night)
    after, grown = counts_for(night, client, users, reverse("web:home"))
    # then the counselor's and teacher's lists of students needing attention grew
    for name in ("counselor", "teacher"):
        assert len(student_ids_linked(grown[name])) > len(student_ids_linked(pages[name]))
    assert_same_queries(before, after)


def test_dashboards_cost_the_same_queries_for_more_students(night, client):
    # given a school's, a grade's and a group's dashboard, as each role that opens them
    urls = {
        "principal": reverse("web:school_dashboard", args=[night.lincoln.pk]),
        "viewer": reverse("web:school_dashboard", args=[night.central.pk]),
        "admin": reverse("web:grade_dashboard", args=[night.lincoln.pk, 3]),
        "analyst": reverse("web:group_dashboard", args=["iep"]),
    }
    before = {name: queries_of(client, getattr(night, name), url)[0] for name, url in urls.items()}
    # when twenty more students are enrolled, absent and summarized
    add_students(night)
    after = {name: queries_of(client, getattr(night, name), url)[0] for name, url in urls.items()}
    assert_same_queries(before, after)


# Students list


def test_students_list_costs_the_same_queries_for_more_students(night, client):
    # given each role's list of students
    users = ("admin", "principal", "counselor", "teacher", "viewer")
    url = reverse("web:students")
    before, pages = counts_for(night, client, users, url)
    # when twenty more students are enrolled, ten or more of them reached by each role
    added = add_students(night)
    after, grown = counts_for(night, client, users, url)
    for name in users:
        assert len(student_ids_linked(grown[name])) >= len(student_ids_linked(pages[name])) + 10
    assert {s.pk for s in added} <= student_ids_linked(grown["admin"])
    assert_same_queries(before, after)


def test_students_list_sorted_by_absences_costs_the_same_queries(night, client):
    # given the list sorted on the summaries, most absences first
    users = ("admin", "teacher")
    url = reverse("web:students") + "?sort=-absent"
    before, _ = counts_for(night, client, users, url)
    # when twenty more students are enrolled and absent
    add_students(night)
    after, grown = counts_for(night, client, users, url)
    assert len(student_ids_linked(grown["admin"])) == 6 + MORE  # Hal left last year
    assert_same_queries(before, after)


# Early warnings


def test_early_warnings_cost_the_same_queries_for_more_flagged_students(night, client):
    # given each role's worklist, with room for everyone: Ana, Carla and Gabe flagged
    night.district.risk_capacity = 1
    night.district.save(update_fields=["risk_capacity"])
    users = ("admin", "principal", "counselor", "teacher")
    before, pages = counts_for(night, client, users, reverse("web:warnings"))
    # when twenty more students are flagged and forecast
    add_students(night)
    after, grown = counts_for(night, client, users, reverse("web:warnings"))
    # the admin's list went from three flagged students to twenty-three
    assert len(student_ids_linked(pages["admin"])) == 3
    assert len(student_ids_linked(grown["admin"])) == 3 + MORE
    assert grown["admin"].count("Consecutive absences</strong>") == 3 + MORE
    assert_same_queries(before, after)


def test_filtered_students_list_costs_a_few_queries(night, client):
    # given the counselor's students list kept to their caseload, a tier and a flag
    url = reverse("web:students") + "?caseload=mine&tier=tier1&flag=consecutive"
    before, _ = counts_for(night, client, ["counselor"], url)
    # when twenty more students are enrolled and flagged
    add_students(night)
    after, grown = counts_for(night, client, ["counselor"], url)
    # then the list grew and cost no more queries
    assert len(student_ids_linked(grown["counselor"])) == 1 + MORE
    assert_same_queries(before, after)


# Student page


def grow_record(cast, student) -> None:
    """Give the student a long record: guardians with preferences, characteristics, past
    enrollments, a transfer this year, more absences, flags and forecasts."""
    for number in range(5):
        guardian = Guardian.objects.create(
            district=cast.district,
            local_id=f"G{number}",
            first_name=f"Guardian{number}",
            last_name="Alvarez",
            email=f"g{number}@example.org",
        )
        StudentGuardian.objects.create(
            student=student, guardian=guardian, relationship="other", contact_priority=number
        )
        ContactPreference.objects.create(guardian=guardian, channel="sms", consent="granted")
    for kind in list(StudentCharacteristic.Kind)[:5]:
        StudentCharacteristic.objects.create(
            student=student, kind=kind, start_date=cast.last_year.start_date
        )
    for school in (cast.lincoln, cast.central):
        Enrollment.objects.create(
            student=student,
            school=school,
            school_year=cast.last_year,
            grade=2,
            entry_date=cast.last_year.start_date,
            exit_date=cast.last_year.end_date,
        )
    moved = cast.today - dt.timedelta(days=10)
    Enrollment.objects.filter(student=student, school_year=cast.this_year).update(
        exit_date=moved - dt.timedelta(days=1)
    )
    Enrollment.objects.create(
        student=student, school=cast.central, school_year=cast.this_year, grade=3, entry_date=moved
    )
    for day in past_school_days(cast, 12)[2:]:
        add_absence(cast, student, cast.lincoln, day, code="T")
    add_absence(cast, student, cast.central, moved)
    for kind in Flag.Kind:  # last year's flags, all cleared at its end
        Flag.objects.create(
            student=student,
            school_year=cast.last_year,
            kind=kind,
            raised_on=cast.last_year.start_date,
            cleared_on=cast.last_year.end_date,
            checked_on=cast.last_year.end_date,
            reason=f"Last year: {kind.label}",
        )
    Flag.objects.create(
        student=student,
        school_year=cast.this_year,
        kind=Flag.Kind.WEEKDAY_PATTERN,
        raised_on=cast.today,
        checked_on=cast.today,
        reason="Mondays and Fridays",
    )
    add_forecast(
        cast,
        student,
        0.9,
        year=cast.last_year,
        as_of=cast.last_year.end_date,
        week=36,
        method="chronic_last_year",
        factors=["Chronically absent the year before"],
        chronic_last_year=True,
        absent_two_in_september=True,
    )
    do_refresh_summaries(cast.district)


def test_student_page_costs_the_same_queries_for_a_longer_record(night, client):
    # given Ana's page, seen by the district and by her teacher
    users = ("admin", "teacher")
    url = reverse("web:student", args=[night.ana.pk])
    before, pages = counts_for(night, client, users, url)
    # when her record grows long, and the district by twenty students
    grow_record(night, night.ana)
    add_students(night)
    after, grown = counts_for(night, client, users, url)
    # then her page shows it all
    page = grown["admin"]
    assert page.count("@example.org</a>") == 5
    assert "Mondays and Fridays" in page and "Mondays and Fridays" not in pages["admin"]
    assert page.count("Central High") > pages["admin"].count("Central High")
    assert_same_queries(before, after)


# Imports


def add_runs(cast, count: int) -> None:
    """Import runs by several people (and the command line), with counts and problems."""
    people = (cast.admin, cast.analyst, None)
    for number in range(count):
        ImportRun.objects.create(
            district=cast.district,
            user=people[number % len(people)],
            source_format="homeroom-csv",
            files=[{"name": f"attendance-{number}.csv", "sha256": "0" * 64}],
            status=ImportRun.Status.SUCCEEDED,
            counts={"attendance": {"read": 10, "inserted": number}},
            problem_counts={"warning:unknown_code": number + 1},
            duration_seconds=1.5,
        )


def test_imports_list_costs_the_same_queries_for_more_runs(cast, client):
    # given two import runs, then twenty more by several people
    users = ("admin", "analyst")
    add_runs(cast, 2)
    before, pages = counts_for(cast, client, users, reverse("web:imports"))
    add_runs(cast, MORE)
    after, grown = counts_for(cast, client, users, reverse("web:imports"))
    # then the list shows them all, for as many queries
    assert len(RUN_LINK.findall(pages["admin"])) == 2
    assert len(RUN_LINK.findall(grown["admin"])) == 2 + MORE
    assert_same_queries(before, after)
