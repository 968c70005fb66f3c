"""Approved notices reach the family through the outreach app's outbox: a letter mailed to
the household and an email where the guardian consented, in the family's language with the
pack's wording, queued once, and sent once by the worker to a real SMTP server (aiosmtpd).
On SQLite and PostgreSQL."""

import datetime as dt
import email
import email.policy

import pytest
from django.urls import reverse

from homeroom.interventions.models import CaseEvent
from homeroom.outreach import delivery
from homeroom.outreach.letters import letters_waiting
from homeroom.outreach.models import Message
from homeroom.outreach.tests.conftest import consent
from homeroom.roster.models import ContactPreference
from homeroom.truancy.actions import do_approve_step, send_notice_through_outreach
from homeroom.truancy.documents import letter_date
from homeroom.truancy.models import TruancyStep
from homeroom.truancy.tests.conftest import absent, choose, night, school_days_from

pytestmark = pytest.mark.django_db


def eligible_for_not1(cast, student) -> tuple[TruancyStep, list[dt.date]]:
    """California, three unexcused days: the student's first notice awaits approval."""
    choose(cast, "california")
    days = school_days_from(cast.this_year.start_date, 3)
    for day in days:
        absent(cast, student, day)
    night(cast)
    return TruancyStep.objects.get(student=student, key="not1"), days


def notices() -> list[Message]:
    return list(Message.objects.filter(kind="truancy_notice").order_by("channel"))


@pytest.mark.parametrize(
    ("email_consent", "channels", "delivered_by"),
    [("granted", ["email", "letter"], "letter and email"), ("opted_out", ["letter"], "letter")],
)
def test_an_approved_notice_is_a_spanish_letter_and_email_in_the_outbox(
    cast, client, families, smtp, email_consent, channels, delivered_by
):
    # given Ana's mother María reads Spanish, lives at 12 Elm St, and gave (or withdrew)
    # consent to email; Ana is eligible for California's first notice
    consent(families.maria, email=email_consent)
    step, days = eligible_for_not1(cast, cast.ana)
    # when the principal approves it
    do_approve_step(cast.principal, step_id=step.pk, version=step.version)
    # then the outbox holds the letter to her address, and the email only with consent
    queued = notices()
    assert [m.channel for m in queued] == channels
    assert {(m.guardian_id, m.language, m.status) for m in queued} == {
        (families.maria.pk, "es", "queued")
    }
    letter = next(m for m in queued if m.channel == "letter")
    assert letter.to_address == "12 Elm St, Riverside IL 60546"
    # in Spanish, with the statute's wording from the pack and the three dates counted
    for message in queued:
        assert message.subject == "Aviso de asistencia de Ana Alvarez"
        assert "Estimado/a María Alvarez" in message.body
        assert "sección 48260.5" in message.body
        for day in days:
            assert letter_date(day, "es") in message.body
    # and the notice records the messages it created
    document = step.documents.get()
    assert sorted(document.messages.values_list("pk", flat=True)) == sorted(m.pk for m in queued)
    assert document.delivery == delivered_by
    # the letter waits to be printed with Lincoln's next batch
    waiting = letters_waiting(cast.district.pk)
    assert {s.name: [m.pk for m in ms] for s, ms in waiting.items()} == {
        "Lincoln Elementary": [letter.pk]
    }
    # and the step's page and Ana's timeline say so
    client.force_login(cast.principal)
    page = client.get(reverse("truancy:step", args=[step.pk])).content.decode()
    assert "Letter to María Alvarez, in Spanish: waiting to be sent" in page
    assert ("Email to María Alvarez, in Spanish" in page) == (email_consent == "granted")
    timeline = list(CaseEvent.objects.filter(student=cast.ana).values_list("kind", "summary"))
    assert ("message_sent", "Letter to María Alvarez: Truancy notice") in timeline
    assert any(
        kind == "truancy" and summary.startswith("First truancy notice")
        for kind, summary in timeline
    )

    # when the worker runs twice, the email (if any) reaches María once
    delivery.run_once()
    delivery.run_once()
    assert len(smtp.envelopes) == channels.count("email")
    if smtp.envelopes:
        envelope = smtp.envelopes[0]
        assert envelope.rcpt_tos == ["maria@example.org"]
        received = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert received["Content-Language"] == "es"
        assert "sección 48260.5" in received.get_body(("plain",)).get_content()
    # the letter is not the worker's: it waits for printing
    assert Message.objects.get(pk=letter.pk).status == "queued"


def test_the_same_notice_handed_over_again_is_not_queued_again(cast, families):
    step, _days = eligible_for_not1(cast, cast.ana)
    do_approve_step(cast.principal, step_id=step.pk, version=step.version)
    first = [m.pk for m in notices()]
    # when the hook runs again for the same document (a retried request, a bug)
    step.refresh_from_db()
    document = step.documents.get()
    send_notice_through_outreach(
        cast.principal, step, document, guardian=families.maria, access_reason="test"
    )
    # then the outbox holds the same two messages, no more
    assert [m.pk for m in notices()] == first
    assert len(first) == 2


def test_without_a_postal_address_or_email_consent_the_school_mails_the_letter(cast, families):
    # given Ben's mother Linh (Vietnamese, email consented, no postal address on the roster)
    step, _days = eligible_for_not1(cast, cast.ben)
    # when the principal approves Ben's first notice
    do_approve_step(cast.principal, step_id=step.pk, version=step.version)
    # then only the email is queued, in English (the pack has no Vietnamese letter), and the
    # timeline says the school mails the letter, and why
    (message,) = notices()
    assert (message.channel, message.to_address, message.language) == (
        "email",
        "linh@example.org",
        "en",
    )
    assert "Dear Linh Brooks" in message.body
    document = step.documents.get()
    assert document.delivery == "email"
    summary = CaseEvent.objects.get(student=cast.ben, kind="truancy").summary
    assert "no letter queued" in summary and "postal address" in summary
    # and once she withdraws consent, the worker cancels the email instead of sending it
    consent(families.linh, email=ContactPreference.Consent.OPTED_OUT)
    delivery.run_once()
    assert Message.objects.get(pk=message.pk).status == "cancelled"
