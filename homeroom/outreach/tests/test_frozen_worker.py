"""A worker frozen past its lease (SIGSTOP, a long pause) while it holds a message: the
message is taken over and sent by another worker, and when the frozen one goes on the family
still gets it once (docs/outreach.md, "Exactly once").

The frozen worker is a real worker loop (`run_once`) in its own thread with its own database
connection, or `homeroom worker` as its own process stopped with SIGSTOP, kept from going on
at a known point by a local server that does not answer yet: the SMTP server holding its
first email's DATA (it still holds the next message, claimed and not sent), or the local SMS
provider holding its text's request (the text is in flight). What the local SMTP server and
SMS provider received is counted.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from homeroom.outreach import channels
from homeroom.outreach.actions import do_resolve_unknown, do_send_family_message, outreach_settings
from homeroom.outreach.delivery import TAKEN_OVER, recover_abandoned, run_once, settle_unknown
from homeroom.outreach.models import Message
from homeroom.outreach.sandbox import Hold, LocalSmsProvider
from homeroom.outreach.tests.conftest import quiet_now

# Threads read what the test wrote: it must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

TAKEN_AT_ONCE = dt.timedelta(0)  # a lease already over: the frozen worker's has passed


class FrozenWorker(threading.Thread):
    """One worker loop in its own thread (and database connection)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.counts: dict[str, int] | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.counts = run_once(10)
        except BaseException as error:  # reported by finish()
            self.error = error
        finally:
            connection.close()

    def finish(self) -> dict[str, int]:
        self.join(30)
        assert not self.is_alive(), "the frozen worker did not end"
        if self.error:
            raise self.error
        return self.counts


@pytest.fixture
def keyless(settings):
    """The local SMS provider as one that does not honour idempotency keys (each request is
    a text), and Homeroom told so."""
    server = LocalSmsProvider(honours_keys=False).start()
    settings.HOMEROOM_SMS = server.settings(idempotent=False)
    yield server
    server.stop()


def message_to_maria(cast, families, channel: str, words: str) -> Message:
    return do_send_family_message(
        cast.teacher,
        student_id=cast.ana.pk,
        guardian_id=families.maria.pk,
        channel=channel,
        text=words,
    )


def emails_with_key(smtp, message: Message) -> int:
    """How many emails the SMTP server took with the message's Message-ID."""
    message_id = channels.email_message_id(message.idempotency_key).encode()
    return sum(message_id in envelope.content for envelope in smtp.envelopes)


def texts_with_words(provider, message: Message) -> int:
    return sum(record["body"] == message.body for record in provider.delivered)


def freeze_holding(smtp, cast, families, channel: str) -> tuple[FrozenWorker, Message, Hold]:
    """A worker that claimed an email and then `held` (a message of `channel`) to María,
    and stopped while the SMTP server had not answered the email: it holds `held` claimed
    and not sent."""
    message_to_maria(cast, families, "email", "Ana was absent today.")
    held = message_to_maria(cast, families, channel, "Please call the school.")
    stuck = smtp.hold_next()
    worker = FrozenWorker()
    worker.start()
    assert stuck.arrived.wait(10), "the worker did not reach the SMTP server"
    held.refresh_from_db()
    assert (held.status, held.attempts) == ("sending", 1)
    return worker, held, stuck


def test_an_email_staff_sent_again_is_not_sent_by_the_frozen_worker_too(cast, families, smtp):
    # given a worker frozen while it holds an email to María, past its lease
    frozen, held, stuck = freeze_holding(smtp, cast, families, "email")
    # when the next worker finds both its emails abandoned (email cannot be retried blindly),
    # staff send the held one again from "Sends to check", and a worker sends it
    assert recover_abandoned(lease=TAKEN_AT_ONCE) == {"retried": 0, "unknown": 2}
    do_resolve_unknown(cast.admin, message_id=held.pk, resolution="again")
    assert run_once() == {"sent": 1}
    assert emails_with_key(smtp, held) == 1
    # and then the frozen worker goes on
    stuck.release.set()
    said = frozen.finish()
    # then María got that email once, and it stays sent
    assert emails_with_key(smtp, held) == 1
    held.refresh_from_db()
    assert held.get_status_display() == "Sent"
    # and the frozen worker left it alone, saying so
    assert said == {"sent": 1, TAKEN_OVER: 1}


