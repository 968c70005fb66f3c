"""The web interface in a real browser (Debian's Chromium driven by Playwright)."""

import os
from collections.abc import Iterator

import pytest

from homeroom.attendance.models import AttendanceEvent
from homeroom.conftest import PASSWORD, add_absence, school_days
from homeroom.ingest.models import ImportRun
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.web.tests.import_files import PROFILE, two_absences
from homeroom.web.tests.test_worklists import build_world

# Playwright's sync API runs an event loop in this thread; Django then refuses ORM calls
# from it unless told this is a test (a known pytest-django + Playwright interaction).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless Chromium for the module."""
    if not os.path.exists(CHROMIUM):
        # ./dev test installs it; a missing browser is a broken setup, not a test to skip
        pytest.fail("Chromium is not installed at /usr/bin/chromium: run ./dev test")
    with playwright_sync.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server) -> Iterator:
    """A fresh browser page that records every address it asks for."""
    context = browser.new_context()
    page = context.new_page()
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    yield page
    context.close()


def shown(locator) -> None:
    """Assert the locator is visible, waiting for it (up to Playwright's 5 s): a click that
    navigates returns before the next page has loaded, so a bare is_visible() may read the
    page being left (it failed so once in CI, under load)."""
    playwright_sync.expect(locator).to_be_visible()


def sign_in(page, live_server, username: str, start: str = "/") -> None:
    """Sign in through the login form, as a person would."""
    page.goto(f"{live_server.url}{start}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_teacher_finds_only_their_student_and_opens_her_page(cast, live_server, page):
    # given the teacher of Ana's homeroom, signed in through the form
    sign_in(page, live_server, "teacher")
    shown(page.get_by_role("heading", name="Your students"))
    # when they open Students
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Students").click()
    page.wait_for_load_state()
    # then only Ana is listed, not Ben nor Eli
    table = page.locator("#student-table")
    shown(table.get_by_role("link", name="Alvarez, Ana"))
    assert "Brooks" not in table.inner_text()
    assert "Evans" not in table.inner_text()
    # and a search that matches nobody updates the table in place (HTMX)
    page.get_by_label("Name or student id").fill("zzz")
    page.get_by_text("No students match.").wait_for()
    assert "zzz" in page.url
    page.get_by_label("Name or student id").fill("alv")
    page.locator("#student-table").get_by_role("link", name="Alvarez, Ana").wait_for()
    # when they click through to Ana's page
    page.get_by_role("link", name="Alvarez, Ana").click()
    page.wait_for_load_state()
    # then her record opens, saying why the teacher may see it
    shown(page.get_by_role("heading", name="Ana Alvarez", level=1))
    assert "Why you can see this student: section" in page.content()
    # and nothing was fetched from another server
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested


def test_admin_clicks_from_the_district_to_a_school_a_grade_and_a_student(cast, live_server, page):
    # given Ana absent on the first three school days, and the summaries computed
    for day in school_days(cast.this_year)[:3]:
        add_absence(cast, cast.ana, cast.lincoln, day)
    do_refresh_summaries(cast.district)
    # when the district admin signs in, the district's dashboard opens
    sign_in(page, live_server, "admin")
    shown(page.get_by_role("heading", name="District", exact=True))
    enrolled = page.locator("[data-figure=enrolled] dd").first
    assert enrolled.inner_text() == "6"
    schools = page.get_by_role("table", name="Each school's students")
    lincoln = schools.get_by_role("row", name="Lincoln Elementary")
    assert lincoln.get_by_role("cell").nth(0).inner_text() == "4"
    look(page, "dashboard-district")
    # when they open Lincoln, its dashboard counts the four students of its row
    lincoln.get_by_role("link", name="Lincoln Elementary").click()
    page.wait_for_load_state()
    shown(page.get_by_role("heading", name="Lincoln Elementary"))
    assert page.locator("[data-figure=enrolled] dd").first.inner_text() == "4"
    look(page, "dashboard-school")
    # when they open grade 3 from the table of grades
    grades = page.get_by_role("table", name="Each grade's students")
    assert grades.get_by_role("row", name="Grade 3").get_by_role("cell").nth(0).inner_text() == "1"
    grades.get_by_role("link", name="Grade 3").click()
    page.wait_for_load_state()
    assert page.locator("[data-figure=enrolled] dd").first.inner_text() == "1"
    students = page.get_by_role("table", name="This grade's students")
    ana = students.get_by_role("row", name="Alvarez, Ana")
    assert ana.get_by_role("cell").nth(1).inner_text() == "3"  # days absent
    look(page, "dashboard-grade")
    # when they open Ana, her page shows the same three days absent
    ana.get_by_role("link", name="Alvarez, Ana").click()
    page.wait_for_load_state()
    shown(page.get_by_role("heading", name="Ana Alvarez"))
    days_absent = page.locator(".figure").filter(has=page.locator("dt", has_text="Days absent"))
    assert days_absent.locator("dd").first.inner_text() == "3"
    # and nothing was fetched from another server
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested


def test_admin_uploads_a_file_checks_the_report_and_confirms(
    cast, live_server, page, settings, tmp_path
):
    # given the district admin, signed in, and an export of two attendance events
    settings.DATA_DIR = tmp_path / "data"
    export = tmp_path / "absences.csv"
    export.write_bytes(two_absences(cast))
    sign_in(page, live_server, "admin")
    # when they open Imports and choose to import files
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Imports").click()
    page.get_by_role("link", name="Import files").click()
    # and fill the form and send the file
    page.get_by_label("Format", exact=True).select_option("csv")
    page.get_by_label("Mapping profile").select_option(PROFILE)
    page.get_by_label("Files", exact=True).set_input_files(str(export))
    page.get_by_role("button", name="Check the files").click()
    page.wait_for_load_state()
    # then the report says what would change, and nothing has changed yet
    shown(page.get_by_role("heading", name="Validation report"))
    counts = page.get_by_role("table", name="Rows the import would write, by kind")
    row = counts.get_by_role("row", name="Attendance events")
    assert row.get_by_role("cell").nth(1).inner_text() == "2"  # inserted, after read
    assert not AttendanceEvent.objects.exists()
    # when they confirm
    page.get_by_role("button", name="Confirm import").click()
    page.wait_for_load_state()
    # then the run opens: succeeded, with the events written
    run = ImportRun.objects.get()
    shown(page.get_by_role("heading", name=f"Import run {run.pk}"))
    shown(page.get_by_text("Succeeded").first)
    assert AttendanceEvent.objects.filter(source_run=run).count() == 2
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested


# Where to keep screenshots of the case management pages, when asked (to look at them):
# HOMEROOM_SCREENSHOTS=<directory> pytest -m browser -k workflow
SCREENSHOTS = os.environ.get("HOMEROOM_SCREENSHOTS", "")
WIDTHS = (1366, 375)


def look(page, name: str) -> None:
    """Keep a full-page screenshot at each width, if screenshots were asked for."""
    if not SCREENSHOTS:
        return
    width = page.viewport_size["width"] if page.viewport_size else WIDTHS[0]
    for each in WIDTHS:
        page.set_viewport_size({"width": each, "height": 900})
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}-{each}.png"), full_page=True)
    page.set_viewport_size({"width": width, "height": 900})


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def test_case_workflow_from_a_teachers_call_to_an_accepted_referral(cast, live_server, page):
    # given Ana flagged today, her mother on record, the default playbook, a partner, and a
    # counselor serving Lincoln Elementary
    from homeroom.interventions.actions import do_install_defaults, do_save_partner
    from homeroom.interventions.tests.conftest import lincoln_counselor, raise_flag
    from homeroom.roster.models import Guardian, StudentGuardian

    do_install_defaults(cast.district)
    raise_flag(cast, "ana", cast.today)
    mother = Guardian.objects.create(
        district=cast.district, local_id="G1", first_name="Maria", last_name="Alvarez"
    )
    StudentGuardian.objects.create(student=cast.ana, guardian=mother, relationship="mother")
    do_save_partner(cast.admin, name="Riverside Family Center")
    lincoln_counselor(cast)
    ana_page = f"/students/{cast.ana.pk}/"

    # when her teacher logs a call from her page: open the form, save it
    sign_in(page, live_server, "teacher", ana_page)
    look(page, "student-teacher")
    page.get_by_text("Log contact", exact=True).click()
    page.get_by_role("button", name="Save contact").click()
    page.wait_for_load_state()
    # then the call is on her timeline
    shown(page.get_by_text("Contact logged."))
    shown(page.get_by_role("cell", name="Phone call with Maria Alvarez: Reached"))
    sign_out(page)

    # when the counselor opens a case from her flag
    sign_in(page, live_server, "counselor2", ana_page)
    page.get_by_text("Open a case", exact=True).click()
    page.get_by_role("button", name="Open case").click()
    page.wait_for_load_state()
    shown(page.get_by_role("heading", name="Case", level=1))
    # and records a barrier
    barriers = page.locator("#barriers")
    barriers.get_by_text("Record a barrier").click()
    barriers.get_by_label("Barrier").select_option(label="Transportation")
    barriers.get_by_role("button", name="Record barrier").click()
    page.wait_for_load_state()
    shown(page.locator("#barriers").get_by_text("Transportation").first)
    # and writes a plan
    plans = page.locator("#plans")
    plans.get_by_text("Write a plan").click()
    plans.get_by_label("Steps").fill("Mother: wake-up call at 7:00\nCounselor: weekly check-in")
    plans.get_by_role("button", name="Save plan").click()
    page.wait_for_load_state()
    shown(page.locator("#plans").get_by_text("Goal: attend 95% of days"))
    # and schedules a follow-up due today
    follow_ups = page.locator("#follow-ups")
    follow_ups.get_by_text("Schedule a follow-up").click()
    follow_ups.get_by_label("What").fill("Call Ana's mother")
    follow_ups.get_by_label("Due on").fill(cast.today.isoformat())
    follow_ups.get_by_role("button", name="Schedule").click()
    page.wait_for_load_state()
    case_url = page.url.split("#")[0]
    look(page, "case")

    # then the follow-up is due on the counselor's caseload
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My caseload").click()
    page.wait_for_load_state()
    due = page.get_by_role("list", name="Follow-ups due today")
    shown(due.get_by_text("Call Ana's mother"))
    look(page, "caseload")
    # and the team meeting lists Ana
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Team meeting").click()
    page.wait_for_load_state()
    agenda = page.get_by_role("table", name="Students to discuss")
    shown(agenda.get_by_role("link", name=cast.ana.full_name))
    look(page, "team-meeting")

    # when the counselor refers Ana to the partner, and the partner accepts
    page.goto(case_url)
    referrals = page.locator("#referrals")
    referrals.get_by_text("Refer to a partner").click()
    referrals.get_by_label("Partner").select_option(label="Riverside Family Center")
    referrals.get_by_role("button", name="Refer").click()
    page.wait_for_load_state()
    referrals = page.locator("#referrals")
    referrals.get_by_text("Update status").click()
    referrals.get_by_label("Status").select_option(label="Accepted")
    referrals.get_by_role("button", name="Save status").click()
    page.wait_for_load_state()
    # then the referral reads accepted
    shown(page.locator("#referrals .status").get_by_text("Accepted", exact=True))
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested
    for name, address in (
        ("playbook", "/playbook/"),
        ("partners", "/partners/"),
        ("follow-through", "/my-follow-through/"),
    ):
        page.goto(f"{live_server.url}{address}")
        look(page, name)
    sign_out(page)
    sign_in(page, live_server, "admin", "/measures/")
    look(page, "measures")


