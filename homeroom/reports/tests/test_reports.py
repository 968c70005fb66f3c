"""The reports' figures, allocation and documents over a hand-built district whose
materialized figures are written directly, so every expected value below is worked out by
hand from the rows written here (in the comments), not by the code under test."""

import csv
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from homeroom.core.models import AuditEntry, School
from homeroom.interventions.models import Case, FamilyContact
from homeroom.metrics.engines import year_back
from homeroom.metrics.models import SchoolDayAttendance, StandingCell, StudentSummary, SummaryState
from homeroom.reports import actions, selectors
from homeroom.reports.models import GroupMonth, ReportSettings
from homeroom.roster.models import StudentCharacteristic
from homeroom.surveys.tests.world import answered, barrier, families

pytestmark = pytest.mark.django_db

# Per school this year: (tier3 = severe chronic, tier2 = moderate chronic, tier1 = not)
THIS_YEAR = {
    "Lincoln Elementary": (5, 15, 40),
    "Central High": (1, 2, 37),
    "Washington": (6, 24, 70),
}
# Per school last year: (chronic, not chronic)
LAST_YEAR = {"Lincoln Elementary": (15, 35), "Central High": (10, 30), "Washington": (38, 52)}
TIERS = (("tier3", "severe", True), ("tier2", "moderate", True), ("tier1", "satisfactory", False))


def _cells(year, on, school, counts) -> list[StandingCell]:
    return [
        StandingCell(
            school_year=year,
            as_of=on,
            school=school,
            grade=3,
            counted=True,
            chronic=chronic,
            band=band,
            tier=tier,
            students=n,
            days_enrolled=n * 60,
            days_absent=n * 60 * (0.25 if chronic else 0.02),
        )
        for (tier, band, chronic), n in zip(TIERS, counts, strict=True)
        if n
    ]


@pytest.fixture
def world(cast):
    washington = School.objects.create(
        district=cast.district, local_id="501", name="Washington", lowest_grade=0, highest_grade=5
    )
    schools = {
        "Lincoln Elementary": cast.lincoln,
        "Central High": cast.central,
        "Washington": washington,
    }
    on = cast.today
    SummaryState.objects.create(
        district=cast.district,
        school_year=cast.this_year,
        as_of=on,
        start=cast.this_year.start_date,
        profile="attendance-works@1",
    )
    rows = []
    for name, counts in THIS_YEAR.items():
        rows += _cells(cast.this_year, on, schools[name], counts)
    rows += _cells(cast.this_year, on, None, (12, 41, 147))  # the district: 200 counted, 53 chronic
    for name, (chronic, other) in LAST_YEAR.items():
        rows += _cells(cast.last_year, year_back(on), schools[name], (0, chronic, other))
    rows += _cells(cast.last_year, year_back(on), None, (0, 63, 117))  # 180 counted, 63 chronic
    StandingCell.objects.bulk_create(rows)
    SchoolDayAttendance.objects.create(
        school_year=cast.this_year,
        school=cast.lincoln,
        grade=3,
        date=on,
        enrolled=100,
        days_absent=8,
    )
    now = timezone.now()
    groups = [
        ("district", "all", 200, 53),
        ("characteristic", "english_learner", 30, 12),
        ("characteristic", "homeless", 8, 4),
        ("race_ethnicity", "hispanic", 120, 30),
        ("race_ethnicity", "white", 70, 20),
        ("race_ethnicity", "asian", 10, 3),
    ]
    GroupMonth.objects.bulk_create(
        GroupMonth(
            district=cast.district,
            school_year=cast.this_year,
            as_of=on,
            group_type=kind,
            group_value=value,
            students=counted,
            counted=counted,
            chronic=chronic,
            computed_at=now,
        )
        for kind, value, counted, chronic in groups
    )
    cast.washington = washington
    cast.on = on
    return cast


def test_school_table_hides_the_small_school_and_what_would_give_it_away(world):
    f = selectors.figures(world.district)
    by_name = {row.label: row for row in f.schools}
    # Central's 3 chronic students are hidden, with its 37 others; in each column the next
    # smallest count goes too (Lincoln's 20 and 40); Washington's 30 of 100 stays
    assert by_name["Central High"].chronic is None
    assert by_name["Lincoln Elementary"].chronic is None
    assert by_name["Lincoln Elementary"].chronic_rate is None  # a rate of a hidden count
    assert by_name["Washington"].chronic == 30 and by_name["Washington"].chronic_rate == 0.30
    assert [by_name[n].counted for n in THIS_YEAR] == [60, 40, 100]
    # the district: 53 of 200, last year 63 of 180 (35%), a change of -8.5 points
    assert f.district_row.chronic == 53 and f.district_row.chronic_rate == pytest.approx(0.265)
    assert f.district_row.last_year_chronic_rate == pytest.approx(0.35)
    # last year's table has no small count: every school's rate is shown
    assert by_name["Central High"].last_year_chronic_rate == pytest.approx(0.25)
    assert by_name["Washington"].last_year_chronic_rate == pytest.approx(38 / 90)


