"""The night's triggers: who is told what, once, siblings together, with what it stated."""

import datetime as dt
import zoneinfo

import pytest

from homeroom.conftest import add_absence, school_days
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.outreach.actions import outreach_settings
from homeroom.outreach.models import Message, TriggerHit
from homeroom.outreach.triggers import do_evaluate_triggers

pytestmark = pytest.mark.django_db


def at(cast, hour: int) -> dt.datetime:
    """Today at `hour` o'clock, district time."""
    return dt.datetime.combine(
        cast.today, dt.time(hour), tzinfo=zoneinfo.ZoneInfo("America/Chicago")
    )


def absent(cast, student, count: int, first: int = 0):
    past = [day for day in school_days(cast.this_year) if day < cast.today]
    for day in past[first : first + count]:
        add_absence(cast, student, cast.lincoln, day)


def test_the_fifth_absence_of_the_year_tells_the_household_once_naming_both_children(
    cast, families
):
    # given Ana and Gabe (one household) absent 5 days each, Ben 4
    absent(cast, cast.ana, 5)
    absent(cast, cast.gabe, 5, first=10)
    absent(cast, cast.ben, 4)
    do_refresh_summaries(cast.district)
    # when the night's triggers run (before the same-day notice's time)
    counts = do_evaluate_triggers(cast.district, as_of=cast.today, now=at(cast, 6))
    # then María gets one Spanish text naming both, with each child's count
    assert counts == {"absence_threshold": 1}
    message = Message.objects.get()
    assert (message.guardian, message.channel, message.kind) == (
        families.maria,
        "sms",
        "absence_threshold",
    )
    assert message.subject == "Ana y Gabe: 5 (Ana), 5 (Gabe) días de ausencia este año escolar"
    assert message.stated["students"][str(cast.ana.pk)]["days_absent"] == 5
    # and the same night run again decides nothing new
    assert do_evaluate_triggers(cast.district, as_of=cast.today, now=at(cast, 6)) == {}
    assert Message.objects.count() == 1
    # and Ana's 10th absence is a new mark, told once more
    absent(cast, cast.ana, 5, first=20)
    do_refresh_summaries(cast.district)
    rules = outreach_settings(cast.district)
    rules.weekly_cap = 5
    rules.save()
    assert do_evaluate_triggers(cast.district, as_of=cast.today, now=at(cast, 6)) == {
        "absence_threshold": 1
    }
    latest = Message.objects.latest("pk")
    assert latest.body.startswith("Lincoln Elementary: Ana ha faltado 10 días")
    marks = set(TriggerHit.objects.filter(student=cast.ana).values_list("mark", flat=True))
    assert marks == {f"{cast.this_year.name}:year:5", f"{cast.this_year.name}:year:10"}


def test_the_same_day_notice_waits_for_its_time_and_skips_excused_absences(cast, families):
    # given Ana absent today unexcused, Gabe excused
    add_absence(cast, cast.ana, cast.lincoln, cast.today)
    add_absence(cast, cast.gabe, cast.lincoln, cast.today, code="E")
    # before 10 am nothing is decided
    assert do_evaluate_triggers(cast.district, as_of=cast.today, now=at(cast, 9)) == {}
    # after it, Ana's mother is told about Ana alone
    assert do_evaluate_triggers(cast.district, as_of=cast.today, now=at(cast, 11)) == {
        "absence_today": 1
    }
    message = Message.objects.get()
    assert list(message.students.all()) == [cast.ana]
    assert message.stated["students"][str(cast.ana.pk)]["date"] == cast.today.isoformat()


def test_a_switched_off_trigger_decides_nothing(cast, families):
    rules = outreach_settings(cast.district)
    rules.triggers = {"absence_today": {"enabled": False}}
    rules.save()
    add_absence(cast, cast.ana, cast.lincoln, cast.today)
    assert do_evaluate_triggers(cast.district, as_of=cast.today, now=at(cast, 11)) == {}


def test_a_guardian_without_consent_is_not_told_and_the_count_says_why(cast, families):
    # Carla's only guardian texts, but withdrew consent
    families.joana.preferences.update(consent="opted_out")
    add_absence(cast, cast.carla, cast.central, cast.today)
    counts = do_evaluate_triggers(cast.district, as_of=cast.today, now=at(cast, 11))
    assert counts == {"no guardian to contact": 1}
    assert not Message.objects.exists()


def test_a_raised_tier_is_told_when_the_district_switches_it_on(cast, families):
    rules = outreach_settings(cast.district)
    rules.triggers = {"tier_change": {"enabled": True}}
    rules.save()
    counts = do_evaluate_triggers(
        cast.district, as_of=cast.today, raised_tiers=[cast.ben.pk], now=at(cast, 6)
    )
    assert counts == {"tier_change": 1}
    message = Message.objects.get()
    assert (message.guardian, message.channel, message.language) == (families.linh, "email", "vi")
    assert message.subject == "Cập nhật về việc đi học của Ben"
