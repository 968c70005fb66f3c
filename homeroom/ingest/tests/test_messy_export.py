"""Three nights of a messy SIS export (messy_export.py), imported as a district imports them:
the import reports what a clerk must see, and the figures match a day-by-day count.

The expected figures are counted here from the world the script describes, one day at a
time, by the rules of docs/metrics.md and DOMAIN.md (Attendance Works): a day counts when
the night's calendar makes it a school day, inside the district's school year, inside one
of the student's enrollment spans at the school, and not after the last day the school's
attendance was exported for; absences of any reason count, a half day as half; a student
enrolled 10 days or more is counted, and chronic at 10% of days or more. Nothing here asks
Homeroom how to count.
"""

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

import pytest

from homeroom.accounts.models import Role
from homeroom.attendance.models import AttendanceEvent
from homeroom.conftest import make_user
from homeroom.core.models import School
from homeroom.ingest.actions import NewDistrict, do_import_files
from homeroom.ingest.models import ImportRun
from homeroom.ingest.tests import messy_export as world
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import StudentSummary
from homeroom.metrics.selectors import district_attendance, school_attendance, summary_state
from homeroom.roster.models import Enrollment, Student

pytestmark = pytest.mark.django_db

PROFILE = "homeroom-generator"
SCHOOL_DAY_KINDS = {"instructional", "makeup"}
ABSENT_CATEGORIES = {"excused", "unexcused", "oss", "partial"}  # any reason (Attendance Works)
MINIMUM_DAYS = 10
CHRONIC = Fraction(1, 10)
BANDS = ((Fraction(1, 5), "severe"), (Fraction(1, 10), "moderate"), (Fraction(1, 20), "at_risk"))


@dataclass
class Figures:
    """One student's days at a school (or over all schools), counted day by day."""

    enrolled: int = 0
    absent: Fraction = Fraction(0)
    by_category: Counter = field(default_factory=Counter)

    def add(self, other: "Figures") -> None:
        self.enrolled += other.enrolled
        self.absent += other.absent
        self.by_category.update(other.by_category)

    def row(self) -> tuple:
        """The figures as a summary shows them: enrolled, absent, excused, unexcused,
        counted, chronic, band, attendance rate."""
        counted = self.enrolled >= MINIMUM_DAYS
        rate = self.absent / self.enrolled if self.enrolled else None
        band = ""
        if counted:
            band = next((name for low, name in BANDS if rate >= low), "satisfactory")
        return (
            self.enrolled,
            float(self.absent),
            float(self.by_category["excused"]),
            float(self.by_category["unexcused"]),
            counted,
            counted and rate >= CHRONIC,
            band,
            None if rate is None else round(float(1 - rate), 9),
        )


def counted_days(night: int) -> dict[tuple[str, str | None], Figures]:
    """Per (student, school) and per (student, None) overall: the night's figures."""
    as_of = world.NIGHTS[night]
    _, year_start, year_end = world.YEAR
    codes = {(e.student, e.school, e.date): e.code for e in world.exported_events(night)}
    spans = defaultdict(list)
    for e in world.enrollments(night):
        spans[e.student, e.school].append(e)
    figures = {}
    for (student, school), held in spans.items():
        if not any(e.exit_date is None or e.exit_date >= year_start for e in held):
            continue
        kinds = world.calendar(school, night)
        last = min(as_of, year_end, world.exported_through(school, night))
        counted = Figures()
        day = year_start
        while day <= last:
            enrolled = any(
                e.entry_date <= day and (e.exit_date is None or day <= e.exit_date) for e in held
            )
            if enrolled and kinds.get(day) in SCHOOL_DAY_KINDS:
                counted.enrolled += 1
                code = codes.get((student, school, day))
                _, category, share = world.CODES.get(code, ("", "", 0))
                if category in ABSENT_CATEGORIES:
                    counted.absent += Fraction(share)
                    counted.by_category[category] += Fraction(share)
            day += dt.timedelta(days=1)
        figures[student, school] = counted
        figures.setdefault((student, None), Figures()).add(counted)
    return figures


def expected_rows(night: int) -> dict[tuple[str, str | None], tuple]:
    return {key: figures.row() for key, figures in counted_days(night).items()}


def summary_rows() -> dict[tuple[str, str | None], tuple]:
    rows = StudentSummary.objects.select_related("student", "school")
    return {
        (r.student.local_id, r.school.local_id if r.school else None): (
            r.days_enrolled,
            round(r.days_absent, 3),
            round(r.excused, 3),
            round(r.unexcused, 3),
            r.counted,
            r.chronic,
            r.band,
            None if r.attendance_rate is None else round(r.attendance_rate, 9),
        )
        for r in rows
    }


def expected_schools(night: int) -> dict[str | None, tuple]:
    """Per school (None: the district, each student once): students, counted, days
    enrolled, days absent, chronic."""
    totals = defaultdict(lambda: [0, 0, 0, Fraction(0), 0])
    for (_, school), figures in counted_days(night).items():
        row = figures.row()
        total = totals[school]
        total[0] += 1
        total[1] += row[4]
        total[2] += figures.enrolled
        total[3] += figures.absent
        total[4] += row[5]
    return {school: (*t[:3], float(t[3]), t[4]) for school, t in totals.items()}


def shown_schools(user) -> dict[str | None, tuple]:
    shown = [*school_attendance(user), district_attendance(user)]
    return {
        s.school.local_id if s.school else None: (
            s.students,
            s.counted,
            s.days_enrolled,
            s.days_absent,
            s.chronic_count,
        )
        for s in shown
    }