def test_tiers_hide_small_counts_and_keep_the_large(world):
    f = selectors.figures(world.district)
    by_name = {row.label: row for row in f.schools}
    tier = {row.label: {t.name: t.students for t in row.tiers} for row in f.schools}
    # the Tier 1 counts (40, 37, 70) are all 10 or more and stay; Tier 3 ones are hidden
    assert [tier[n]["tier1"] for n in THIS_YEAR] == [40, 37, 70]
    assert {tier[n]["tier3"] for n in THIS_YEAR} == {None}
    # in each school's row a hidden count has a partner hidden with it
    for name in THIS_YEAR:
        assert sum(v is None for v in tier[name].values()) != 1, name
    assert by_name["Washington"].counted == 100
    # the district's tiers are large: 12, 41 and 147 of 200
    assert [(t.name, t.students) for t in f.district_row.tiers] == [
        ("tier3", 12),
        ("tier2", 41),
        ("tier1", 147),
    ]


def test_group_gaps_against_the_district(world):
    f = selectors.figures(world.district)
    groups = {g.key: g for g in f.groups}
    # English learners: 12 of 30 = 40% against 26.5%: a gap of +13.5 points
    (_month, rate, whole) = groups["english_learner"].months[-1]
    assert rate == pytest.approx(0.40) and whole == pytest.approx(0.265)
    assert groups["english_learner"].latest_gap == pytest.approx(0.135)
    # 8 homeless students: hidden
    assert groups["homeless"].months[-1][1] is None and groups["homeless"].counted is None
    races = {g.key: g for g in f.races}
    # Asian 3 of 10: hidden, and with it White's (the next smallest of each column); Hispanic
    # 30 of 120 = 25% stays
    assert races["asian"].months[-1][1] is None
    assert races["white"].months[-1][1] is None
    assert races["hispanic"].months[-1][1] == pytest.approx(0.25)


def test_improvement_places_only_schools_with_both_rates(world):
    f = selectors.figures(world.district)
    # only Washington has both rates shown: 30% now, 38/90 = 42.2% a year ago
    assert [(c.label, round(c.change, 4)) for c in f.improvement] == [
        ("Washington", round(0.30 - 38 / 90, 4))
    ]
    assert [c.label for c in selectors.most_improved(f.improvement)] == ["Washington"]
    assert selectors.most_declined(f.improvement) == []


def test_figures_of_schools_without_last_year_are_computed(world):
    # given a district whose schools kept no figures a year ago (its first year with
    # Homeroom per school), only the district's own total from last year (issue 26: the
    # board report of such a district never finished)
    StandingCell.objects.filter(school_year=world.last_year, school__isnull=False).delete()
    f = selectors.figures(world.district)
    # then this year's school table is published as before, with no rate of last year
    by_name = {row.label: row for row in f.schools}
    assert by_name["Washington"].counted == 100
    assert all(row.last_year_chronic_rate is None for row in f.schools)
    assert f.improvement == []
    # and the district's row still compares with its own last year (63 of 180)
    assert f.district_row.last_year_chronic_rate == pytest.approx(63 / 180)


def test_process_measures_hide_small_months(world):
    on = world.on
    for pupil in (world.ana, world.ben, world.gabe) * 4:  # 12 cases opened on the day
        Case.objects.create(
            student=pupil,
            school=world.lincoln,
            tier=2,
            source="flag",
            opened_on=on,
            opened_by=world.principal,
            status="closed",
            closed_on=on,
        )
    for _ in range(11):
        FamilyContact.objects.create(
            student=world.ana, contacted_on=on, channel="call", outcome="reached"
        )
    first = world.this_year.start_date
    for _ in range(4):
        FamilyContact.objects.create(
            student=world.ben, contacted_on=first, channel="call", outcome="reached"
        )
    p = selectors.figures(world.district).process
    last = len(p.months) - 1
    assert p.cases_opened[last] == 12 and p.totals[0] == 12
    # 4 contacts in the first month are hidden, and one more count of the column with them
    # (the total of 15 stays: it is not small)
    assert p.contacts[0] is None
    assert sum(v is None for v in p.contacts) == 2
    assert p.totals[1] == 15
    # months with none are shown as 0 (a count of events: no one is disclosed)
    assert p.messages == [0] * len(p.months)


