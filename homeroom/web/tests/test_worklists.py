"""The early-warning worklist, the chronic-absence list, the students list's filters, and
the tables as CSV and XLSX downloads.

The cast's world for these tests (`world`), with every expectation worked out by hand:

- Ben: no flag, forecast up from 30% to 60%: risk rose, not chronic -> worklist, first.
- Eli (withdrew a month ago): "Mondays and Fridays" flag, forecast 50% -> worklist, second.
- Ana: "Consecutive absences" flag, forecast 40%, absent 2 days -> worklist, third.
- Gabe: no flag, forecast 70% after 68% (not a rise of 5 points) -> on neither list.
- Carla: absent a quarter of her days (severe, Tier 3), flagged, forecast 100% -> chronic
  list, first; never on the worklist.
- Dev: absent an eighth of his days (moderate, Tier 2), flagged -> chronic list, second.
- Hal: flagged, but not enrolled this year -> on neither list.
"""

import csv
import datetime as dt
import io
import math
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from homeroom.accounts.models import CaseloadAssignment
from homeroom.conftest import add_absence, once_per_module, school_days, the_tests_world
from homeroom.core.models import AuditEntry, CalendarDate
from homeroom.interventions.models import FamilyContact
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import TierChange
from homeroom.roster.models import Enrollment, Student, StudentCharacteristic
from homeroom.warnings.models import Flag, RiskScore
from homeroom.web.tests.page_text import rows_by_first_cell, student_ids_linked, table_rows
from homeroom.web.tests.test_views import forecast_for, raise_flag

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast(shared_cast):
    """The cast, built once for this module (conftest: `shared_cast`); what a test writes
    is rolled back in a savepoint."""
    return shared_cast


WORKLIST = "Students to reach first"
CHRONIC = "Students already chronically absent"
STUDENTS = "Students and their attendance"


def days_so_far(cast, school) -> int:
    """The school's instructional days from the first day of the year through today."""
    return CalendarDate.objects.filter(
        calendar__school=school,
        calendar__school_year=cast.this_year,
        kind=CalendarDate.Kind.INSTRUCTIONAL,
        date__lte=cast.today,
    ).count()


def absent_share(cast, student, school, share: float) -> int:
    """Absent the first school days, `share` of the days enrolled so far (rounded up)."""
    days = math.ceil(days_so_far(cast, school) * share)
    for day in [d for d in school_days(cast.this_year) if d <= cast.today][:days]:
        add_absence(cast, student, school, day)
    return days


def previous(student, probability: float) -> None:
    RiskScore.objects.filter(student=student).update(previous_probability=probability)


@pytest.fixture
def world(cast, _world_once):
    """The students, flags, forecasts and absences of the module docstring, summarized:
    built once for the module's tests (conftest: `once_per_module`)."""
    return the_tests_world(_world_once, cast, build_world)


def build_world(cast):
    """The cast given the module docstring's flags, forecasts and absences, summarized."""
    cast.district.risk_capacity = Decimal("1")
    cast.district.save(update_fields=["risk_capacity"])
    forecast_for(cast, cast.ben, 0.60)
    previous(cast.ben, 0.30)
    raise_flag(
        cast,
        cast.eli,
        Flag.Kind.WEEKDAY_PATTERN,
        reason="5 of 7 absences on Mondays or Fridays",
        raised_on=cast.today,
    )
    forecast_for(cast, cast.eli, 0.50)
    raise_flag(cast, cast.ana, reason="Absent 2 school days in a row", raised_on=cast.today)
    forecast_for(cast, cast.ana, 0.40)
    add_absence(cast, cast.ana, cast.lincoln, school_days(cast.this_year)[0])
    add_absence(cast, cast.ana, cast.lincoln, school_days(cast.this_year)[1])
    forecast_for(cast, cast.gabe, 0.70)
    previous(cast.gabe, 0.68)
    carla_days = absent_share(cast, cast.carla, cast.central, 0.25)
    raise_flag(cast, cast.carla, reason="Absent 5 school days in a row", raised_on=cast.today)
    forecast_for(cast, cast.carla, 1.0)
    absent_share(cast, cast.dev, cast.central, 0.125)
    raise_flag(cast, cast.dev, reason="Absent 3 school days in a row", raised_on=cast.today)
    raise_flag(cast, cast.hal, reason="Absent 3 school days in a row", raised_on=cast.today)
    do_refresh_summaries(cast.district)
    cast.carla_days = carla_days
    return cast


_world_once = once_per_module("_world_once", build_world)


def names(html: str, caption: str) -> list[str]:
    return [row[0] for row in table_rows(html, caption)[1:]]


