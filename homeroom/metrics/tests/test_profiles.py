"""Worked examples per rule profile, run by the metric definitions on the database engine.

Each example states what each profile answers and the rule it follows. The cast's calendars
make every weekday of the year instructional, so `school_day(n)` is the same date at
every cast school; Ana is enrolled at Lincoln from the first day of the year.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction

from homeroom.attendance.models import AttendanceCode, Category
from homeroom.conftest import add_absence, make_calendar, school_day
from homeroom.core.models import CalendarDate, School
from homeroom.metrics.definitions import student_district, student_school
from homeroom.metrics.engines import database_engine
from homeroom.metrics.rules import load_rule_profile, shipped_profiles
from homeroom.roster.models import Enrollment, Student

# The profiles' rules, worked by hand on the cast. The same definitions run on PostgreSQL in
# test_engines.py, where every profile's tables must equal DuckDB's on the generated
# district and on Grand Bend; so these examples run in one database's half.
pytestmark = [pytest.mark.django_db, pytest.mark.one_database]

PROFILES = ["attendance-works", "federal-edfacts", "california", "nyc", "ed-fi-amt"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


@pytest.fixture(autouse=True)
def more_codes(cast):
    """Codes the cast lacks: a half-day partial absence and the two suspensions."""
    for code, description, category, fraction in (
        ("P", "Partial day", Category.PARTIAL, "0.5"),
        ("OSS", "Out-of-school suspension", Category.OUT_OF_SCHOOL_SUSPENSION, "1"),
        ("ISS", "In-school suspension", Category.IN_SCHOOL_SUSPENSION, "1"),
    ):
        cast.codes[code], _ = AttendanceCode.objects.get_or_create(
            district=cast.district,
            code=code,
            defaults={
                "description": description,
                "category": category,
                "day_fraction": Decimal(fraction),
            },
        )


def absent(cast, student, school, days, code="A", fraction=None):
    """An event with `code` on each of the numbered school days."""
    for n in days:
        add_absence(cast, student, school, school_day(cast, school, n), code, fraction)


def metrics(cast, profile: str, as_of: dt.date, per: str = "district") -> list[dict]:
    """The student rows of the whole district, per student or per student and school."""
    engine = database_engine(cast.district)
    define = student_school if per == "school" else student_district
    expression = define(engine.facts, load_rule_profile(profile), engine.window(as_of))
    return engine.run(expression).to_pylist()


def row_of(cast, student, profile: str, as_of: dt.date) -> dict:
    """The student's one district-wide row."""
    rows = [row for row in metrics(cast, profile, as_of) if row["student_id"] == student.pk]
    assert len(rows) == 1
    return rows[0]


def new_school(cast, local_id: str, name: str, holidays=frozenset()) -> School:
    """Another school of the district with this year's calendar (weekdays but `holidays`)."""
    school = School.objects.create(
        district=cast.district, local_id=local_id, name=name, lowest_grade=0, highest_grade=8
    )
    make_calendar(school, cast.this_year, holidays=set(holidays))
    return school


def enroll(cast, student, school, entry: dt.date, exit_date: dt.date | None = None):
    return Enrollment.objects.create(
        student=student,
        school=school,
        school_year=cast.this_year,
        grade=student.grade,
        entry_date=entry,
        exit_date=exit_date,
    )


def test_every_shipped_profile_has_worked_examples():
    assert sorted(PROFILES) == shipped_profiles()


