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


def month_of(cast) -> list[dt.date]:
    """The school days of a month wholly past, a few weeks back."""
    past = [day for day in school_days(cast.this_year) if day < cast.today]
    month = (past[-25].year, past[-25].month)
    return [day for day in past if (day.year, day.month) == month]


def test_the_third_absence_in_a_month_tells_the_household_once(cast, families):
    rules = outreach_settings(cast.district)
    rules.triggers = {"absence_month": {"enabled": True, "month": [3]}}
    rules.save()
    # given Ana and Gabe absent on the first 3 school days of a month, Ben on 2
    days = month_of(cast)
    for day in days[:3]:
        add_absence(cast, cast.ana, cast.lincoln, day)
        add_absence(cast, cast.gabe, cast.lincoln, day)
    for day in days[:2]:
        add_absence(cast, cast.ben, cast.lincoln, day)
    # when the triggers run on the month's 5th school day
    counts = do_evaluate_triggers(cast.district, as_of=days[4], now=at(cast, 6))
    # then María is told once about both; Ben's mother is not told
    assert counts == {"absence_month": 1}
    message = Message.objects.get()
    assert message.guardian == families.maria
    assert message.subject == "Ana y Gabe: 3 (Ana), 3 (Gabe) días de ausencia este mes"
    assert set(TriggerHit.objects.values_list("mark", flat=True)) == {f"{days[0]:%Y-%m}:month:3"}
    # and the next day of the same month decides nothing new
    assert do_evaluate_triggers(cast.district, as_of=days[5], now=at(cast, 6)) == {}


def test_attendance_improved_over_four_weeks_is_recognised(cast, families):
    rules = outreach_settings(cast.district)
    rules.triggers = {"recognition": {"enabled": True, "margin": 0.05, "min_days": 10}}
    rules.save()
    past = [day for day in school_days(cast.this_year) if day < cast.today]
    as_of = past[-1]
    before = [d for d in past if as_of - dt.timedelta(days=55) <= d <= as_of - dt.timedelta(28)]
    recent = [d for d in past if as_of - dt.timedelta(days=27) <= d]
    # given Ana absent 4 days in the 4 weeks before and none since (about 20 points better),
    # Ben absent 2 days in each (no better), Gabe never absent (nothing to improve)
    for day in before[:4]:
        add_absence(cast, cast.ana, cast.lincoln, day)
    for day in before[:2] + recent[:2]:
        add_absence(cast, cast.ben, cast.lincoln, day)
    # when the triggers run
    counts = do_evaluate_triggers(cast.district, as_of=as_of, now=at(cast, 6))
    # then María hears the good news about Ana alone, in Spanish
    assert counts == {"recognition": 1}
    message = Message.objects.get()
    assert (message.guardian, list(message.students.all())) == (families.maria, [cast.ana])
    assert message.subject == "Buenas noticias sobre Ana"
    # and not again this month
    assert do_evaluate_triggers(cast.district, as_of=as_of, now=at(cast, 6)) == {}


def test_a_margin_not_reached_is_not_recognised(cast, families):
    # Ana's 4 absences before are 20 points over about 20 days; a margin of 30 points is not met
    rules = outreach_settings(cast.district)
    rules.triggers = {"recognition": {"enabled": True, "margin": 0.3, "min_days": 10}}
    rules.save()
    past = [day for day in school_days(cast.this_year) if day < cast.today]
    as_of = past[-1]
    before = [d for d in past if as_of - dt.timedelta(days=55) <= d <= as_of - dt.timedelta(28)]
    for day in before[:4]:
        add_absence(cast, cast.ana, cast.lincoln, day)
    assert do_evaluate_triggers(cast.district, as_of=as_of, now=at(cast, 6)) == {}
