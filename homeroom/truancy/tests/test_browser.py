"""Truancy escalation in a real browser: from the nightly run's finding to a Spanish first
notice and an attendance team (SART) agreement."""

import pytest

from homeroom.outreach.models import Message
from homeroom.roster.models import ContactPreference, Guardian, StudentGuardian
from homeroom.truancy.models import TruancyDocument
from homeroom.truancy.tests.conftest import absent, choose, night, pdf_text, school_days_from
from homeroom.web.tests.test_browser import browser, look, page, shown, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_step(tab, title: str) -> None:
    """From the queue, open the step awaiting approval."""
    tab.get_by_role("navigation", name="Main").get_by_role("link", name="Truancy").click()
    tab.get_by_role("table", name="Steps the nightly run found, awaiting a decision").get_by_role(
        "link", name=title
    ).click()
    tab.wait_for_load_state()


def test_principal_approves_a_spanish_first_notice_then_records_the_sart_agreement(
    cast,
    live_server,
    page,  # noqa: F811 (the fixture imported above)
):
    # given Ana's mother reads Spanish, California's pack in a copy that sends the second
    # report at the fourth absence of the year (the law's "again absent" after the first
    # notice was sent would need a later day than today), and Ana absent three days
    mother = Guardian.objects.create(
        district=cast.district,
        local_id="G1",
        first_name="Rosa",
        last_name="Alvarez",
        preferred_language="es",
        email="rosa@example.org",
        address_line="12 Elm St",
        city="Riverside",
        state="IL",
        postal_code="60546",
    )
    StudentGuardian.objects.create(student=cast.ana, guardian=mother, relationship="mother")
    ContactPreference.objects.create(guardian=mother, channel="email", consent="granted")
    copy = '[[steps]]\nkey = "not2"\nabsences = 4\nmore_since_previous = 0\n'
    choose(cast, "california", copy)
    days = school_days_from(cast.this_year.start_date, 4)
    for day in days[:3]:
        absent(cast, cast.ana, day)
    night(cast)
    # when Lincoln's principal opens the queue and the step, and approves it
    sign_in(page, live_server, "principal")
    open_step(page, "First truancy notice (NOT1)")
    look(page, "truancy-step")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    # then the letter is listed, and it is in Spanish with the law's wording
    shown(page.get_by_text("First truancy notice (NOT1): sent."))
    shown(page.get_by_role("link", name="Notice letter"))
    letter = TruancyDocument.objects.get(step__key="not1")
    fetched = page.request.get(f"{live_server.url}/truancy/documents/{letter.pk}/")
    text = pdf_text(fetched.body())
    assert "Estimado/a Rosa Alvarez" in text and "sección 48260.5" in text
    # and it went to the outbox as a letter to her address and an email, both in Spanish
    for channel in ("Letter", "Email"):
        line = f"{channel} to Rosa Alvarez, in Spanish: waiting to be sent"
        shown(page.get_by_text(line))
    sent = Message.objects.filter(kind="truancy_notice").order_by("channel")
    assert [(m.channel, m.language, m.to_address) for m in sent] == [
        ("email", "es", "rosa@example.org"),
        ("letter", "es", "12 Elm St, Riverside IL 60546"),
    ]
    assert all("sección 48260.5" in m.body for m in sent)
    # given a fourth absence: the second report, then the SART meeting
    absent(cast, cast.ana, days[3])
    night(cast)
    page.goto(f"{live_server.url}/")
    open_step(page, "Second truancy report (NOT2)")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    night(cast)
    page.goto(f"{live_server.url}/")
    open_step(page, "School Attendance Review Team meeting (SART)")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_load_state()
    # when the principal records the meeting held today, with who came and the agreement
    page.get_by_label("Held on").fill(cast.today.isoformat())
    page.get_by_label("Where").fill("Lincoln Elementary, room 12")
    page.get_by_label("Who attended").fill("Ms. Park, principal\nRosa Alvarez, mother")
    page.get_by_label("What the family and the school agreed").fill(
        "Ana arrives by 8:00 every day."
    )
    look(page, "truancy-sart")
    page.get_by_role("button", name="Record meeting and agreement").click()
    page.wait_for_load_state()
    # then the agreement is a PDF naming who came and what was agreed
    shown(page.get_by_text("Meeting recorded; the agreement is ready to print."))
    agreement = TruancyDocument.objects.get(kind="agreement")
    fetched = page.request.get(f"{live_server.url}/truancy/documents/{agreement.pk}/")
    text = pdf_text(fetched.body())
    assert "Rosa Alvarez, mother" in text and "Ana arrives by 8:00 every day." in text
    # and the queue shows nothing awaiting, and nothing came from another server
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Truancy").click()
    look(page, "truancy-queue")
    shown(page.get_by_text("Nobody is awaiting approval."))
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested
