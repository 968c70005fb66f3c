"""The unmatched page's search for a guardian: by name, phone, email or roster ID, among
the guardians of students the user may see, and assigning the message to the one found."""

import pytest
from django.urls import reverse

from homeroom.conftest import PASSWORD
from homeroom.core.models import AuditEntry
from homeroom.interventions.models import FamilyContact
from homeroom.outreach.actions import do_receive_email
from homeroom.outreach.selectors import find_guardians
from homeroom.outreach.tests.conftest import guardian

pytestmark = pytest.mark.django_db


def names(found) -> list[str]:
    return [f"{match.guardian.first_name} {match.guardian.last_name}" for match in found]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Alvarez", ["María Alvarez", "Rosa Alvarez", "Tomás Alvarez"]),
        ("alvarez ros", ["Rosa Alvarez"]),  # every word, in the first or last name
        ("Chen Joana", ["Joana Chen"]),
        ("Alvarez Linh", []),
        ("555-010-1001", ["María Alvarez"]),  # the roster wrote "(555) 010-1001"
        ("(555) 010 1004", ["Linh Brooks"]),  # the roster wrote "555-010-1004"
        ("0101005", ["Joana Chen"]),  # the roster wrote "+1 555 010 1005"
        ("LINH@example", ["Linh Brooks"]),
        ("g5", ["Joana Chen"]),  # a roster ID, whatever its case
        ("A", []),  # too short to mean anyone
    ],
)
def test_the_administrator_finds_guardians_by_name_phone_email_or_roster_id(
    cast, families, query, expected
):
    assert names(find_guardians(cast.admin, query)) == expected


def test_each_guardian_found_names_their_children(cast, families):
    (maria,) = find_guardians(cast.admin, "María")
    assert [child.first_name for child in maria.children] == ["Ana", "Gabe"]


def test_the_search_stays_within_the_students_the_user_sees(cast, families):
    # the teacher sees Ana but not Ben: Ben's mother is not found, Ana's are
    assert find_guardians(cast.teacher, "Brooks") == []
    assert "María Alvarez" in names(find_guardians(cast.teacher, "Alvarez"))
    # a guardian linked to no student is nobody's to find
    guardian(cast, "G9", "Nadie", "Solo", phone="555-010-1009")
    assert find_guardians(cast.admin, "Solo") == []
    # and another district's administrator finds none of this district's guardians
    assert find_guardians(cast.outsider, "Alvarez") == []


@pytest.fixture
def stray_email(cast, families):
    (message,) = do_receive_email(
        sender="Abuela <abuela@example.net>",
        to="attendance@riverside.example",
        subject="Ben",
        text="Soy la abuela de Ben; hoy está enfermo.",
        headers="Message-ID: <abuela-3@example.net>\n",
        district_id=cast.district.pk,
    )
    assert message.status == "unmatched"
    return message


def test_the_page_searches_and_assigns_to_the_guardian_found(cast, families, stray_email, client):
    client.login(username=cast.admin.username, password=PASSWORD)
    page = reverse("outreach:unmatched")
    # when the administrator searches for Brooks beside the message
    html = client.get(page, {"find": stray_email.pk, "q": "Brooks"}).content.decode()
    # then Linh Brooks is offered with her child, and the read is on Ben's trail
    assert "Assign to Linh Brooks" in html and "Ben Brooks" in html
    assert AuditEntry.objects.filter(
        user=cast.admin, student_id=cast.ben.pk, subject="guardians", action="view"
    ).exists()
    # and a search that finds nobody says so
    html = client.get(page, {"find": stray_email.pk, "q": "Zzyzx"}).content.decode()
    assert "No guardian of a student you see matches “Zzyzx”." in html
    # when they assign it to her, it is her reply in Ben's contact log
    answer = client.post(
        page, {"message": stray_email.pk, "guardian_id": families.linh.pk, "assign": "1"}
    )
    assert answer.status_code == 302
    stray_email.refresh_from_db()
    assert (stray_email.status, stray_email.guardian) == ("received", families.linh)
    assert FamilyContact.objects.get().student == cast.ben


def test_a_guardian_outside_the_search_cannot_be_assigned(cast, families, stray_email, client):
    nobody = guardian(cast, "G9", "Nadie", "Solo", email="abuela@example.net")
    client.login(username=cast.admin.username, password=PASSWORD)
    answer = client.post(
        reverse("outreach:unmatched"),
        {"message": stray_email.pk, "guardian_id": nobody.pk, "assign": "1"},
    )
    assert answer.status_code == 400
    assert "Choose a guardian from the search results." in answer.content.decode()
    stray_email.refresh_from_db()
    assert stray_email.status == "unmatched"
