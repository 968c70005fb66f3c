"""The outbox worker: sends due messages exactly once, retrying temporary failures.

Each message moves queued -> sending (claimed, in its own committed transaction, with
`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL so workers never claim the same row) ->
sent (the provider's id recorded) or back to queued with a later `not_before` (a temporary
failure, with exponential backoff) or failed. A sent message is never claimed again.

A worker killed between claiming and recording leaves the message `sending`. After the
lease passes, `recover_abandoned` decides: a provider that honours the idempotency key
(`HOMEROOM_SMS["IDEMPOTENT"]`; it answers a repeated key with the first message, not a
second one) gets it again under the same key; otherwise the message becomes `unknown` and
waits for staff, because sending twice is worse than asking (docs/outreach.md).

A worker that is not dead but stopped (SIGSTOP, a long pause) past the lease finds its
message taken over when it goes on: `send_one` re-confirms, in one conditional UPDATE right
before the send, that the message is still `sending` under its claim's attempt number, and
leaves it alone if not; the idempotency key covers the moments after that check.

An `unknown` text is then settled by asking the provider (`settle_unknown`, each time the
worker recovers abandoned messages): if the provider's log holds it, it is sent (with the
provider's id and status); if not, it never left and goes back to the outbox. Email cannot
be asked about (SMTP keeps no log a sender reads): it waits for staff on "Sends to check".

Why not `django-tasks-db`: the outbox row is the state that makes a send exactly once
(claimed, sent, its provider id), so a task row beside it would be a second copy of that
state to keep in step; the worker polls the outbox itself.
"""

import datetime as dt
import time
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from homeroom.outreach import channels
from homeroom.outreach.actions import do_check_unknown, outreach_settings
from homeroom.outreach.models import CONFIRMATIONS, Message
from homeroom.outreach.rules import next_allowed
from homeroom.outreach.selectors import channel_allowed
from homeroom.roster.models import ContactChannel

MAX_ATTEMPTS = 6
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_WAIT = dt.timedelta(hours=1)
LEASE = dt.timedelta(minutes=5)
SENT_BY_WORKER = (ContactChannel.SMS, ContactChannel.EMAIL)  # letters are printed in batches


