"""`homeroom survey_links`: links for a students' or staff survey, handed out at a school."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from homeroom.interventions.actions import do_install_defaults
from homeroom.interventions.models import Barrier
from homeroom.surveys.actions import do_create_survey
from homeroom.surveys.models import Answer, Invitation
from homeroom.surveys.selectors import barrier_counts_by_school

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_survey(cast):
    do_install_defaults(cast.district)
    return do_create_survey(
        cast.admin,
        title="What staff see",
        audience="staff",
        barrier_ids=[Barrier.objects.get(district=cast.district, key="transportation").pk],
        closes_on=min(cast.today + dt.timedelta(days=7), cast.this_year.end_date),
    )


def test_links_are_printed_and_each_answers_once_for_its_school(cast, staff_survey):
    out = io.StringIO()
    call_command(
        "survey_links",
        "--survey",
        str(staff_survey.pk),
        "--school",
        "301",
        "--count",
        "3",
        "--base-url",
        "https://homeroom.example.org",
        stdout=out,
    )
    links = out.getvalue().split()
    assert len(set(links)) == 3
    assert all(link.startswith("https://homeroom.example.org/answer/") for link in links)
    assert Invitation.objects.filter(survey=staff_survey, schools=cast.central).count() == 3
    # a link opens the staff question and takes one answer, counted at Central High
    path = links[0].removeprefix("https://homeroom.example.org")
    page = Client().get(path)
    assert "what keeps the students you serve from coming to school?" in page.text
    transportation = staff_survey.barriers.get()
    Client().post(path, {"barrier": [transportation.pk], "language": "en"})
    assert Answer.objects.count() == 1
    counts = barrier_counts_by_school(cast.admin, survey=staff_survey)
    assert counts[cast.central.pk].barriers == {"transportation": 1}


def test_bad_arguments_are_explained_and_make_nothing(cast, staff_survey):
    for arguments, words in (
        (["--survey", "999999", "--school", "301", "--count", "3"], "No survey number 999999"),
        (["--survey", str(staff_survey.pk), "--school", "999", "--count", "3"], "No school"),
        (["--survey", str(staff_survey.pk), "--school", "301", "--count", "0"], "from 1 to 5,000"),
    ):
        with pytest.raises(CommandError, match=words):
            call_command("survey_links", *arguments, "--base-url", "https://x.example.org")
    assert not Invitation.objects.exists()