def test_allocation_follows_the_documented_formula(world):
    on = world.on
    econ = StudentCharacteristic.Kind.ECONOMICALLY_DISADVANTAGED
    for pupil, school in (
        (world.ana, world.lincoln),
        (world.ben, world.lincoln),
        (world.carla, world.central),
    ):
        StudentCharacteristic.objects.create(
            student=pupil, kind=econ, start_date=world.this_year.start_date
        )
        StudentSummary.objects.create(
            student=pupil,
            school=school,
            school_year=world.this_year,
            grade=pupil.grade,
            days_enrolled=60,
            days_absent=1,
            excused=0,
            unexcused=1,
            oss=0,
            tardies=0,
            absent_last_30=0,
            longest_absence_run=1,
            counted=True,
            chronic=False,
            projected_chronic=False,
        )
    for pupil, school in (
        (world.ana, world.lincoln),
        (world.ben, world.lincoln),
        (world.carla, world.central),
    ):
        Case.objects.create(
            student=pupil,
            school=school,
            tier=2,
            source="flag",
            opened_on=on,
            opened_by=world.principal,
        )
    # the year's needs survey: two Washington households named two barriers each (4 in all)
    survey = families(world).survey
    named = [barrier(world, "transportation"), barrier(world, "health")]
    for household in ("washington 1", "washington 2"):
        answered(survey, household, [world.ana], [world.washington], named)
    schools, weights = selectors.allocation(world.district, budget=6)
    need = {s.name: s.need for s in schools}
    # by hand: totals chronic 53, severe 12, tier 3 12, cases per staff 2+1+0 = 3 (Lincoln's
    # 2 cases with no one assigned count as one person's; Central's 1 case, 1 counselor),
    # poverty 3, barriers 4
    lincoln = 0.3 * 20 / 53 + 0.2 * 5 / 12 + 0.1 * 5 / 12 + 0.15 * 2 / 3 + 0.15 * 2 / 3
    central = 0.3 * 3 / 53 + 0.2 * 1 / 12 + 0.1 * 1 / 12 + 0.15 * 1 / 3 + 0.15 * 1 / 3
    washington = 0.3 * 30 / 53 + 0.2 * 6 / 12 + 0.1 * 6 / 12 + 0.1 * 4 / 4
    assert need == pytest.approx(
        {"Lincoln Elementary": lincoln, "Central High": central, "Washington": washington}
    )
    # quotas 2.63, 0.85, 2.52: 2 + 0 + 2, then the two left to the largest fractions
    # (Central's .85, Lincoln's .63)
    assert {s.name: s.suggested for s in schools} == {
        "Lincoln Elementary": 3,
        "Central High": 1,
        "Washington": 2,
    }
    assert {s.name: s.current for s in schools} == {
        "Lincoln Elementary": 0,
        "Central High": 1,
        "Washington": 0,
    }
    assert [s.name for s in schools] == ["Lincoln Elementary", "Washington", "Central High"]
    assert schools[0].reasons(weights)[0] == "38% of the district's chronically absent students"


def test_minimum_cell_is_the_administrators_and_audited(world):
    with pytest.raises(PermissionError):
        actions.do_set_minimum_cell(user=world.analyst, district=world.district, minimum=5)
    with pytest.raises(actions.ReportSettingError, match="from 1 to 100"):
        actions.do_set_minimum_cell(user=world.admin, district=world.district, minimum=0)
    assert not ReportSettings.objects.exists()
    actions.do_set_minimum_cell(user=world.admin, district=world.district, minimum=3)
    entry = AuditEntry.objects.get(subject="report suppression")
    assert entry.user == world.admin and entry.details["minimum_cell"] == {"from": 10, "to": 3}
    # with 3, Central's 3 chronic students are shown
    by_name = {row.label: row for row in selectors.figures(world.district).schools}
    assert by_name["Central High"].chronic == 3


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_board_report_pdf_shows_the_figures_and_hides_the_small(world):
    client = Client()
    client.force_login(world.analyst)
    response = client.get(reverse("reports:pdf", args=["board"]), {"as_of": world.on.isoformat()})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = _pdf_text(response.content)
    assert "Board report: Riverside Unified" in text
    assert "Washington" in text and "30.0%" in text  # Washington's rate
    assert "26.5%" in text  # the district's
    assert "40.0%" in text  # English learners
    entry = AuditEntry.objects.get(subject="board report")
    assert entry.user == world.analyst and entry.details["as_of"] == world.on.isoformat()