# -- the boundaries that separate definitions ------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "absences", "days", "counted", "chronic", "band", "tier"),
    [
        # Attendance Works: absence_rate >= 0.10 is chronic; bands 5% / 10% / 20%.
        ("attendance-works", 2, 20, True, True, "moderate", "tier2"),  # 10% exactly
        ("attendance-works", 17, 180, True, False, "at_risk", "tier1"),  # 9.4%
        ("attendance-works", 18, 180, True, True, "moderate", "tier2"),  # 10% exactly
        ("attendance-works", 3, 30, True, True, "moderate", "tier2"),  # Connecticut's example
        # Federal EDFacts: Attendance Works' rule, counted from the first day enrolled.
        ("federal-edfacts", 2, 20, True, True, "moderate", "tier2"),
        ("federal-edfacts", 17, 180, True, False, "at_risk", "tier1"),
        ("federal-edfacts", 18, 180, True, True, "moderate", "tier2"),
        ("federal-edfacts", 3, 30, True, True, "moderate", "tier2"),
        # California: absent >= 10%, but only students with 31+ expected days are counted.
        ("california", 2, 20, False, False, None, None),  # 20 days: not counted
        ("california", 17, 180, True, False, "at_risk", "tier1"),
        ("california", 18, 180, True, True, "moderate", "tier2"),
        ("california", 3, 30, False, False, None, None),  # 30 days is not more than 30
        # NYC: attendance_rate <= 0.90 is chronic: the same side of 10% as absent >= 10%.
        ("nyc", 2, 20, True, True, "moderate", "tier2"),
        ("nyc", 17, 180, True, False, "at_risk", "tier1"),
        ("nyc", 18, 180, True, True, "moderate", "tier2"),
        ("nyc", 3, 30, True, True, "moderate", "tier2"),
        # Ed-Fi AMT: attendance_rate < 0.90 is chronic; exactly 90% attendance is not.
        ("ed-fi-amt", 2, 20, True, False, "on_track", "tier1"),
        ("ed-fi-amt", 17, 180, True, False, "on_track", "tier1"),
        ("ed-fi-amt", 18, 180, True, False, "on_track", "tier1"),
        ("ed-fi-amt", 3, 30, True, False, "on_track", "tier1"),
    ],
)
def test_chronic_absence_at_the_boundaries(
    cast, profile, absences, days, counted, chronic, band, tier
):
    # given Ana absent, unexcused and for full days, on the first school days of the year
    absent(cast, cast.ana, cast.lincoln, range(1, absences + 1))
    # when her metrics are read as of the last of `days` school days
    row = row_of(cast, cast.ana, profile, school_day(cast, cast.lincoln, days))
    # then the profile puts her on its side of 10%
    assert row["days_enrolled"] == days
    assert row["days_absent"] == absences
    assert row["unexcused"] == absences
    assert row["absence_rate"] == pytest.approx(absences / days)
    assert row["attendance_rate"] == pytest.approx(1 - absences / days)
    assert row["counted"] is counted
    assert row["chronic"] is chronic
    assert row["band"] == band
    assert row["tier"] == tier


# -- minimum membership ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "minimum"),
    [
        ("attendance-works", 10),  # Attendance Works: 10 days or more
        ("federal-edfacts", 1),  # EDFacts: any day enrolled
        ("california", 31),  # California: more than 30 expected days
        ("nyc", 10),  # NYC: 10 days or more (and a day present)
        ("ed-fi-amt", 1),  # Ed-Fi AMT: any day enrolled
    ],
)
def test_a_student_is_counted_from_the_profiles_minimum_days(cast, profile, minimum):
    # given Ana entering on the first Saturday after the year's first school day, absent on
    # her own first school day (and Ben absent on the year's first day, so the district has
    # an absence in every window read: see test_before_any_absence_every_student_is_present)
    first = school_day(cast, cast.lincoln, 1)
    saturday = first + dt.timedelta(days=5 - first.weekday())
    Enrollment.objects.filter(student=cast.ana).update(entry_date=saturday)
    before = CalendarDate.objects.filter(
        calendar__school=cast.lincoln,
        calendar__school_year=cast.this_year,
        kind=CalendarDate.Kind.INSTRUCTIONAL,
        date__lt=saturday,
    ).count()
    absent(cast, cast.ana, cast.lincoln, [before + 1])
    absent(cast, cast.ben, cast.lincoln, [1])

    def enrolled_for(days: int) -> dict:
        as_of = saturday if days == 0 else school_day(cast, cast.lincoln, before + days)
        return row_of(cast, cast.ana, profile, as_of)

    # when read one day short of the minimum (a Saturday entry: 0 days for a minimum of 1)
    short = enrolled_for(minimum - 1)
    # then she is not counted, so neither chronic nor in a band, however many days she missed
    assert short["days_enrolled"] == minimum - 1
    assert short["counted"] is False
    assert short["chronic"] is False
    assert short["band"] is None
    assert short["tier"] is None
    # when read on the minimum-th day, she is counted
    enough = enrolled_for(minimum)
    assert enough["days_enrolled"] == minimum
    assert enough["days_absent"] == 1
    assert enough["counted"] is True
    assert enough["band"] is not None


