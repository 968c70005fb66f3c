"""The case manager's pages cost the same number of queries however many cases, contacts,
follow-ups and flags they show (as homeroom/web/tests/test_queries.py does for the other
pages): each page is counted, then again after more rows, and a query per row makes the
counts differ."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from homeroom.interventions import actions
from homeroom.interventions.models import Barrier, Case, FamilyContact, FollowUp, InterventionType
from homeroom.interventions.tests.conftest import open_case, raise_flag
from homeroom.roster.models import Enrollment, Guardian, Student, StudentGuardian

pytestmark = pytest.mark.django_db

MORE = 10


def queries_of(client, user, url: str) -> tuple[int, str]:
    """How many queries the page costs the user, and the page."""
    client.force_login(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured), response.text


def central_student(cast, number: int) -> Student:
    """A new student enrolled in grade 9 at Central High this year (the grade the counselor
    sees there)."""
    student = Student.objects.create(
        district=cast.district,
        local_id=f"Q{number:02}",
        first_name=f"Quinn{number:02}",
        last_name="Query",
        grade=9,
    )
    Enrollment.objects.create(
        student=student,
        school=cast.central,
        school_year=cast.this_year,
        grade=9,
        entry_date=cast.this_year.start_date,
    )
    return student


def work_the_case(cast, case: Case, number: int) -> None:
    """One of each entry on the case, through the actions (so the timeline has them too),
    and a follow-up already overdue (written directly: the case opened today, and the action
    refuses a due date before the case opened)."""
    user = cast.counselor
    today = cast.today
    guardian = Guardian.objects.create(
        district=cast.district,
        local_id=f"QG{Guardian.objects.count()}",
        first_name="Pat",
        last_name="Q",
    )
    StudentGuardian.objects.create(student=case.student, guardian=guardian, relationship="mother")
    barrier = Barrier.objects.filter(district=cast.district).order_by("pk")[number]
    if not case.barriers.filter(barrier=barrier).exists():
        actions.do_record_barrier(user, case_id=case.pk, barrier_id=barrier.pk)
    actions.do_write_plan(
        user,
        case_id=case.pk,
        goal_rate="0.9",
        goal_until=today + dt.timedelta(days=60),
        steps=[{"step": "wake-up call", "who": "Mother"}],
        review_on=today + dt.timedelta(days=3),
    )
    kind = InterventionType.objects.filter(district=cast.district, tier2=True).order_by("pk")[0]
    actions.do_start_intervention(user, student_id=case.student_id, intervention_type_id=kind.pk)
    actions.do_schedule_follow_up(
        user, case_id=case.pk, due_on=today, owner_id=user.pk, description="Call back"
    )
    FollowUp.objects.create(
        case=case,
        description="Home visit",
        due_on=today - dt.timedelta(days=2),
        owner=user,
        scheduled_on=today - dt.timedelta(days=9),
    )
    actions.do_log_contact(
        user,
        student_id=case.student_id,
        contacted_on=today,
        channel=FamilyContact.Channel.CALL,
        outcome=FamilyContact.Outcome.REACHED,
        guardian_id=guardian.pk,
    )
    actions.do_add_case_note(user, case_id=case.pk, text="Talked with the family.")
    actions.do_add_case_note(
        user, case_id=case.pk, text="Asthma.", topic="health", confidential=True
    )
    partner = actions.do_save_partner(cast.admin, name=f"Partner {case.pk}-{number}")
    actions.do_refer_to_partner(user, case_id=case.pk, partner_id=partner.pk)


def grow_caseload(cast, start: int) -> None:
    """MORE students at Central with a worked case managed by the counselor, and MORE
    flagged without a case."""
    for number in range(start, start + MORE):
        student = central_student(cast, number)
        flag_student(cast, student)
        case = actions.do_open_case(
            cast.counselor, student_id=student.pk, source=Case.Source.MANUAL, tier=2
        )
        work_the_case(cast, case, 0)
    for number in range(start + MORE, start + 2 * MORE):
        flag_student(cast, central_student(cast, number))


def flag_student(cast, student: Student) -> None:
    setattr(cast, student.local_id, student)
    raise_flag(cast, student.local_id, cast.today - dt.timedelta(days=1))


def test_caseload_costs_the_same_queries_for_more_cases(playbook, client):
    cast = playbook
    # given the counselor's caseload: Carla's case, worked; a student flagged without a case
    work_the_case(cast, open_case(cast, "carla"), 0)
    flag_student(cast, central_student(cast, 99))
    url = reverse("interventions:caseload")
    before, page = queries_of(client, cast.counselor, url)
    assert "Carla" in page and "Quinn99" in page
    # when ten more cases are opened and worked, and ten more students flagged
    grow_caseload(cast, 0)
    after, grown = queries_of(client, cast.counselor, url)
    assert grown.count("Quinn") >= page.count("Quinn") + 2 * MORE
    # then the page costs no more queries
    assert after == before


def test_case_page_costs_the_same_queries_for_more_entries(playbook, client):
    cast = playbook
    # given Carla's case with one of each entry
    case = open_case(cast, "carla")
    work_the_case(cast, case, 0)
    url = reverse("interventions:case", args=[case.pk])
    users = ("counselor", "admin")
    before = {name: queries_of(client, getattr(cast, name), url)[0] for name in users}
    # when ten more of each are added
    for number in range(1, MORE + 1):
        work_the_case(cast, case, number % Barrier.objects.count())
    after = {name: queries_of(client, getattr(cast, name), url)[0] for name in users}
    assert FamilyContact.objects.filter(case=case).count() == MORE + 1
    # then the page costs no more queries for anyone
    assert after == before


def test_team_meeting_costs_the_same_queries_for_more_students_of_concern(playbook, client):
    cast = playbook
    # given Central's team meeting: Carla's case overdue and due for review, a student flagged
    work_the_case(cast, open_case(cast, "carla"), 0)
    flag_student(cast, central_student(cast, 99))
    url = reverse("interventions:team_meeting") + f"?school={cast.central.pk}"
    before, page = queries_of(client, cast.counselor, url)
    assert "Carla" in page and "Quinn99" in page
    # when twenty more students come up
    grow_caseload(cast, 0)
    after, grown = queries_of(client, cast.counselor, url)
    assert grown.count("Quinn") >= 2 * MORE
    assert after == before
