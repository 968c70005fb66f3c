"""A family answers a needs survey in Spanish in the real browser, and the roll-up shows it
(Debian's Chromium driven by Playwright; the fixtures are the web tests')."""

import re

import pytest

from homeroom.outreach.models import Message
from homeroom.surveys.actions import do_send_survey_invitations
from homeroom.surveys.tests.world import answered, barrier, families
from homeroom.web.tests.test_browser import browser, look, page, shown, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_family_answers_in_spanish_and_the_roll_up_counts_it(cast, live_server, page):  # noqa: F811
    # given the Alvarez household invited by text, and 9 other Lincoln households that
    # answered "Transportation" (one short of showing Lincoln's counts)
    world = families(cast)
    do_send_survey_invitations(cast.admin, survey_id=world.survey.pk, base_url=live_server.url)
    transportation = barrier(cast, "transportation")
    for n in range(9):
        answered(world.survey, f"lincoln {n}", [cast.ben], [cast.lincoln], [transportation])
    body = Message.objects.get(guardian=world.maria, kind="survey_invitation").body
    link = re.search(r"(http://\S+/answer/[A-Za-z0-9_-]+/)", body).group(1)
    # when María opens her link (no account) and answers in Spanish
    page.goto(link)
    assert page.locator("html").get_attribute("lang") == "es"
    shown(page.get_by_role("heading", name="¿Qué dificulta ir a la escuela?"))
    look(page, "survey-family-es")
    # (the Arabic page, laid out right to left)
    page.goto(f"{link}?lang=ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    look(page, "survey-family-ar")
    page.goto(link)
    page.get_by_label("Transporte").check()
    page.get_by_label("Salud").check()
    page.get_by_role("button", name="Enviar mis respuestas").click()
    page.wait_for_load_state()
    # then she is thanked in Spanish, and nothing came from another server
    shown(page.get_by_text("Gracias. Recibimos sus respuestas."))
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested
    look(page, "survey-family-thanks")
    # when the analyst opens the survey's results
    sign_in(page, live_server, "analyst", start=f"/surveys/{world.survey.pk}/results/")
    look(page, "survey-results")
    # then Lincoln has 10 answers, all naming transportation; health stays "fewer than 10"
    table = page.get_by_role("table", name="Households naming each barrier, by school")
    lincoln = table.get_by_role("row", name="Lincoln Elementary").get_by_role("cell")
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    cells = dict(zip(headers[1:], lincoln.all_inner_texts(), strict=True))
    assert (cells["Answers"], cells["Transportation"], cells["Health"]) == (
        "10",
        "10",
        "fewer than 10",
    )
    # and the survey's page and the builder's form look right too
    page.goto(f"{live_server.url}/surveys/{world.survey.pk}/")
    look(page, "survey-detail")
    page.goto(f"{live_server.url}/surveys/")
    look(page, "survey-list")


def test_the_steward_reads_the_coding_audit(cast, live_server, page):  # noqa: F811
    from homeroom.attendance.models import AttendanceCode, Category
    from homeroom.conftest import add_absence, school_day

    cast.codes["LT"] = AttendanceCode.objects.create(
        district=cast.district,
        code="LT",
        description="Late",
        category=Category.PRESENT,
        day_fraction=0,
    )
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 2), code="LT")
    sign_in(page, live_server, "admin", start="/stewardship/coding-audit/")
    shown(page.get_by_role("heading", name="Coding audit"))
    look(page, "coding-audit")
    page.get_by_role("link", name="See the rows").click()
    page.wait_for_load_state()
    shown(page.get_by_role("link", name="Alvarez, Ana"))
    look(page, "coding-audit-rows")