@pytest.mark.parametrize(
    ("profile", "counted"),
    [
        ("attendance-works", True),  # 10+ days enrolled is enough
        ("federal-edfacts", True),  # any day enrolled is enough
        ("california", False),  # 12 days is not more than 30
        ("nyc", False),  # NYC also needs at least one day present
        ("ed-fi-amt", True),  # any day enrolled is enough
    ],
)
def test_a_student_absent_every_day_is_counted_unless_a_day_present_is_needed(
    cast, profile, counted
):
    # given Ana absent on every one of the first 12 school days
    absent(cast, cast.ana, cast.lincoln, range(1, 13))
    # when read as of the 12th day
    row = row_of(cast, cast.ana, profile, school_day(cast, cast.lincoln, 12))
    # then only a profile with a day-present minimum leaves her out
    assert row["days_enrolled"] == 12
    assert row["days_absent"] == 12
    assert row["counted"] is counted
    assert row["chronic"] is counted


def test_under_nyc_one_day_present_is_enough(cast):
    # given Ana absent on 11 of the first 12 school days
    absent(cast, cast.ana, cast.lincoln, range(1, 12))
    row = row_of(cast, cast.ana, "nyc", school_day(cast, cast.lincoln, 12))
    # then she was present one day: counted, and chronic at 1/12 attendance
    assert row["counted"] is True
    assert row["chronic"] is True


def test_before_any_absence_every_student_is_present(cast):
    # given no attendance event recorded in the district yet (the first days of a year)
    as_of = school_day(cast, cast.lincoln, 10)
    # when the default profile is read per school and per student
    per_school = metrics(cast, "attendance-works", as_of, per="school")
    per_student = metrics(cast, "attendance-works", as_of)
    # then every student enrolled is there, present every day
    for rows in (per_school, per_student):
        ana = next(row for row in rows if row["student_id"] == cast.ana.pk)
        assert ana["days_enrolled"] == 10
        assert ana["days_absent"] == 0
        assert ana["tardies"] == 0
        assert ana["longest_absence_run"] == 0
        assert ana["band"] == "satisfactory"


# -- a student at several schools ------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_a_student_at_three_schools_is_chronic_at_each_and_once_in_the_district(cast, profile):
    # given Gabe 31 school days at each of Lincoln, Central and Washington, 4 absences at each
    washington = new_school(cast, "201", "Washington Middle")
    Enrollment.objects.filter(student=cast.gabe).update(
        exit_date=school_day(cast, cast.lincoln, 31)
    )
    enroll(
        cast,
        cast.gabe,
        cast.central,
        school_day(cast, cast.central, 32),
        school_day(cast, cast.central, 62),
    )
    enroll(cast, cast.gabe, washington, school_day(cast, washington, 63))
    absent(cast, cast.gabe, cast.lincoln, [1, 2, 3, 4])
    absent(cast, cast.gabe, cast.central, [32, 33, 34, 35])
    absent(cast, cast.gabe, washington, [63, 64, 65, 66])
    as_of = school_day(cast, washington, 93)
    # when read per school
    per_school = {
        row["school_id"]: row
        for row in metrics(cast, profile, as_of, per="school")
        if row["student_id"] == cast.gabe.pk
    }
    # then 4/31 = 12.9% is chronic at each school under every profile (31 days meets even
    # California's 31+, and 12.9% is above Ed-Fi AMT's strict 10%)
    assert set(per_school) == {cast.lincoln.pk, cast.central.pk, washington.pk}
    for row in per_school.values():
        assert (row["days_enrolled"], row["days_absent"]) == (31, 4)
        assert row["counted"] is True
        assert row["chronic"] is True
    # and district-wide he is one student: 12 of 93 days
    district = row_of(cast, cast.gabe, profile, as_of)
    assert district["days_enrolled"] == 93
    assert district["days_absent"] == 12
    assert district["schools"] == 3
    assert district["school_id"] == washington.pk  # where he is now
    assert district["counted"] is True
    assert district["chronic"] is True


