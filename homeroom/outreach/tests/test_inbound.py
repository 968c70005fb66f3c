"""Families' email replies through the inbound-email webhook, over real HTTP to a live
server, and the page where staff assign or dismiss what no guardian could be matched to."""

import email
import email.policy

import pytest
from django.urls import reverse

from homeroom.conftest import PASSWORD
from homeroom.core.models import AuditEntry
from homeroom.interventions.models import CaseEvent, FamilyContact
from homeroom.outreach.actions import do_send_family_message
from homeroom.outreach.delivery import run_once
from homeroom.outreach.models import ConsentChange, Message
from homeroom.outreach.sandbox import post_inbound_email

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "s3cret-inbound"


@pytest.fixture
def inbox(live_server, settings):
    settings.HOMEROOM_EMAIL_INBOUND_TOKEN = TOKEN
    return f"{live_server.url}{reverse('outreach:email-inbound')}?token={TOKEN}&district={{}}"


def email_linh(cast, families, words="Ben ganó un premio."):
    return do_send_family_message(
        cast.admin,
        student_id=cast.ben.pk,
        guardian_id=families.linh.pk,
        channel="email",
        text=words,
    )


def test_a_reply_to_an_email_reaches_the_contact_log_by_its_thread(cast, families, smtp, inbox):
    sent = email_linh(cast, families)
    assert run_once() == {"sent": 1}
    received = email.message_from_bytes(smtp.envelopes[0].content, policy=email.policy.default)
    # when Linh answers from her work address (not the roster's), her mail program naming
    # the email she answers
    headers = (
        f"Message-ID: <reply-1@mail.example>\nIn-Reply-To: {received['Message-ID']}\n"
        f"References: {received['Message-ID']}\n"
    )
    fields = {
        "from": "Linh Brooks <linh.brooks@work.example>",
        "to": "attendance@riverside.example",
        "subject": f"Re: {received['Subject']}",
        "text": "Ben is sick today.\n\nOn Monday the school wrote:\n> Ben ganó un premio.",
        "headers": headers,
    }
    assert post_inbound_email(inbox.format(cast.district.pk), fields) == 200
    # then it is Linh's reply to that email, in Ben's contact log and timeline
    reply = Message.objects.get(direction="in")
    assert (reply.guardian, reply.in_reply_to, reply.channel) == (families.linh, sent, "email")
    contact = FamilyContact.objects.get(outcome="replied")
    assert (contact.student, contact.channel, contact.guardian) == (
        cast.ben,
        "email",
        families.linh,
    )
    assert contact.note.startswith("Ben is sick today.")
    event = CaseEvent.objects.get(kind="message_received")
    assert event.summary.startswith("Email from Linh Brooks: “Ben is sick today.")
    # and the mail service posting it again changes nothing
    assert post_inbound_email(inbox.format(cast.district.pk), fields) == 200
    assert Message.objects.filter(direction="in").count() == 1
    assert FamilyContact.objects.filter(outcome="replied").count() == 1


def test_an_unsubscribe_word_opts_out_of_email_and_a_wrong_token_is_refused(
    cast, families, smtp, inbox, live_server
):
    email_linh(cast, families, "first")
    run_once()
    waiting = email_linh(cast, families, "second, not yet sent")
    # a post without the secret is refused and stores nothing
    forged = f"{live_server.url}{reverse('outreach:email-inbound')}?token=guess"
    fields = {
        "from": "linh@example.org",
        "to": "attendance@riverside.example",
        "subject": "Re: message",
        "text": "Unsubscribe\n\n> first",
        "headers": "Message-ID: <stop-1@mail.example>\n",
    }
    assert post_inbound_email(forged, fields) == 403
    assert not Message.objects.filter(direction="in").exists()
    # when Linh answers "Unsubscribe" from her roster address (no thread headers needed)
    assert post_inbound_email(inbox.format(cast.district.pk), fields) == 200
    # then she is opted out of email at once, the waiting email is not sent, and nothing
    # goes into the contact log (a consent change, not a reply)
    assert families.linh.preferences.get(channel="email").consent == "opted_out"
    change = ConsentChange.objects.get()
    assert (change.channel, change.consent) == ("email", "opted_out")
    waiting.refresh_from_db()
    assert waiting.status == "cancelled"
    assert not FamilyContact.objects.filter(outcome="replied").exists()
    # and no confirmation is queued (email has no carrier rule; the words speak of texts)
    assert not Message.objects.filter(kind__in=["opted_out", "opted_in"]).exists()


def test_an_unknown_sender_waits_on_the_unmatched_page_to_be_assigned_or_dismissed(
    cast, families, provider, inbox, live_server, client
):
    # an email and a text from addresses no guardian has
    fields = {
        "from": "abuela@example.net",
        "to": "attendance@riverside.example",
        "subject": "Ben",
        "text": "Soy la abuela de Ben; hoy está enfermo.",
        "headers": "Message-ID: <abuela-1@example.net>\n",
    }
    # (the webhooks' addresses name the district, as the district sets them up)
    assert post_inbound_email(inbox.format(cast.district.pk), fields) == 200
    texts = f"{live_server.url}{reverse('outreach:sms-inbound')}?district={cast.district.pk}"
    assert provider.send_inbound(texts, sender="+15559990000", body="Who is this?") == 200
    email_in, text_in = Message.objects.filter(status="unmatched").order_by("pk")
    assert (email_in.channel, email_in.from_address, email_in.guardian) == (
        "email",
        "abuela@example.net",
        None,
    )
    assert (text_in.channel, text_in.from_address) == ("sms", "+15559990000")
    assert not FamilyContact.objects.exists()
    # the administrator sees both on the page
    client.login(username=cast.admin.username, password=PASSWORD)
    page = client.get(reverse("outreach:unmatched"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Soy la abuela de Ben; hoy está enfermo." in html and "Who is this?" in html
    # a roster ID nobody has is named and changes nothing
    answer = client.post(
        reverse("outreach:unmatched"), {"message": email_in.pk, "guardian": "G99", "assign": "1"}
    )
    assert answer.status_code == 400
    assert "No guardian has the roster ID “G99” in this district" in answer.content.decode()
    email_in.refresh_from_db()
    assert email_in.status == "unmatched"
    # assigned to Linh (G4): it becomes her reply, in Ben's contact log, audited
    answer = client.post(
        reverse("outreach:unmatched"), {"message": email_in.pk, "guardian": "G4", "assign": "1"}
    )
    assert answer.status_code == 302
    email_in.refresh_from_db()
    assert (email_in.status, email_in.guardian) == ("received", families.linh)
    contact = FamilyContact.objects.get()
    assert (contact.student, contact.channel) == (cast.ben, "email")
    assert AuditEntry.objects.filter(
        student_id=cast.ben.pk, subject="family reply", user=cast.admin
    ).exists()
    # a dismissal needs a reason, then is kept with it
    answer = client.post(reverse("outreach:unmatched"), {"message": text_in.pk, "dismiss": "1"})
    assert answer.status_code == 400
    answer = client.post(
        reverse("outreach:unmatched"),
        {"message": text_in.pk, "dismiss": "1", "reason": "wrong number"},
    )
    assert answer.status_code == 302
    text_in.refresh_from_db()
    assert text_in.status == "dismissed" and "wrong number" in text_in.last_error
    assert AuditEntry.objects.filter(subject="unmatched message", user=cast.admin).exists()
    # and the page is empty now
    assert (
        "No messages wait to be matched."
        in client.get(reverse("outreach:unmatched")).content.decode()
    )
