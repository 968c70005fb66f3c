"""Accessibility in a real browser: axe-core on every page for every role, the keyboard, and
the navigation on a 375 px wide phone.

axe-core is not copied into the repository: the first run installs the pinned version
from the npm registry into test-results/ (ignored by git), as `./dev test` would.
"""

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from homeroom.conftest import PASSWORD, add_absence, school_days
from homeroom.interventions.actions import do_install_defaults, do_save_partner
from homeroom.interventions.tests.conftest import open_case, raise_flag
from homeroom.interventions.views import CASE_ACTIONS
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.outreach.models import Message
from homeroom.surveys.models import Invitation
from homeroom.surveys.tests.world import families
from homeroom.surveys.tokens import new_token, token_hash
from homeroom.truancy.models import TruancyStep
from homeroom.truancy.tests.conftest import choose, night
from homeroom.web.tests.import_files import two_absences, validated_upload
from homeroom.web.tests.test_browser import browser, shown, sign_in  # noqa: F401
from homeroom.web.tests.test_permissions import _a_run

pytestmark = [
    pytest.mark.browser,
    # what the browser shows does not depend on the database; run beside SQLite's half,
    # the longer one (./dev test)
    pytest.mark.one_database(half="postgresql"),
    pytest.mark.django_db(transaction=True),
]

AXE_VERSION = "4.14.1"
AXE_DIRECTORY = Path(__file__).resolve().parents[3] / "test-results" / f"axe-core-{AXE_VERSION}"
AXE_SCRIPT = AXE_DIRECTORY / "node_modules" / "axe-core" / "axe.min.js"
# The impacts the issue forbids; "moderate" and "minor" findings are not failures.
FORBIDDEN = {"serious", "critical"}
ROLES = ("admin", "analyst", "principal", "counselor", "teacher", "viewer")
PHONE = {"width": 375, "height": 800}

# Named routes that are not pages a person reads in a browser: form posts (their pages
# with errors are the GET pages' forms), downloads (PDF, CSV), the SMS provider's webhooks.
NOT_PAGES = {
    "web:logout",
    "web:import_confirm",
    "web:import_allow_deletes",
    "interventions:team_meeting_pdf",
    "interventions:playbook_export",
    "interventions:playbook_map",
    "interventions:retire",
    "outreach:letter-batch-file",
    "outreach:sms-status",
    "outreach:sms-inbound",
    "truancy:approve",
    "truancy:decline",
    "truancy:meeting",
    "truancy:document",
    "web:unlock_sign_in",
    "web:language",
    "outreach:email-inbound",
    "reports:pdf",
    "reports:table",
    "reports:settings",
    "surveys:send",
}


# What sticks out of a phone's screen: the outermost elements past its right edge.
TOO_WIDE = """() => [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > innerWidth + 1)
    .filter(e => !(e.parentElement.getBoundingClientRect().right > innerWidth + 1))
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
        + (typeof e.className === "string" && e.className ? "." + e.className : ""))
"""


@pytest.fixture(scope="module")
def axe() -> str:
    """The text of axe.min.js, installed from the npm registry on first use."""
    if not AXE_SCRIPT.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is missing (axe-core comes from the npm registry): run ./dev test")
        command = [npm, "install", "--prefix", str(AXE_DIRECTORY), "--no-save", "--no-audit"]
        subprocess.run([*command, "--no-fund", f"axe-core@{AXE_VERSION}"], check=True)
    return AXE_SCRIPT.read_text()


def every_route_name(resolver: URLResolver | None = None, namespace: str = "") -> set[str]:
    """The names of every route of the app, with their namespaces ("web:home")."""
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= every_route_name(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}{entry.name}")
    return names


def interrupted_send(cast) -> None:
    """A text to Ana's family whose sending was interrupted: a row on Sends to check."""
    now = timezone.now()
    message = Message.objects.create(
        district=cast.district,
        kind="staff",
        channel="sms",
        to_address="+15550101001",
        body="Ana no vino hoy.",
        status="unknown",
        idempotency_key="accessibility:interrupted",
        not_before=now,
        status_at=now,
    )
    message.students.add(cast.ana)