# -- what is not a day of membership ---------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_events_outside_enrollment_or_school_days_do_not_count(cast, profile):
    # given Roosevelt, whose calendar makes Lincoln's 5th school day a holiday
    holiday = school_day(cast, cast.lincoln, 5)
    roosevelt = new_school(cast, "202", "Roosevelt Elementary", holidays={holiday})
    saturday = holiday + dt.timedelta(days=(5 - holiday.weekday()) % 7)
    # and Ivy enrolled there from its 3rd to its 10th school day
    ivy = Student.objects.create(
        district=cast.district, local_id="S8", first_name="Ivy", last_name="Ito", grade=3
    )
    enroll(cast, ivy, roosevelt, school_day(cast, roosevelt, 3), school_day(cast, roosevelt, 10))
    # and events before entry, after exit, on the holiday, on a Saturday, and at a school
    # where she is not enrolled; and one real absence on her 4th school day
    for day in (
        school_day(cast, roosevelt, 2),
        school_day(cast, roosevelt, 11),
        holiday,
        saturday,
    ):
        add_absence(cast, ivy, roosevelt, day)
    add_absence(cast, ivy, cast.lincoln, school_day(cast, roosevelt, 6))
    add_absence(cast, ivy, roosevelt, school_day(cast, roosevelt, 4), code="E")
    # when read later in the year
    row = row_of(cast, ivy, profile, school_day(cast, roosevelt, 40))
    # then only the absence inside her enrollment, on a school day, counts
    assert row["days_enrolled"] == 8
    assert row["days_absent"] == 1
    assert row["excused"] == 1
    assert row["unexcused"] == 0


@pytest.mark.parametrize("profile", PROFILES)
def test_a_make_up_day_counts_as_a_school_day(cast, profile):
    # given the Saturday after Lincoln's 5th school day made a make-up day, Ana absent on it
    fifth = school_day(cast, cast.lincoln, 5)
    saturday = fifth + dt.timedelta(days=(5 - fifth.weekday()) % 7)
    CalendarDate.objects.filter(
        calendar__school=cast.lincoln, calendar__school_year=cast.this_year, date=saturday
    ).update(kind=CalendarDate.Kind.MAKEUP)
    add_absence(cast, cast.ana, cast.lincoln, saturday)
    # when read as of the 20th weekday
    row = row_of(cast, cast.ana, profile, school_day(cast, cast.lincoln, 20))
    # then the make-up day is one more day enrolled, and its absence counts
    assert row["days_enrolled"] == 21
    assert row["days_absent"] == 1


@pytest.mark.parametrize("profile", PROFILES)
def test_the_entry_and_exit_days_both_count(cast, profile):
    # given Ana enrolled from the 1st to the 5th school day, absent on both ends
    Enrollment.objects.filter(student=cast.ana).update(
        entry_date=school_day(cast, cast.lincoln, 1), exit_date=school_day(cast, cast.lincoln, 5)
    )
    absent(cast, cast.ana, cast.lincoln, [1, 5])
    # when read well after she left
    row = row_of(cast, cast.ana, profile, school_day(cast, cast.lincoln, 30))
    # then she was enrolled 5 days, entry and exit day included, and absent on 2
    assert row["days_enrolled"] == 5
    assert row["days_absent"] == 2
    assert row["last_day"] == school_day(cast, cast.lincoln, 5)
    assert row["remaining_days"] == 0


