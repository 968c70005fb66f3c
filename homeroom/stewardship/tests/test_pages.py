"""The coding audit's page, its rows page (audited per student shown) and its command,
on the cast: a "Late" code counted as present, used for Ana and Carla."""

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from homeroom.attendance.models import AttendanceCode, Category
from homeroom.conftest import add_absence, school_day
from homeroom.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def late(cast):
    cast.codes["LT"] = AttendanceCode.objects.create(
        district=cast.district,
        code="LT",
        description="Late",
        category=Category.PRESENT,
        day_fraction=0,
    )
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 2), code="LT")
    add_absence(cast, cast.ben, cast.lincoln, school_day(cast, cast.lincoln, 3), code="LT")
    add_absence(cast, cast.carla, cast.central, school_day(cast, cast.central, 2), code="LT")
    return cast


def test_the_steward_reads_each_finding_and_follows_it_to_its_rows(late, client):
    cast = late
    client.force_login(cast.analyst)
    # when the analyst opens the coding audit
    page = client.get(reverse("stewardship:coding-audit")).text
    # then the code is found at each school using it, in plain words
    assert page.count("Code LT (“Late”) reads as a late arrival but counts as present") == 2
    assert "2 rows use it" in page and "1 row uses it" in page
    # when they follow Lincoln's link
    links = re.findall(r'href="(/stewardship/coding-audit/rows/\?[^"]+)"', page)
    lincoln = next(link for link in links if f"school={cast.lincoln.pk}&" in link)
    rows = client.get(lincoln.replace("&amp;", "&"))
    # then Ana's and Ben's rows are listed, and each of them is in the audit trail
    assert rows.status_code == 200
    assert "Alvarez, Ana" in rows.text and "Brooks, Ben" in rows.text
    assert "Chen" not in rows.text
    viewed = AuditEntry.objects.filter(subject="coding audit rows", user=cast.analyst)
    assert sorted(viewed.values_list("student_id", flat=True)) == sorted([cast.ana.pk, cast.ben.pk])


def test_a_malformed_rows_link_is_a_missing_page(late, client):
    client.force_login(late.admin)
    assert client.get(reverse("stewardship:rows"), {"school": "x"}).status_code == 404
    bad_kind = {"school": late.lincoln.pk, "kind": "all", "from": "2026-01-01", "to": "2026-02-01"}
    assert client.get(reverse("stewardship:rows"), bad_kind).status_code == 404


def test_the_command_prints_the_findings(late):
    out = io.StringIO()
    call_command("audit_coding", "--district", "Riverside Unified", stdout=out)
    text = out.getvalue()
    assert text.startswith("Riverside Unified: 2 finding(s).")
    assert "- Central High: Code LT (“Late”) reads as a late arrival" in text
    assert f"rows: /stewardship/coding-audit/rows/?school={late.lincoln.pk}&kind=code" in text


def test_the_command_explains_a_bad_date(late):
    with pytest.raises(CommandError, match="is not a date: write it as YYYY-MM-DD"):
        call_command("audit_coding", "--district", "Riverside Unified", "--as-of", "soon")