def backoff(attempts: int) -> dt.timedelta:
    """The wait before the next try after `attempts` tries: 30 s, 1 min, 2 min, ... 1 h."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_WAIT)


def claim(limit: int) -> list[int]:
    """Mark up to `limit` due messages as being sent by this worker; returns their ids."""
    return list(_claim(limit))


def _claim(limit: int) -> dict[int, int]:
    """`claim`, returning each claimed message's id with its attempt number after the claim:
    the worker's token for it (`send_one`), read while the rows are still locked."""
    now = timezone.now()
    with transaction.atomic():
        due = Message.objects.filter(
            direction=Message.Direction.OUT,
            status=Message.Status.QUEUED,
            channel__in=SENT_BY_WORKER,
            not_before__lte=now,
        ).order_by("not_before", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        claimed = Message.objects.filter(pk__in=ids)
        claimed.update(status=Message.Status.SENDING, attempts=F("attempts") + 1, status_at=now)
        return dict(claimed.values_list("pk", "attempts"))


def recover_abandoned(lease: dt.timedelta = LEASE) -> dict[str, int]:
    """Messages left `sending` longer than the lease (their worker died): retry or ask."""
    before = timezone.now() - lease
    abandoned = Message.objects.filter(status=Message.Status.SENDING, status_at__lt=before)
    retried = 0
    if channels.sms_settings().idempotent:
        retried = abandoned.filter(channel=ContactChannel.SMS).update(
            status=Message.Status.QUEUED, status_at=timezone.now()
        )
    unknown = abandoned.update(
        status=Message.Status.UNKNOWN,
        status_at=timezone.now(),
        last_error="The worker stopped while sending; check with the provider before resending.",
    )
    return {"retried": retried, "unknown": unknown}


def settle_unknown(limit: int = 50) -> dict[str, int]:
    """Ask the SMS provider about up to `limit` texts left `unknown` (longest waiting
    first) and settle each by its answer (`actions.do_check_unknown`); a text the provider
    cannot be asked about stays `unknown` for the next round or for staff. Returns how many
    ended in each status."""
    if not channels.sms_settings().configured:
        return {}
    waiting = (
        Message.objects.filter(
            status=Message.Status.UNKNOWN,
            channel=ContactChannel.SMS,
            direction=Message.Direction.OUT,
        )
        .order_by("status_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts: dict[str, int] = {}
    for message_id in list(waiting):
        try:
            status = str(do_check_unknown(None, message_id=message_id).status)
        except ValidationError:
            status = str(Message.Status.UNKNOWN)
        counts[status] = counts.get(status, 0) + 1
    return counts


def _status_callback(message: Message) -> str:
    public = channels.sms_settings().public_url
    if not public:
        return ""
    return f"{public}{reverse('outreach:sms-status')}?message={message.pk}"


# What `send_one` says of a message another worker (or the settling of unknown sends) took
# over while this worker was stopped: it leaves it alone.
TAKEN_OVER = "taken over"


def send_one(message_id: int, attempt: int) -> str:
    """Send one message this worker claimed as attempt number `attempt`; returns its new
    status, or TAKEN_OVER if the message is no longer this worker's."""
    message = Message.objects.select_related("district", "guardian").get(pk=message_id)
    # The message is this worker's while it is `sending` under the attempt number its claim
    # gave. A worker frozen past the lease (SIGSTOP, a long pause) finds it taken over:
    # `recover_abandoned` requeued it or made it `unknown`, and another claim or staff moved
    # it on. Every write below is conditional on that, so a late worker never puts back a
    # message someone else sent. (Attempt numbers do not come back: a re-claim adds one, and
    # only its holder takes one off, as it puts the message back in the queue.)
    held = Message.objects.filter(pk=message.pk, status=Message.Status.SENDING, attempts=attempt)
    now = timezone.now()
    if message.kind not in CONFIRMATIONS and not channel_allowed(
        message.guardian_id, message.channel
    ):
        return _finish(held, status=Message.Status.CANCELLED, error="Consent withdrawn.")
    if message.channel == ContactChannel.SMS and message.kind not in CONFIRMATIONS:
        rules = outreach_settings(message.district)
        later = next_allowed(
            now, timezone=message.district.timezone, start=rules.quiet_start, end=rules.quiet_end
        )
        if later > now:  # a retry that fell into the night waits for the morning
            if not held.update(
                status=Message.Status.QUEUED, not_before=later, attempts=F("attempts") - 1
            ):
                return TAKEN_OVER
            return Message.Status.QUEUED
    # The fence, right before the send: one short conditional UPDATE (autocommit) confirms
    # the message is still this worker's and restarts its lease; if not, nothing is sent.
    # It narrows the window to the moments between this UPDATE and the provider taking the
    # request, but cannot close it: a worker frozen there past a whole lease still sends.
    # The idempotency key closes it where the provider honours it (`HOMEROOM_SMS`
    # IDEMPOTENT): the late request repeats the taker's key and the provider sends nothing.
    # An SMTP server takes a repeated Message-ID as a second email: there the fence is all.
    if not held.update(status_at=timezone.now()):
        return TAKEN_OVER
    try:
        if message.channel == ContactChannel.SMS:
            provider_id = channels.send_sms(
                to=message.to_address,
                body=message.body,
                key=message.idempotency_key,
                status_callback=_status_callback(message),
            )
        else:
            provider_id = channels.send_email(
                to=message.to_address,
                subject=message.subject,
                body=message.body,
                language=message.language,
                key=message.idempotency_key,
            )
    except channels.TemporaryFailure as error:
        if attempt >= MAX_ATTEMPTS:
            return _finish(held, status=Message.Status.FAILED, error=str(error))
        if not held.update(
            status=Message.Status.QUEUED,
            not_before=now + backoff(attempt),
            last_error=str(error)[:2000],
            status_at=now,
        ):
            return TAKEN_OVER
        return Message.Status.QUEUED
    except channels.PermanentFailure as error:
        return _finish(held, status=Message.Status.FAILED, error=str(error))
    # A delivery report may have come in first: it keeps its (later) status.
    Message.objects.filter(pk=message.pk).update(provider_id=provider_id, sent_at=now)
    Message.objects.filter(pk=message.pk, status=Message.Status.SENDING).update(
        status=Message.Status.SENT, status_at=now, last_error=""
    )
    return Message.Status.SENT


def _finish(held, *, status: str, error: str) -> str:
    if not held.update(status=status, last_error=error[:2000], status_at=timezone.now()):
        return TAKEN_OVER
    return status


def run_once(limit: int = 50) -> dict[str, int]:
    """Claim and send one batch of due messages; returns how many ended in each status."""
    counts: dict[str, int] = {}
    for message_id, attempt in _claim(limit).items():
        status = send_one(message_id, attempt)
        counts[str(status)] = counts.get(str(status), 0) + 1
    return counts


def run_worker(
    *,
    batch: int = 50,
    idle: float = 1.0,
    lease: dt.timedelta = LEASE,
    stop: Callable[[], bool] = lambda: False,
    say: Callable[[str], None] = lambda line: None,
) -> None:
    """Send due messages until `stop()` says so, sleeping `idle` seconds when none are due."""
    last_recovery = 0.0
    while not stop():
        if time.monotonic() - last_recovery > min(lease.total_seconds(), 60):
            recovered = recover_abandoned(lease)
            settled = settle_unknown()
            last_recovery = time.monotonic()
            if any(recovered.values()):
                say(f"recovered abandoned messages: {recovered}")
            if settled:
                say(f"asked the provider about interrupted texts: {settled}")
        counts = run_once(batch)
        if counts:
            say(", ".join(f"{status} {n}" for status, n in sorted(counts.items())))
        else:
            time.sleep(idle)