# -- what counts as absent ---------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILES)
def test_conflicting_events_on_one_day_count_as_one_day(cast, profile):
    # given Ana with an excused absence and a half-day partial on her 2nd school day, and an
    # unexcused and an excused absence on her 3rd
    absent(cast, cast.ana, cast.lincoln, [2], code="E")
    absent(cast, cast.ana, cast.lincoln, [2], code="P")
    absent(cast, cast.ana, cast.lincoln, [3], code="A")
    absent(cast, cast.ana, cast.lincoln, [3], code="E")
    row = row_of(cast, cast.ana, profile, school_day(cast, cast.lincoln, 20))
    # then each day is one day absent under every profile, named by its largest share
    # (excused), and on equal shares by the first of oss, unexcused, excused, partial
    assert row["days_absent"] == 2
    assert row["excused"] == 1
    assert row["unexcused"] == 1
    assert row["longest_absence_run"] == 2


@pytest.mark.parametrize(
    ("profile", "code", "fraction", "counted_as"),
    [
        # Attendance Works: partial days count by the share missed.
        ("attendance-works", "P", None, 0.5),
        ("attendance-works", "P", "0.25", 0.25),
        ("attendance-works", "A", "0.5", 0.5),
        # Federal EDFacts: a day is absent when half of it or more was missed.
        ("federal-edfacts", "P", None, 1),
        ("federal-edfacts", "P", "0.25", 0),
        ("federal-edfacts", "A", "0.5", 1),
        # California: full-day absences only.
        ("california", "P", None, 0),
        ("california", "P", "0.25", 0),
        ("california", "A", "0.5", 0),
        # NYC: full-day absences only.
        ("nyc", "P", None, 0),
        ("nyc", "P", "0.25", 0),
        ("nyc", "A", "0.5", 0),
        # Ed-Fi AMT: partial is not an absent category, and full days only.
        ("ed-fi-amt", "P", None, 0),
        ("ed-fi-amt", "P", "0.25", 0),
        ("ed-fi-amt", "A", "0.5", 0),
    ],
)
def test_partial_days(cast, profile, code, fraction, counted_as):
    # given Ana missing part of her 2nd school day (the partial code's default is a half)
    absent(cast, cast.ana, cast.lincoln, [2], code=code, fraction=fraction)
    # when read as of the 10th day
    row = row_of(cast, cast.ana, profile, school_day(cast, cast.lincoln, 10))
    # then the profile's partial-day rule decides how much of a day it is
    assert row["days_enrolled"] == 10
    assert row["days_absent"] == counted_as
    assert row["attendance_rate"] == pytest.approx(1 - counted_as / 10)
    assert row["unexcused"] == (counted_as if code == "A" else 0)
    assert row["longest_absence_run"] == (1 if counted_as == 1 else 0)


@pytest.mark.parametrize(
    ("profile", "oss_absent"),
    [
        ("attendance-works", 1),  # any reason, out-of-school suspension included
        ("federal-edfacts", 1),  # as Attendance Works
        ("california", 1),  # a full-day out-of-school suspension is an absence
        ("nyc", 1),  # as Attendance Works
        ("ed-fi-amt", 0),  # only excused and unexcused absences
    ],
)
def test_out_of_school_suspension_is_absent_and_in_school_suspension_is_present(
    cast, profile, oss_absent
):
    # given Ana suspended out of school on her 2nd school day and in school on her 3rd
    absent(cast, cast.ana, cast.lincoln, [2], code="OSS")
    absent(cast, cast.ana, cast.lincoln, [3], code="ISS")
    row = row_of(cast, cast.ana, profile, school_day(cast, cast.lincoln, 10))
    # then the out-of-school day counts where the profile says so; the in-school day never
    assert row["days_absent"] == oss_absent
    assert row["oss"] == oss_absent
    assert row["excused"] == row["unexcused"] == 0


