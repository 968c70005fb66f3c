"""The roll-up by school (small cells suppressed), the barrier counts the needs allocation
reads, and a household's own answers for its case team alone."""

import pytest
from django.test import Client
from django.urls import reverse

from homeroom.core.models import AuditEntry
from homeroom.interventions.tests.conftest import open_case
from homeroom.surveys.selectors import SchoolBarrierCounts, barrier_counts_by_school
from homeroom.surveys.tests.world import answered, barrier, families
from homeroom.web.tests.page_text import without_csrf_tokens

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(cast):
    """12 Lincoln households answered (transportation: 12, health: 4); 3 Central ones did
    (transportation: 3); one household with children at both counts at each."""
    world = families(cast)
    transportation, health = barrier(cast, "transportation"), barrier(cast, "health")
    for n in range(11):
        chosen = [transportation, health] if n < 4 else [transportation]
        answered(world.survey, f"lincoln {n}", [cast.ben], [cast.lincoln], chosen)
    answered(
        world.survey, "both", [cast.ana, cast.carla], [cast.lincoln, cast.central], [transportation]
    )
    answered(world.survey, "central 1", [cast.carla], [cast.central], [transportation])
    answered(world.survey, "central 2", [cast.dev], [cast.central], [transportation])
    return world


def test_barrier_counts_by_school_count_households_per_school(world):
    cast = world.cast
    counts = barrier_counts_by_school(cast.analyst, survey=world.survey)
    assert counts == {
        cast.lincoln.pk: SchoolBarrierCounts(
            answers=12, barriers={"transportation": 12, "health": 4}
        ),
        cast.central.pk: SchoolBarrierCounts(answers=3, barriers={"transportation": 3}),
    }
    # the same for the school year; a principal reads only their school
    assert barrier_counts_by_school(cast.analyst, school_year=cast.this_year) == counts
    assert barrier_counts_by_school(cast.principal, survey=world.survey) == {
        cast.lincoln.pk: counts[cast.lincoln.pk]
    }
    assert barrier_counts_by_school(cast.teacher, survey=world.survey) == {}


def _row(page: str, name: str) -> list[str]:
    import re

    row = re.search(rf"<th scope=\"row\">{name}</th>(.*?)</tr>", page, re.S).group(1)
    return [
        re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>.*?</td>", row, re.S)
    ]


def test_the_roll_up_shows_counts_and_hides_small_cells(world, client):
    cast = world.cast
    client.force_login(cast.analyst)
    page = client.get(reverse("surveys:results", args=[world.survey.pk])).text
    # the columns: invited, answers, then the barriers by name (Bullying or safety,
    # Caring for siblings, Disengagement, Family crisis, Health, Housing instability,
    # Misconceptions about attendance, Transportation, Work)
    # (every answer here came through its own invitation)
    lincoln = _row(page, "Lincoln Elementary")
    assert lincoln[:2] == ["12", "12"]
    assert lincoln[2:] == ["fewer than 10"] * 4 + ["fewer than 10"] * 3 + ["12", "fewer than 10"]
    # Central's 3 answers show no barrier at all
    assert _row(page, "Central High") == ["3", "fewer than 10", "Too few answers to show"]
    # the district: 14 households, 14 naming transportation
    assert _row(page, "Whole district") == ["14", "14"] + ["fewer than 10"] * 7 + [
        "14",
        "fewer than 10",
    ]


def test_a_households_answers_are_for_its_case_team(world):
    cast = world.cast
    open_case(cast, "gabe")  # managed by the counselor
    answered(
        world.survey, "7 oak ave|60601", [cast.gabe], [cast.lincoln], [barrier(cast, "housing")]
    )
    url = reverse("surveys:household-answers", args=[cast.gabe.pk])
    outcomes = {}
    for username in ("counselor", "principal", "admin", "analyst", "teacher", "viewer"):
        client = Client()
        client.force_login(getattr(cast, username))
        response = client.get(url)
        outcomes[username] = response.status_code
        if response.status_code == 200:
            assert "Housing instability" in response.text
    # the counselor manages the case and the principal serves its school: they see it;
    # those who see Gabe otherwise are refused; the rest find no such student
    assert outcomes == {
        "counselor": 200,
        "principal": 200,
        "admin": 403,
        "analyst": 403,
        "teacher": 404,
        "viewer": 404,
    }
    views = AuditEntry.objects.filter(subject="household survey answers", student_id=cast.gabe.pk)
    assert sorted(views.values_list("user__username", flat=True)) == ["counselor", "principal"]


def test_without_an_open_case_nobody_sees_the_answers(world, client):
    cast = world.cast
    client.force_login(cast.counselor)
    missing = client.get(reverse("surveys:household-answers", args=[10**9]))
    assert missing.status_code == 404
    refused = client.get(reverse("surveys:household-answers", args=[cast.gabe.pk]))
    assert refused.status_code == 403
    assert "Housing" not in without_csrf_tokens(refused.text)


def test_the_case_page_links_the_households_answers_for_its_case_team_only(world):
    cast = world.cast
    case = open_case(cast, "gabe")  # managed by the counselor
    answered(
        world.survey, "7 oak ave|60601", [cast.gabe], [cast.lincoln], [barrier(cast, "housing")]
    )
    case_url = reverse("interventions:case", args=[case.pk])
    answers_url = reverse("surveys:household-answers", args=[cast.gabe.pk])
    link = f'href="{answers_url}"'
    shown = {}
    for username in ("counselor", "principal", "admin", "analyst"):
        client = Client()
        client.force_login(getattr(cast, username))
        page = client.get(case_url)
        shown[username] = (page.status_code, link in page.text)
    # the case team (the counselor managing it, the school's principal) gets the link;
    # district staff read the case but are not its team: no link to the household's answers
    assert shown == {
        "counselor": (200, True),
        "principal": (200, True),
        "admin": (200, False),
        "analyst": (200, False),
    }
    # following it shows the barrier the family named, and the view is logged
    client = Client()
    client.force_login(cast.counselor)
    answers = client.get(answers_url)
    assert answers.status_code == 200
    assert "Housing instability" in answers.text
    logged = AuditEntry.objects.filter(subject="household survey answers", student_id=cast.gabe.pk)
    assert list(logged.values_list("user__username", flat=True)) == ["counselor"]


def test_a_closed_cases_page_has_no_link_to_the_answers(world):
    cast = world.cast
    case = open_case(cast, "gabe")
    answered(
        world.survey, "7 oak ave|60601", [cast.gabe], [cast.lincoln], [barrier(cast, "housing")]
    )
    case.status = case.Status.CLOSED
    case.save(update_fields=["status"])
    client = Client()
    client.force_login(cast.counselor)
    page = client.get(reverse("interventions:case", args=[case.pk]))
    assert page.status_code == 200
    assert reverse("surveys:household-answers", args=[cast.gabe.pk]) not in page.text
    # and the answers page agrees: without an open case, nobody on the team sees them
    assert client.get(reverse("surveys:household-answers", args=[cast.gabe.pk])).status_code == 403
