"""What each user reads of the student metrics: their students only, each once; one
student's months computed live by the metric definitions, adding up to the summary."""

import datetime as dt

import pytest

from homeroom.access.gatekeeper import access_student
from homeroom.attendance.models import AttendanceCode, Category
from homeroom.conftest import add_absence, enroll, school_day
from homeroom.core.models import School
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import StudentSummary
from homeroom.metrics.rules import load_rule_profile, shipped_profiles
from homeroom.metrics.selectors import (
    SchoolDay,
    absences_by_month,
    attendance_at_schools,
    attendance_of_student,
    district_attendance,
    most_absent_students,
    order_by_attendance,
    school_attendance,
    school_days_of_students,
    student_attendance,
    summary_rules,
    summary_state,
)
from homeroom.roster.models import Enrollment, Student

pytestmark = pytest.mark.django_db

ENROLLED_THIS_YEAR = ("ana", "ben", "carla", "dev", "eli", "gabe")


@pytest.fixture
def gabe_at_two_schools(cast):
    """Gabe moved from Lincoln to Central after 31 school days, absent 4 days at each;
    the summaries are computed as of his 31st day at Central."""
    move = 31
    Enrollment.objects.filter(student=cast.gabe).update(
        exit_date=school_day(cast, cast.lincoln, move)
    )
    enroll(cast.gabe, cast.central, cast.this_year, entry=school_day(cast, cast.central, move + 1))
    for n in (1, 2, 3, 4):
        add_absence(cast, cast.gabe, cast.lincoln, school_day(cast, cast.lincoln, n))
        add_absence(cast, cast.gabe, cast.central, school_day(cast, cast.central, move + n))
    return do_refresh_summaries(cast.district, as_of=school_day(cast, cast.central, 2 * move))


def test_nothing_is_read_before_the_summaries_are_computed(cast):
    # given a district whose summaries were never computed
    # then there is no state to show, and no rows
    assert summary_state(cast.admin) is None
    assert student_attendance(cast.admin) == []
    assert school_attendance(cast.admin) == []
    assert district_attendance(cast.admin).students == 0
    assert district_attendance(cast.admin).attendance_rate is None


def test_the_state_says_as_of_when_and_under_which_profile(cast):
    as_of = school_day(cast, cast.lincoln, 20)
    do_refresh_summaries(cast.district, as_of=as_of)
    state = summary_state(cast.teacher)
    assert (state.as_of, state.profile, state.school_year) == (
        as_of,
        "attendance-works@1",
        cast.this_year,
    )
    assert summary_rules(state).minimum_days_enrolled == 10
    assert summary_state(cast.outsider) is None


def test_the_rules_are_not_claimed_once_the_district_changed_its_profile(cast, summaries):
    cast.district.rule_profile = "nyc"
    cast.district.save(update_fields=["rule_profile"])
    assert summary_rules(summary_state(cast.admin)) is None


def test_a_teacher_reads_only_their_students_rows(cast):
    # given Ben absent once (he is not the teacher's) and the summaries as of the 20th day
    add_absence(cast, cast.ben, cast.lincoln, school_day(cast, cast.lincoln, 1))
    do_refresh_summaries(cast.district, as_of=school_day(cast, cast.lincoln, 20))
    # when the teacher of Ana's homeroom reads them
    rows = student_attendance(cast.teacher)
    totals = district_attendance(cast.teacher)
    schools = school_attendance(cast.teacher)
    # then Ana is all they see, in every read
    assert [row.student for row in rows] == [cast.ana]
    assert (totals.students, totals.days_absent, totals.days_enrolled) == (1, 0, 20)
    assert [(row.school, row.students) for row in schools] == [(cast.lincoln, 1)]
    assert [row.student for row in most_absent_students(cast.teacher, count=10)] == [cast.ana]


def test_another_districts_administrator_reads_nothing(cast, summaries):
    assert student_attendance(cast.outsider) == []
    assert school_attendance(cast.outsider) == []
    assert district_attendance(cast.outsider).students == 0


def test_asking_for_other_students_reads_only_the_visible_ones(cast, summaries):
    everyone = Student.objects.filter(district=cast.district)
    assert [row.student for row in student_attendance(cast.teacher, students=everyone)] == [
        cast.ana
    ]
    ordered = order_by_attendance(cast.teacher, everyone, figure="days_absent", descending=True)
    assert list(ordered) == [cast.ana]