def outside_enrollment(night: int) -> int:
    """Exported events of rostered students on a day no enrollment at the school holds."""
    rostered = {s.local_id for s in world.STUDENTS if s.rostered}
    spans = world.enrollments(night)
    return sum(
        1
        for e in world.exported_events(night)
        if e.student in rostered
        and e.date >= world.YEAR[1]
        and not any(
            s.student == e.student
            and s.school == e.school
            and s.entry_date <= e.date
            and (s.exit_date is None or e.date <= s.exit_date)
            for s in spans
        )
    )


def recorded_through() -> dict[str, dt.date]:
    return dict(School.objects.values_list("local_id", "recorded_through"))


def problems(run: ImportRun, code: str) -> list[dict]:
    return [p for p in run.problems if p["code"] == code]


def import_night(district, paths, night: int, *, on_error: str = "reject") -> ImportRun:
    """The night's first two steps (homeroom/pipeline/actions.py, do_run_nightly): import
    the files as `homeroom import csv` does, then refresh the summaries as of the night.
    The flags and the forecast that follow them read the summaries and are not checked
    here (they took two thirds of the test's time)."""
    run = do_import_files(
        paths, district=district, source_format="csv", profile=PROFILE, on_error=on_error
    )
    do_refresh_summaries(run.district, as_of=world.NIGHTS[night], incremental=True)
    return run


def test_three_nights_of_a_messy_export_give_the_day_by_day_figures(tmp_path):
    # given night 1's export, which holds an absence on a day before the school year
    paths = world.write_messy_export(tmp_path / "night-1", 1)
    # when the clerk imports it keeping the rows without errors (--on-error skip), and the
    # metrics are refreshed as of that night
    new = NewDistrict(name="Messy Unified", timezone="America/Chicago")
    first = import_night(new, paths, 1, on_error="skip")
    admin = make_user("admin", Role.DISTRICT_ADMIN, first.district)
    # then the day outside the school years is the one error, named where it is
    [outside] = problems(first, "date_outside_school_years")
    assert (outside["severity"], outside["file"], outside["line"], outside["value"]) == (
        "error",
        "attendance_events.csv",
        2,
        world.OUTSIDE_YEAR.date.isoformat(),
    )
    assert first.status == ImportRun.Status.SUCCEEDED
    # and so are the calendars that run past the year: Central's early start, Lincoln's
    # make-up days after the last day (their days are not counted)
    lincoln, central = problems(first, "outside_school_year")
    assert (lincoln["value"], central["value"]) == (world.LINCOLN, world.CENTRAL)
    assert "from 2026-06-08 to 2026-06-09" in lincoln["message"]
    assert "from 2025-08-13 to 2025-08-15" in central["message"]
    # and the duplicates, the unenrolled and the unrostered are reported, the roster's
    # repeated lines held once
    assert first.problem_counts == {
        "error:date_outside_school_years": 1,
        "finding:duplicate_row": len(world.DUPLICATED),
        "finding:outside_enrollment": outside_enrollment(1),
        "finding:outside_school_year": 2,
        "finding:student_not_rostered": 1,
    }
    assert {p["value"] for p in problems(first, "student_not_rostered")} == {"9002"}
    assert Student.objects.count() == sum(s.rostered for s in world.STUDENTS)
    assert Enrollment.objects.count() == len(world.enrollments(1))
    assert not Student.objects.get(local_id="9001").enrollments.exists()
    # and every school is recorded through the night, and the figures are the day count's
    assert recorded_through() == {school: world.NIGHTS[1] for school, *_ in world.SCHOOLS}
    assert summary_rows() == expected_rows(1)
    assert shown_schools(admin) == expected_schools(1)

    # given night 2's export: snow days in the calendar, 1004's days excused, Maple late
    paths = world.write_messy_export(tmp_path / "night-2", 2)
    # when the night imports it, then refreshes the metrics
    second = import_night(first.district, paths, 2)
    # then the unexcused days were replaced by excused ones and nothing was withheld
    assert second.counts["attendance"]["deleted"] == len(world.RETRO_EXCUSED)
    assert "error:date_outside_school_years" not in second.problem_counts
    assert "finding:deletions_withheld" not in second.problem_counts
    retro = AttendanceEvent.objects.filter(student__local_id="1004", date__in=world.RETRO_EXCUSED)
    assert sorted(retro.values_list("code__code", flat=True)) == ["E"] * len(world.RETRO_EXCUSED)
    # and the absence on a snow day is kept but reported, as are the night 1 findings
    [snow] = problems(second, "non_instructional_day")
    assert snow["value"] == f"1007 {world.SNOW_DAYS[0]}"
    assert second.problem_counts == {
        "finding:duplicate_row": len(world.DUPLICATED),
        "finding:non_instructional_day": 1,
        "finding:outside_enrollment": outside_enrollment(2),
        "finding:outside_school_year": 2,
        "finding:student_not_rostered": 1,
    }
    # and Maple is recorded a week behind the others, and shown as behind
    assert recorded_through() == {
        school: world.exported_through(school, 2) for school, *_ in world.SCHOOLS
    }
    assert recorded_through()[world.MAPLE] < world.NIGHTS[2]
    assert [s.local_id for s in summary_state(admin).not_recorded] == [world.MAPLE]
    assert summary_rows() == expected_rows(2)
    assert shown_schools(admin) == expected_schools(2)

    # given night 3: Maple's export catches up the same evening
    paths = world.write_messy_export(tmp_path / "night-3", 3)
    # when the night's import runs again, with the metrics after it
    import_night(first.district, paths, 3)
    # then every school is recorded through the night and Maple's last week counts
    assert recorded_through() == {school: world.NIGHTS[3] for school, *_ in world.SCHOOLS}
    assert summary_state(admin).not_recorded == []
    assert summary_rows() == expected_rows(3)
    assert shown_schools(admin) == expected_schools(3)
