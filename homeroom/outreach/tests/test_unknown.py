"""Sends to check: messages whose sending was interrupted, settled by asking the local
provider (the worker, or staff on the page), or by staff: confirmed sent, sent again, given
up. Each exactly once, audited, for district administrators only."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from homeroom.conftest import PASSWORD
from homeroom.core.models import AuditEntry
from homeroom.outreach import channels
from homeroom.outreach.actions import (
    do_check_unknown,
    do_record_delivery_report,
    do_resolve_unknown,
    do_send_family_message,
)
from homeroom.outreach.delivery import claim, recover_abandoned, run_once, settle_unknown
from homeroom.outreach.models import Message
from homeroom.outreach.sandbox import FROM_NUMBER

pytestmark = pytest.mark.django_db

PAGE = "/outreach/unknown/"
MARIA = "+15550101001"  # María's number as the roster's "(555) 010-1001" is sent to


@pytest.fixture
def not_idempotent(provider, settings):
    """The provider as one that does not honour the idempotency key: a send whose worker
    died is not retried blindly, it becomes unknown."""
    settings.HOMEROOM_SMS = provider.settings(idempotent=False)
    return provider


def interrupted(cast, families, *, handed_over: bool, words="Ana no vino hoy.") -> Message:
    """A text to María whose worker claimed it, (perhaps) handed it to the provider, and
    died before recording the answer; the next worker found it abandoned."""
    message = do_send_family_message(
        cast.teacher,
        student_id=cast.ana.pk,
        guardian_id=families.maria.pk,
        channel="sms",
        text=words,
    )
    assert claim(10) == [message.pk]
    if handed_over:
        channels.send_sms(
            to=message.to_address,
            body=message.body,
            key=message.idempotency_key,
            status_callback="",
        )
    assert recover_abandoned(lease=dt.timedelta(0)) == {"retried": 0, "unknown": 1}
    message.refresh_from_db()
    assert message.status == "unknown"
    return message


# The worker asks the provider ------------------------------------------------------------


def test_the_worker_finds_a_text_the_provider_took_and_marks_it_sent(
    cast, families, not_idempotent
):
    message = interrupted(cast, families, handed_over=True)
    # when the worker asks the provider about interrupted texts
    assert settle_unknown() == {"sent": 1}
    # then the text is sent, with the provider's id, and is never sent again
    message.refresh_from_db()
    (taken,) = not_idempotent.delivered
    assert (message.status, message.provider_id) == ("sent", taken["sid"])
    assert run_once() == {}
    assert len(not_idempotent.delivered) == 1
    # and the settling is on Ana's trail, by the worker (no user)
    entry = AuditEntry.objects.get(
        student_id=cast.ana.pk, details__message_id=message.pk, details__before="unknown"
    )
    assert entry.user is None and entry.action == "update"
    assert (entry.details["before"], entry.details["after"]) == ("unknown", "sent")


def test_a_text_the_provider_never_got_goes_back_to_the_outbox_and_is_sent_once(
    cast, families, not_idempotent
):
    message = interrupted(cast, families, handed_over=False)
    assert settle_unknown() == {"queued": 1}
    assert run_once() == {"sent": 1}
    assert [(m["to"], m["body"]) for m in not_idempotent.delivered] == [(MARIA, message.body)]


def test_another_text_with_the_same_words_is_not_taken_for_the_interrupted_one(
    cast, families, not_idempotent
):
    # given an earlier text to María with the very same words, sent and recorded
    earlier = interrupted(cast, families, handed_over=True)
    assert settle_unknown() == {"sent": 1}
    earlier.refresh_from_db()
    # and a second message with those words (another key) whose worker died before the
    # provider got it
    again = Message.objects.get(pk=earlier.pk)
    again.pk, again.idempotency_key, again.provider_id = None, "test:second", ""
    again.status = "queued"
    again.save()
    assert claim(10) == [again.pk]
    assert recover_abandoned(lease=dt.timedelta(0)) == {"retried": 0, "unknown": 1}
    # when the worker asks, the earlier text's record is not counted as this one's
    assert settle_unknown() == {"queued": 1}
    assert run_once() == {"sent": 1}
    assert len(not_idempotent.delivered) == 2


def test_the_lookup_reads_the_providers_list_page_after_page(cast, families, not_idempotent):
    # given the interrupted text, and 120 texts to the same number after it (the list is
    # newest first, 100 a page: the interrupted one is on the second page)
    message = interrupted(cast, families, handed_over=True)
    for n in range(120):
        channels.send_sms(to=MARIA, body=f"later {n}", key=f"later:{n}", status_callback="")
    assert settle_unknown() == {"sent": 1}
    message.refresh_from_db()
    assert message.provider_id == not_idempotent.delivered[0]["sid"]


def test_a_provider_that_cannot_be_asked_leaves_the_text_for_staff(
    cast, families, not_idempotent, settings
):
    message = interrupted(cast, families, handed_over=True)
    settings.HOMEROOM_SMS = {**settings.HOMEROOM_SMS, "API_URL": "http://127.0.0.1:9"}
    assert settle_unknown() == {"unknown": 1}
    message.refresh_from_db()
    assert message.status == "unknown"
    assert not AuditEntry.objects.filter(details__message_id=message.pk, action="update").exists()


def test_a_known_provider_id_is_fetched_and_its_status_kept(cast, families, not_idempotent):
    # given an interrupted text whose provider id came in (the provider took it and said so)
    message = interrupted(cast, families, handed_over=True)
    (taken,) = not_idempotent.delivered
    taken["status"] = "delivered"  # as the provider's record reads by now
    Message.objects.filter(pk=message.pk).update(provider_id=taken["sid"])
    assert do_check_unknown(None, message_id=message.pk).status == "delivered"


def test_a_provider_id_the_provider_does_not_know_is_left_for_staff(cast, families, not_idempotent):
    message = interrupted(cast, families, handed_over=False)
    Message.objects.filter(pk=message.pk).update(provider_id="SM" + "0" * 32)
    with pytest.raises(ValidationError, match="does not know this text's id"):
        do_check_unknown(cast.admin, message_id=message.pk)
    message.refresh_from_db()
    assert message.status == "unknown"


def test_the_providers_sent_report_settles_an_unknown_text(cast, families, not_idempotent):
    message = interrupted(cast, families, handed_over=True)
    (taken,) = not_idempotent.delivered
    do_record_delivery_report(message_id=message.pk, provider_id=taken["sid"], status="sent")
    message.refresh_from_db()
    assert (message.status, message.provider_id) == ("sent", taken["sid"])


# Staff resolve them ------------------------------------------------------------------------


def test_send_again_twice_queues_one_send(cast, families, not_idempotent, client):
    message = interrupted(cast, families, handed_over=False)
    client.login(username=cast.admin.username, password=PASSWORD)
    form = {"message": message.pk, "resolution": "again"}
    # when the form is submitted twice (a double click, a second tab)
    first, second = client.post(PAGE, form), client.post(PAGE, form)
    # then the first puts it back in the outbox; the second changes nothing and says why
    assert first.status_code == 302
    assert second.status_code == 400
    assert "This message was resolved already (now: “Waiting to be sent”)" in (
        second.content.decode()
    )
    assert Message.objects.filter(direction="out").count() == 1
    # and the family gets it once
    assert run_once() == {"sent": 1}
    assert len(not_idempotent.delivered) == 1
    resolutions = AuditEntry.objects.filter(
        user=cast.admin, details__message_id=message.pk, action="update"
    )
    assert [e.details["resolution"] for e in resolutions] == ["again"]
    assert resolutions.get().student_id == cast.ana.pk


def test_confirmed_sent_keeps_it_from_ever_being_sent(cast, families, not_idempotent):
    message = interrupted(cast, families, handed_over=True)
    done = do_resolve_unknown(
        cast.admin, message_id=message.pk, resolution="sent", reason="in the provider's console"
    )
    assert done.status == "sent"
    assert done.last_error.endswith("in the provider's console")
    assert run_once() == {}
    assert len(not_idempotent.delivered) == 1


def test_giving_up_needs_a_reason_and_sends_nothing(cast, families, not_idempotent):
    message = interrupted(cast, families, handed_over=False)
    with pytest.raises(ValidationError, match="Say why"):
        do_resolve_unknown(cast.admin, message_id=message.pk, resolution="give_up", reason=" ")
    message.refresh_from_db()
    assert message.status == "unknown"
    done = do_resolve_unknown(
        cast.admin, message_id=message.pk, resolution="give_up", reason="told her in person"
    )
    assert done.get_status_display() == "Unknown: staff chose not to send it again"
    assert run_once() == {} and not_idempotent.delivered == []
    # and the worker no longer asks about it
    assert settle_unknown() == {}


@pytest.mark.parametrize("who", ["principal", "teacher", "analyst", "outsider"])
def test_only_the_districts_administrators_resolve_them(cast, families, not_idempotent, who):
    message = interrupted(cast, families, handed_over=False)
    expected = ValidationError if who == "outsider" else PermissionDenied  # another district
    with pytest.raises(expected):
        do_resolve_unknown(getattr(cast, who), message_id=message.pk, resolution="again")
    message.refresh_from_db()
    assert message.status == "unknown"


def test_the_page_lists_them_and_asks_the_provider(cast, families, not_idempotent, client):
    message = interrupted(cast, families, handed_over=True)
    client.login(username=cast.admin.username, password=PASSWORD)
    html = client.get(PAGE).content.decode()
    # each with the student, guardian, channel, address, provider id (none yet) and words
    row = html[html.index(f'id="send-{message.pk}"') :]
    row = row[: row.index("</tr>")]
    for shown in (cast.ana.first_name, "María Alvarez", "Text message", MARIA, "none recorded"):
        assert shown in row, shown
    assert "Ana no vino hoy." in row
    assert "If it did arrive, the family gets it twice." in row
    # the menu counts it, and opening the page is on Ana's trail
    assert 'Sends to check <span class="nav-count">(1)</span>' in html
    assert AuditEntry.objects.filter(
        user=cast.admin, student_id=cast.ana.pk, subject="family messages", action="view"
    ).exists()
    # when they ask the provider, the text is found and marked sent
    answer = client.post(PAGE, {"message": message.pk, "resolution": "check"}, follow=True)
    assert "The provider took this text: it is marked “Sent”." in answer.content.decode()
    assert "No message waits for a check" in answer.content.decode()
    message.refresh_from_db()
    assert message.provider_id == not_idempotent.delivered[0]["sid"]


def test_an_email_is_not_looked_up_but_resolved_by_staff(cast, families, smtp, client):
    message = do_send_family_message(
        cast.teacher,
        student_id=cast.ana.pk,
        guardian_id=families.maria.pk,
        channel="email",
        text="Ana no vino hoy.",
    )
    claim(10)
    assert recover_abandoned(lease=dt.timedelta(0)) == {"retried": 0, "unknown": 1}
    client.login(username=cast.admin.username, password=PASSWORD)
    html = client.get(PAGE).content.decode()
    assert "maria@example.org" in html and 'value="check"' not in html
    answer = client.post(PAGE, {"message": message.pk, "resolution": "check"})
    assert answer.status_code == 400
    assert "Only texts can be looked up" in answer.content.decode()
    # sent again: the mail server gets it, under its first Message-ID
    assert client.post(PAGE, {"message": message.pk, "resolution": "again"}).status_code == 302
    assert run_once() == {"sent": 1}
    (envelope,) = smtp.envelopes
    assert channels.email_message_id(message.idempotency_key).encode() in envelope.content


def test_a_post_naming_no_message_or_no_resolution_changes_nothing(
    cast, families, not_idempotent, client
):
    message = interrupted(cast, families, handed_over=False)
    client.login(username=cast.admin.username, password=PASSWORD)
    assert client.post(PAGE, {"resolution": "again"}).status_code == 400
    answer = client.post(PAGE, {"message": message.pk, "resolution": "resend-twice"})
    assert answer.status_code == 400
    assert "Choose sent, send again or give up." in answer.content.decode()
    message.refresh_from_db()
    assert message.status == "unknown"


def test_the_page_is_empty_without_interrupted_sends(cast, families, client):
    client.login(username=cast.admin.username, password=PASSWORD)
    html = client.get(PAGE).content.decode()
    assert "No message waits for a check" in html
    assert FROM_NUMBER not in html


def test_the_page_reads_in_spanish(cast, families, not_idempotent, client):
    interrupted(cast, families, handed_over=False)
    cast.admin.language = "es"
    cast.admin.save(update_fields=["language"])
    client.login(username=cast.admin.username, password=PASSWORD)
    html = client.get(PAGE).content.decode()
    for words in (
        "<h1>Envíos por verificar</h1>",
        "Mensajes cuyo envío se interrumpió, los que más esperan primero",
        "Consultar al proveedor",
        "Enviar de nuevo",
        "Si sí llegó, la familia lo recibe dos veces.",
        'Envíos por verificar <span class="nav-count">(1)</span>',
    ):
        assert words in html, words
