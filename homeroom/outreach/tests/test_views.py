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


def test_the_admin_previews_a_template_for_a_real_student_before_saving(cast, families, client):
    client = signed_in(client, cast.admin)
    edit = reverse("outreach:template-edit") + "?kind=absence_today&language=es"
    words = {
        "kind": "absence_today",
        "language": "es",
        "version": 1,
        "subject": "Hoy: {{ children }}",
    }
    body = "{{ school }}: {{ children }} faltó hoy. Llame a {{ district }}."
    answer = client.post(
        edit, {**words, "body": body, "preview_student": cast.ana.pk, "preview": 1}
    )
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "Lincoln Elementary: Ana faltó hoy. Llame a Riverside Unified." in html
    assert "Hoy: Ana" in html
    # nothing was saved by the preview, and it was audited as a read of Ana's record
    from homeroom.outreach.actions import current_template

    assert current_template(cast.district.pk, "absence_today", "es").version == 1
    assert AuditEntry.objects.filter(
        student_id=cast.ana.pk, subject="message template preview"
    ).exists()
    # when saved, it is version 2, no longer awaiting review
    answer = client.post(edit, {**words, "body": body, "save": 1})
    assert answer.status_code == 302
    saved = current_template(cast.district.pk, "absence_today", "es")
    assert (saved.version, saved.body, saved.shipped_default) == (2, body, False)


def test_a_template_with_an_unknown_placeholder_or_an_old_version_is_refused(
    cast, families, client
):
    client = signed_in(client, cast.admin)
    edit = reverse("outreach:template-edit") + "?kind=absence_today&language=es"
    words = {"kind": "absence_today", "language": "es", "subject": ""}
    answer = client.post(edit, {**words, "version": 1, "body": "Hola {{ student.ssn }}", "save": 1})
    assert answer.status_code == 400
    assert "Unknown placeholder {{ student.ssn }}" in answer.content.decode()
    answer = client.post(edit, {**words, "version": 1, "body": "Hola {{ nombre }}", "save": 1})
    assert answer.status_code == 400
    assert "Unknown placeholder {{ nombre }}" in answer.content.decode()
    answer = client.post(edit, {**words, "version": 0, "body": "Hola", "save": 1})
    assert answer.status_code == 400
    assert "Someone saved this template since you opened it" in answer.content.decode()


@pytest.mark.parametrize(
    ("who", "status"), [("analyst", 200), ("principal", 403), ("teacher", 403)]
)
def test_templates_are_for_district_staff(cast, families, client, who, status):
    answer = signed_in(client, getattr(cast, who)).get(reverse("outreach:templates"))
    assert answer.status_code == status


def test_the_analyst_may_read_but_not_save_a_template(cast, families, client):
    client = signed_in(client, cast.analyst)
    edit = reverse("outreach:template-edit") + "?kind=absence_today&language=es"
    answer = client.post(
        edit, {"kind": "absence_today", "language": "es", "version": 1, "body": "x", "save": 1}
    )
    assert answer.status_code == 403


USERS = ("admin", "analyst", "principal", "counselor", "teacher", "viewer", "outsider", "former")
# Each outreach page for each member of the cast (Ana's message page; the templates list).
MATRIX = {
    "family-message": {
        "admin": 200,
        "analyst": 403,  # sees Ana, contacts no family
        "principal": 200,
        "counselor": 404,  # does not see Ana
        "teacher": 200,
        "viewer": 404,
        "outsider": 404,
        "former": "login",
        None: "login",
    },
    "templates": {
        "admin": 200,
        "analyst": 200,
        "principal": 403,
        "counselor": 403,
        "teacher": 403,
        "viewer": 403,
        "outsider": 200,  # another district's administrator: their own district's templates
        "former": "login",
        None: "login",
    },
}


@pytest.mark.parametrize("who", [*USERS, None])
@pytest.mark.parametrize("route", sorted(MATRIX))
def test_each_outreach_page_answers_each_user_as_the_matrix_says(
    cast, families, client, route, who
):
    if who is not None:
        client.force_login(getattr(cast, who))
    args = [cast.ana.pk] if route == "family-message" else []
    answer = client.get(reverse(f"outreach:{route}", args=args))
    expected = MATRIX[route][who]
    if expected == "login":
        assert answer.status_code == 302 and answer["Location"].startswith(reverse("web:login"))
    else:
        assert answer.status_code == expected


@pytest.mark.parametrize("route", ["sms-status", "sms-inbound"])
def test_the_webhooks_refuse_anyone_without_the_providers_signature(cast, families, client, route):
    client.force_login(cast.admin)  # even a signed-in administrator
    answer = client.post(reverse(f"outreach:{route}"), {"MessageSid": "SM1", "Body": "STOP"})
    assert answer.status_code == 403
