"""Deciding to send and sending: every rule, against the real local SMS provider.

The families are described in conftest.py; expected words are written out by hand from
defaults.toml.
"""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from homeroom.core.models import AuditEntry
from homeroom.interventions.models import CaseEvent, FamilyContact
from homeroom.outreach import channels
from homeroom.outreach.actions import (
    do_send_family_message,
    outreach_settings,
    queue_trigger_message,
)
from homeroom.outreach.delivery import claim, recover_abandoned, run_once
from homeroom.outreach.models import Message
from homeroom.outreach.tests.conftest import quiet_now

pytestmark = pytest.mark.django_db

SPANISH_FOOTER = (
    "— teacher, Lincoln Elementary. Responda a este mensaje para contestar. "
    "Responda ALTO para no recibir más mensajes."
)


def text_maria(cast, families, words="Ana no vino hoy. ¿Está bien?"):
    return do_send_family_message(
        cast.teacher,
        student_id=cast.ana.pk,
        guardian_id=families.maria.pk,
        channel="sms",
        text=words,
    )


def test_a_teachers_text_is_queued_in_the_familys_language_and_logged_everywhere(cast, families):
    # when Ana's teacher texts her mother
    message = text_maria(cast, families)
    # then one message waits in the outbox, in Spanish, to her number in one form
    assert message.status == "queued"
    assert message.to_address == "+15550101001"
    assert message.language == "es" and not message.fallback_used
    assert message.body == f"Ana no vino hoy. ¿Está bien?\n{SPANISH_FOOTER}"
    # and Ana's contact log, timeline and audit trail say so, with the template's version
    contact = FamilyContact.objects.get(student=cast.ana)
    assert (contact.channel, contact.outcome, contact.guardian) == ("text", "sent", families.maria)
    assert contact.recorded_by == cast.teacher
    event = CaseEvent.objects.get(student=cast.ana, kind="message_sent")
    assert event.summary == "Text message to María Alvarez: Message from staff"
    audit = AuditEntry.objects.get(student_id=cast.ana.pk, subject="family message")
    assert audit.user == cast.teacher
    assert audit.details["template_version"] == 1
    assert audit.details["language"] == "es"
    assert audit.details["channel"] == "sms"
    assert audit.details["stated"] == {"text": "Ana no vino hoy. ¿Está bien?", "sender": "teacher"}


def test_the_worker_sends_a_message_once_and_never_again(cast, families, provider):
    message = text_maria(cast, families)
    # when the worker runs twice
    assert run_once() == {"sent": 1}
    assert run_once() == {}
    # then the provider received it once, word for word, under its idempotency key
    assert len(provider.delivered) == 1
    received = provider.delivered[0]
    assert received["to"] == "+15550101001"
    assert received["body"] == message.body
    assert received["idempotency_key"] == message.idempotency_key
    message.refresh_from_db()
    assert (message.status, message.provider_id, message.attempts) == ("sent", received["sid"], 1)


def test_the_same_words_sent_twice_the_same_day_are_one_message(cast, families, provider):
    first = text_maria(cast, families)
    second = text_maria(cast, families)  # a double click
    assert first.pk == second.pk
    run_once()
    assert len(provider.delivered) == 1


@pytest.mark.parametrize(
    ("who", "channel", "field", "error"),
    [
        ("tomas", "sms", "guardian_id", "Tomás Alvarez is marked “no contact”."),
        ("rosa", "sms", "guardian_id", "Rosa Alvarez has no right to the student's records."),
        ("linh", "sms", "guardian_id", "Linh Brooks is not a guardian of Ana."),
    ],
)
def test_only_guardians_with_contact_rights_are_messaged(
    cast, families, who, channel, field, error
):
    with pytest.raises(ValidationError) as refused:
        do_send_family_message(
            cast.teacher,
            student_id=cast.ana.pk,
            guardian_id=getattr(families, who).pk,
            channel=channel,
            text="Hello",
        )
    assert refused.value.message_dict == {field: [error]}
    # and nothing was written
    assert not Message.objects.exists()
    assert not FamilyContact.objects.exists()


def test_never_a_channel_without_consent(cast, families):
    # Linh Brooks consented to email but was never asked about texts
    with pytest.raises(ValidationError) as refused:
        do_send_family_message(
            cast.admin,
            student_id=cast.ben.pk,
            guardian_id=families.linh.pk,
            channel="sms",
            text="Hi",
        )
    assert refused.value.message_dict == {
        "channel": ["Linh Brooks has not agreed to receive text messages."]
    }
    assert not Message.objects.exists()


def test_a_household_gets_at_most_the_weekly_cap(cast, families):
    # given a cap of 2 a week and two texts already this week
    rules = outreach_settings(cast.district)
    rules.weekly_cap = 2
    rules.save()
    text_maria(cast, families, "one")
    text_maria(cast, families, "two")
    # when a third is sent
    with pytest.raises(ValidationError) as refused:
        text_maria(cast, families, "three")
    # then it is refused, saying why
    assert refused.value.message_dict == {
        "channel": [
            "This household has had 2 messages in the last 7 days, the district's weekly limit."
        ]
    }
    # and once the first is more than 7 days old, a third goes
    Message.objects.filter(body__startswith="one").update(
        created_at=timezone.now() - dt.timedelta(days=7, minutes=1)
    )
    assert text_maria(cast, families, "three").status == "queued"