def build_pages(cast) -> dict[str, str]:
    """The cast given something on every page, and the address of each page to read."""
    from homeroom.web.tests.test_worklists import build_world

    build_world(cast)
    for day in school_days(cast.this_year)[:3]:
        add_absence(cast, cast.gabe, cast.lincoln, day)
    do_refresh_summaries(cast.district)
    do_install_defaults(cast.district)
    do_save_partner(cast.admin, name="Riverside Family Center")
    raise_flag(cast, "gabe", cast.today)
    case = open_case(cast, "carla")
    choose(cast, "california")
    night(cast)
    step = TruancyStep.objects.filter(student__district=cast.district).first()
    assert step is not None, "the truancy pack found no step to show"
    survey = families(cast).survey
    token = new_token()  # a family's link to the survey, answered without an account
    Invitation.objects.create(
        survey=survey, token_hash=token_hash(token), household="1 Elm St", language="es"
    )
    upload = validated_upload(cast.admin, two_absences(cast)).token
    (run,) = _a_run(cast)
    interrupted_send(cast)
    ana, carla = cast.ana.pk, cast.carla.pk
    pages = {
        "web:home": reverse("web:home"),
        "web:login": reverse("web:login"),
        "web:school_dashboard": reverse("web:school_dashboard", args=[cast.lincoln.pk]),
        "web:grade_dashboard": reverse("web:grade_dashboard", args=[cast.lincoln.pk, 3]),
        "web:group_dashboard": reverse("web:group_dashboard", args=["iep"]),
        "web:school_group_dashboard": reverse(
            "web:school_group_dashboard", args=[cast.central.pk, "iep"]
        ),
        "web:students": reverse("web:students"),
        "web:student": reverse("web:student", args=[ana]),
        "web:warnings": reverse("web:warnings"),
        "web:imports": reverse("web:imports"),
        "web:import_new": reverse("web:import_new"),
        "web:import_report": reverse("web:import_report", args=[upload]),
        "web:import_run": reverse("web:import_run", args=[run]),
        "web:audit": reverse("web:audit"),
        "interventions:log_contact": reverse("interventions:log_contact", args=[ana]),
        "interventions:start_intervention": reverse("interventions:start_intervention", args=[ana]),
        "interventions:open_case": reverse("interventions:open_case", args=[ana]),
        "interventions:refer_for_case": reverse("interventions:refer_for_case", args=[ana]),
        "interventions:case": reverse("interventions:case", args=[case.pk]),
        "interventions:caseload": reverse("interventions:caseload"),
        "interventions:team_meeting": reverse("interventions:team_meeting"),
        "interventions:playbook": reverse("interventions:playbook"),
        "interventions:playbook_entry": reverse("interventions:playbook_entry") + "?kind=barrier",
        "interventions:playbook_import": reverse("interventions:playbook_import"),
        "interventions:barriers": reverse("interventions:barriers"),
        "interventions:partners": reverse("interventions:partners"),
        "interventions:partner_edit": reverse("interventions:partner_edit"),
        "interventions:measures": reverse("interventions:measures"),
        "interventions:follow_through": reverse("interventions:follow_through"),
        "outreach:family-message": reverse("outreach:family-message", args=[carla]),
        "outreach:templates": reverse("outreach:templates"),
        "outreach:template-edit": reverse("outreach:template-edit")
        + "?kind=absence_today&language=es",
        "outreach:settings": reverse("outreach:settings"),
        "outreach:letters": reverse("outreach:letters"),
        "truancy:queue": reverse("truancy:queue"),
        "truancy:step": reverse("truancy:step", args=[step.pk]),
        "truancy:pack": reverse("truancy:pack"),
        "outreach:unmatched": reverse("outreach:unmatched"),
        "outreach:unknown": reverse("outreach:unknown"),
        "web:impact": reverse("web:impact"),
        "reports:index": reverse("reports:index"),
        "reports:groups": reverse("reports:groups"),
        "reports:allocation": reverse("reports:allocation"),
        "reports:improvement": reverse("reports:improvement"),
        "stewardship:coding-audit": reverse("stewardship:coding-audit"),
        "stewardship:rows": reverse("stewardship:rows")
        + f"?school={cast.lincoln.pk}&kind=absent&from={cast.this_year.start_date}&to={cast.today}",
        "surveys:list": reverse("surveys:list"),
        "surveys:new": reverse("surveys:new"),
        "surveys:detail": reverse("surveys:detail", args=[survey.pk]),
        "surveys:results": reverse("surveys:results", args=[survey.pk]),
        "surveys:household-answers": reverse("surveys:household-answers", args=[carla]),
        "surveys:answer": reverse("surveys:answer", args=[token]),
    }
    return pages


def case_action_names() -> set[str]:
    """The routes the case page's forms post to, one per action."""
    return {f"interventions:case_{action}" for action in CASE_ACTIONS}


def violations_on(page, axe: str) -> list[str]:
    """axe-core's serious and critical findings on the page, one line each."""
    page.add_script_tag(content=axe)
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['impact']} {v['id']}: {v['help']} at "
        + ", ".join(json.dumps(node["target"]) for node in v["nodes"][:5])
        for v in found
        if v["impact"] in FORBIDDEN
    ]


@pytest.fixture
def tab(browser, live_server) -> Iterator:  # noqa: F811 (the fixture imported above)
    # The site's Content-Security-Policy allows no inline script (issue 22); axe-core is
    # added to each page as one, so the test's browser context bypasses the policy. The
    # policy itself is tested in test_browser_security.py.
    context = browser.new_context(bypass_csp=True, viewport=PHONE)
    yield context.new_page()
    context.close()


