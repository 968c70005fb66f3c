"""The family's page: opened by its link without an account, in the family's language
(right to left for Arabic), one answer per link, clear pages for bad and closed links."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from homeroom.core.models import AuditEntry
from homeroom.surveys.models import Answer, Invitation
from homeroom.surveys.tests.world import barrier, families
from homeroom.surveys.tokens import new_token, token_hash

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(cast):
    world = families(cast)
    world.token = new_token()
    world.invitation = Invitation.objects.create(
        survey=world.survey,
        token_hash=token_hash(world.token),
        household="1 elm st|60601",
        guardian=world.maria,
        language="es",
    )
    world.invitation.students.set([cast.ana])
    world.invitation.schools.set([cast.lincoln])
    world.url = reverse("surveys:answer", args=[world.token])
    return world


def test_the_link_opens_the_survey_in_the_familys_language_without_an_account(world):
    page = Client().get(world.url)
    assert page.status_code == 200
    assert '<html lang="es">' in page.text
    assert "¿Qué dificulta ir a la escuela?" in page.text
    assert "Transporte" in page.text and "Ninguna de estas" in page.text
    # nothing names the child or the family: a forwarded link tells nobody who they are
    assert "Ana" not in page.text and "Alvarez" not in page.text


def test_arabic_is_written_right_to_left(world):
    page = Client().get(world.url, {"lang": "ar"})
    assert '<html lang="ar" dir="rtl">' in page.text
    assert "المواصلات" in page.text


def test_the_page_loads_nothing_from_another_server(world):
    page = Client().get(world.url)
    addresses = re.findall(r'(?:src|href|action)="([^"]*)"', page.text)
    assert addresses and all(not re.match(r"^[a-z]+://|^//", a) for a in addresses), addresses


def test_an_answer_is_recorded_once_and_audited_for_the_household(world):
    # given the family's choices: transportation and health
    cast = world.cast
    chosen = [barrier(cast, "transportation").pk, barrier(cast, "health").pk]
    client = Client()
    # when they send them
    page = client.post(world.url, {"barrier": chosen, "language": "es"})
    # then they are thanked in Spanish, and the answer holds those two barriers
    assert page.status_code == 200 and "Gracias. Recibimos sus respuestas." in page.text
    answer = Answer.objects.get(invitation=world.invitation)
    assert sorted(answer.barriers.values_list("key", flat=True)) == ["health", "transportation"]
    assert answer.language == "es"
    entry = AuditEntry.objects.get(subject="needs survey answer")
    assert (entry.student_id, entry.user) == (cast.ana.pk, None)
    # and the link answers no second time
    again = client.post(world.url, {"barrier": chosen[:1], "language": "es"})
    assert "Este enlace ya se usó para responder." in again.text
    assert Answer.objects.count() == 1


def test_sending_nothing_asks_for_a_choice_and_saves_nothing(world):
    page = Client().post(world.url, {"language": "es"})
    assert page.status_code == 400
    assert "Elija al menos una respuesta" in page.text
    assert not Answer.objects.exists()


def test_none_of_these_is_an_answer(world):
    Client().post(world.url, {"none": "1", "language": "es"})
    assert list(Answer.objects.get().barriers.all()) == []


def test_a_forged_form_without_the_csrf_token_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    refused = client.post(world.url, {"none": "1", "language": "es"})
    assert refused.status_code == 403
    assert not Answer.objects.exists()
    # while the page's own form, with its token, is accepted
    form = client.get(world.url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    accepted = client.post(world.url, {"none": "1", "language": "es", "csrfmiddlewaretoken": token})
    assert accepted.status_code == 200 and Answer.objects.count() == 1


def test_a_bad_token_gets_a_clear_page(world):
    page = Client().get(reverse("surveys:answer", args=[new_token()]))
    assert page.status_code == 404
    assert "This link does not work" in page.text


def test_a_closed_survey_says_so_and_takes_no_answer(world):
    # given the survey's last day yesterday
    world.survey.closes_on = world.cast.today - dt.timedelta(days=1)
    world.survey.save(update_fields=["closes_on"])
    client = Client()
    # then the link says it is closed, in Spanish, and an answer sent anyway is not kept
    page = client.get(world.url)
    assert page.status_code == 410 and "Esta encuesta está cerrada." in page.text
    refused = client.post(world.url, {"none": "1", "language": "es"})
    assert refused.status_code == 410
    assert not Answer.objects.exists()
