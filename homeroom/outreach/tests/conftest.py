"""The outreach tests' families, and the real local servers the messages go to.

Families of the cast (homeroom/conftest.py), written out so each test can say by hand what
should happen:

- María Alvarez, mother of Ana (grade 3) and Gabe (grade 2): one household, Spanish, texts
  and email consented, phone written the way rosters write it.
- Tomás Alvarez, their father: marked "no contact" for Ana (a court order).
- Rosa Alvarez, their grandmother: no right to their records.
- Linh Brooks, Ben's mother: Vietnamese, never asked about texts (email consented).
- Joana Chen, Carla's mother: Portuguese (no template ships in it), texts consented.
"""

import asyncio
import datetime as dt
import socket
import zoneinfo
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from homeroom.outreach.actions import do_install_default_templates, outreach_settings
from homeroom.outreach.sandbox import Hold, LocalSmsProvider
from homeroom.roster.models import ContactPreference, Guardian, StudentGuardian

GRANTED = ContactPreference.Consent.GRANTED


def guardian(cast, local_id, first, last, *, phone="", email="", language="en", **address):
    return Guardian.objects.create(
        district=cast.district,
        local_id=local_id,
        first_name=first,
        last_name=last,
        phone=phone,
        email=email,
        preferred_language=language,
        **address,
    )


def consent(who, **channels):
    for channel, value in channels.items():
        ContactPreference.objects.update_or_create(
            guardian=who, channel=channel, defaults={"consent": value}
        )


@pytest.fixture
def families(cast):
    """The cast's families (above), the default templates, and no quiet hours yet."""
    do_install_default_templates(cast.district)
    rules = outreach_settings(cast.district)
    rules.quiet_start = rules.quiet_end = dt.time(0, 0)  # equal: no quiet hours
    rules.save()
    maria = guardian(
        cast,
        "G1",
        "María",
        "Alvarez",
        phone="(555) 010-1001",
        email="maria@example.org",
        language="es",
        address_line="12 Elm St",
        city="Riverside",
        state="IL",
        postal_code="60546",
    )
    tomas = guardian(cast, "G2", "Tomás", "Alvarez", phone="555-010-1002", language="es")
    rosa = guardian(cast, "G3", "Rosa", "Alvarez", phone="555-010-1003", language="es")
    linh = guardian(
        cast, "G4", "Linh", "Brooks", phone="555-010-1004", email="linh@example.org", language="vi"
    )
    joana = guardian(cast, "G5", "Joana", "Chen", phone="+1 555 010 1005", language="pt")
    for child in (cast.ana, cast.gabe):
        StudentGuardian.objects.create(student=child, guardian=maria, relationship="mother")
        StudentGuardian.objects.create(
            student=child, guardian=rosa, relationship="grandparent", contact_rights=False
        )
    StudentGuardian.objects.create(
        student=cast.ana, guardian=tomas, relationship="father", no_contact=True
    )
    StudentGuardian.objects.create(student=cast.ben, guardian=linh, relationship="mother")
    StudentGuardian.objects.create(student=cast.carla, guardian=joana, relationship="mother")
    consent(maria, sms=GRANTED, email=GRANTED)
    consent(tomas, sms=GRANTED)
    consent(rosa, sms=GRANTED)
    consent(linh, email=GRANTED)
    consent(joana, sms=GRANTED)
    return SimpleNamespace(maria=maria, tomas=tomas, rosa=rosa, linh=linh, joana=joana)


@pytest.fixture
def provider(settings):
    """The local SMS provider (Twilio's shape) on 127.0.0.1, and Homeroom pointed at it."""
    server = LocalSmsProvider().start()
    settings.HOMEROOM_SMS = server.settings()
    yield server
    server.stop()


class Mailbox:
    """What the local SMTP server received."""

    def __init__(self) -> None:
        self.envelopes = []
        self.holds: list[Hold] = []

    def hold_next(self) -> Hold:
        """The next message's DATA goes unanswered (the sender waits) until `release` is set."""
        hold = Hold()
        self.holds.append(hold)
        return hold

    async def handle_DATA(self, server, session, envelope):
        if self.holds:  # waits in a thread, not the server's loop: other senders go on
            await asyncio.to_thread(self.holds.pop(0).wait)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    """A real SMTP server (aiosmtpd) on 127.0.0.1; Homeroom's family mailer points at it."""
    mailbox = Mailbox()
    with socket.socket() as probe:  # a free port: aiosmtpd checks the one it is given
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    options = {"host": "127.0.0.1", "port": controller.port, "timeout": 10}
    backend = "django.core.mail.backends.smtp.EmailBackend"
    settings.MAILERS = {**settings.MAILERS, "families": {"BACKEND": backend, "OPTIONS": options}}
    yield mailbox
    controller.stop()


def quiet_now(district) -> tuple[dt.time, dt.time, dt.datetime]:
    """Quiet hours from an hour ago to an hour from now (district time), and when they end."""
    local = (
        timezone.now()
        .astimezone(zoneinfo.ZoneInfo(district.timezone))
        .replace(second=0, microsecond=0)
    )
    wake = local + dt.timedelta(hours=1)
    return (local - dt.timedelta(hours=1)).time(), wake.time(), wake
