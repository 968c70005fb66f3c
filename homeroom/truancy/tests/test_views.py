"""The truancy pages as staff read them: the queue, a step, the caseload's overdue steps,
the student's timeline, the pack; a refusal shown on the page with nothing changed."""

import pytest
from django.urls import reverse

from homeroom.truancy.models import TruancyStep
from homeroom.truancy.tests.conftest import absent, choose, night, school_days_from
from homeroom.web.tests.page_text import table_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def eligible(cast):
    """California's pack; Ana eligible for the first notice on three absences in August."""
    choose(cast, "california")
    days = school_days_from(cast.this_year.start_date, 3)
    for day in days:
        absent(cast, cast.ana, day)
    night(cast)
    return TruancyStep.objects.get(student=cast.ana, key="not1")


def test_the_queue_lists_the_eligible_step_and_shows_it_overdue(cast, client, eligible):
    # given the first notice's ten days to act have passed
    client.force_login(cast.principal)
    # when the principal opens the queue
    response = client.get(reverse("truancy:queue"))
    # then Ana is awaiting approval, and overdue
    due = eligible.due_on
    row = [
        "Ana Alvarez",
        "First truancy notice (NOT1)",
        f"{eligible.eligible_on:%b} {eligible.eligible_on.day}, {eligible.eligible_on.year}",
        f"{due:%b} {due.day}, {due.year}",
        "Awaiting approval",
    ]
    assert table_rows(response.text, "Steps the nightly run found")[1:] == [row]
    assert due < cast.today
    assert table_rows(response.text, "Steps past their deadline")[1:] == [row]


def test_the_caseload_shows_overdue_steps_and_the_timeline_the_decision(cast, client, eligible):
    client.force_login(cast.principal)
    page = client.get(reverse("interventions:caseload")).text
    assert "Overdue truancy steps" in page and "First truancy notice (NOT1)" in page
    # when the principal approves from the step page
    response = client.post(
        reverse("truancy:approve", args=[eligible.pk]), {"version": eligible.version}
    )
    assert response.status_code == 302
    # then the step page lists the letter, and the caseload no longer shows it overdue
    step_page = client.get(reverse("truancy:step", args=[eligible.pk])).text
    assert "Notice letter" in step_page
    assert "No message through outreach: the school prints this letter and mails it" in step_page
    assert "Overdue truancy steps" not in client.get(reverse("interventions:caseload")).text
    # and the student's timeline has the decision
    student_page = client.get(reverse("web:student", args=[cast.ana.pk])).text
    assert "First truancy notice (NOT1): approved and sent" in student_page


def test_a_refused_decline_is_shown_and_changes_nothing(cast, client, eligible):
    client.force_login(cast.admin)
    response = client.post(
        reverse("truancy:decline", args=[eligible.pk]),
        {"version": eligible.version + 1, "reason": "Moved"},
    )
    assert response.status_code == 400
    assert "changed meanwhile" in response.text
    assert TruancyStep.objects.get(pk=eligible.pk).status == "eligible"


def test_the_pack_page_shows_the_steps_and_refuses_a_broken_copy(cast, client, eligible):
    client.force_login(cast.admin)
    page = client.get(reverse("truancy:pack")).text
    assert "3 unexcused days or part days within the school year" in page
    response = client.post(
        reverse("truancy:pack"), {"based_on": "california", "text": "steps = 3\n"}
    )
    assert response.status_code == 400
    assert "write each changed step as [[steps]] with its key" in response.text
    assert cast.district.truancy_pack.text == ""


def test_the_document_opens_as_the_pdf_sent(cast, client, eligible):
    client.force_login(cast.principal)
    client.post(reverse("truancy:approve", args=[eligible.pk]), {"version": eligible.version})
    document = eligible.documents.get()
    response = client.get(reverse("truancy:document", args=[document.pk]))
    assert response["Content-Type"] == "application/pdf"
    assert response.content == bytes(document.pdf)


def test_a_copy_that_no_longer_reads_is_shown_and_nobody_decides(cast, client, eligible):
    # given the district's copy names a step its base pack no longer has (as when a shipped
    # pack's new version renames one)
    cast.district.truancy_pack.text = 'based_on = "california"\n[[steps]]\nkey = "gone"\n'
    cast.district.truancy_pack.save()
    client.force_login(cast.principal)
    # then the queue says what is wrong, and the step page offers no decision
    queue = client.get(reverse("truancy:queue"))
    assert queue.status_code == 200
    assert "no step &#x27;gone&#x27; in the base pack to change" in queue.text
    step_page = client.get(reverse("truancy:step", args=[eligible.pk]))
    assert step_page.status_code == 200
    assert "Approve" not in step_page.text


def test_the_home_page_shows_the_attendance_team_its_overdue_steps(cast, client, eligible):
    # Lincoln's principal lands on the school's dashboard: the overdue notice is there
    client.force_login(cast.principal)
    response = client.get(reverse("web:home"), follow=True)
    assert response.redirect_chain  # to Lincoln's dashboard
    assert "Overdue truancy steps" in response.text
    assert "First truancy notice (NOT1)" in response.text
    # a teacher, who reads no school's queue, sees no such section
    client.force_login(cast.teacher)
    assert "Overdue truancy steps" not in client.get(reverse("web:home"), follow=True).text
