"""The set-wise path decides exactly what the one-at-a-time path decides.

One set of drafts exercises every rule (contact rights, no-contact, consent per channel,
an opted-out number, no address, quiet hours, the weekly cap, siblings in one message,
the fallback language, a key decided twice). Each is decided one at a time (`_queue`, what
a staff message or a STOP confirmation uses), then, after rolling that back, all at once
(`queue_many`, what the night's triggers use); both must match the outcomes written below
by hand from conftest.py's families.
"""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from homeroom.core.models import AuditEntry
from homeroom.interventions.models import CaseEvent
from homeroom.outreach.actions import Draft, _queue, outreach_settings, queue_many
from homeroom.outreach.models import Message, TriggerHit
from homeroom.outreach.tests.conftest import consent, quiet_now
from homeroom.roster.models import ContactPreference

pytestmark = pytest.mark.django_db

SENT, HELD = "queued now", "queued until quiet hours end"


def draft(cast, guardian, channel, students, key):
    return Draft(
        district=cast.district,
        kind="absence_today",
        channel=channel,
        guardian=guardian,
        students=students,
        key=key,
        values={"school": "Lincoln Elementary", "date": "Dec 7, 2026", "as_of": "Dec 7, 2026"},
        stated={"date": "2026-12-07"},
    )


@pytest.fixture
def drafts(cast, families):
    """The district's rules: cap 2 a week, fallback Spanish, quiet hours now; Linh opted out
    of texts (she had consented by email only)."""
    rules = outreach_settings(cast.district)
    rules.weekly_cap = 2
    rules.fallback_language = "es"
    rules.quiet_start, rules.quiet_end, wake = quiet_now(cast.district)
    rules.save()
    consent(families.linh, sms=ContactPreference.Consent.OPTED_OUT)
    f = families
    return wake, [
        draft(cast, f.maria, "sms", (cast.ana, cast.gabe), "k1"),  # siblings, one message
        draft(cast, f.maria, "sms", (cast.ana, cast.gabe), "k1"),  # the same key again
        draft(cast, f.tomas, "sms", (cast.ana,), "k2"),  # no contact for Ana
        draft(cast, f.rosa, "sms", (cast.gabe,), "k3"),  # no right to the records
        draft(cast, f.linh, "sms", (cast.ben,), "k4"),  # opted out of texts
        draft(cast, f.linh, "email", (cast.ben,), "k5"),  # email: not held in quiet hours
        draft(cast, f.joana, "sms", (cast.carla,), "k6"),  # Portuguese: the fallback
        draft(cast, f.joana, "email", (cast.carla,), "k7"),  # no consent to email
        draft(cast, f.maria, "email", (cast.ana,), "k8"),  # María's household's 2nd: goes
        draft(cast, f.maria, "sms", (cast.gabe,), "k9"),  # her 3rd: over the cap of 2
        draft(cast, f.maria, "letter", (cast.ana,), "k10"),  # letters: cap still counts
        draft(cast, f.linh, "letter", (cast.ben,), "k11"),  # no street address on the roster
        draft(cast, f.joana, "sms", (cast.ben,), "k12"),  # not Ben's guardian
    ]


EXPECTED = [
    ("María Alvarez", "sms", "es", HELD, "Ana, Gabe", "m1"),
    ("María Alvarez", "sms", "es", HELD, "Ana, Gabe", "m1"),
    "Tomás Alvarez is marked “no contact”.",
    "Rosa Alvarez has no right to the student's records.",
    "Linh Brooks has not agreed to receive text messages.",
    ("Linh Brooks", "email", "vi", SENT, "Ben", "m2"),
    ("Joana Chen", "sms", "es", HELD, "Carla", "m3"),
    "Joana Chen has not agreed to receive email.",
    ("María Alvarez", "email", "es", SENT, "Ana", "m4"),
    "This household has had 2 messages in the last 7 days, the district's weekly limit.",
    "This household has had 2 messages in the last 7 days, the district's weekly limit.",
    "The roster holds no postal address for Linh Brooks.",
    "Joana Chen is not a guardian of Ben.",
]


def described(outcomes, wake):
    """Each outcome in words; the same message twice gets the same name (m1, m2, ...)."""
    names: dict[int, str] = {}
    found = []
    for outcome in outcomes:
        if isinstance(outcome, ValidationError):
            found.append(next(iter(outcome.message_dict.values()))[0])
            continue
        names.setdefault(outcome.pk, f"m{len(names) + 1}")
        outcome.refresh_from_db()
        children = ", ".join(sorted(s.first_name for s in outcome.students.all()))
        found.append(
            (
                str(outcome.guardian),
                outcome.channel,
                outcome.language,
                HELD if outcome.not_before >= wake else SENT,
                children,
                names[outcome.pk],
            )
        )
    return found


def written():
    """What the decisions wrote: messages, timeline rows, audit entries."""
    return (
        Message.objects.count(),
        sorted(CaseEvent.objects.filter(kind="message_sent").values_list("student_id", flat=True)),
        AuditEntry.objects.filter(subject="family message").count(),
    )


def one_at_a_time(drafts):
    outcomes = []
    for each in drafts:
        try:
            outcomes.append(_queue(each))
        except ValidationError as refused:
            outcomes.append(refused)
    return outcomes


def test_the_set_wise_path_decides_what_the_one_at_a_time_path_decides(cast, drafts):
    wake, drafts = drafts
    ids = cast.ana.pk, cast.gabe.pk, cast.ben.pk, cast.carla.pk
    ana, gabe, ben, carla = ids
    # one message per child named: m1 (Ana, Gabe), m2 (Ben), m3 (Carla), m4 (Ana)
    expected_rows = (4, sorted([ana, gabe, ben, carla, ana]), 5)
    with transaction.atomic():
        single = described(one_at_a_time(drafts), wake)
        single_rows = written()
        transaction.set_rollback(True)
    assert not Message.objects.exists()
    bulk = described(queue_many(drafts), wake)
    assert single == EXPECTED
    assert bulk == EXPECTED
    assert single_rows == expected_rows
    assert written() == expected_rows
    # and deciding the whole set again returns the same messages, writing nothing new
    assert described(queue_many(drafts), wake) == EXPECTED
    assert written() == expected_rows


def test_a_chunk_that_fails_writes_nothing(cast, drafts):
    # when the work done with the chunk's decisions fails (here: a mark that cannot be saved)
    _, drafts = drafts

    def broken(decided):
        TriggerHit.objects.create(student=None, kind="absence_today", mark="x")

    with pytest.raises(IntegrityError):
        queue_many(drafts, decided=broken)
    # then no message, timeline row or audit entry was written
    assert written() == (0, [], 0)