def test_a_text_the_provider_lookup_sent_again_is_not_sent_by_the_frozen_worker_too(
    cast, families, smtp, keyless
):
    # given a worker frozen while it holds a text to María, with a provider that does not
    # honour idempotency keys
    frozen, held, stuck = freeze_holding(smtp, cast, families, "sms")
    # when its lease passes, the text becomes unknown, the provider's log shows it never
    # left, so it goes back to the outbox and another worker sends it
    assert recover_abandoned(lease=TAKEN_AT_ONCE) == {"retried": 0, "unknown": 2}
    assert settle_unknown() == {"queued": 1}
    assert run_once() == {"sent": 1}
    # and then the frozen worker goes on
    stuck.release.set()
    said = frozen.finish()
    # then the provider sent María that text once, and Homeroom holds its id
    assert texts_with_words(keyless, held) == 1
    held.refresh_from_db()
    (record,) = [r for r in keyless.delivered if r["body"] == held.body]
    assert (held.status, held.provider_id) == ("sent", record["sid"])
    # and the frozen worker left it alone, saying so
    assert said == {"sent": 1, TAKEN_OVER: 1}


def test_the_frozen_worker_does_not_put_back_a_text_sent_meanwhile_when_it_wakes_at_night(
    cast, families, smtp, keyless
):
    # given a worker frozen while it holds a text, which another worker sent meanwhile
    frozen, held, stuck = freeze_holding(smtp, cast, families, "sms")
    recover_abandoned(lease=TAKEN_AT_ONCE)
    settle_unknown()
    assert run_once() == {"sent": 1}
    # when the frozen worker goes on during quiet hours (where it would put its text back
    # in the outbox until morning)
    rules = outreach_settings(cast.district)
    rules.quiet_start, rules.quiet_end, _ = quiet_now(cast.district)
    rules.save()
    stuck.release.set()
    said = frozen.finish()
    # then the text stays sent, not waiting to be sent again in the morning
    held.refresh_from_db()
    assert held.get_status_display() == "Sent"
    assert texts_with_words(keyless, held) == 1
    # and the frozen worker left it alone, saying so
    assert said == {"sent": 1, TAKEN_OVER: 1}


def test_a_text_in_flight_when_its_worker_froze_is_dropped_by_the_provider_as_a_repeat(
    cast, families, provider
):
    # given a worker that claimed a text, passed its check that the text is still its own,
    # and stopped with the request on its way to the provider (which honours the key)
    held = message_to_maria(cast, families, "sms", "Please call the school.")
    in_flight = provider.hold_next()
    frozen = FrozenWorker()
    frozen.start()
    assert in_flight.arrived.wait(10), "the worker did not reach the provider"
    # when its lease passes and another worker sends the text under the same key
    assert recover_abandoned(lease=TAKEN_AT_ONCE) == {"retried": 1, "unknown": 0}
    assert run_once() == {"sent": 1}
    # and then the frozen worker's request reaches the provider
    in_flight.release.set()
    frozen.finish()
    # then the provider sent it once (the second request repeated the key), and Homeroom
    # holds the one text's id
    assert texts_with_words(provider, held) == 1
    held.refresh_from_db()
    assert (held.status, held.provider_id) == ("sent", provider.delivered[0]["sid"])


def test_a_worker_process_stopped_with_sigstop_does_not_send_what_was_sent_meanwhile(
    cast, families, smtp
):
    # given `homeroom worker` as its own process, holding an email to María claimed and not
    # sent (its first email is at the SMTP server), and then stopped with SIGSTOP
    message_to_maria(cast, families, "email", "Ana was absent today.")
    held = message_to_maria(cast, families, "email", "Please call the school.")
    stuck = smtp.hold_next()
    worker = subprocess.Popen(
        [sys.executable, "-m", "homeroom", "worker", "--once"],
        env=worker_environment(smtp),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert stuck.arrived.wait(60), "the worker did not reach the SMTP server"
        os.kill(worker.pid, signal.SIGSTOP)
        stuck.release.set()  # the server answers; the stopped worker does not read it yet
        # when its lease passes, staff send the held email again and another worker sends it
        assert recover_abandoned(lease=TAKEN_AT_ONCE) == {"retried": 0, "unknown": 2}
        do_resolve_unknown(cast.admin, message_id=held.pk, resolution="again")
        assert run_once() == {"sent": 1}
    finally:
        os.kill(worker.pid, signal.SIGCONT)
        said, _ = worker.communicate(timeout=60)
    # then, once it goes on, María got that email once
    assert worker.returncode == 0, said
    assert emails_with_key(smtp, held) == 1
    held.refresh_from_db()
    assert held.get_status_display() == "Sent"
    assert "Messages: 1 sent, 1 taken over." in said


def worker_environment(smtp) -> dict[str, str]:
    """The environment of a `homeroom worker` process using the test's database and SMTP
    server."""
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{Path(database['NAME']).resolve()}"
    else:
        url = (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        )
    options = settings.MAILERS["families"]["OPTIONS"]
    return {
        **os.environ,
        "DATABASE_URL": url,
        "HOMEROOM_SMTP_HOST": options["host"],
        "HOMEROOM_SMTP_PORT": str(options["port"]),
        "PYTHONPATH": str(Path(__file__).resolve().parents[3]),
    }
