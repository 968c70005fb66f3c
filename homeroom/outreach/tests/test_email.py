"""Email through Django's SMTP backend, read back from a real SMTP server (aiosmtpd)."""

import email
import email.policy

import pytest

from homeroom.outreach.actions import do_send_family_message
from homeroom.outreach.delivery import run_once

pytestmark = pytest.mark.django_db


def test_an_email_arrives_with_its_headers_and_text_and_html_parts(cast, families, smtp):
    # when the admin emails María about Gabe, and the worker runs
    message = do_send_family_message(
        cast.admin,
        student_id=cast.gabe.pk,
        guardian_id=families.maria.pk,
        channel="email",
        text="Gabe ganó el premio de lectura.",
    )
    assert run_once() == {"sent": 1}
    # then the SMTP server received one email for her
    assert len(smtp.envelopes) == 1
    envelope = smtp.envelopes[0]
    assert envelope.rcpt_tos == ["maria@example.org"]
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert received["Subject"] == "Un mensaje de Lincoln Elementary sobre Gabe"
    assert received["To"] == "maria@example.org"
    assert received["Content-Language"] == "es"
    assert received["Message-ID"] == f"<{message.idempotency_key.replace(':', '.')}@homeroom>"
    text = received.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    html = received.get_body(preferencelist=("html",)).get_content()
    assert text.strip() == message.body
    assert text.startswith("Gabe ganó el premio de lectura.\n— admin, Lincoln Elementary.")
    assert '<html lang="es">' in html
    assert "<p>Gabe ganó el premio de lectura.<br>" in html
    message.refresh_from_db()
    assert message.status == "sent" and message.provider_id == received["Message-ID"]


def test_an_arabic_email_is_written_right_to_left(cast, families, smtp):
    families.maria.preferred_language = "ar"
    families.maria.save()
    do_send_family_message(
        cast.admin,
        student_id=cast.gabe.pk,
        guardian_id=families.maria.pk,
        channel="email",
        text="مرحبا",
    )
    run_once()
    received = email.message_from_bytes(smtp.envelopes[0].content, policy=email.policy.default)
    assert '<html lang="ar" dir="rtl">' in received.get_body(preferencelist=("html",)).get_content()
    assert received["Subject"] == "رسالة من Lincoln Elementary بشأن Gabe"


def test_an_smtp_server_that_is_down_means_a_retry_not_a_loss(cast, families, settings):
    # given a mailer pointed at a port nobody listens on
    backend = "django.core.mail.backends.smtp.EmailBackend"
    settings.MAILERS = {
        **settings.MAILERS,
        "families": {"BACKEND": backend, "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2}},
    }
    message = do_send_family_message(
        cast.admin,
        student_id=cast.gabe.pk,
        guardian_id=families.maria.pk,
        channel="email",
        text="Hola",
    )
    assert run_once() == {"queued": 1}
    message.refresh_from_db()
    assert message.attempts == 1
    assert "did not take the message" in message.last_error
