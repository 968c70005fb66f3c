"""The pages staff use: what they show, what they record, and what they never load."""

import datetime as dt
import math
import re
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.templatetags.static import static
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from homeroom.accounts.models import Role, User
from homeroom.conftest import add_absence, add_forecast, enroll
from homeroom.conftest import school_days as cast_school_days
from homeroom.core.models import AuditEntry, CalendarDate
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.roster.models import Enrollment, Student
from homeroom.warnings.models import Flag, RiskScore
from homeroom.web.tables import STUDENTS_PER_PAGE
from homeroom.web.tests.page_text import (
    EXTERNAL_REFERENCE,
    figure,
    rows_by_first_cell,
    student_ids_linked,
    table_rows,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(shared_cast):
    """The cast, built once for this module (conftest: `shared_cast`); what a test writes
    is rolled back in a savepoint."""
    return shared_cast


def school_days(cast, count: int) -> list[dt.date]:
    """The first `count` school days of the cast's year, all before today."""
    days = [day for day in cast_school_days(cast.this_year) if day < cast.today][:count]
    assert len(days) == count, "the cast's year starts early enough for past school days"
    return days


def days_enrolled_so_far(cast, school) -> int:
    """Instructional days of the school's calendar from the first day of the year to today."""
    return CalendarDate.objects.filter(
        calendar__school=school,
        calendar__school_year=cast.this_year,
        kind=CalendarDate.Kind.INSTRUCTIONAL,
        date__lte=cast.today,
    ).count()


@pytest.fixture
def ana_absent_twice(cast):
    """Ana has one unexcused and one excused absence this year, imported and summarized."""
    first, second = school_days(cast, 2)
    add_absence(cast, cast.ana, cast.lincoln, first, code="A")
    add_absence(cast, cast.ana, cast.lincoln, second, code="E")
    do_refresh_summaries(cast.district)
    return first, second


# Audit trail


def test_viewing_a_student_writes_one_audit_entry_with_the_grant(cast, client, summaries):
    # given the teacher signed in, and the summaries computed
    client.force_login(cast.teacher)
    # when they open Ana's page
    response = client.get(reverse("web:student", args=[cast.ana.pk]))
    # then her figures show, and one audit entry says who looked at whom, and why
    assert response.status_code == 200
    assert figure(response.text, "Days enrolled") == str(days_enrolled_so_far(cast, cast.lincoln))
    entry = AuditEntry.objects.get()
    assert entry.user == cast.teacher
    assert entry.student_id == cast.ana.pk
    assert entry.action == AuditEntry.Action.VIEW
    assert entry.subject == "student page"
    assert entry.access_reason == "section"


def test_pages_that_do_not_open_are_audited_as_refused_not_as_views(cast, client):
    # given the teacher signed in
    client.force_login(cast.teacher)
    # when they ask for a student not theirs, and for one who does not exist
    forbidden = client.get(reverse("web:student", args=[cast.ben.pk]))
    missing = client.get(reverse("web:student", args=[10**9]))
    # then neither answer shows a view; both attempts are in the trail as refused
    assert forbidden.status_code == missing.status_code == 404
    entries = AuditEntry.objects.order_by("pk")
    assert [(e.action, e.student_id, e.user) for e in entries] == [
        (AuditEntry.Action.DENIED, cast.ben.pk, cast.teacher),
        (AuditEntry.Action.DENIED, 10**9, cast.teacher),
    ]
    assert entries[0].district == cast.district


def test_each_view_is_logged_again(cast, client):
    # given the admin signed in
    client.force_login(cast.admin)
    # when they open a page twice and another once
    for student in (cast.hal, cast.hal, cast.carla):
        client.get(reverse("web:student", args=[student.pk]))
    # then every view is in the trail
    assert sorted(AuditEntry.objects.values_list("student_id", flat=True)) == sorted(
        [cast.hal.pk, cast.hal.pk, cast.carla.pk]
    )
    assert set(AuditEntry.objects.values_list("access_reason", flat=True)) == {"district-wide"}


# Student page


def test_student_page_shows_two_days_absent(cast, client, ana_absent_twice):
    # given Ana missed two days this year
    client.force_login(cast.teacher)
    # when her teacher opens her page
    page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    # then the figures, the month table and the events list all show two absences
    enrolled = days_enrolled_so_far(cast, cast.lincoln)
    as_of = min(cast.today, cast.this_year.end_date)  # in summer, the year's last day
    assert f"as of {as_of:%b} {as_of.day}, {as_of.year}" in page
    assert "under the Attendance Works (Homeroom&#x27;s default) rules" in page
    assert figure(page, "Days absent") == "2"
    assert figure(page, "Days enrolled") == str(enrolled)
    assert "1 excused · 1 unexcused" in page
    assert figure(page, "Attendance rate") == f"{(enrolled - 2) / enrolled * 100:.1f}%"
    months = rows_by_first_cell(page, "Days enrolled and absent by month")
    assert sum(float(row["Days absent"]) for row in months.values()) == 2
    assert sum(int(row["Days enrolled"]) for row in months.values()) == enrolled
    events = table_rows(page, "Every absence, tardy and partial day")[1:]
    assert [(row[1], row[3]) for row in events] == [("E", "100.0%"), ("A", "100.0%")]


def test_student_page_with_a_half_day_writes_every_day_count_to_one_decimal(cast, client):
    # given Ana missed one whole day (unexcused) and half of another (excused)
    first, second = school_days(cast, 2)
    add_absence(cast, cast.ana, cast.lincoln, first, code="A")
    add_absence(cast, cast.ana, cast.lincoln, second, code="E", fraction=0.5)
    do_refresh_summaries(cast.district)
    enrolled = days_enrolled_so_far(cast, cast.lincoln)
    client.force_login(cast.teacher)
    # when her teacher opens her page
    page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    # then every day count has one decimal, whole ones too, and the page says why, once
    assert figure(page, "Days absent") == "1.5"
    assert "0.5 excused · 1.0 unexcused · 0.0 suspended" in page
    months = rows_by_first_cell(page, "Days enrolled and absent by month")
    assert {row["Days absent"] for row in months.values()} <= {"0.0", "0.5", "1.0", "1.5"}
    assert page.count("Days include partial days (e.g. half days), to one decimal.") == 1
    # and the rate is a percentage to one decimal, rounded half up from the exact share
    assert figure(page, "Attendance rate") == one_decimal_percent(
        enrolled - Fraction(3, 2), enrolled
    )
    # and the half day's event shows the share of the day it took
    events = table_rows(page, "Every absence, tardy and partial day")[1:]
    assert [(row[1], row[3]) for row in events] == [("E", "50.0%"), ("A", "100.0%")]


def test_pages_with_whole_days_only_say_nothing_of_decimals(cast, client, ana_absent_twice):
    client.force_login(cast.principal)
    for name, args in (("web:home", []), ("web:students", []), ("web:student", [cast.ana.pk])):
        page = client.get(reverse(name, args=args)).text
        assert "partial days" not in page, name


def test_student_page_draws_one_bar_per_month_beside_its_table(cast, client, ana_absent_twice):
    # given Ana missed two days
    client.force_login(cast.teacher)
    # when her page is drawn
    page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    # then the chart has one bar per row of its text alternative, and a title for readers
    months = rows_by_first_cell(page, "Days enrolled and absent by month")
    svg = re.search(r"<svg.*?</svg>", page, re.DOTALL).group(0)
    assert svg.count("<rect") == len(months)
    assert 'role="img"' in svg
    assert "<title" in svg
    first_month = ana_absent_twice[0].strftime("%B %Y")
    assert f"{first_month}: 2 days absent" in svg or f"{first_month}: 1 days absent" in svg


def test_student_page_shows_record_and_why_it_is_visible(cast, client):
    # given Ana's record
    client.force_login(cast.teacher)
    # when her teacher opens it
    page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    # then it names her, her ids and enrollment, and says discreetly why the teacher sees her
    assert "Ana Alvarez" in page
    assert "S1" in page
    assert "Why you can see this student: section" in page
    enrollments = rows_by_first_cell(page, "Enrollment history")
    assert enrollments["Lincoln Elementary"]["School year"] == cast.this_year.name


def test_student_page_of_a_student_who_left_last_year(cast, client, summaries):
    # given Hal, who left the district last year
    client.force_login(cast.admin)
    # when the admin opens his page
    page = client.get(reverse("web:student", args=[cast.hal.pk])).text
    # then it says he is not enrolled this year and still shows last year's enrollment
    assert "is not enrolled this school year" in page
    enrollments = rows_by_first_cell(page, "Enrollment history")
    assert enrollments["Lincoln Elementary"]["School year"] == cast.last_year.name


def test_student_page_before_the_summaries_are_computed_says_so(cast, client):
    # given no summaries computed yet for the district, and an absence of Ana's
    add_absence(cast, cast.ana, cast.lincoln, school_days(cast, 1)[0])
    client.force_login(cast.teacher)
    # when her teacher opens her page
    response = client.get(reverse("web:student", args=[cast.ana.pk]))
    # then it says the figures are being computed, still lists her events, and is logged
    assert response.status_code == 200
    assert "Attendance figures are being computed" in response.text
    assert "homeroom refresh_summaries" in response.text
    assert len(table_rows(response.text, "Every absence, tardy and partial day")) == 2
    assert AuditEntry.objects.get().student_id == cast.ana.pk


def test_student_page_of_a_student_at_two_schools_shows_each(cast, client):
    # given Gabe moved from Lincoln to Central High after ten school days, absent once at each
    days = school_days(cast, 12)
    Enrollment.objects.filter(student=cast.gabe).update(exit_date=days[9])
    enroll(cast.gabe, cast.central, cast.this_year, entry=days[10])
    add_absence(cast, cast.gabe, cast.lincoln, days[0])
    add_absence(cast, cast.gabe, cast.central, days[11])
    do_refresh_summaries(cast.district)
    # when the admin opens his page
    client.force_login(cast.admin)
    page = client.get(reverse("web:student", args=[cast.gabe.pk])).text
    # then the figures are his whole year, and each school has its row
    schools = rows_by_first_cell(page, "Attendance at each school this year")
    assert figure(page, "Days absent") == "2"
    assert schools["Lincoln Elementary"]["Days enrolled"] == "10"
    assert schools["Lincoln Elementary"]["Days absent"] == "1"
    assert schools["Central High"]["Days absent"] == "1"
    assert figure(page, "Days enrolled") == str(10 + int(schools["Central High"]["Days enrolled"]))


# Early warning


def raise_flag(cast, student, kind=Flag.Kind.CONSECUTIVE, *, reason, raised_on, cleared_on=None):
    """A flag on a cast student, as `homeroom nightly` would have raised it."""
    return Flag.objects.create(
        student=student,
        school_year=cast.this_year,
        kind=kind,
        raised_on=raised_on,
        cleared_on=cleared_on,
        checked_on=cleared_on or cast.today,
        reason=reason,
    )


def forecast_for(cast, student, probability: float, *, method="model", factors=()) -> RiskScore:
    """A stored forecast of a cast student, by the district's forecast version 3."""
    return add_forecast(
        cast,
        student,
        probability,
        version=3,
        as_of=dt.date(2025, 10, 6),
        method=method,
        factors=factors,
        absent_two_in_september=True,
    )


def test_student_page_shows_open_flags_history_and_forecast(cast, client):
    # given Ana with an open flag, one cleared, and a forecast by the model
    raise_flag(
        cast,
        cast.ana,
        reason="Absent 3 school days in a row, Sep 29 to Oct 1",
        raised_on=dt.date(2025, 10, 1),
    )
    raise_flag(
        cast,
        cast.ana,
        Flag.Kind.EARLY_ABSENCES,
        reason="2 absences in the first 20 school days",
        raised_on=dt.date(2025, 9, 5),
        cleared_on=dt.date(2025, 9, 20),
    )
    forecast_for(
        cast,
        cast.ana,
        0.374,
        factors=["Absent 4 of the last 30 days", "2 unexcused absences"],
    )
    client.force_login(cast.teacher)
    # when her teacher opens her page
    page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    # then the open flag shows with its reason and since when, the cleared one apart,
    # and the forecast with its method, factors, date and what it is for
    open_part, history = page.split("<h3>Cleared flags</h3>")
    assert "Consecutive absences</strong>: Absent 3 school days in a row, Sep 29 to Oct 1" in (
        open_part
    )
    assert "since Oct 1, 2025" in open_part
    assert "2 absences in the first 20 school days" not in open_part
    assert "from Sep 5, 2025 until Sep 20, 2025: 2 absences in the first 20 school days" in history
    assert figure(page, "Forecast") == "37.4%"
    assert "likely to end the year chronically absent, as of Oct 6, 2025" in page
    assert figure(page, "Method") == "Forecast model"
    assert "<li>Absent 4 of the last 30 days</li>" in page
    assert "<li>2 unexcused absences</li>" in page
    assert "never used for discipline" in page


def test_student_page_names_the_baseline_a_forecast_fell_back_on(cast, client):
    forecast_for(cast, cast.ana, 0.61, method="chronic_last_year")
    client.force_login(cast.teacher)
    page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    assert figure(page, "Forecast") == "61.0%"
    assert figure(page, "Method") == "Baseline: chronic last year"


def test_student_page_without_flags_or_forecast_says_so(cast, client):
    client.force_login(cast.teacher)
    page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    assert "No open flags." in page
    assert "Cleared flags" not in page
    assert "No forecast has been computed for Ana yet." in page


# Students list


def test_students_list_shows_attendance_so_far(cast, client, ana_absent_twice):
    # given Ana missed two days
    client.force_login(cast.principal)
    # when her principal opens the students list
    page = client.get(reverse("web:students")).text
    # then her row shows her days enrolled and absent, rate, and band
    rows = rows_by_first_cell(page, "Students and their attendance")
    ana = rows["Alvarez, Ana"]
    enrolled = days_enrolled_so_far(cast, cast.lincoln)
    assert ana["Days enrolled"] == str(enrolled)
    assert ana["Days absent"] == "2"
    assert ana["Attendance rate"] == f"{(enrolled - 2) / enrolled * 100:.1f}%"
    assert ana["School"] == "Lincoln Elementary"
    assert rows["Brooks, Ben"]["Days absent"] == "0"
    assert rows["Brooks, Ben"]["Band"] == "Satisfactory"


def test_students_list_with_a_half_day_writes_its_day_counts_to_one_decimal(cast, client):
    # given Ben missed half a day
    add_absence(cast, cast.ben, cast.lincoln, school_days(cast, 1)[0], fraction=0.5)
    do_refresh_summaries(cast.district)
    client.force_login(cast.principal)
    # when his principal opens the students list
    page = client.get(reverse("web:students")).text
    # then the days absent column has one decimal for everyone, and the note says why
    rows = rows_by_first_cell(page, "Students and their attendance")
    assert rows["Brooks, Ben"]["Days absent"] == "0.5"
    assert rows["Alvarez, Ana"]["Days absent"] == "0.0"
    assert rows["Alvarez, Ana"]["Days enrolled"] == f"{days_enrolled_so_far(cast, cast.lincoln):,}"
    assert page.count("Days include partial days (e.g. half days), to one decimal.") == 1


def test_students_list_searches_by_name_or_id(cast, client):
    client.force_login(cast.admin)
    by_name = client.get(reverse("web:students"), {"q": "chen"}).text
    by_id = client.get(reverse("web:students"), {"q": "s4"}).text
    both_words = client.get(reverse("web:students"), {"q": "ana alv"}).text
    assert student_ids_linked(by_name) == {cast.carla.pk}
    assert student_ids_linked(by_id) == {cast.dev.pk}
    assert student_ids_linked(both_words) == {cast.ana.pk}


def test_students_list_filters_by_school_and_grade(cast, client):
    client.force_login(cast.admin)
    central = client.get(reverse("web:students"), {"school": cast.central.pk}).text
    grade_five = client.get(reverse("web:students"), {"grade": 5}).text
    grade_five_all = client.get(reverse("web:students"), {"grade": 5, "enrolled": "all"}).text
    assert student_ids_linked(central) == {cast.carla.pk, cast.dev.pk}
    # Hal, in grade 5, left last year: listed only when asked for students not enrolled
    assert student_ids_linked(grade_five) == {cast.eli.pk}
    assert student_ids_linked(grade_five_all) == {cast.eli.pk, cast.hal.pk}


def test_students_list_offers_only_the_users_schools_and_grades(cast, client):
    # given the viewer, who serves Central High only
    client.force_login(cast.viewer)
    # when they open the list
    page = client.get(reverse("web:students")).text
    # then the filters offer Central High and its students' grades, nothing of Lincoln
    assert "Central High" in page
    assert "Lincoln Elementary" not in page
    grade_options = re.findall(r'<option value="(-?\d+)"', page.split('name="grade"')[1])
    assert grade_options[: len({9, 11})] == ["9", "11"]


def test_students_list_ignores_filters_it_cannot_read(cast, client):
    # given nonsense in the address
    client.force_login(cast.teacher)
    params = {"school": "abc", "grade": "99", "sort": "shoe size", "page": "-4"}
    # when the teacher opens it
    response = client.get(reverse("web:students"), params)
    # then they still get their students, unfiltered
    assert response.status_code == 200
    assert student_ids_linked(response.text) == {cast.ana.pk}


def test_another_schools_id_filters_to_nothing_visible(cast, client):
    # given the principal of Lincoln asking for Central High's students
    client.force_login(cast.principal)
    page = client.get(reverse("web:students"), {"school": cast.central.pk}).text
    # then they see no Central students (the school is not theirs to choose)
    assert not student_ids_linked(page) & {cast.carla.pk, cast.dev.pk}


@pytest.fixture
def carla_two_days_dev_one(cast):
    """Carla absent the first two school days and Dev the first, the summaries refreshed."""
    first, second = school_days(cast, 2)
    for day in (first, second):
        add_absence(cast, cast.carla, cast.central, day)
    add_absence(cast, cast.dev, cast.central, first)
    do_refresh_summaries(cast.district)


def test_students_list_sorts_by_days_absent(cast, client, carla_two_days_dev_one):
    # given Carla missed two days and Dev one
    client.force_login(cast.admin)
    # when the list opens (most days absent first), and with students not enrolled too
    page = client.get(reverse("web:students")).text
    everyone = client.get(reverse("web:students"), {"enrolled": "all"}).text
    rows = table_rows(page, "Students and their attendance")[1:]
    # then Carla, then Dev lead; Hal, not enrolled this year, is left out, or comes last
    names = [row[0] for row in rows]
    assert names[:2] == ["Chen, Carla", "Desai, Dev"]
    assert "Hughes, Hal" not in names
    assert table_rows(everyone, "Students and their attendance")[-1][0] == "Hughes, Hal"
    assert 'aria-sort="descending"' in page


def test_students_list_sorts_by_name_descending(cast, client):
    client.force_login(cast.admin)
    page = client.get(reverse("web:students"), {"sort": "-name"}).text
    names = [row[0] for row in table_rows(page, "Students and their attendance")[1:]]
    assert names == sorted(names, reverse=True)


@pytest.fixture
def many_students(cast):
    """Sixty more students at Lincoln this year, so the list has two pages for the admin."""
    students = Student.objects.bulk_create(
        Student(
            district=cast.district,
            local_id=f"X{number:03}",
            first_name=f"Pupil{number:03}",
            last_name="Zimmer",
            grade=1,
        )
        for number in range(60)
    )
    Enrollment.objects.bulk_create(
        Enrollment(
            student=student,
            school=cast.lincoln,
            school_year=cast.this_year,
            grade=1,
            entry_date=cast.this_year.start_date,
        )
        for student in students
    )
    return students


def assert_fifty_then_the_rest(first: str, second: str) -> None:
    """The first page links fifty of the 66 students enrolled this year (Hal left last
    year) and says so, the second the others."""
    assert len(student_ids_linked(first)) == STUDENTS_PER_PAGE
    assert len(student_ids_linked(second)) == 66 - STUDENTS_PER_PAGE
    assert student_ids_linked(first).isdisjoint(student_ids_linked(second))
    assert "Page 1 of 2" in first


def test_students_list_pages_by_fifty(cast, client, many_students):
    client.force_login(cast.admin)
    first = client.get(reverse("web:students")).text
    second = client.get(reverse("web:students"), {"page": 2}).text
    assert_fifty_then_the_rest(first, second)
    assert 'href="?page=2" hx-get="?page=2" hx-target="#student-results"' in first


def test_students_list_pages_keep_the_search_and_sort(cast, client, many_students):
    client.force_login(cast.admin)
    page = client.get(reverse("web:students"), {"q": "zimmer", "sort": "-absent"}).text
    assert 'href="?q=zimmer&amp;sort=-absent&amp;page=2"' in page


def test_students_list_costs_the_same_queries_for_more_students(cast, client, many_students):
    # given the list of 67 students, and then of 7 (sorted by name: only one page is measured)
    client.force_login(cast.admin)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("web:students"))
    Student.objects.filter(last_name="Zimmer").delete()
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("web:students"))
    # then the number of queries does not grow with the students shown
    assert len(many) == len(few)