def test_a_student_at_two_schools_counts_at_each_and_once_in_the_district(
    cast, gabe_at_two_schools
):
    # when the admin reads per school and for the district
    schools = {row.school.name: row for row in school_attendance(cast.admin)}
    district = district_attendance(cast.admin)
    gabe = student_attendance(cast.admin, students=Student.objects.filter(pk=cast.gabe.pk))[0]
    # then 4/31 is chronic at each school, and Gabe is one student district-wide
    assert (gabe.days_enrolled, gabe.days_absent, gabe.chronic) == (62, 8, True)
    assert schools["Lincoln Elementary"].chronic_count == 1
    assert schools["Central High"].chronic_count == 1
    assert schools["Lincoln Elementary"].students == 4  # Ana, Ben, Eli and Gabe
    assert schools["Central High"].students == 3  # Carla, Dev and Gabe
    assert district.students == len(ENROLLED_THIS_YEAR)
    assert district.chronic_count == 1
    assert district.counted == len(ENROLLED_THIS_YEAR)
    assert district.chronic_rate == pytest.approx(1 / 6)
    assert district.days_absent == 8


def test_a_principals_schools_count_their_students_days_there_only(cast, gabe_at_two_schools):
    # when Lincoln's principal reads Lincoln's figures, and an admin reads both schools
    lincoln = attendance_at_schools(cast.principal, schools=[cast.lincoln])
    both = attendance_at_schools(cast.admin, schools=[cast.lincoln, cast.central])
    rows = {row.school: row for row in school_attendance(cast.admin)}
    # then Lincoln's figures are Lincoln's row: Gabe's days at Central are not in them
    assert lincoln == rows[cast.lincoln]
    assert lincoln.days_absent == 4
    # and two schools add up their rows, Gabe counted at each
    assert both.students == rows[cast.lincoln].students + rows[cast.central].students
    assert both.chronic_count == 2 and both.school is None
    assert both.days_absent == 8


def test_ada_is_days_present_over_days_enrolled(cast, gabe_at_two_schools):
    central = next(row for row in school_attendance(cast.admin) if row.school == cast.central)
    district = district_attendance(cast.admin)
    assert central.attendance_rate == pytest.approx(1 - 4 / central.days_enrolled)
    assert district.attendance_rate == pytest.approx(1 - 8 / district.days_enrolled)


def test_one_students_rows_are_their_year_and_each_school(cast, gabe_at_two_schools):
    # when Gabe's own summaries are read through the gatekeeper's access
    year = attendance_of_student(access_student(cast.counselor, cast.gabe.pk))
    # then there is his year over both schools and a row per school, by name
    assert year.overall.days_absent == 8
    assert year.overall.school is None
    assert [(row.school.name, row.days_enrolled, row.days_absent) for row in year.schools] == [
        ("Central High", 31, 4),
        ("Lincoln Elementary", 31, 4),
    ]


def test_a_student_not_enrolled_this_year_has_no_rows(cast, summaries):
    year = attendance_of_student(access_student(cast.admin, cast.hal.pk))
    assert year.overall is None
    assert year.schools == []


def test_students_too_new_to_count_are_not_chronic_and_have_no_band(cast):
    # given Ana absent on her first day, read as of the 9th (the profile counts from 10)
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 1))
    do_refresh_summaries(cast.district, as_of=school_day(cast, cast.lincoln, 9))
    ana = student_attendance(cast.admin, students=Student.objects.filter(pk=cast.ana.pk))[0]
    assert (ana.chronic, ana.band) == (None, "")
    assert district_attendance(cast.admin).counted == 0


def test_the_bands_are_the_profiles(cast):
    # given Ana absent twice in twenty days (10%, chronic), Ben once (5%, at risk)
    for n in (1, 2):
        add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, n))
    add_absence(cast, cast.ben, cast.lincoln, school_day(cast, cast.lincoln, 1))
    do_refresh_summaries(cast.district, as_of=school_day(cast, cast.lincoln, 20))
    rows = {row.student.first_name: row for row in student_attendance(cast.admin)}
    assert (rows["Ana"].band, rows["Ana"].tier, rows["Ana"].chronic) == ("moderate", "tier2", True)
    assert (rows["Ben"].band, rows["Ben"].chronic) == ("at_risk", False)
    assert rows["Carla"].band == "satisfactory"