def get(client, user, url: str, **params):
    client.force_login(user)
    return client.get(url, params)


# The worklist


def test_worklist_holds_rising_risk_not_yet_chronic_highest_forecast_first(world, client):
    # when the admin opens the early warnings
    page = get(client, world.admin, reverse("web:warnings")).text
    # then Ben, Eli and Ana are listed in that order; Carla and Dev (chronic), Gabe (no
    # rise) and Hal (not enrolled) are not
    assert names(page, WORKLIST) == ["Brooks, Ben", "Evans, Eli", "Alvarez, Ana"]
    assert "the most likely to become chronically absent first" in page
    rows = rows_by_first_cell(page, WORKLIST)
    assert rows["Brooks, Ben"]["Why"] == "Forecast rose from 30.0% to 60.0%"
    assert rows["Brooks, Ben"]["Forecast"] == "60.0%"
    assert rows["Alvarez, Ana"]["Days absent"] == "2"
    assert rows["Alvarez, Ana"]["Tier"] == "Tier 1: universal"
    assert rows["Alvarez, Ana"]["Last family contact"] == "None yet"
    assert rows["Evans, Eli"]["Why"].startswith("Mondays and Fridays (since ")


def test_worklist_is_sized_to_the_districts_capacity(world, client):
    # given the district plans for staff to reach a quarter of its students: of the six
    # the admin sees enrolled this year, ceil(6 / 4) = 2
    world.district.risk_capacity = Decimal("0.25")
    world.district.save(update_fields=["risk_capacity"])
    # when the admin opens the worklist
    page = get(client, world.admin, reverse("web:warnings")).text
    # then the two highest forecasts are listed, and the page says how many more match
    assert names(page, WORKLIST) == ["Brooks, Ben", "Evans, Eli"]
    assert "2 students to reach first, of 3 who match" in page
    assert "reach 25.0% of students, 2 of the 6 you may see" in page


def test_chronic_list_most_intensive_tier_first(world, client):
    # when the admin opens the list of students already chronically absent
    page = get(client, world.admin, reverse("web:warnings"), list="chronic").text
    # then Carla (severe, Tier 3) comes before Dev (moderate, Tier 2), and no one else
    assert names(page, CHRONIC) == ["Chen, Carla", "Desai, Dev"]
    rows = rows_by_first_cell(page, CHRONIC)
    assert rows["Chen, Carla"]["Tier"] == "Tier 3: intensive"
    assert rows["Chen, Carla"]["Days absent"] == str(world.carla_days)
    assert rows["Desai, Dev"]["Tier"] == "Tier 2: targeted"
    assert "2 students already chronically absent" in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"school": "lincoln"}, ["Brooks, Ben", "Evans, Eli", "Alvarez, Ana"]),
        ({"school": "central"}, []),
        ({"grade": "3"}, ["Alvarez, Ana"]),
        ({"flag": "consecutive"}, ["Alvarez, Ana"]),
        ({"flag": "weekday_pattern"}, ["Evans, Eli"]),
        ({"tier": "tier1"}, ["Brooks, Ben", "Evans, Eli", "Alvarez, Ana"]),
        ({"tier": "tier3"}, []),
        ({"caseload": "mine"}, ["Alvarez, Ana"]),
        ({"contact": "none"}, ["Evans, Eli", "Alvarez, Ana"]),
    ],
)
def test_worklist_filters(world, client, params, expected):
    # given Ana on the admin's caseload and Ben's family reached this year
    CaseloadAssignment.objects.create(
        user=world.admin, student=world.ana, start_date=world.this_year.start_date
    )
    FamilyContact.objects.create(
        student=world.ben,
        contacted_on=world.today,
        channel=FamilyContact.Channel.CALL,
        outcome=FamilyContact.Outcome.REACHED,
        recorded_by=world.admin,
    )
    schools = {"lincoln": world.lincoln.pk, "central": world.central.pk}
    if "school" in params:
        params = params | {"school": schools[params["school"]]}
    # when the admin filters the worklist
    page = get(client, world.admin, reverse("web:warnings"), **params).text
    # then exactly the expected students are listed
    assert (names(page, WORKLIST) if expected else []) == expected
    if not expected:
        assert "No student you may see matches" in page


def test_worklist_shows_the_last_family_contact(world, client):
    FamilyContact.objects.create(
        student=world.ben,
        contacted_on=world.today,
        channel=FamilyContact.Channel.CALL,
        outcome=FamilyContact.Outcome.REACHED,
        recorded_by=world.admin,
    )
    page = get(client, world.admin, reverse("web:warnings")).text
    contact = rows_by_first_cell(page, WORKLIST)["Brooks, Ben"]["Last family contact"]
    assert contact == f"{world.today:%b} {world.today.day}, {world.today.year}"


