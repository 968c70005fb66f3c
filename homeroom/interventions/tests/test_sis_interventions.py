"""Interventions from the SIS: imported through the CSV profile, shown on the timeline with
their source, mapped to playbook entries, and never changed by an action of Homeroom."""

import datetime as dt
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from homeroom.access.gatekeeper import StudentNotFound
from homeroom.core.models import AuditEntry
from homeroom.ingest.actions import do_import_files
from homeroom.interventions.actions import (
    SIS_READ_ONLY,
    do_end_intervention,
    do_map_sis_intervention,
    do_strike,
)
from homeroom.interventions.selectors import (
    sis_intervention_codes,
    sis_interventions_of,
    student_timeline,
)
from homeroom.interventions.tests.conftest import kind
from homeroom.roster.models import SisIntervention

pytestmark = pytest.mark.django_db

HEADER = "student_id,intervention_code,intervention_name,start_date,end_date,school_id\n"


def import_sis(cast, tmp_path: Path, rows: str):
    path = tmp_path / "interventions.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return do_import_files(
        [path], district=cast.district, source_format="csv", profile="sis-interventions"
    )


@pytest.fixture
def sis(playbook, tmp_path):
    """Gabe's interventions as the SIS records them: one whose code is a playbook key, one
    whose name is a playbook entry's, and one the playbook does not know."""
    cast = playbook
    start, next_day = cast.this_year.start_date, cast.this_year.start_date + dt.timedelta(days=1)
    rows = (
        f"S6,check-and-connect,,{start},,101\n"
        f"S6,HV1,Home visit,{start},{next_day},101\n"
        f"S6,LUNCH-BUNCH,Lunch bunch,{start},,101\n"
    )
    cast.run = import_sis(cast, tmp_path, rows)
    return cast


def sis_entries(cast, user=None) -> list[tuple[str, str, str]]:
    timeline = student_timeline(user or cast.counselor, student_id=cast.gabe.pk)
    return [(e.kind, e.summary, e.source) for e in timeline if e.kind.startswith("sis_")]


def test_the_timeline_shows_them_mapped_with_their_source(sis):
    source = f"from the SIS, import run {sis.run.pk} (interventions.csv, line"
    entries = sis_entries(sis)
    assert [(k, s) for k, s, _ in entries] == [
        ("sis_intervention", "Check & Connect mentoring (SIS: check-and-connect)"),
        ("sis_intervention", "Home visit"),
        ("sis_intervention", "Lunch bunch (not in the playbook)"),
        ("sis_intervention_ended", "Home visit"),
    ]
    assert all(found.startswith(source) for _, _, found in entries)
    assert entries[0][2] == f"{source} 2)"
    # Whoever sees the student sees them, as they see the rest of the timeline.
    assert sis_entries(sis, sis.principal) == entries


def test_unmapped_codes_are_listed_until_the_district_maps_them(sis):
    unmapped = sis_intervention_codes(sis.admin, unmapped_only=True)
    assert [(c.code, c.name) for c in unmapped] == [("LUNCH-BUNCH", "Lunch bunch")]
    workshop = kind(sis, "small-group-workshop")
    do_map_sis_intervention(sis.admin, code="LUNCH-BUNCH", intervention_type_id=workshop.pk)
    assert sis_intervention_codes(sis.admin, unmapped_only=True) == []
    assert ("sis_intervention", "Small-group workshop (SIS: Lunch bunch)") in [
        (k, s) for k, s, _ in sis_entries(sis)
    ]
    # A mapping also overrides a key read alike, and removing it restores the reading.
    do_map_sis_intervention(sis.admin, code="check-and-connect", intervention_type_id=workshop.pk)
    views = {
        v.record.code: v.kind for v in sis_interventions_of(sis.counselor, student_id=sis.gabe.pk)
    }
    assert views["check-and-connect"] == workshop
    do_map_sis_intervention(sis.admin, code="check-and-connect", intervention_type_id=None)
    views = {
        v.record.code: v.kind for v in sis_interventions_of(sis.counselor, student_id=sis.gabe.pk)
    }
    assert views["check-and-connect"] == kind(sis, "check-and-connect")
    assert AuditEntry.objects.filter(subject="SIS intervention code LUNCH-BUNCH").count() == 1