def test_most_absent_come_first_and_the_list_stops_at_the_count(cast):
    # given Ben absent twice and Ana once
    for n in (1, 2):
        add_absence(cast, cast.ben, cast.lincoln, school_day(cast, cast.lincoln, n))
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 3))
    do_refresh_summaries(cast.district, as_of=school_day(cast, cast.lincoln, 20))
    rows = most_absent_students(cast.admin, count=3)
    assert [row.student for row in rows] == [cast.ben, cast.ana, cast.carla]


@pytest.mark.parametrize("descending", [False, True])
def test_sorting_by_a_figure_puts_students_without_a_summary_last(cast, descending):
    # given Carla absent twice and Dev once; Hal is not enrolled this year
    for n in (1, 2):
        add_absence(cast, cast.carla, cast.central, school_day(cast, cast.central, n))
    add_absence(cast, cast.dev, cast.central, school_day(cast, cast.central, 1))
    do_refresh_summaries(cast.district, as_of=school_day(cast, cast.central, 20))
    # when the admin's students are ordered by days absent
    everyone = Student.objects.filter(district=cast.district)
    ordered = list(
        order_by_attendance(cast.admin, everyone, figure="days_absent", descending=descending)
    )
    # then the figure orders them, ties by name, and Hal comes last either way
    names = [student.first_name for student in ordered]
    no_absences = ["Ana", "Ben", "Eli", "Gabe"]
    if descending:
        assert names == ["Carla", "Dev", *no_absences, "Hal"]
    else:
        assert names == [*no_absences, "Dev", "Carla", "Hal"]


def test_sorting_by_a_field_that_is_no_figure_is_refused(cast):
    with pytest.raises(ValueError, match="cannot sort"):
        order_by_attendance(
            cast.admin, Student.objects.all(), figure="student_id", descending=False
        )


def months_of(cast, student, as_of: dt.date, profile: str = "attendance-works"):
    return absences_by_month(
        access_student(cast.admin, student.pk),
        school_year=cast.this_year,
        as_of=as_of,
        profile=load_rule_profile(profile),
    )


def test_months_add_up_to_the_students_summary(cast):
    # given Ana absent on five school days, and her summary as of the 60th
    for n in (1, 2, 25, 26, 27):
        add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, n))
    as_of = school_day(cast, cast.lincoln, 60)
    do_refresh_summaries(cast.district, as_of=as_of)
    # when her months are read to the same date
    months = months_of(cast, cast.ana, as_of)
    # then they add up to her summary, one row per month
    total = StudentSummary.objects.get(student=cast.ana, school__isnull=True)
    assert sum(m.days_enrolled for m in months) == total.days_enrolled == 60
    assert sum(m.days_absent for m in months) == total.days_absent == 5
    assert [m.month.day for m in months] == [1] * len(months)
    assert len({m.month for m in months}) == len(months)


def test_months_count_each_school_day_enrolled_in_its_month(cast):
    # given Ana absent on the 3rd school day; the months read to the 30th
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 3))
    days = [school_day(cast, cast.lincoln, n) for n in range(1, 31)]
    # when her months are read
    months = months_of(cast, cast.ana, days[-1])
    # then each month holds its weekdays (every weekday is a school day in the cast)
    expected = {}
    for day in days:
        expected[day.replace(day=1)] = expected.get(day.replace(day=1), 0) + 1
    assert {m.month: m.days_enrolled for m in months} == expected
    assert {m.month: m.days_absent for m in months if m.days_absent} == {days[2].replace(day=1): 1}


@pytest.mark.parametrize("profile", sorted(shipped_profiles()))
def test_under_every_profile_the_months_add_up_to_the_summary(cast, profile):
    # given the district on a profile; Ana absent half a day, a whole day, in-school
    # suspended one day, tardy one day, and absent on a Saturday (never counted)
    cast.district.rule_profile = profile
    cast.district.save(update_fields=["rule_profile"])
    cast.codes["ISS"] = AttendanceCode.objects.create(
        district=cast.district,
        code="ISS",
        description="In-school suspension",
        category=Category.IN_SCHOOL_SUSPENSION,
        day_fraction=1,
    )
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 2), "A", "0.5")
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 3))
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 4), "ISS")
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 5), "T")
    fifth = school_day(cast, cast.lincoln, 5)
    add_absence(cast, cast.ana, cast.lincoln, fifth + dt.timedelta(days=(5 - fifth.weekday()) % 7))
    as_of = school_day(cast, cast.lincoln, 40)
    do_refresh_summaries(cast.district, as_of=as_of)
    # when her months are read under that profile
    months = months_of(cast, cast.ana, as_of, profile)
    # then they add up to her summary
    total = StudentSummary.objects.get(student=cast.ana, school__isnull=True)
    assert sum(m.days_enrolled for m in months) == total.days_enrolled == 40
    assert sum(m.days_absent for m in months) == total.days_absent


