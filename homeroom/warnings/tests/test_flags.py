"""Flags on the cast: raised with reasons staff can read, cleared with history kept,
counted under the district's rules; evaluated on the facts read from the database."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from homeroom.conftest import add_absence, school_days
from homeroom.roster.models import Enrollment
from homeroom.warnings.actions import WarningError, analysis_engine, do_evaluate_flags
from homeroom.warnings.models import Flag

pytestmark = pytest.mark.django_db


def evaluate(cast, as_of: dt.date) -> dict:
    with analysis_engine(cast.district) as engine:
        return do_evaluate_flags(cast.district, as_of=as_of, engine=engine)


def open_flags(student) -> dict[str, str]:
    return {f.kind: f.reason for f in Flag.objects.filter(student=student, cleared_on__isnull=True)}


def test_first_absences_raise_early_and_recent_flags_with_their_reasons(cast):
    # given Ana absent on her 3rd and 8th school days (and Ben never)
    days = school_days(cast.this_year)
    for day in (days[2], days[7]):
        add_absence(cast, cast.ana, cast.lincoln, day)
    # when the flags are evaluated on the 10th school day
    counts = evaluate(cast, days[9])
    # then Ana has the early-absence flag, not yet three in 30 days; Ben has none
    assert open_flags(cast.ana)["early_absences"] == "2 absences in the first 30 school days"
    assert "recent_absences" not in open_flags(cast.ana)
    assert open_flags(cast.ben) == {}
    assert counts["raised"] == counts["active"] == len(open_flags(cast.ana))


def test_consecutive_absences_and_a_possible_withdrawal(cast):
    days = school_days(cast.this_year)
    # Dev missed 4 days in a row two weeks ago; Carla has missed every day for 10 days
    for day in days[40:44]:
        add_absence(cast, cast.dev, cast.central, day)
    for day in days[50:60]:
        add_absence(cast, cast.carla, cast.central, day, "E")
    evaluate(cast, days[59])
    assert open_flags(cast.dev)["consecutive"] == (
        f"Absent 4 school days in a row ({days[40]:%b} {days[40].day} to "
        f"{days[43]:%b} {days[43].day})"
    )
    assert open_flags(cast.carla)["long_absence"].startswith(
        f"Absent every school day since {days[50]:%b} {days[50].day} (10 school days)"
    )


def test_mondays_and_fridays(cast):
    days = school_days(cast.this_year)
    mondays_fridays = [d for d in days[:60] if d.weekday() in (0, 4)][:5]
    for day in mondays_fridays:
        add_absence(cast, cast.gabe, cast.lincoln, day)
    evaluate(cast, days[59])
    reason = open_flags(cast.gabe)["weekday_pattern"]
    assert reason.startswith("5 of 5 absences on Mondays or Fridays")


def test_a_flag_that_stops_holding_is_cleared_and_kept_and_the_history_runs_forward(cast):
    days = school_days(cast.this_year)
    for day in days[40:43]:
        add_absence(cast, cast.ana, cast.lincoln, day)
    evaluate(cast, days[43])
    raised = Flag.objects.get(student=cast.ana, kind="recent_absences")
    assert raised.raised_on == days[43] and raised.cleared_on is None
    # when, two months on, the three absences are out of the 30-day window
    later = days[85]
    counts = evaluate(cast, later)
    raised.refresh_from_db()
    assert raised.cleared_on == later  # cleared, not deleted
    assert counts["cleared"] >= 1
    # evaluating the same date again changes nothing
    assert evaluate(cast, later)["raised"] == 0
    assert Flag.objects.filter(student=cast.ana, kind="recent_absences").count() == 1
    # and an earlier date is refused
    with pytest.raises(WarningError, match=f"flags were evaluated as of {later}"):
        evaluate(cast, days[50])


def test_chronically_absent_last_year(cast):
    # Ben was enrolled all of last year and missed a fifth of it
    Enrollment.objects.create(
        student=cast.ben,
        school=cast.lincoln,
        school_year=cast.last_year,
        grade=3,
        entry_date=cast.last_year.start_date,
    )
    for day in school_days(cast.last_year)[::5]:
        add_absence(cast, cast.ben, cast.lincoln, day)
    evaluate(cast, school_days(cast.this_year)[5])
    assert open_flags(cast.ben)["chronic_last_year"] == (
        "Chronically absent last year (absent 20% of school days)"
    )


def test_a_district_can_leave_excused_absences_out(cast, tmp_path):
    rules = tmp_path / "unexcused-only.toml"
    rules.write_text(
        'categories = ["unexcused"]\n[early_absences]\nabsences = 2\nschool_days = 30\n'
    )
    cast.district.warning_rules = str(rules)
    cast.district.save()
    days = school_days(cast.this_year)
    for day in days[2:4]:
        add_absence(cast, cast.ana, cast.lincoln, day, "E")  # excused: not counted
        add_absence(cast, cast.gabe, cast.lincoln, day, "A")
    evaluate(cast, days[9])
    assert open_flags(cast.ana) == {}
    assert set(open_flags(cast.gabe)) == {"early_absences"}


def test_a_night_writes_the_held_flags_in_a_few_statements_however_many(cast):
    # given five students each flagged for early absences
    days = school_days(cast.this_year)
    pupils = [(cast.ana, cast.lincoln), (cast.ben, cast.lincoln), (cast.gabe, cast.lincoln)]
    pupils += [(cast.carla, cast.central), (cast.dev, cast.central)]
    for pupil, school in pupils:
        for day in (days[2], days[7]):
            add_absence(cast, pupil, school, day)
    evaluate(cast, days[9])
    assert Flag.objects.filter(kind="early_absences", cleared_on__isnull=True).count() == 5
    # when the next night finds them all still holding, Ana's with one absence more
    add_absence(cast, cast.ana, cast.lincoln, days[10])
    with CaptureQueriesContext(connection) as queries:
        counts = evaluate(cast, days[10])
    # then they are re-checked together, not one by one: one statement each to find the
    # last date and the open flags, re-check them, clear (their band flags move on: a day
    # more at school lowers the rate), reword (Ana's) and raise
    assert counts["active"] >= 5
    on_flags = [q["sql"] for q in queries.captured_queries if Flag._meta.db_table in q["sql"]]
    assert len(on_flags) <= 6, on_flags
    early = Flag.objects.filter(kind="early_absences")
    assert {(f.raised_on, f.checked_on, f.cleared_on) for f in early} == {(days[9], days[10], None)}
    assert early.get(student=cast.ana).reason == "3 absences in the first 30 school days"
    assert early.get(student=cast.ben).reason == "2 absences in the first 30 school days"
