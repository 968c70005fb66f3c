"""Pages work in a real browser under the Content-Security-Policy: nothing refused, HTMX
still swaps, nothing fetched from another server."""

import re

import pytest

from homeroom.web.tests import test_browser as shared

# The browser module's fixtures: one Chromium, and a page recording what it fetched.
browser, page, sign_in = shared.browser, shared.page, shared.sign_in
SCREENSHOTS = shared.SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Pages of every app, as the district administrator and a counselor open them.
PAGES = {
    "admin": [
        "/",
        "/students/",
        "/warnings/",
        "/imports/",
        "/imports/new/",
        "/playbook/",
        "/barriers/",
        "/partners/",
        "/measures/",
        "/audit/",
    ],
    "counselor": ["/", "/caseload/", "/team-meeting/", "/my-follow-through/"],
}


def refusals(page) -> list[str]:
    """What the browser refused under the policy, as it says on the console."""
    return [message for message in page.console if "Content Security Policy" in message]


@pytest.mark.parametrize("username", sorted(PAGES))
def test_every_page_loads_under_the_policy_with_nothing_refused(
    cast, summaries, live_server, page, username
):
    # given a browser that keeps what the console says
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    sign_in(page, live_server, username)
    for path in PAGES[username] + [f"/students/{cast.gabe.pk}/"]:
        # when each page opens
        response = page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
        # then it is served under the policy, and the browser refused nothing on it
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert refusals(page) == [], path
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested


def test_the_student_search_still_swaps_the_table_in_place(cast, live_server, page):
    # given the admin on the student list, under the policy
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    sign_in(page, live_server, "admin", "/students/")
    # when they type a name (HTMX, from a static script)
    page.get_by_label("Name or student id").fill("garc")
    # then the table narrows to Gabe without a page load, and nothing was refused
    table = page.locator("#student-table")
    table.get_by_role("link", name="Alvarez, Ana").wait_for(state="detached")
    shared.shown(table.get_by_role("link", name="Garcia, Gabe"))
    assert "garc" in page.url  # HTMX pushed the search into the address
    assert refusals(page) == []


def test_the_audit_page_filters_in_a_browser(cast, live_server, page):
    # given the admin opened Ana's page, so the trail has a view of her
    page.console = []
    page.on("console", lambda message: page.console.append(message.text))
    sign_in(page, live_server, "admin", f"/students/{cast.ana.pk}/")
    # when they open Audit from the navigation and keep to views of "Alvarez"
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Audit", exact=True
    ).click()
    page.get_by_label("Student (id or name)").fill("Alvarez")
    page.get_by_label("Action").select_option(label="Viewed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    # then one row says who viewed whose page, in words
    table = page.get_by_role("table", name=re.compile("Audit entries"))
    rows = table.locator("tbody tr")
    assert rows.count() == 1
    assert "Ana Alvarez (S1)" in rows.first.inner_text()
    assert "Role covers the whole district" in rows.first.inner_text()
    assert refusals(page) == []
    if SCREENSHOTS:
        for width in (1366, 375):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=f"{SCREENSHOTS}/audit-{width}.png", full_page=True)
