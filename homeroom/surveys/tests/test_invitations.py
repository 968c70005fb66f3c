"""Sending a families survey: one link per household, through the outbox, exactly once,
only where consent allows, in the family's language."""

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from homeroom.outreach.models import Message, MessageKind
from homeroom.surveys.actions import do_send_survey_invitations
from homeroom.surveys.models import Invitation
from homeroom.surveys.tests.world import families
from homeroom.surveys.tokens import token_hash

pytestmark = pytest.mark.django_db
BASE = "https://homeroom.example.org/"
LINK = re.compile(r"https://homeroom\.example\.org/answer/([A-Za-z0-9_-]+)/")


@pytest.fixture
def world(cast):
    return families(cast)


def test_each_reachable_household_gets_one_link_in_its_language(world):
    cast = world.cast
    # when the administrator sends the survey's invitations
    sent = do_send_survey_invitations(cast.admin, survey_id=world.survey.pk, base_url=BASE)
    # then the Alvarez household (through María, by text, in Spanish), the Brooks (email)
    # and the Garcias (a letter) are invited; the Chens have no channel; the Desais are
    # never asked; Eli's and Hal's families are not enrolled today
    assert (sent.invited, sent.already) == (3, 0)
    assert sent.not_sent == {"no channel the family agreed to, with an address": 1}
    messages = {
        m.guardian.first_name: m for m in Message.objects.filter(kind=MessageKind.SURVEY_INVITATION)
    }
    assert {name: (m.channel, m.language) for name, m in messages.items()} == {
        "María": ("sms", "es"),
        "Bea": ("email", "en"),
        "Gloria": ("letter", "en"),
    }
    assert "quiere saber qué le dificulta a Ana venir a la escuela" in messages["María"].body
    # and each message carries its own link, whose token opens exactly its invitation
    for name, message in messages.items():
        (token,) = LINK.findall(message.body)
        invitation = Invitation.objects.get(token_hash=token_hash(token))
        assert invitation.message == message
        assert invitation.guardian.first_name == name
    assert len({LINK.findall(m.body)[0] for m in messages.values()}) == 3
    alvarez = Invitation.objects.get(guardian=world.maria)
    assert (alvarez.language, list(alvarez.students.all()), list(alvarez.schools.all())) == (
        "es",
        [cast.ana],
        [cast.lincoln],
    )


def test_sending_again_sends_nothing_twice(world):
    # given the invitations sent once
    cast = world.cast
    do_send_survey_invitations(cast.admin, survey_id=world.survey.pk, base_url=BASE)
    # when the administrator sends again
    again = do_send_survey_invitations(cast.admin, survey_id=world.survey.pk, base_url=BASE)
    # then every household was invited before, and no message or link is added
    assert (again.invited, again.already) == (0, 3)
    assert Message.objects.filter(kind=MessageKind.SURVEY_INVITATION).count() == 3
    assert Invitation.objects.count() == 3


def test_tokens_are_long_random_and_stored_only_as_hashes(world):
    cast = world.cast
    do_send_survey_invitations(cast.admin, survey_id=world.survey.pk, base_url=BASE)
    tokens = [LINK.findall(m.body)[0] for m in Message.objects.filter(kind="survey_invitation")]
    # 32 random bytes in URL-safe base64: 43 characters; none is held in the clear
    assert all(len(token) == 43 for token in tokens)
    held = set(Invitation.objects.values_list("token_hash", flat=True))
    assert held == {token_hash(token) for token in tokens}
    assert not held & set(tokens)


@pytest.mark.parametrize("username", ["analyst", "principal", "counselor", "teacher", "viewer"])
def test_only_district_administrators_send(world, username):
    with pytest.raises(PermissionDenied):
        do_send_survey_invitations(
            getattr(world.cast, username), survey_id=world.survey.pk, base_url=BASE
        )
    assert not Message.objects.filter(kind=MessageKind.SURVEY_INVITATION).exists()


def test_a_survey_of_another_district_is_refused_and_changes_nothing(world):
    with pytest.raises(ValidationError, match="No such survey"):
        do_send_survey_invitations(world.cast.outsider, survey_id=world.survey.pk, base_url=BASE)
    assert not Invitation.objects.exists()