@pytest.mark.parametrize(
    ("profile", "counted"), [("attendance-works", 0.5), ("california", 0), ("federal-edfacts", 1)]
)
def test_a_half_day_counts_in_its_month_as_the_profile_says(cast, profile, counted):
    # given Ana absent half of one day
    add_absence(cast, cast.ana, cast.lincoln, school_day(cast, cast.lincoln, 2), fraction="0.5")
    # when her months are read under a profile
    months = months_of(cast, cast.ana, school_day(cast, cast.lincoln, 10), profile)
    # then the half day counts by its share, not at all, or as a whole day
    assert sum(m.days_absent for m in months) == counted


def test_a_day_with_two_events_counts_once_by_its_largest_share(cast):
    # given Ana excused, half absent and tardy on one day
    day = school_day(cast, cast.lincoln, 5)
    add_absence(cast, cast.ana, cast.lincoln, day, code="E")
    add_absence(cast, cast.ana, cast.lincoln, day, code="A", fraction="0.5")
    add_absence(cast, cast.ana, cast.lincoln, day, code="T")
    # when her months are read
    months = months_of(cast, cast.ana, school_day(cast, cast.lincoln, 10))
    # then the day counts once, whole
    assert sum(m.days_absent for m in months) == 1


def test_an_absence_on_a_day_off_is_no_absence_in_its_month(cast):
    # given Ana absent on the Sunday after her 5th school day, and excused on her 10th
    fifth, tenth = school_day(cast, cast.lincoln, 5), school_day(cast, cast.lincoln, 10)
    add_absence(cast, cast.ana, cast.lincoln, fifth + dt.timedelta(days=6 - fifth.weekday()))
    add_absence(cast, cast.ana, cast.lincoln, tenth, code="E")
    # when her months are read to her 10th school day
    months = months_of(cast, cast.ana, tenth)
    # then only the school day is an absence
    assert sum(m.days_absent for m in months) == 1


def test_another_students_absences_are_not_in_the_months(cast):
    # given Ben absent, Ana not
    add_absence(cast, cast.ben, cast.lincoln, school_day(cast, cast.lincoln, 3))
    # when Ana's months are read
    months = months_of(cast, cast.ana, school_day(cast, cast.lincoln, 10))
    # then she has her days enrolled and no absence
    assert sum(m.days_enrolled for m in months) == 10
    assert sum(m.days_absent for m in months) == 0


def test_school_days_of_students_counted_by_hand(cast):
    """Ana at Lincoln, days 1 to 10, attendance recorded through day 8: the days listed
    are days 1-8 (day 9 and 10 are not recorded yet), absent 1 on day 2 (unexcused),
    1 on day 3 (excused), 0 on day 4 (a tardy is present), 0.5 on day 5 (half a day),
    and the absence on day 9 not counted. Hal (enrolled last year only) has no day; Ben
    is not the teacher's to see, so he is left out."""
    first = [school_day(cast, cast.lincoln, n) for n in range(1, 11)]
    add_absence(cast, cast.ana, cast.lincoln, first[1])
    add_absence(cast, cast.ana, cast.lincoln, first[2], "E")
    add_absence(cast, cast.ana, cast.lincoln, first[3], "T")
    add_absence(cast, cast.ana, cast.lincoln, first[4], fraction="0.5")
    add_absence(cast, cast.ana, cast.lincoln, first[8])
    School.objects.filter(pk=cast.lincoln.pk).update(recorded_through=first[7])
    listed = school_days_of_students(
        cast.principal,
        [cast.ana.pk, cast.hal.pk],
        school_year=cast.this_year,
        start=first[0],
        as_of=first[9],
    )
    absent = [0, 1, 1, 0, 0.5, 0, 0, 0]
    assert listed == {
        cast.ana.pk: [SchoolDay(date=d, absent=a) for d, a in zip(first, absent, strict=False)]
    }
    mine = school_days_of_students(
        cast.teacher,
        [cast.ana.pk, cast.ben.pk],
        school_year=cast.this_year,
        start=first[2],
        as_of=first[3],
    )
    assert mine == {cast.ana.pk: [SchoolDay(first[2], 1), SchoolDay(first[3], 0)]}
