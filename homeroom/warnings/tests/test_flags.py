"""Flags on the cast: raised with reasons staff can read, cleared with history kept,
counted under the district's rules; evaluated on the facts read from the database. And
the rules themselves, one registered function per kind, on snapshots written by hand."""

import datetime as dt

import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from homeroom.conftest import add_absence, enroll, school_days
from homeroom.metrics.definitions import Window
from homeroom.metrics.rules import load_rule_profile
from homeroom.warnings import flags
from homeroom.warnings.actions import WarningError, analysis_engine, do_evaluate_flags
from homeroom.warnings.models import Flag
from homeroom.warnings.rules import CASE_RULES, RULE_KEYS, WarningRules
from homeroom.warnings.snapshots import DAY_COLUMNS, Snapshot

# The rules below run on snapshots written by hand (no database); the cast's tests mark
# themselves.
MONDAY = dt.date(2025, 9, 1)  # a Monday; the hand-written school days are its weekdays


def evaluate(cast, as_of: dt.date) -> dict:
    with analysis_engine(cast.district) as engine:
        return do_evaluate_flags(cast.district, as_of=as_of, engine=engine)


def open_flags(student) -> dict[str, str]:
    return {f.kind: f.reason for f in Flag.objects.filter(student=student, cleared_on__isnull=True)}


@pytest.mark.django_db
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


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_mondays_and_fridays(cast):
    days = school_days(cast.this_year)
    mondays_fridays = [d for d in days[:60] if d.weekday() in (0, 4)][:5]
    for day in mondays_fridays:
        add_absence(cast, cast.gabe, cast.lincoln, day)
    evaluate(cast, days[59])
    reason = open_flags(cast.gabe)["weekday_pattern"]
    assert reason.startswith("5 of 5 absences on Mondays or Fridays")


@pytest.mark.django_db
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


@pytest.mark.django_db
def test_chronically_absent_last_year(cast):
    # Ben was enrolled all of last year and missed a fifth of it
    enroll(cast.ben, cast.lincoln, cast.last_year, grade=3)
    for day in school_days(cast.last_year)[::5]:
        add_absence(cast, cast.ben, cast.lincoln, day)
    evaluate(cast, school_days(cast.this_year)[5])
    assert open_flags(cast.ben)["chronic_last_year"] == (
        "Chronically absent last year (absent 20.0% of school days)"
    )


@pytest.mark.django_db
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


@pytest.mark.django_db
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


def school_date(n: int) -> dt.date:
    """The n-th (1-based) weekday from MONDAY: the n-th school day of the hand-written year."""
    weeks, day = divmod(n - 1, 5)
    return MONDAY + dt.timedelta(days=7 * weeks + day)


def snapshot_of(absences: list[tuple[int, int, str, float]], as_of_day: int) -> Snapshot:
    """A snapshot as of school day `as_of_day` at school 1, from (student, school day,
    category, share of the day) absences; every student is enrolled."""
    days = pd.DataFrame(
        [
            {
                "student_id": student,
                "school_id": 1,
                "date": school_date(n),
                "through": n,
                "category": category,
                "weekday": school_date(n).weekday(),
                "absent_milli": round(share * 1000),
                "absent": share,
            }
            for student, n, category, share in absences
        ],
        columns=list(DAY_COLUMNS),
    )
    students = pd.DataFrame(index=pd.Index(sorted({a[0] for a in absences}), name="student_id"))
    as_of = school_date(as_of_day)
    return Snapshot(
        window=Window(1, MONDAY, as_of, dt.date(2026, 6, 5)),
        first_school_day=MONDAY,
        students=students,
        days=days,
        school_day_index={1: as_of_day},
    )


def rules_of(categories=("excused", "unexcused"), **rules) -> WarningRules:
    return WarningRules("test", 1, "Test", frozenset(categories), rules)


def findings(snapshot: Snapshot, rules: WarningRules) -> set[tuple[int, str, str, str]]:
    found = flags.find_flags(snapshot, rules, load_rule_profile("attendance-works"))
    return {(f.student_id, f.kind, f.variant, f.reason) for f in found}


def test_each_kind_of_flag_the_rules_file_knows_is_one_registered_function():
    # given the rules file's keys and the kinds of flag a student can hold
    kinds = {kind.value for kind in Flag.Kind}
    # then every key has its rule (case management computes its own kinds), and every
    # rule is a kind of flag the rules file can turn on
    assert set(flags.FLAG_RULES) == set(RULE_KEYS) - CASE_RULES
    assert set(flags.FLAG_RULES) <= kinds