@pytest.fixture
def world(cast):
    """The worklist tests' world (test_worklists.py's docstring says who is where)."""
    return build_world(cast)


def test_principal_works_the_early_warning_list_and_the_students_list(world, live_server, page):
    # given the worklist world (see test_worklists): Ben, Eli and Ana at rising risk at
    # Lincoln; the principal serves Lincoln
    sign_in(page, live_server, "principal", start="/warnings/")
    # when they open the early warnings
    worklist = page.get_by_role("table", name="Students to reach first")
    # then the students to reach first are listed, highest forecast first, and why
    names = worklist.locator("tbody th").all_inner_texts()
    assert names == ["Brooks, Ben", "Evans, Eli", "Alvarez, Ana"]
    assert "the students whose year staff can still turn around" in page.inner_text("main")
    look(page, "worklist")
    # when they keep to grade 3 and show the list
    page.get_by_label("Grade").select_option("3")
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_load_state()
    # then Ana alone remains, and the address holds the filter to share
    assert worklist.locator("tbody th").all_inner_texts() == ["Alvarez, Ana"]
    assert "grade=3" in page.url
    # when they open the students list, filtered by tier from the address
    page.goto(f"{live_server.url}/students/?tier=tier1")
    look(page, "students")
    table = page.get_by_role("table", name="Students and their attendance")
    assert set(table.locator("tbody th").all_inner_texts()) == {
        "Alvarez, Ana",
        "Brooks, Ben",
        "Evans, Eli",
        "Garcia, Gabe",
    }
    assert page.get_by_label("Tier").input_value() == "tier1"
    # and nothing was asked of another server
    assert all(url.startswith(live_server.url) for url in page.requested)


def test_admin_sees_the_chronic_list_as_a_tab(world, live_server, page):
    sign_in(page, live_server, "admin", start="/warnings/")
    page.get_by_role("link", name="Already chronically absent").click()
    page.wait_for_load_state()
    chronic = page.get_by_role("table", name="Students already chronically absent")
    assert chronic.locator("tbody th").all_inner_texts() == ["Chen, Carla", "Desai, Dev"]
    look(page, "chronic")


def test_admin_switches_to_spanish_and_the_pages_fit_a_phone(world, live_server, page):
    # given the district administrator, signed in, reading in English
    sign_in(page, live_server, "admin", start="/students/")
    assert page.locator("html").get_attribute("lang") == "en"
    # when they press "Español" in the header
    page.get_by_role("button", name="Español").click()
    page.wait_for_load_state()
    # then the same page comes back in Spanish, and stays Spanish on the next pages
    assert page.url.endswith("/students/")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_role("heading", level=1).inner_text() == "Estudiantes"
    pages = {
        "es-district": "/",
        "es-school": f"/schools/{world.lincoln.pk}/",
        "es-students": "/students/",
        "es-student": f"/students/{world.ana.pk}/",
        "es-warnings": "/warnings/",
    }
    for name, address in pages.items():
        page.goto(f"{live_server.url}{address}")
        assert page.locator("html").get_attribute("lang") == "es", address
        shown(page.get_by_role("navigation", name="Principal"))
        # and at a phone's width the longer Spanish words wrap: the page is never wider
        # than the screen (wide tables scroll inside their own box)
        page.set_viewport_size({"width": 375, "height": 900})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{address} is {overflow}px wider than a 375px screen"
        page.set_viewport_size({"width": 1366, "height": 900})
        look(page, name)
    # and "English" in the header takes them back
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert all(url.startswith(live_server.url) for url in page.requested)