def test_students_list_sorts_by_attendance_rate_with_the_not_enrolled_last(
    cast, client, carla_two_days_dev_one
):
    # given Carla missed two days and Dev one
    client.force_login(cast.admin)
    # when the list is sorted by attendance rate, lowest first, and then highest first
    url = reverse("web:students")
    lowest = table_rows(client.get(url, {"sort": "rate", "enrolled": "all"}).text, "Students")
    highest = table_rows(client.get(url, {"sort": "-rate", "enrolled": "all"}).text, "Students")
    # then Carla leads the lowest, Dev is next, and Hal (no attendance) is last either way
    assert [row[0] for row in lowest[1:3]] == ["Chen, Carla", "Desai, Dev"]
    assert [row[0] for row in highest[-3:]] == ["Desai, Dev", "Chen, Carla", "Hughes, Hal"]


def test_students_list_before_the_summaries_are_computed_says_so(cast, client):
    # given no summaries computed yet
    client.force_login(cast.principal)
    # when the principal opens the list
    page = client.get(reverse("web:students")).text
    # then the students are listed, and their figures are said to be on their way
    rows = rows_by_first_cell(page, "Students and their attendance")
    assert rows["Alvarez, Ana"]["Days enrolled"] == "Not computed yet"
    assert "Attendance figures are being computed" in page