def test_only_administrators_map_codes_and_only_to_their_playbook(sis):
    with pytest.raises(PermissionDenied):
        do_map_sis_intervention(sis.counselor, code="LUNCH-BUNCH", intervention_type_id=None)
    with pytest.raises(ValidationError) as refused:
        do_map_sis_intervention(sis.admin, code=" ", intervention_type_id=-1)
    assert set(refused.value.message_dict) == {"code", "intervention_type_id"}


def test_no_action_edits_or_strikes_them(sis):
    before = list(SisIntervention.objects.values())
    record = SisIntervention.objects.get(code="HV1")
    for user in (sis.counselor, sis.admin, sis.principal):
        with pytest.raises(ValidationError) as refused:
            do_strike(user, entry="sis_intervention", entry_id=record.pk, reason="wrong")
        assert refused.value.message_dict == {"entry": [SIS_READ_ONLY]}
    # Homeroom's own intervention actions cannot reach them: they are another table's rows.
    with pytest.raises(ValidationError):
        do_strike(sis.counselor, entry="intervention", entry_id=record.pk, reason="wrong")
    with pytest.raises(ValidationError):
        do_end_intervention(sis.counselor, intervention_id=record.pk, ended_on=sis.today)
    assert list(SisIntervention.objects.values()) == before


def test_a_student_out_of_sight_shows_nothing(sis):
    with pytest.raises(StudentNotFound):
        sis_interventions_of(sis.outsider, student_id=sis.gabe.pk)


def test_the_pages_show_the_source_and_the_unmapped_codes(sis, client):
    client.force_login(sis.counselor)
    page = client.get(reverse("web:student", args=[sis.gabe.pk])).text
    assert f"From the SIS, import run {sis.run.pk} (interventions.csv, line 4)" in page
    assert "Lunch bunch (not in the playbook)" in page
    page = client.get(reverse("interventions:playbook")).text
    assert "Interventions from the SIS" in page
    assert "<code>LUNCH-BUNCH</code></th>\n            <td>Lunch bunch</td>" in page
    assert "Not in the playbook" in page
    assert 'action="/playbook/map/"' not in page  # counselors read, administrators map


def test_an_administrator_maps_a_code_on_the_playbook_page(sis, client):
    client.force_login(sis.admin)
    page = client.get(reverse("interventions:playbook")).text
    assert 'action="/playbook/map/"' in page
    workshop = kind(sis, "small-group-workshop")
    answer = client.post(
        reverse("interventions:playbook_map"),
        {"code": "LUNCH-BUNCH", "intervention_type_id": workshop.pk},
        follow=True,
    )
    assert "SIS code LUNCH-BUNCH mapped." in answer.text
    assert ("sis_intervention", f"{workshop.name} (SIS: Lunch bunch)") in [
        entry[:2] for entry in sis_entries(sis)
    ]
    # an entry of another district's playbook, or none at all, changes nothing
    answer = client.post(
        reverse("interventions:playbook_map"),
        {"code": "LUNCH-BUNCH", "intervention_type_id": 999999},
        follow=True,
    )
    assert "Nothing was changed" in answer.text
    assert sis_intervention_codes(sis.admin, unmapped_only=True) == []
    # mapped back to itself, the code is shown as the SIS names it again
    client.post(reverse("interventions:playbook_map"), {"code": "LUNCH-BUNCH"})
    assert [c.code for c in sis_intervention_codes(sis.admin, unmapped_only=True)] == [
        "LUNCH-BUNCH"
    ]