def test_worklist_with_an_unknown_flag_says_so_and_keeps_the_list(world, client):
    response = get(client, world.admin, reverse("web:warnings"), flag="<b>shoe size</b>")
    assert response.status_code == 400
    assert "There is no “&lt;b&gt;shoe size&lt;/b&gt;” here: choose one from the list." in (
        response.text
    )
    assert names(response.text, WORKLIST) == ["Brooks, Ben", "Evans, Eli", "Alvarez, Ana"]


def test_teacher_sees_only_their_students_on_the_worklist(world, client):
    page = get(client, world.teacher, reverse("web:warnings")).text
    assert student_ids_linked(page) == {world.ana.pk}


def test_a_tier_raised_in_the_last_two_weeks_puts_a_student_on_the_worklist(world, client):
    # given Gabe (no flag, no forecast rise: on no list) moved to a more intensive tier
    def tier_raised(days_ago: int) -> None:
        TierChange.objects.update_or_create(
            student=world.gabe,
            defaults={
                "school_year": world.this_year,
                "on": world.today - dt.timedelta(days=days_ago),
                "from_tier": "tier1",
                "to_tier": "tier2",
                "raised": True,
            },
        )

    def worklist() -> list[str]:
        return names(get(client, world.admin, reverse("web:warnings")).text, WORKLIST)

    # then a move 15 days ago does not put him on the worklist; one 3 days ago does, in his
    # forecast's place (70%: first)
    tier_raised(15)
    assert worklist() == ["Brooks, Ben", "Evans, Eli", "Alvarez, Ana"]
    tier_raised(3)
    assert worklist() == ["Garcia, Gabe", "Brooks, Ben", "Evans, Eli", "Alvarez, Ana"]


# The students list's filters


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"ana", "ben", "carla", "dev", "eli", "gabe"}),
        ({"enrolled": "all"}, {"ana", "ben", "carla", "dev", "eli", "gabe", "hal"}),
        ({"band": "severe"}, {"carla"}),
        ({"band": "moderate"}, {"dev"}),
        ({"tier": "tier3"}, {"carla"}),
        ({"tier": "tier1"}, {"ana", "ben", "eli", "gabe"}),
        ({"chronic": "1"}, {"carla", "dev"}),
        ({"flag": "weekday_pattern"}, {"eli"}),
        ({"flag": "consecutive", "enrolled": "all"}, {"ana", "carla", "dev", "hal"}),
        ({"group": "iep"}, {"ben"}),
        ({"caseload": "mine"}, {"ana"}),
    ],
)
def test_students_list_filters(world, client, params, expected):
    # given Ben with an IEP since the year began and Ana on the admin's caseload
    StudentCharacteristic.objects.create(
        student=world.ben, kind="iep", start_date=world.this_year.start_date
    )
    CaseloadAssignment.objects.create(
        user=world.admin, student=world.ana, start_date=world.this_year.start_date
    )
    page = get(client, world.admin, reverse("web:students"), **params).text
    assert student_ids_linked(page) == {getattr(world, name).pk for name in expected}


def test_students_list_opens_on_the_most_days_absent(world, client):
    page = get(client, world.admin, reverse("web:students")).text
    assert names(page, STUDENTS)[:3] == ["Chen, Carla", "Desai, Dev", "Alvarez, Ana"]
    assert "6 students enrolled in" in page


def test_chronic_students_of_a_school_are_those_its_dashboard_counts(world, client):
    # given Carla and Dev chronically absent at Central; no one at Lincoln
    def chronic_at(school):
        page = get(client, world.admin, reverse("web:students"), school=school.pk, chronic="1")
        return student_ids_linked(page.text)

    # then each school's chronic list holds its own chronically absent students
    assert chronic_at(world.central) == {world.carla.pk, world.dev.pk}
    assert chronic_at(world.lincoln) == set()


def test_students_list_school_filter_says_it_counts_those_who_left(world, client):
    page = get(client, world.admin, reverse("web:students"), school=world.lincoln.pk).text
    # Eli withdrew from Lincoln a month ago: still a Lincoln student of this year
    assert world.eli.pk in student_ids_linked(page)
    assert "at Lincoln Elementary at any time in the year (those who left it too)" in page


def test_counselors_caseload_filter_keeps_to_their_caseload(world, client):
    page = get(client, world.counselor, reverse("web:students"), caseload="mine").text
    assert student_ids_linked(page) == {world.gabe.pk}


def test_students_list_keeps_its_filters_in_the_address(world, client):
    params = {"band": "severe", "sort": "-absent"}
    page = get(client, world.admin, reverse("web:students"), **params).text
    assert 'href="?band=severe&amp;sort=-absent&amp;download=csv"' in page


# Downloads


def read_csv(response) -> list[list[str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_worklist_downloads_as_csv_with_its_filters_and_is_audited(world, client):
    # when the admin downloads the worklist kept to Lincoln's grade 3
    response = get(
        client,
        world.admin,
        reverse("web:warnings"),
        download="csv",
        school=world.lincoln.pk,
        grade=3,
    )
    # then the file holds Ana's row only, and the audit log says who exported how many
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="early-warning-worklist.csv"' in response["Content-Disposition"]
    header, *rows = read_csv(response)
    assert header[:3] == ["Student id", "Last name", "First name"]
    assert [row[:5] for row in rows] == [["S1", "Alvarez", "Ana", "3", "Lincoln Elementary"]]
    record = dict(zip(header, rows[0], strict=True))
    assert record["Days absent"] == "2.0"
    assert record["Forecast"] == "0.4"
    assert record["Open flags"] == "Consecutive absences: Absent 2 school days in a row"
    entry = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert entry.user == world.admin
    assert entry.subject == "early-warning worklist"
    assert entry.details["rows"] == 1
    assert entry.details["filters"] == {"school": str(world.lincoln.pk), "grade": "3"}


def test_chronic_list_downloads_as_xlsx(world, client):
    response = get(client, world.admin, reverse("web:warnings"), list="chronic", download="xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    assert [row[1] for row in values[1:]] == ["Chen", "Desai"]
    assert values[1][8] == "Tier 3: intensive"
    assert AuditEntry.objects.get(action=AuditEntry.Action.EXPORT).details["rows"] == 2


def test_students_download_makes_formulas_text(world, client):
    # given a student whose name a spreadsheet would read as a formula
    sneaky = Student.objects.create(
        district=world.district, local_id="=1+1", first_name="@SUM(A1)", last_name="Zed", grade=3
    )
    Enrollment.objects.create(
        student=sneaky,
        school=world.lincoln,
        school_year=world.this_year,
        grade=3,
        entry_date=world.this_year.start_date,
    )
    # when the admin downloads the students list, in CSV and in XLSX
    as_csv = read_csv(get(client, world.admin, reverse("web:students"), download="csv", q="zed"))
    as_xlsx = get(client, world.admin, reverse("web:students"), download="xlsx", q="zed")
    # then the cells are text, not formulas
    assert as_csv[1][:3] == ["'=1+1", "Zed", "'@SUM(A1)"]
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert list(sheet.values)[1][:3] == ("'=1+1", "Zed", "'@SUM(A1)")
    assert AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).count() == 2


def test_students_download_is_every_page_in_the_pages_order(world, client):
    rows = read_csv(get(client, world.admin, reverse("web:students"), download="csv"))
    assert [row[1] for row in rows[1:4]] == ["Chen", "Desai", "Alvarez"]
    assert len(rows) == 1 + 6
    hal = read_csv(
        get(client, world.admin, reverse("web:students"), download="csv", enrolled="all", q="hal")
    )
    assert hal[1][8] == "Not enrolled this school year"


def _options(html: str, name: str) -> list[str]:
    """The values a select offers (its 'any' choice left out)."""
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no menu {name!r}"
    return [value for value in re.findall(r'<option value="([^"]*)"', select.group(1)) if value]


def test_worklist_menus_offer_the_schools_and_grades_of_this_years_students(world, client):
    # given Hal, flagged but not enrolled this year (his grade is no one else's)
    Student.objects.filter(pk=world.hal.pk).update(grade=12)
    # when the admin and the viewer (all of Central) open the early warnings
    admin = get(client, world.admin, reverse("web:warnings")).text
    viewer = get(client, world.viewer, reverse("web:warnings")).text
    # then the admin's menus hold both schools and the grades of the six enrolled this year,
    # counted here from the roster's enrollments: not Hal's
    enrolled = Enrollment.objects.filter(school_year=world.this_year)
    assert _options(admin, "school") == [str(world.central.pk), str(world.lincoln.pk)]  # by name
    this_year = sorted({row.grade for row in enrolled})
    assert _options(admin, "grade") == [str(grade) for grade in this_year]
    assert "12" not in _options(admin, "grade")
    # and the viewer's only what they see: Central's students
    seen = enrolled.filter(student__in=[world.carla, world.dev])
    assert _options(viewer, "school") == [str(world.central.pk)]
    assert _options(viewer, "grade") == [str(grade) for grade in sorted({r.grade for r in seen})]