@pytest.mark.parametrize("profile", PROFILES)
def test_tardies_are_tardies_and_never_absences(cast, profile):
    # given Ana tardy on her 2nd, 3rd and 4th school days
    absent(cast, cast.ana, cast.lincoln, [2, 3, 4], code="T")
    row = row_of(cast, cast.ana, profile, school_day(cast, cast.lincoln, 10))
    # then three tardies and no absence
    assert row["tardies"] == 3
    assert row["days_absent"] == 0
    assert row["attendance_rate"] == 1
    assert row["longest_absence_run"] == 0


@pytest.mark.parametrize("profile", PROFILES)
def test_the_longest_run_of_absences_counts_school_days_across_a_weekend(cast, profile):
    # given Ana absent on the first Friday after her 5th school day and the Monday after it
    fifth = school_day(cast, cast.lincoln, 5)
    friday = fifth + dt.timedelta(days=(4 - fifth.weekday()) % 7)
    monday = friday + dt.timedelta(days=3)
    add_absence(cast, cast.ana, cast.lincoln, friday)
    add_absence(cast, cast.ana, cast.lincoln, monday)
    # and on a lone Wednesday a week later
    add_absence(cast, cast.ana, cast.lincoln, monday + dt.timedelta(days=9))
    row = row_of(cast, cast.ana, profile, school_day(cast, cast.lincoln, 30))
    # then Friday and Monday are two consecutive school days: a run of 2
    assert row["longest_absence_run"] == 2
    assert row["days_absent"] == 3
    assert {day: row[day] for day in WEEKDAYS} == {
        "monday": 1,
        "tuesday": 0,
        "wednesday": 1,
        "thursday": 0,
        "friday": 1,
    }


@pytest.mark.parametrize("profile", PROFILES)
def test_a_holiday_does_not_break_a_run_of_absences(cast, profile):
    # given Roosevelt, whose calendar has a holiday on a Monday, and Ivy enrolled there
    fifth = school_day(cast, cast.lincoln, 5)
    monday = fifth + dt.timedelta(days=(7 - fifth.weekday()) % 7)
    roosevelt = new_school(cast, "202", "Roosevelt Elementary", holidays={monday})
    ivy = Student.objects.create(
        district=cast.district, local_id="S8", first_name="Ivy", last_name="Ito", grade=3
    )
    enroll(cast, ivy, roosevelt, cast.this_year.start_date)
    # and Ivy absent the Friday before and the Tuesday after the holiday
    add_absence(cast, ivy, roosevelt, monday - dt.timedelta(days=3))
    add_absence(cast, ivy, roosevelt, monday + dt.timedelta(days=1))
    row = row_of(cast, ivy, profile, school_day(cast, roosevelt, 30))
    # then the two are consecutive school days: a run of 2
    assert row["days_enrolled"] == 30
    assert row["days_absent"] == 2
    assert row["longest_absence_run"] == 2


# -- the caller's transaction ------------------------------------------------------------------


class Undo(Exception):
    """Raised to roll a transaction back."""


def test_reading_metrics_leaves_the_callers_transaction_to_the_caller(cast):
    # given a change made in a transaction that is then rolled back, with metrics read
    # inside it (the database engine runs on Django's own connection)
    with pytest.raises(Undo), transaction.atomic():
        Student.objects.filter(pk=cast.ana.pk).update(first_name="Changed")
        absent(cast, cast.ana, cast.lincoln, [2])
        row_of(cast, cast.ana, "attendance-works", school_day(cast, cast.lincoln, 10))
        raise Undo
    # then the change is undone: reading metrics neither commits nor ends the transaction
    assert Student.objects.get(pk=cast.ana.pk).first_name == "Ana"
