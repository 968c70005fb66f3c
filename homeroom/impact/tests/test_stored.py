"""The stored impact table: refreshed in one go, read by the page, the command and the board
report without computing anything (the hand-built school of test_selectors)."""

import io
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from homeroom.impact.actions import do_refresh_impact
from homeroom.impact.models import ImpactEstimate
from homeroom.impact.selectors import district_impact, stored_impact
from homeroom.impact.tests.test_selectors import WEEKS, world  # noqa: F401 (a fixture)
from homeroom.interventions.models import Intervention

pytestmark = pytest.mark.django_db


def test_refresh_stores_the_computed_table_and_replaces_the_last(world):  # noqa: F811
    # nothing is stored before the first refresh
    assert stored_impact(world.district) is None
    # when the table is refreshed twice
    do_refresh_impact(world.district, as_of=world.today, weeks=WEEKS)
    do_refresh_impact(world.district, as_of=world.today, weeks=WEEKS)
    stored = stored_impact(world.district)
    # then the stored rows are the computed ones, once each, in the same order
    computed = district_impact(world.district, as_of=world.today, weeks=WEEKS)
    assert stored.rows == computed.rows
    assert ImpactEstimate.objects.count() == len(computed.rows)
    assert (stored.as_of, stored.weeks) == (world.today, WEEKS)
    # including the hand-worked figure: 2 days recovered per student mentored
    mentor = next(row for row in stored.rows if row.key == "type:mentor")
    assert (mentor.treated, mentor.days_recovered) == (12, pytest.approx(2.0))


def test_page_reads_the_stored_table_until_the_next_refresh(world):  # noqa: F811
    client = Client()
    client.force_login(world.admin)
    # before any refresh the page says so, and tells the administrator how to compute it
    text = client.get(reverse("web:impact")).content.decode()
    assert "have not been computed yet" in text and "homeroom impact --refresh" in text
    assert "Mentoring" not in text
    # after a refresh it shows the stored figures with their dates
    do_refresh_impact(world.district, as_of=world.today, weeks=WEEKS)
    text = client.get(reverse("web:impact")).content.decode()
    assert "About 2.0 days more attendance per student over 4 weeks" in text
    assert f"as of {world.today:%b} {world.today.day}, {world.today.year}" in text
    # when the mentoring is struck from the records, the page still shows the stored
    # figures (it computes nothing) until the next refresh drops them
    Intervention.objects.filter(kind__key="mentor").update(struck_on=world.today)
    assert "Mentoring" in client.get(reverse("web:impact")).content.decode()
    do_refresh_impact(world.district, as_of=world.today, weeks=WEEKS)
    assert "Mentoring" not in client.get(reverse("web:impact")).content.decode()


def test_command_prints_the_stored_table_or_refreshes_it(world):  # noqa: F811
    name = ("--district", world.district.name)
    # the stored table is printed; --refresh stores it first
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="homeroom impact --refresh"):
        call_command("impact", *name, stdout=StringIO())
    out = StringIO()
    call_command(
        "impact",
        *name,
        "--refresh",
        "--as-of",
        world.today.isoformat(),
        "--weeks",
        str(WEEKS),
        stdout=out,
    )
    assert "Mentoring: About 2.0 days more attendance" in out.getvalue()
    out = StringIO()
    call_command("impact", *name, stdout=out)
    assert "Mentoring: About 2.0 days more attendance" in out.getvalue()
    assert ImpactEstimate.objects.filter(key="type:mentor").exists()


def test_board_report_holds_the_impact_section_without_small_rows(world):  # noqa: F811
    from homeroom.metrics.actions import do_refresh_summaries

    do_refresh_summaries(world.district)
    client = Client()
    client.force_login(world.analyst)

    def board() -> str:
        response = client.get(reverse("reports:pdf", args=["board"]))
        assert response.status_code == 200
        pages = PdfReader(io.BytesIO(response.content)).pages
        return "\n".join(page.extract_text() for page in pages)

    # no section before anything is stored
    assert "What made a difference" not in board()
    do_refresh_impact(world.district, as_of=world.today, weeks=WEEKS)
    text = board()
    # then the 12 mentored students' 2.0 days show, and the case opened for one student
    # (fewer than the minimum cell of 10) is left out
    assert "What made a difference" in text and "How to read this table" in text
    assert "Mentoring" in text and "2.0" in text
    assert "Case opened" not in text
    assert "fewer than 10 students served" in text
