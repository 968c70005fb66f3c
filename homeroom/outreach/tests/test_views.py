"""The message page: who may use it, what it offers, and what a mistake looks like."""

import pytest
from django.urls import reverse

from homeroom.conftest import PASSWORD
from homeroom.core.models import AuditEntry
from homeroom.outreach.models import Message

pytestmark = pytest.mark.django_db


def signed_in(client, user):
    client.login(username=user.username, password=PASSWORD)
    return client


def page_of(student):
    return reverse("outreach:family-message", args=[student.pk])


def test_the_teacher_sees_only_guardians_who_may_be_contacted(cast, families, client):
    answer = signed_in(client, cast.teacher).get(page_of(cast.ana))
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "María Alvarez (Spanish; text messages, email)" in html
    assert "Tomás" not in html  # no contact
    assert "Rosa" not in html  # no right to the records
    # and the view is in the audit trail
    assert AuditEntry.objects.filter(
        student_id=cast.ana.pk, subject="family messages", user=cast.teacher
    ).exists()


def test_sending_from_the_page_queues_the_message_and_shows_it(cast, families, client):
    client = signed_in(client, cast.teacher)
    answer = client.post(
        page_of(cast.ana),
        {"guardian_id": families.maria.pk, "channel": "sms", "text": "¿Ana está bien?"},
    )
    assert answer.status_code == 302
    message = Message.objects.get()
    assert message.stated["text"] == "¿Ana está bien?"
    shown = client.get(page_of(cast.ana)).content.decode()
    assert "¿Ana está bien?" in shown and "Waiting to be sent" in shown


def test_a_refused_message_comes_back_with_the_reason_beside_the_field(cast, families, client):
    client = signed_in(client, cast.admin)
    answer = client.post(
        page_of(cast.ben), {"guardian_id": families.linh.pk, "channel": "sms", "text": "Hi"}
    )
    assert answer.status_code == 400
    assert "Linh Brooks has not agreed to receive text messages." in answer.content.decode()
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("who", "student", "status"), [("viewer", "carla", 403), ("teacher", "ben", 404)]
)
def test_who_may_not_message_a_family(cast, families, client, who, student, status):
    answer = signed_in(client, getattr(cast, who)).get(page_of(getattr(cast, student)))
    assert answer.status_code == status


def test_the_student_page_links_to_the_message_page(cast, families, client):
    answer = signed_in(client, cast.teacher).get(reverse("web:student", args=[cast.ana.pk]))
    assert page_of(cast.ana) in answer.content.decode()