def test_siblings_in_one_household_get_one_message_naming_each_child(cast, families):
    # when a trigger finds both of María's children absent today
    message = queue_trigger_message(
        district=cast.district,
        kind="absence_today",
        channel="sms",
        guardian=families.maria,
        students=(cast.ana, cast.gabe),
        key="absence_today:test",
        values={"school": "Lincoln Elementary", "date": "Dec 7, 2026"},
        stated={"date": "2026-12-07"},
    )
    # then one Spanish text names both
    assert message.body == (
        "Lincoln Elementary: Ana y Gabe fue marcado(a) ausente hoy, Dec 7, 2026. Cada día "
        "cuenta. Si sabe el motivo, responda o llame a la escuela. Responda ALTO para no "
        "recibir más mensajes."
    )
    assert set(message.students.all()) == {cast.ana, cast.gabe}
    # and it is on both children's timelines, not in the contact log (no one on staff sent it)
    events = CaseEvent.objects.filter(kind="message_sent")
    assert sorted(e.student_id for e in events) == sorted([cast.ana.pk, cast.gabe.pk])
    assert all(e.by is None for e in events)
    assert not FamilyContact.objects.exists()


def test_a_language_without_a_template_gets_the_fallback_and_the_log_says_so(cast, families):
    # Joana Chen reads Portuguese, in which no template ships; the fallback is English
    message = do_send_family_message(
        cast.admin,
        student_id=cast.carla.pk,
        guardian_id=families.joana.pk,
        channel="sms",
        text="Hi",
    )
    assert (message.language, message.wanted_language, message.fallback_used) == ("en", "pt", True)
    assert message.body.endswith("Reply STOP to stop texts.")
    event = CaseEvent.objects.get(student=cast.carla)
    assert event.summary == (
        "Text message to Joana Chen: Message from staff (in English: no Portuguese template)"
    )
    audit = AuditEntry.objects.get(student_id=cast.carla.pk, subject="family message")
    assert audit.details["fallback_language_used"] is True


def test_a_text_decided_in_quiet_hours_waits_for_the_morning(cast, families, provider):
    # given quiet hours from an hour ago to an hour from now
    rules = outreach_settings(cast.district)
    rules.quiet_start, rules.quiet_end, wake = quiet_now(cast.district)
    rules.save()
    # when a text is sent now
    message = text_maria(cast, families)
    # then it waits until the quiet hours end, and the worker leaves it
    assert message.not_before == wake
    assert run_once() == {}
    assert provider.delivered == []


def test_a_retry_that_falls_in_quiet_hours_waits_too(cast, families, provider):
    # given a text due now, and quiet hours that began since
    message = text_maria(cast, families)
    rules = outreach_settings(cast.district)
    rules.quiet_start, rules.quiet_end, wake = quiet_now(cast.district)
    rules.save()
    # when the worker picks it up
    assert run_once() == {"queued": 1}
    # then it is put back until morning, not sent, and not counted as an attempt
    message.refresh_from_db()
    assert (message.status, message.not_before, message.attempts) == ("queued", wake, 0)
    assert provider.delivered == []


def test_a_temporary_failure_is_retried_later_and_then_sent_once(cast, families, provider):
    message = text_maria(cast, families)
    provider.fail_next(1, status=503)
    before = timezone.now()
    # when the provider is down on the first try
    assert run_once() == {"queued": 1}
    message.refresh_from_db()
    assert message.attempts == 1 and "HTTP 503" in message.last_error
    # then it waits 30 seconds before the next try
    assert before + dt.timedelta(seconds=30) <= message.not_before
    assert message.not_before <= timezone.now() + dt.timedelta(seconds=30)
    assert run_once() == {}
    # and when that time comes, it goes, once
    Message.objects.filter(pk=message.pk).update(not_before=timezone.now())
    assert run_once() == {"sent": 1}
    assert len(provider.delivered) == 1


def test_a_refusal_by_the_provider_is_not_retried(cast, families, provider):
    text_maria(cast, families)
    provider.fail_next(1, status=400)
    assert run_once() == {"failed": 1}
    assert run_once() == {}
    assert provider.delivered == []


def test_an_opt_out_before_sending_cancels_the_message(cast, families, provider):
    message = text_maria(cast, families)
    families.maria.preferences.filter(channel="sms").update(consent="opted_out")
    assert run_once() == {"cancelled": 1}
    assert provider.delivered == []
    message.refresh_from_db()
    assert message.get_status_display() == "Not sent: consent withdrawn"


def test_a_worker_killed_after_the_provider_took_the_message_does_not_send_it_twice(
    cast, families, provider
):
    # given a worker that claimed a text, handed it to the provider, and died before saving
    message = text_maria(cast, families)
    assert claim(10) == [message.pk]
    channels.send_sms(
        to=message.to_address, body=message.body, key=message.idempotency_key, status_callback=""
    )
    # when the next worker recovers the abandoned message and sends it under the same key
    assert recover_abandoned(lease=dt.timedelta(0)) == {"retried": 1, "unknown": 0}
    assert run_once() == {"sent": 1}
    # then the family got it once, and Homeroom holds the provider's id for it
    assert len(provider.delivered) == 1
    message.refresh_from_db()
    assert (message.status, message.provider_id) == ("sent", provider.delivered[0]["sid"])


def test_without_an_idempotent_provider_an_abandoned_message_waits_for_staff(
    cast, families, provider, settings
):
    settings.HOMEROOM_SMS = provider.settings(idempotent=False)
    message = text_maria(cast, families)
    claim(10)
    assert recover_abandoned(lease=dt.timedelta(0)) == {"retried": 0, "unknown": 1}
    assert run_once() == {}
    message.refresh_from_db()
    assert message.get_status_display() == "Unknown: check before sending again"
    assert provider.delivered == []
