"""Outreach in a real browser: edit a template with previews in Spanish and Arabic, text a
family, and find their reply on the student's timeline (Chromium, the local SMS provider)."""

import pytest
from django.urls import reverse

from homeroom.outreach.delivery import run_once
from homeroom.web.tests.test_browser import (  # noqa: F401
    browser,
    look,
    page,
    shown,
    sign_in,
    sign_out,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_template_edited_and_previewed_then_a_text_sent_and_its_reply_seen(
    cast,
    families,
    provider,
    live_server,
    page,  # noqa: F811 (the fixture imported above)
    settings,
):
    settings.HOMEROOM_SMS = provider.settings(public_url=live_server.url)
    # No delivery reports here (test_webhooks.py has them): posted from the provider's thread
    # while the worker writes, they would contend for an in-memory test database, which the
    # live server's threads and this one share.
    provider.callbacks = False
    # given the district admin on the Messages page
    sign_in(page, live_server, "admin")
    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Messages", exact=True).click()  # not "Unmatched messages"
    page.wait_for_load_state()
    shown(page.get_by_role("table", name="Templates by message and language"))
    look(page, "outreach-templates")
    # when they open the Spanish same-day absence text, change it and preview it for Ana
    page.goto(
        f"{live_server.url}{reverse('outreach:template-edit')}?kind=absence_today&language=es"
    )
    page.get_by_label("Body").fill(
        "{{ school }}: {{ children }} no vino hoy, {{ date }}. Llámenos."
    )
    page.get_by_label("Preview for student (id)").fill(str(cast.ana.pk))
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    preview = page.locator(".message-preview")
    assert "Lincoln Elementary: Ana no vino hoy" in preview.inner_text()
    assert preview.get_attribute("lang") == "es"
    # and save it
    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_load_state()
    assert "version 2" in page.content()
    # when they preview the Arabic one, it reads right to left
    page.goto(
        f"{live_server.url}{reverse('outreach:template-edit')}?kind=absence_today&language=ar"
    )
    page.get_by_label("Preview for student (id)").fill(str(cast.ana.pk))
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    preview = page.locator(".message-preview")
    assert preview.get_attribute("dir") == "rtl"
    assert "سُجّل Ana غائبًا اليوم" in preview.inner_text()
    look(page, "outreach-template-arabic")
    sign_out(page)
    # when Ana's teacher texts her mother from Ana's page
    sign_in(page, live_server, "teacher", reverse("web:student", args=[cast.ana.pk]))
    page.get_by_role("link", name="Message the family").click()
    page.wait_for_load_state()
    page.get_by_label("To").select_option(str(families.maria.pk))
    page.get_by_label("By").select_option("sms")
    page.get_by_label("Message", exact=True).fill("¿Ana está bien? No vino hoy.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_load_state()
    assert "Message queued" in page.content()
    # and the worker sends it, and María answers
    assert run_once() == {"sent": 1}
    assert provider.delivered[0]["body"].startswith("¿Ana está bien? No vino hoy.")
    inbound = f"{live_server.url}{reverse('outreach:sms-inbound')}"
    assert (
        provider.send_inbound(inbound, sender="+15550101001", body="Tiene fiebre, gracias.") == 200
    )
    # then the reply is on Ana's timeline and the message page, with a way to answer
    page.goto(f"{live_server.url}{reverse('web:student', args=[cast.ana.pk])}")
    shown(page.get_by_text("Text from María Alvarez: “Tiene fiebre, gracias.”"))
    page.goto(f"{live_server.url}{reverse('outreach:family-message', args=[cast.ana.pk])}")
    shown(page.get_by_role("link", name="Reply"))
    look(page, "outreach-family-message")
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested


def test_the_administrator_sets_the_rules_and_reviews_the_letters(
    cast,
    families,
    live_server,
    page,  # noqa: F811 (the fixture imported above)
):
    from homeroom.outreach.actions import outreach_settings, queue_trigger_message

    queue_trigger_message(
        district=cast.district,
        kind="nudge",
        channel="letter",
        guardian=families.maria,
        students=(cast.ana,),
        key="nudge:browser",
        values={"school": "Lincoln Elementary", "days_absent": "6", "typical_days": "2"},
        stated={},
    )
    # given the district admin on Outreach settings, from the menu
    sign_in(page, live_server, "admin")
    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Outreach settings").click()
    page.wait_for_load_state()
    # when they allow no message a week, the page says what is wrong beside the field
    page.get_by_label("Messages to a household in any 7 days, at most").fill("0")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    shown(page.get_by_text("Ensure this value is greater than or equal to 1."))
    look(page, "outreach-settings-mistake")
    # and when they set 2 and switch on the monthly notice, it is saved
    page.get_by_label("Messages to a household in any 7 days, at most").fill("2")
    page.get_by_label("Send the monthly threshold notices").check()
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_load_state()
    assert "Outreach settings saved" in page.content()
    assert outreach_settings(cast.district).weekly_cap == 2
    # then the letters page lists María's letter, ready to approve
    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Letters").click()
    page.wait_for_load_state()
    shown(page.get_by_role("table", name="Letters waiting for Lincoln Elementary"))
    assert page.get_by_role("button", name="Approve and print 1 letter for Lincoln Elementary")
    look(page, "outreach-letters")
    assert all(url.startswith(live_server.url) for url in page.requested), page.requested


def test_the_administrator_assigns_an_unmatched_email_to_a_family(
    cast,
    families,
    live_server,
    page,  # noqa: F811 (the fixture imported above)
):
    from homeroom.interventions.models import FamilyContact
    from homeroom.outreach.actions import do_receive_email

    # given an email from an address no guardian has
    do_receive_email(
        sender="Abuela <abuela@example.net>",
        to="attendance@riverside.example",
        subject="Ben",
        text="Soy la abuela de Ben; hoy está enfermo y no irá a la escuela.",
        headers="Message-ID: <abuela-2@example.net>\n",
        district_id=cast.district.pk,
    )
    # when the district admin opens Unmatched messages from the menu
    sign_in(page, live_server, "admin")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Unmatched messages"
    ).click()
    page.wait_for_load_state()
    table = page.get_by_role("table", name="Messages waiting to be matched, oldest first")
    shown(table.get_by_text("hoy está enfermo"))
    look(page, "outreach-unmatched")
    # and finds Ben's mother by name beside the message, then assigns it to her
    page.get_by_label(
        "Find the guardian who sent the message from abuela@example.net: "
        "name, phone, email or roster ID"
    ).fill("Brooks")
    page.get_by_role("button", name="Find").click()
    page.wait_for_load_state()
    found = page.get_by_role("list", name="Guardians matching “Brooks”")
    shown(found.get_by_text("Ben Brooks"))
    look(page, "outreach-unmatched-search")
    found.get_by_role("button", name="Assign to Linh Brooks").click()
    page.wait_for_load_state()
    # then the page says so, is empty, and Ben's contact log has the family's email
    shown(page.get_by_text("Assigned to Linh Brooks."))
    shown(page.get_by_text("No messages wait to be matched."))
    assert FamilyContact.objects.get().student == cast.ben
    look(page, "outreach-unmatched-done")


def test_the_administrator_sends_again_a_text_whose_sending_was_interrupted(
    cast,
    families,
    provider,
    live_server,
    page,  # noqa: F811 (the fixture imported above)
    settings,
):
    import datetime as dt

    from homeroom.outreach.actions import do_send_family_message
    from homeroom.outreach.delivery import claim, recover_abandoned

    # given a text to María whose worker died before the provider got it (a provider that
    # does not honour the idempotency key, so the text waits for staff)
    settings.HOMEROOM_SMS = provider.settings(idempotent=False)
    provider.callbacks = False
    message = do_send_family_message(
        cast.teacher,
        student_id=cast.ana.pk,
        guardian_id=families.maria.pk,
        channel="sms",
        text="Ana no vino hoy.",
    )
    claim(10)
    recover_abandoned(lease=dt.timedelta(0))
    # when the district admin opens Sends to check from the menu, which counts it
    sign_in(page, live_server, "admin")
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Sends to check (1)"
    ).click()
    page.wait_for_load_state()
    table = page.get_by_role(
        "table", name="Messages whose sending was interrupted, longest waiting first"
    )
    row = table.get_by_role("row").filter(has_text="María Alvarez")
    shown(row.get_by_text("If it did arrive, the family gets it twice."))
    look(page, "outreach-unknown")
    # and sends it again
    row.get_by_role("button", name="Send again").click()
    page.wait_for_load_state()
    # then the page says so and is empty, and the worker sends it once
    shown(page.get_by_text("Back in the outbox: it is sent again within a minute."))
    shown(page.get_by_text("No message waits for a check"))
    assert run_once() == {"sent": 1}
    assert [m["to"] for m in provider.delivered] == [message.to_address]
    look(page, "outreach-unknown-done")
