"""The provider's webhooks over real HTTP: delivery reports, replies, STOP and START.

The local provider (sandbox.py) posts signed callbacks to Homeroom's live server, as the
provider does; nothing stands in for the HTTP exchange.
"""

import pytest
from django.urls import reverse

from homeroom.interventions.models import CaseEvent, FamilyContact
from homeroom.outreach.actions import do_send_family_message
from homeroom.outreach.channels import twilio_signature
from homeroom.outreach.delivery import run_once
from homeroom.outreach.models import ConsentChange, DeliveryReport, Message
from homeroom.roster.models import ContactPreference

pytestmark = pytest.mark.django_db(transaction=True)

MARIA = "+15550101001"


@pytest.fixture
def webhooks(provider, live_server, settings):
    """Homeroom's public address is the live server's: the provider calls back there."""
    settings.HOMEROOM_SMS = provider.settings(public_url=live_server.url)
    return f"{live_server.url}{reverse('outreach:sms-inbound')}"


def text_maria(cast, families, words="Ana no vino hoy."):
    return do_send_family_message(
        cast.teacher,
        student_id=cast.ana.pk,
        guardian_id=families.maria.pk,
        channel="sms",
        text=words,
    )


def test_delivery_reports_move_a_message_to_delivered_once(
    cast, families, provider, webhooks, live_server
):
    message = text_maria(cast, families)
    run_once()
    provider.wait_for_callbacks()
    assert provider.callback_answers == [204, 204]
    message.refresh_from_db()
    assert message.get_status_display() == "Delivered"
    assert sorted(DeliveryReport.objects.values_list("status", flat=True)) == ["delivered", "sent"]
    # a report sent again (providers retry) is recorded once and moves nothing back
    callback = f"{live_server.url}{reverse('outreach:sms-status')}?message={message.pk}"
    again = {"MessageSid": message.provider_id, "MessageStatus": "sent"}
    assert provider._post_signed(callback, again) == 204
    assert DeliveryReport.objects.count() == 2
    message.refresh_from_db()
    assert message.status == "delivered"


def test_a_webhook_without_a_valid_signature_is_refused(cast, families, client, provider):
    fields = {"From": MARIA, "To": "+15550000100", "Body": "STOP", "MessageSid": "SM1"}
    answer = client.post(reverse("outreach:sms-inbound"), fields, HTTP_X_TWILIO_SIGNATURE="bad")
    assert answer.status_code == 403
    forged = twilio_signature("http://testserver/outreach/sms/inbound/", fields, "not-the-token")
    answer = client.post(reverse("outreach:sms-inbound"), fields, HTTP_X_TWILIO_SIGNATURE=forged)
    assert answer.status_code == 403
    assert not Message.objects.exists()
    assert families.maria.preferences.get(channel="sms").consent == "granted"


def test_a_reply_reaches_each_childs_contact_log_and_timeline(cast, families, provider, webhooks):
    sent = text_maria(cast, families)
    run_once()
    # when María answers the text
    assert provider.send_inbound(webhooks, sender=MARIA, body="Ana está enferma.") == 200
    # then it is in Ana's and Gabe's contact logs and timelines, as a reply to the text
    reply = Message.objects.get(direction="in")
    assert (reply.guardian, reply.in_reply_to, reply.body) == (
        families.maria,
        sent,
        "Ana está enferma.",
    )
    contacts = FamilyContact.objects.filter(outcome="replied")
    assert sorted(c.student_id for c in contacts) == sorted([cast.ana.pk, cast.gabe.pk])
    assert all(c.note == "Ana está enferma." and c.recorded_by is None for c in contacts)
    event = CaseEvent.objects.get(student=cast.ana, kind="message_received")
    assert event.summary == "Text from María Alvarez: “Ana está enferma.”"
    # and the teacher answers from Homeroom, which is not held to the weekly cap
    answer = do_send_family_message(
        cast.teacher,
        student_id=cast.ana.pk,
        guardian_id=families.maria.pk,
        channel="sms",
        text="Gracias, que se mejore.",
        in_reply_to_id=reply.pk,
    )
    assert answer.in_reply_to == reply


def test_stop_opts_out_at_once_and_is_confirmed_once_and_start_opts_back_in(
    cast, families, provider, webhooks
):
    waiting = text_maria(cast, families)
    # when María replies ALTO, twice
    assert provider.send_inbound(webhooks, sender=MARIA, body="ALTO") == 200
    assert provider.send_inbound(webhooks, sender=MARIA, body="Alto.") == 200
    # then she is opted out of texts at once, with the record of why
    preference = families.maria.preferences.get(channel="sms")
    assert preference.consent == ContactPreference.Consent.OPTED_OUT
    change = ConsentChange.objects.get()
    assert (change.consent, change.source) == ("opted_out", "replied “ALTO” to a text")
    # and the text waiting for her is not sent; one confirmation, in Spanish, is
    run_once()
    waiting.refresh_from_db()
    assert waiting.status == "cancelled"
    assert [m["body"] for m in provider.delivered] == [
        "Riverside Unified: Ya no recibirá mensajes de texto nuestros. Responda START para "
        "volver a recibirlos."
    ]
    # and staff cannot text her
    with pytest.raises(Exception, match="has not agreed to receive text messages"):
        text_maria(cast, families, "¿Hola?")
    # when she replies START
    assert provider.send_inbound(webhooks, sender=MARIA, body="START") == 200
    run_once()
    # then she is back in, told so once, and texts go again
    assert families.maria.preferences.get(channel="sms").consent == "granted"
    assert provider.delivered[-1]["body"] == (
        "Riverside Unified: Volverá a recibir nuestros mensajes de texto. Responda ALTO para "
        "dejar de recibirlos."
    )
    assert len(provider.delivered) == 2
    assert text_maria(cast, families, "¿Hola?").status == "queued"
