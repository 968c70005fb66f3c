"""The web interface in a real browser (Debian's Chromium driven by Playwright)."""

import os
from collections.abc import Iterator

import pytest

from homeroom.attendance.models import AttendanceEvent
from homeroom.conftest import PASSWORD
from homeroom.ingest.models import ImportRun
from homeroom.web.tests.import_files import PROFILE, two_absences

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
    assert page.get_by_role("heading", name="Your students").is_visible()
    # when they open Students
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Students").click()
    page.wait_for_load_state()
    # then only Ana is listed, not Ben nor Eli
    table = page.locator("#student-table")
    assert table.get_by_role("link", name="Alvarez, Ana").is_visible()
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
    assert page.get_by_role("heading", name="Ana Alvarez", level=1).is_visible()
    assert "Why you can see this student: section" in page.content()
    # and nothing was fetched from another server
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested


def test_admin_overview_shows_both_schools(cast, summaries, live_server, page):
    # given the district admin, signed in through the form (the summaries computed)
    sign_in(page, live_server, "admin")
    # when the overview opens
    table = page.get_by_role("table", name="Attendance by school")
    # then both schools of the district have a row
    assert table.get_by_role("rowheader", name="Lincoln Elementary").is_visible()
    assert table.get_by_role("rowheader", name="Central High").is_visible()
    assert page.get_by_role("heading", name="District overview").is_visible()
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
    assert page.get_by_role("heading", name="Validation report").is_visible()
    counts = page.get_by_role("table", name="Rows the import would write, by kind")
    row = counts.get_by_role("row", name="Attendance events")
    assert row.get_by_role("cell").nth(1).inner_text() == "2"  # inserted, after read
    assert not AttendanceEvent.objects.exists()
    # when they confirm
    page.get_by_role("button", name="Confirm import").click()
    page.wait_for_load_state()
    # then the run opens: succeeded, with the events written
    run = ImportRun.objects.get()
    assert page.get_by_role("heading", name=f"Import run {run.pk}").is_visible()
    assert page.get_by_text("Succeeded").first.is_visible()
    assert AttendanceEvent.objects.filter(source_run=run).count() == 2
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested
