"""The outreach settings page: district administrators switch triggers and set the rules."""

import datetime as dt

import pytest
from django.urls import reverse

from homeroom.conftest import PASSWORD
from homeroom.core.models import AuditEntry
from homeroom.outreach.actions import outreach_settings
from homeroom.outreach.triggers import trigger_settings

pytestmark = pytest.mark.django_db

PAGE = "outreach:settings"
VALID = {
    "absence_today": "on",
    "absence_today_not_before": "09:30",
    "absence_threshold": "on",
    "absence_threshold_year": "10, 5, 15",
    "absence_month": "on",
    "absence_month_month": "3",
    "recognition_margin": "7.5",
    "recognition_min_days": "10",
    "nudge_min_days": "3",
    "nudge_share": "50",
    "nudge_round": "spring",
    "quiet_start": "21:00",
    "quiet_end": "07:30",
    "weekly_cap": "2",
    "fallback_language": "es",
}


def signed_in(client, user):
    client.login(username=user.username, password=PASSWORD)
    return client


def test_the_administrator_saves_the_settings_and_the_change_is_audited(cast, client):
    # given a district that chose text only for the same-day notice (a setting not on the page)
    rules = outreach_settings(cast.district)
    rules.triggers = {"absence_today": {"channels": ["sms"]}}
    rules.save()
    client = signed_in(client, cast.admin)
    assert client.get(reverse(PAGE)).status_code == 200
    # when the administrator saves the form (tier change and recognition left off)
    answer = client.post(reverse(PAGE), VALID)
    # then tonight's triggers read what was typed
    assert answer.status_code == 302
    triggers = trigger_settings(cast.district)
    assert triggers["absence_today"] == {
        "enabled": True,
        "not_before": "09:30",
        "channels": ["sms"],  # kept
    }
    assert triggers["absence_threshold"]["year"] == [5, 10, 15]
    assert triggers["absence_month"]["enabled"] is True
    assert triggers["absence_month"]["month"] == [3]
    assert triggers["tier_change"]["enabled"] is False
    assert triggers["recognition"]["enabled"] is False
    assert triggers["recognition"]["margin"] == 0.075
    assert triggers["nudge"]["round"] == "spring"
    assert triggers["nudge"]["share"] == 0.5
    rules.refresh_from_db()
    assert (rules.quiet_start, rules.quiet_end) == (dt.time(21, 0), dt.time(7, 30))
    assert (rules.weekly_cap, rules.fallback_language) == (2, "es")
    # and the change is in the audit log, with what was before
    entry = AuditEntry.objects.get(subject="outreach settings")
    assert entry.user == cast.admin and entry.student_id is None
    assert entry.details["before"]["weekly_cap"] == 3
    assert entry.details["after"]["weekly_cap"] == 2
    # and the page shows the saved values
    page = client.get(reverse(PAGE)).content.decode()
    assert 'value="5, 10, 15"' in page and 'value="7.5"' in page


def test_mistakes_come_back_beside_their_fields_and_nothing_is_saved(cast, client):
    client = signed_in(client, cast.admin)
    answer = client.post(
        reverse(PAGE),
        {
            **VALID,
            "absence_threshold_year": "5, ten",
            "absence_month_month": "",
            "weekly_cap": "0",
            "quiet_end": "late",
        },
    )
    assert answer.status_code == 400
    page = answer.content.decode()
    assert (
        "“ten” is not a number of days: write whole numbers from 1 to 180, separated by "
        "commas (e.g. 5, 10)." in page
    )
    assert "Give at least one number of days, or switch this off." in page
    assert "Ensure this value is greater than or equal to 1." in page
    assert "Enter a valid time." in page
    assert outreach_settings(cast.district).weekly_cap == 3
    assert not AuditEntry.objects.filter(subject="outreach settings").exists()


@pytest.mark.parametrize("who", ["analyst", "principal", "counselor", "teacher", "viewer"])
def test_other_roles_may_not_open_or_save_the_settings(cast, client, who):
    client = signed_in(client, getattr(cast, who))
    assert client.get(reverse(PAGE)).status_code == 403
    assert client.post(reverse(PAGE), VALID).status_code == 403
    assert outreach_settings(cast.district).weekly_cap == 3