def test_every_page_has_no_serious_axe_violations_for_any_role(cast, live_server, tab, axe):
    # given something on every page: flags, a case, a truancy step, an upload, a run
    pages = build_pages(cast)
    # (and every route of the app is walked, or named as no page; the case page's forms
    # post to routes of their own)
    unaccounted = every_route_name() - set(pages) - NOT_PAGES - case_action_names()
    assert not unaccounted, f"add these routes to the accessibility walk: {sorted(unaccounted)}"
    problems: list[str] = []
    # signed out: the login page
    tab.goto(f"{live_server.url}{pages['web:login']}")
    problems += [f"signed out, /login/: {line}" for line in violations_on(tab, axe)]
    # when each role opens every page it may (the others answer 404 or send it elsewhere)
    read = 0
    for role in ROLES:
        sign_in(tab, live_server, role)
        seen = set()
        for name, url in pages.items():
            if name == "web:login":
                continue
            response = tab.goto(f"{live_server.url}{url}")
            landed = urlsplit(tab.url)
            where = landed.path + (f"?{landed.query}" if landed.query else "")
            if response.status != 200 or where in seen:
                continue
            seen.add(where)
            read += 1
            problems += [f"{role}, {where}: {line}" for line in violations_on(tab, axe)]
            # and the page, on a 375 px wide phone, does not scroll sideways
            width = tab.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                wide = tab.evaluate(TOO_WIDE)
                problems.append(f"{role}, {where}: {width} px wide on a 375 px phone: {wide}")
        tab.goto(f"{live_server.url}/")  # the family's survey page has no staff header
        tab.get_by_role("button", name="Sign out").click()
        tab.wait_for_load_state()
    # then axe finds nothing serious, on the pages every role reads
    assert read > 60, f"only {read} pages read"
    assert not problems, "\n".join(problems)


# The focused element, and whether a sighted keyboard user can see where the focus is: an
# outline or a box shadow drawn around it, inside the screen.
FOCUSED = """() => {
    const e = document.activeElement, style = getComputedStyle(e), box = e.getBoundingClientRect();
    const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
        || style.boxShadow !== "none";
    return {
        name: (e.labels && e.labels.length ? e.labels[0].innerText : e.innerText || e.name || "")
            .trim(),
        tag: e.tagName.toLowerCase(),
        visible: ring && box.width > 0 && box.left >= 0 && box.right <= innerWidth,
    };
}"""


def tab_to_next(tab) -> dict:
    tab.keyboard.press("Tab")
    return tab.evaluate(FOCUSED)


def test_keyboard_alone_signs_in_walks_the_navigation_and_fills_a_form(cast, live_server, tab):
    # given the sign-in page on a 375 px wide phone: the username field has the focus
    tab.goto(f"{live_server.url}/login/")
    # when the administrator types their name and password and presses Enter on the button
    assert tab.evaluate(FOCUSED)["name"] == "Username"
    tab.keyboard.type("admin")
    assert tab_to_next(tab) == {"name": "Password", "tag": "input", "visible": True}
    tab.keyboard.type(PASSWORD)
    assert tab_to_next(tab) == {"name": "Sign in", "tag": "button", "visible": True}
    with tab.expect_navigation():
        tab.keyboard.press("Enter")
    # then the district's dashboard opens
    shown(tab.get_by_role("heading", name="District", exact=True))
    # when they press Tab: first the skip link shows, then the brand, then each link of the
    # navigation in turn, each with a visible focus ring, then the other language and the
    # sign-out button
    links = tab.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()
    assert "Audit" in links and "Imports" in links  # an administrator's whole navigation
    assert tab_to_next(tab) == {"name": "Skip to main content", "tag": "a", "visible": True}
    assert tab_to_next(tab) == {"name": "Homeroom", "tag": "a", "visible": True}
    for link in links:
        assert tab_to_next(tab) == {"name": link, "tag": "a", "visible": True}
    language = tab_to_next(tab)
    assert (language["tag"], language["visible"]) == ("button", True)
    assert language["name"].endswith("Español"), language
    assert tab_to_next(tab) == {"name": "Sign out", "tag": "button", "visible": True}
    # and every link of the navigation is inside the phone's screen, the page not wider
    for box in tab.get_by_role("navigation", name="Main").get_by_role("link").all():
        edges = box.bounding_box()
        assert edges["x"] >= 0 and edges["x"] + edges["width"] <= PHONE["width"], box
    assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # when they open the students list and tab through its filters
    tab.goto(f"{live_server.url}/students/")
    search = tab.get_by_role("search", name="Find students")
    controls = search.locator("input:not([type=hidden]), select, button")
    wanted = [
        control.evaluate("e => (e.labels && e.labels.length ? e.labels[0] : e).innerText.trim()")
        for control in controls.all()
    ]
    search.get_by_label("Name or student id").focus()
    reached = [tab.evaluate(FOCUSED)]
    while len(reached) < len(wanted):
        reached.append(tab_to_next(tab))
    # then each control takes the focus in turn, where it can be seen
    assert [each["name"] for each in reached] == wanted
    assert all(each["visible"] for each in reached), reached
    # and choosing with the keyboard alone filters the list: Enter on the search button
    with tab.expect_navigation():
        tab.keyboard.press("Enter")
    shown(tab.get_by_role("table", name="Students and their attendance"))