def test_htmx_gets_the_table_alone(cast, client):
    # given the students list
    client.force_login(cast.admin)
    # when HTMX asks for it after a search
    response = client.get(reverse("web:students"), {"q": "brooks"}, headers={"HX-Request": "true"})
    # then the answer is the table fragment, with only Ben, and caches tell the two apart
    assert "<html" not in response.text
    assert "<table" in response.text
    assert student_ids_linked(response.text) == {cast.ben.pk}
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(cast, client):
    client.force_login(cast.admin)
    response = client.get(
        reverse("web:students"),
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in response.text


# Overview


def test_first_page_for_the_district_is_its_dashboard(cast, client, ana_absent_twice):
    # given the admin
    client.force_login(cast.admin)
    # when they open the first page
    page = client.get(reverse("web:home")).text
    # then it is the district's dashboard: each school a row, each enrolled student once
    schools = rows_by_first_cell(page, "Each school's students")
    assert schools["Lincoln Elementary"]["Students"] == "4"
    assert schools["Central High"]["Students"] == "2"
    assert figure(page, "Students enrolled") == "6"
    assert "<h1>District</h1>" in page


def test_overview_for_a_teacher_covers_only_their_students(cast, client, ana_absent_twice):
    # given the teacher of Ana's homeroom
    client.force_login(cast.teacher)
    # when they open the overview
    page = client.get(reverse("web:home")).text
    # then it counts Ana alone, and lists her among the students with most absences
    assert figure(page, "Students enrolled") == "1"
    schools = rows_by_first_cell(page, "Attendance by school")
    assert set(schools) == {"Lincoln Elementary"}
    attention = rows_by_first_cell(page, "Your students with the highest share")
    assert attention["Alvarez, Ana"]["Days absent"] == "2"
    assert "Central High" not in page


def test_first_page_for_a_principal_is_their_schools_dashboard(cast, client, summaries):
    client.force_login(cast.principal)
    response = client.get(reverse("web:home"), follow=True)
    page = response.text
    assert response.redirect_chain == [
        (reverse("web:school_dashboard", args=[cast.lincoln.pk]), 302)
    ]
    assert set(rows_by_first_cell(page, "Each grade's students")) == {
        "Grade 2",
        "Grade 3",
        "Grade 4",
        "Grade 5",
    }
    assert figure(page, "Students enrolled") == "4"
    assert "<h1>Lincoln Elementary</h1>" in page


def instructional_days(cast, school, first: dt.date, last: dt.date) -> int:
    """School days of the school's calendar this year from `first` to `last`, both counted."""
    return CalendarDate.objects.filter(
        calendar__school=school,
        calendar__school_year=cast.this_year,
        kind=CalendarDate.Kind.INSTRUCTIONAL,
        date__gte=first,
        date__lte=min(last, cast.today),
    ).count()


def one_decimal_percent(part, whole) -> str:
    """part / whole as a percentage rounded half up to one decimal, from exact fractions."""
    tenths = math.floor(Fraction(part) / Fraction(whole) * 1000 + Fraction(1, 2))
    return f"{tenths // 10}.{tenths % 10}%"


@pytest.fixture
def ben_transferred(cast):
    """Ben spent the year's first two weeks at Central High, then came to Lincoln, where he
    missed one school day in ten (chronic there, not over his whole year); Ana missed a
    day and a half at Lincoln."""
    first_day = cast.this_year.start_date
    arrived = first_day + dt.timedelta(days=14)
    Enrollment.objects.filter(student=cast.ben).update(entry_date=arrived)
    enroll(cast.ben, cast.central, cast.this_year, exit_date=arrived - dt.timedelta(days=1))
    at_lincoln = [day for day in cast_school_days(cast.this_year) if arrived <= day <= cast.today]
    ben_absent = math.ceil(len(at_lincoln) / 10)
    for day in at_lincoln[:ben_absent]:
        add_absence(cast, cast.ben, cast.lincoln, day)
    first, second = school_days(cast, 2)
    add_absence(cast, cast.ana, cast.lincoln, first)
    add_absence(cast, cast.ana, cast.lincoln, second, fraction=0.5)
    do_refresh_summaries(cast.district)
    return SimpleNamespace(arrived=arrived, ben_absent=ben_absent)


def test_school_dashboard_counts_the_students_days_at_that_school(cast, client, ben_transferred):
    # given Lincoln's students, one of whom (Ben) was at Central High before
    start, today = cast.this_year.start_date, cast.today
    enrolled = {
        "ana": instructional_days(cast, cast.lincoln, start, today),
        "ben": instructional_days(cast, cast.lincoln, ben_transferred.arrived, today),
        "eli": instructional_days(cast, cast.lincoln, start, today - dt.timedelta(days=30)),
        "gabe": instructional_days(cast, cast.lincoln, start, today),
    }
    absent = {"ana": Fraction(3, 2), "ben": ben_transferred.ben_absent, "eli": 0, "gabe": 0}
    chronic = [name for name in enrolled if Fraction(absent[name]) / enrolled[name] >= 0.1]
    assert chronic == ["ben"], "the cast's data makes Ben the one chronic student at Lincoln"
    days_enrolled, days_absent = sum(enrolled.values()), sum(absent.values())
    # when Lincoln's principal opens their first page: Lincoln's dashboard
    client.force_login(cast.principal)
    page = client.get(reverse("web:home"), follow=True).text
    # then its figures are Lincoln's days, rounded for reading, not Ben's whole year (where
    # he is not chronic)
    assert "Students' days at this school" in page
    assert figure(page, "Students enrolled") == "4"
    assert figure(page, "Attendance rate (ADA)") == one_decimal_percent(
        days_enrolled - days_absent, days_enrolled
    )
    assert figure(page, "Chronic absence rate") == "25.0%"
    assert "1 chronically absent</a> of 4 students counted" in page
    # and its grade rows add up to it: Ben's grade holds the one chronic student
    grades = rows_by_first_cell(page, "Each grade's students")
    assert sum(int(row["Students"]) for row in grades.values()) == 4
    assert grades["Grade 4"]["Chronically absent"] == "1"
    assert grades["Grade 4"]["Chronic absence rate"] == "100.0%"


def test_district_dashboard_counts_each_student_once(cast, client, ben_transferred):
    # given the admin, who sees every school
    client.force_login(cast.admin)
    # when they open the district's dashboard
    page = client.get(reverse("web:home")).text
    # then its headline figures count each student once over all their schools (Ben,
    # chronic at Lincoln, is not over his whole year), and say so
    assert (
        'class="figures__heading">All students, each counted once over their schools</h2>' in page
    )
    rows = rows_by_first_cell(page, "Each school's students")
    assert rows["Lincoln Elementary"]["Chronically absent"] == "1"
    assert figure(page, "Students enrolled") == "6"
    assert figure(page, "Chronic absence rate") == "0.0%"


def test_overview_before_the_summaries_are_computed_says_so(cast, client):
    # given a district whose summaries have not been computed yet
    client.force_login(cast.admin)
    # when the admin opens the overview
    response = client.get(reverse("web:home"))
    # then it says the figures are being computed, and how to compute them now
    assert response.status_code == 200
    assert "Attendance figures are being computed" in response.text
    assert "homeroom refresh_summaries" in response.text
    assert "Attendance by school" not in response.text


def test_overview_says_as_of_when_and_under_which_rules(cast, client, summaries):
    client.force_login(cast.admin)
    page = client.get(reverse("web:home")).text
    assert f"as of {summaries.as_of:%b} {summaries.as_of.day}, {summaries.as_of.year}" in page
    assert "under the Attendance Works (Homeroom&#x27;s default) rules" in page
    assert "Chronically absent: absent 10.0% or more of days enrolled" in page
    assert "enrolled 10 days" in page


def test_overview_without_a_school_year_says_so(cast, client):
    # given a user of a district with no school year yet
    client.force_login(cast.outsider)
    page = client.get(reverse("web:home")).text
    assert "No school year has been set up" in page


def test_an_account_without_a_district_sees_empty_pages(cast, client):
    # given a staff account that belongs to no district (e.g. made with createsuperuser)
    nobody = User.objects.create_user(username="nobody", password="x", role=Role.DISTRICT_ADMIN)
    client.force_login(nobody)
    # when it opens the pages
    overview = client.get(reverse("web:home"))
    students = client.get(reverse("web:students"))
    student = client.get(reverse("web:student", args=[cast.ana.pk]))
    # then nothing breaks and no student shows
    assert overview.status_code == students.status_code == 200
    assert student_ids_linked(students.text) == set()
    assert student.status_code == 404


def test_header_names_the_district_user_and_role(cast, client):
    client.force_login(cast.counselor)
    page = client.get(reverse("web:home")).text
    assert "Riverside Unified" in page
    assert "counselor" in page
    assert "Counselor / attendance specialist" in page
    assert 'action="/logout/"' in page


def test_sign_in_through_the_form(cast, client):
    response = client.post(
        reverse("web:login"), {"username": "teacher", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")


def test_wrong_password_is_refused_with_a_message(cast, client):
    response = client.post(reverse("web:login"), {"username": "teacher", "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.text


# Nothing loads from outside the server


def test_no_page_refers_to_another_server(cast, client, ana_absent_twice):
    # given every page a user can reach
    anonymous_pages = [client.get(reverse("web:login")).text]
    client.force_login(cast.admin)
    urls = [
        reverse("web:home"),
        reverse("web:students"),
        reverse("web:students") + "?sort=-absent",
        reverse("web:student", args=[cast.ana.pk]),
        reverse("web:student", args=[10**9]),
        reverse("web:warnings"),
    ]
    pages = anonymous_pages + [client.get(url).text for url in urls]
    # then no src, href or action points off the server, and htmx comes from our static files
    for page in pages:
        assert not EXTERNAL_REFERENCE.search(page), EXTERNAL_REFERENCE.search(page).group(0)
        assert "@import" not in page
    assert f'src="{static("django_htmx/htmx-2.min.js")}"' in pages[1]


def test_stylesheet_loads_nothing_from_outside():
    css = Path(finders.find("web/homeroom.css")).read_text(encoding="utf-8")
    assert "@import" not in css
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", css)


def test_student_page_writes_the_exit_reason_in_words(cast, client):
    # given Eli's enrollment ended with the SIS's code for moving away
    Enrollment.objects.filter(student=cast.eli).update(exit_reason="moved_out_of_district")
    client.force_login(cast.admin)
    # when his page is opened
    page = client.get(reverse("web:student", args=[cast.eli.pk])).text
    # then the reason reads as words, and the code is not shown
    assert "Moved out of the district" in page
    assert "moved_out_of_district" not in page