DISTRICT = ("--district", "Riverside Unified")


def test_public_csv_holds_the_suppressed_figures(world):
    client = Client()
    client.force_login(world.admin)
    response = client.get(reverse("reports:table", args=["schools"]))
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_name = {row[0]: row[1:] for row in rows[1:]}
    # Central's 3 and Lincoln's 20 are hidden; Washington's 30 of 100 is published
    assert by_name["Central High"][:3] == ["40", "*", "*"]
    assert by_name["Lincoln Elementary"][:3] == ["60", "*", "*"]
    assert by_name["Washington"][:3] == ["100", "30", "30.0%"]
    assert by_name["Riverside Unified"][:3] == ["200", "53", "26.5%"]
    groups = client.get(reverse("reports:table", args=["groups"])).content.decode("utf-8-sig")
    assert "English learner,40.0%" in groups and "Asian,*" in groups
    assert AuditEntry.objects.filter(subject="public table: schools", user=world.admin).exists()
    assert client.get(reverse("reports:table", args=["nothing"])).status_code == 404


def test_report_command_writes_a_pdf_and_refuses_bad_input(world, tmp_path):
    output = tmp_path / "board.pdf"
    out = io.StringIO()
    call_command("report", "annual", "--output", str(output), *DISTRICT, stdout=out)
    assert output.read_bytes().startswith(b"%PDF")
    assert "Annual MTSS report: Riverside Unified" in _pdf_text(output.read_bytes())
    assert AuditEntry.objects.filter(
        subject="annual report", command="homeroom report annual"
    ).exists()
    with pytest.raises(CommandError, match="not a date"):
        call_command("report", "board", "--output", str(output), *DISTRICT, "--as-of", "yesterday")
    with pytest.raises(CommandError, match="No figures are kept for"):
        call_command("report", "board", "--output", str(output), *DISTRICT, "--as-of", "2001-01-05")
    with pytest.raises(CommandError, match="the figures held are for"):
        call_command("report", "board", "--output", str(output), *DISTRICT, "--year", "1999-2000")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("report", "board", "--output", str(tmp_path / "no" / "x.pdf"), *DISTRICT)


def test_pages_render_for_district_roles(world):
    client = Client()
    client.force_login(world.admin)
    for route in ("index", "groups", "allocation", "improvement"):
        response = client.get(reverse(f"reports:{route}"))
        assert response.status_code == 200, route
    page = client.get(reverse("reports:allocation"), {"budget": "4"}).content.decode()
    assert "how 4 staff would be placed" in page.replace("\n", " ")
    assert client.get(reverse("reports:allocation"), {"budget": "-1"}).status_code == 400
    bad = client.get(reverse("reports:groups"), {"as_of": "2001-01-01"})
    assert bad.status_code == 400 and "Choose one of the dates listed" in bad.content.decode()


def test_group_months_are_computed_from_the_summaries(cast):
    # given absences making Ana chronically absent and a refresh of the summaries
    from homeroom.conftest import add_absence, school_day
    from homeroom.metrics.actions import do_refresh_summaries

    for n in range(1, 12):
        add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, n))
    StudentCharacteristic.objects.create(
        student=cast.ana, kind="english_learner", start_date=cast.this_year.start_date
    )
    state = do_refresh_summaries(cast.district)
    assert not actions.group_months_fresh(cast.district)
    actions.do_refresh_group_months(cast.district)
    assert actions.group_months_fresh(cast.district)
    latest = GroupMonth.objects.filter(as_of=state.as_of)
    # then the latest month's district row counts what the summaries count (each student
    # once: the overall rows), and English learners are Ana alone
    overall = StudentSummary.objects.filter(school__isnull=True, counted=True)
    whole = latest.get(group_type="district")
    assert whole.counted == overall.count()
    assert whole.chronic == overall.filter(chronic=True).count()
    el = latest.get(group_type="characteristic", group_value="english_learner")
    assert (el.counted, el.chronic) == (1, 1 if overall.get(student=cast.ana).chronic else 0)
    months = sorted(set(GroupMonth.objects.values_list("as_of", flat=True)))
    assert months[-1] == state.as_of and all(
        m.month != state.as_of.month or m == state.as_of for m in months
    )
    assert dt.date(2000, 1, 1) < months[0]