def test_a_registered_rule_runs_only_when_the_rules_turn_it_on_with_its_settings(monkeypatch):
    # given a district rule registered beside the shipped ones
    monkeypatch.setattr(flags, "FLAG_RULES", dict(flags.FLAG_RULES))
    seen = []

    @flags.flag_rule("home_visit")
    def home_visit(given: flags.Given, rule: dict):
        seen.append(rule)
        yield flags.Finding(7, "home_visit", "", f"visit after {rule['absences']}")

    snapshot = snapshot_of([(7, 1, "unexcused", 1.0)], 5)
    # when the flags are found with the rule on, then off
    on = findings(snapshot, rules_of(home_visit={"absences": 2}))
    off = findings(snapshot, rules_of(home_visit={"absences": 2, "enabled": False}))
    # then it ran once, with its settings, and only its finding holds
    assert on == {(7, "home_visit", "", "visit after 2")}
    assert off == set()
    assert seen == [{"absences": 2}]


def test_a_kind_is_registered_once(monkeypatch):
    monkeypatch.setattr(flags, "FLAG_RULES", dict(flags.FLAG_RULES))
    with pytest.raises(ValueError, match="'consecutive' is registered already"):
        flags.flag_rule("consecutive")(lambda given, rule: [])


def test_a_run_of_full_days_is_broken_by_a_day_the_rules_do_not_count():
    # given student 1 absent unexcused on days 3-5, excused on 6, unexcused on 7-8;
    # student 2 unexcused on days 3-6, half a day on 7
    absences = [(1, n, "unexcused", 1.0) for n in (3, 4, 5, 7, 8)] + [(1, 6, "excused", 1.0)]
    absences += [(2, n, "unexcused", 1.0) for n in (3, 4, 5, 6)] + [(2, 7, "unexcused", 0.5)]
    snapshot = snapshot_of(absences, 10)
    consecutive = {"absences": 4, "within_days": 30}
    # when the flags count every absence, then unexcused ones only
    every = findings(snapshot, rules_of(consecutive=consecutive))
    unexcused = findings(snapshot, rules_of(["unexcused"], consecutive=consecutive))
    # then student 1's six days are one run until excused days are left out; a half day
    # ends student 2's run of four
    first = f"{school_date(3):%b} {school_date(3).day}"
    assert every == {
        (1, "consecutive", "", f"Absent 6 school days in a row ({first} to Sep 10)"),
        (2, "consecutive", "", f"Absent 4 school days in a row ({first} to Sep 8)"),
    }
    assert unexcused == {
        (2, "consecutive", "", f"Absent 4 school days in a row ({first} to Sep 8)"),
    }


def test_a_run_up_to_the_as_of_day_is_a_possible_withdrawal():
    # given student 1 absent on days 6-10, student 2 on days 5-9, as of day 10
    absences = [(1, n, "excused", 1.0) for n in range(6, 11)]
    absences += [(2, n, "unexcused", 1.0) for n in range(5, 10)]
    # when the long-absence flag asks for 5 days
    found = findings(snapshot_of(absences, 10), rules_of(long_absence={"absences": 5}))
    # then only the run reaching the as-of day holds
    assert found == {
        (
            1,
            "long_absence",
            "",
            "Absent every school day since Sep 8 (5 school days): possible withdrawal; "
            "confirm where the student is",
        )
    }


def test_mondays_and_fridays_count_by_their_share_of_a_day():
    # given student 1 absent on two Mondays, a Friday (half a day) and a Wednesday;
    # student 2 on a Tuesday, Wednesday, Thursday and a Monday
    absences = [(1, 1, "unexcused", 1.0), (1, 6, "excused", 1.0), (1, 5, "unexcused", 0.5)]
    absences += [(1, 3, "unexcused", 1.0)]
    absences += [(2, n, "unexcused", 1.0) for n in (2, 3, 4, 6)]
    pattern = {"minimum_absences": 3, "share": 0.6}
    # when the weekday pattern is looked for
    found = findings(snapshot_of(absences, 10), rules_of(weekday_pattern=pattern))
    # then student 1's 2.5 of 3.5 days (71%) hold; student 2's 1 of 4 does not
    assert found == {
        (
            1,
            "weekday_pattern",
            "",
            "2.5 of 3.5 absences on Mondays or Fridays (2 Mondays, 0.5 Fridays)",
        )
    }
