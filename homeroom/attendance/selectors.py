"""Attendance so far, per student and per school, for the students a user may see.

Counting follows the foundation rule (the `attendance-works` profile; the metrics engine
makes profiles data):

- days enrolled: instructional days of the school's calendar inside an enrollment span,
  entry and exit days included, up to the as-of date; counted as a difference of the
  calendar's cumulative instructional index, never by expanding student-days;
- absent: excused, unexcused and out-of-school suspension count by their share of the
  day; partial days count their share; tardies, early departures and in-school
  suspension are present; a day with several events counts once, by its largest share;
- events outside enrollment or on non-instructional days are not counted;
- chronic: absent on at least the district's threshold (10%) of days enrolled, once
  enrolled the district's minimum days (10).
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    DateField,
    Exists,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least

from homeroom.access.gatekeeper import StudentAccess, visible_students
from homeroom.attendance.models import AttendanceEvent, Category
from homeroom.core.models import CalendarDate, District, School, SchoolYear
from homeroom.core.selectors import current_school_year, district_today
from homeroom.roster.models import Enrollment, Student

ABSENT_CATEGORIES = frozenset(
    {Category.EXCUSED, Category.UNEXCUSED, Category.OUT_OF_SCHOOL_SUSPENSION, Category.PARTIAL}
)
ZERO = Decimal(0)


@dataclass
class Tally:
    """Days enrolled and absences of one student at one school (or in total)."""

    days_enrolled: int = 0
    days_absent: Decimal = ZERO
    excused: Decimal = ZERO
    unexcused: Decimal = ZERO
    suspended: Decimal = ZERO
    tardies: int = 0

    def add(self, other: "Tally") -> None:
        """Add another tally's counts to this one."""
        self.days_enrolled += other.days_enrolled
        self.days_absent += other.days_absent
        self.excused += other.excused
        self.unexcused += other.unexcused
        self.suspended += other.suspended
        self.tardies += other.tardies


@dataclass(frozen=True)
class Rules:
    """The district's thresholds that turn counts into flags and bands."""

    minimum_days: int
    at_risk: Decimal
    chronic: Decimal
    severe: Decimal

    @classmethod
    def of(cls, district: District) -> "Rules":
        """The rules the district has configured."""
        return cls(
            minimum_days=district.minimum_days_enrolled,
            at_risk=district.at_risk_threshold,
            chronic=district.chronic_absence_threshold,
            severe=district.severe_threshold,
        )

    def absence_rate(self, tally: Tally) -> Decimal | None:
        """Share of enrolled days absent, or None with no days enrolled."""
        return tally.days_absent / tally.days_enrolled if tally.days_enrolled else None

    def is_counted(self, tally: Tally) -> bool:
        """Whether the student was enrolled long enough to count for chronic absence."""
        return tally.days_enrolled >= self.minimum_days

    def band(self, tally: Tally) -> str:
        """Attendance Works band, or '' for a student not counted."""
        if not self.is_counted(tally):
            return ""
        rate = self.absence_rate(tally)
        if rate >= self.severe:
            return "severe"
        if rate >= self.chronic:
            return "moderate"
        if rate >= self.at_risk:
            return "at_risk"
        return "satisfactory"


@dataclass(frozen=True)
class StudentAttendance:
    """A student's attendance in a school year, over all their schools."""

    student: Student
    days_enrolled: int
    days_absent: float
    excused: float
    unexcused: float
    suspended: float
    tardies: int
    attendance_rate: float | None
    absence_rate: float | None
    chronic: bool | None
    band: str


@dataclass(frozen=True)
class SchoolAttendance:
    """Attendance of the students enrolled at a school (school None: all schools)."""

    school: School | None
    students: int
    counted: int
    days_enrolled: int
    days_absent: float
    attendance_rate: float | None
    chronic_count: int
    chronic_rate: float | None


@dataclass(frozen=True)
class MonthAttendance:
    """One student's days enrolled and absent in one month."""

    month: dt.date
    days_enrolled: int
    days_absent: float


def school_year_for(user, on: dt.date | None = None) -> SchoolYear | None:
    """The current school year of the user's district (None without a district)."""
    if user.district_id is None:
        return None
    return current_school_year(user.district_id, on or district_today(user.district))


def _calendar_dates(on_school, on_year) -> QuerySet[CalendarDate]:
    return CalendarDate.objects.filter(
        calendar__school=on_school, calendar__school_year=on_year, calendar__code="default"
    )


def _enrollment_days(
    students: QuerySet[Student], school_year: SchoolYear, as_of: dt.date
) -> QuerySet[Enrollment]:
    """Enrollment spans with `days_enrolled` counted from the calendar's cumulative index."""
    dates = _calendar_dates(OuterRef("school"), OuterRef("school_year"))
    index_through = dates.filter(date__lte=OuterRef("last_day")).order_by("-date")
    index_before = dates.filter(date__lt=OuterRef("first_day")).order_by("-date")
    return (
        Enrollment.objects.filter(
            student__in=students, school_year=school_year, entry_date__lte=as_of
        )
        .annotate(
            first_day=Greatest("entry_date", Value(school_year.start_date)),
            last_day=Least(
                Coalesce("exit_date", Value(as_of)),
                Value(as_of, output_field=DateField()),
                Value(school_year.end_date, output_field=DateField()),
            ),
        )
        .annotate(
            days_enrolled=Coalesce(Subquery(index_through.values("instructional_index")[:1]), 0)
            - Coalesce(Subquery(index_before.values("instructional_index")[:1]), 0)
        )
    )


def _counted_events(
    students: QuerySet[Student], school_year: SchoolYear, as_of: dt.date
) -> QuerySet[AttendanceEvent]:
    """Events on instructional days inside an enrollment at the event's school."""
    instructional = _calendar_dates(OuterRef("school"), school_year).filter(
        date=OuterRef("date"), kind__in=CalendarDate.COUNTED_KINDS
    )
    enrolled = Enrollment.objects.filter(
        Q(exit_date__isnull=True) | Q(exit_date__gte=OuterRef("date")),
        student=OuterRef("student"),
        school=OuterRef("school"),
        entry_date__lte=OuterRef("date"),
    )
    return AttendanceEvent.objects.filter(
        Exists(instructional),
        Exists(enrolled),
        student__in=students,
        date__gte=school_year.start_date,
        date__lte=min(as_of, school_year.end_date),
    )


def _tallies(
    students: QuerySet[Student], school_year: SchoolYear, as_of: dt.date
) -> dict[tuple[int, int], Tally]:
    """Tally per (student id, school id) for the year up to `as_of`."""
    tallies: dict[tuple[int, int], Tally] = defaultdict(Tally)
    for span in _enrollment_days(students, school_year, as_of).values(
        "student_id", "school_id", "days_enrolled"
    ):
        tallies[span["student_id"], span["school_id"]].days_enrolled += span["days_enrolled"]

    # The largest share of each student-day, by category: one absence a day at most.
    day_events = (
        _counted_events(students, school_year, as_of)
        .values("student_id", "school_id", "date", "code__category")
        .annotate(share=Max(Coalesce("day_fraction", "code__day_fraction")))
    )
    days: dict[tuple[int, int, dt.date], tuple[Decimal, str]] = {}
    for row in day_events:
        key = row["student_id"], row["school_id"], row["date"]
        category = row["code__category"]
        if category == Category.TARDY:
            tallies[key[:2]].tardies += 1
        elif category in ABSENT_CATEGORIES:
            share = min(Decimal(row["share"]), Decimal(1))
            if share > days.get(key, (ZERO, ""))[0]:
                days[key] = (share, category)
    for (student_id, school_id, _), (share, category) in days.items():
        tally = tallies[student_id, school_id]
        tally.days_absent += share
        if category == Category.EXCUSED:
            tally.excused += share
        elif category == Category.UNEXCUSED:
            tally.unexcused += share
        elif category == Category.OUT_OF_SCHOOL_SUSPENSION:
            tally.suspended += share
    return tallies


def _visible(user, students: QuerySet[Student] | None) -> QuerySet[Student]:
    visible = visible_students(user)
    return visible if students is None else visible.filter(pk__in=students.values("pk"))


def student_attendance(
    user,
    *,
    school_year: SchoolYear,
    as_of: dt.date,
    students: QuerySet[Student] | None = None,
) -> list[StudentAttendance]:
    """Attendance this year of each visible student enrolled in it, across their schools."""
    visible = _visible(user, students)
    rules = Rules.of(user.district)
    totals: dict[int, Tally] = defaultdict(Tally)
    for (student_id, _), tally in _tallies(visible, school_year, as_of).items():
        totals[student_id].add(tally)
    by_id = visible.in_bulk(list(totals))
    rows = []
    for student_id, tally in totals.items():
        rate = rules.absence_rate(tally)
        counted = rules.is_counted(tally)
        rows.append(
            StudentAttendance(
                student=by_id[student_id],
                days_enrolled=tally.days_enrolled,
                days_absent=float(tally.days_absent),
                excused=float(tally.excused),
                unexcused=float(tally.unexcused),
                suspended=float(tally.suspended),
                tardies=tally.tardies,
                attendance_rate=None if rate is None else float(1 - rate),
                absence_rate=None if rate is None else float(rate),
                chronic=(rate >= rules.chronic) if counted else None,
                band=rules.band(tally),
            )
        )
    rows.sort(key=lambda row: (row.student.last_name, row.student.first_name, row.student.pk))
    return rows


def _summarize(school: School | None, tallies: list[Tally], rules: Rules) -> SchoolAttendance:
    total = Tally()
    counted = chronic = 0
    for tally in tallies:
        total.add(tally)
        if rules.is_counted(tally):
            counted += 1
            chronic += rules.absence_rate(tally) >= rules.chronic
    rate = rules.absence_rate(total)
    return SchoolAttendance(
        school=school,
        students=len(tallies),
        counted=counted,
        days_enrolled=total.days_enrolled,
        days_absent=float(total.days_absent),
        attendance_rate=None if rate is None else float(1 - rate),
        chronic_count=chronic,
        chronic_rate=chronic / counted if counted else None,
    )


def school_attendance(user, *, school_year: SchoolYear, as_of: dt.date) -> list[SchoolAttendance]:
    """Per school: ADA and chronic absence of the visible students, counted per school."""
    rules = Rules.of(user.district)
    by_school: dict[int, list[Tally]] = defaultdict(list)
    for (_, school_id), tally in _tallies(_visible(user, None), school_year, as_of).items():
        by_school[school_id].append(tally)
    schools = School.objects.in_bulk(list(by_school))
    rows = [_summarize(schools[pk], tallies, rules) for pk, tallies in by_school.items()]
    return sorted(rows, key=lambda row: row.school.name)


def district_attendance(user, *, school_year: SchoolYear, as_of: dt.date) -> SchoolAttendance:
    """All visible students, each counted once across their schools (no double counting)."""
    totals: dict[int, Tally] = defaultdict(Tally)
    for (student_id, _), tally in _tallies(_visible(user, None), school_year, as_of).items():
        totals[student_id].add(tally)
    return _summarize(None, list(totals.values()), Rules.of(user.district))


def absences_by_month(
    access: StudentAccess, *, school_year: SchoolYear, as_of: dt.date
) -> list[MonthAttendance]:
    """One student's days enrolled and absent per month of the year, up to `as_of`."""
    student = access.student
    students = Student.objects.filter(pk=student.pk)
    months: dict[dt.date, Tally] = defaultdict(Tally)
    last = min(as_of, school_year.end_date)
    for span in _enrollment_days(students, school_year, as_of):
        counted_days = _calendar_dates(span.school_id, school_year).filter(
            kind__in=CalendarDate.COUNTED_KINDS, date__gte=span.first_day, date__lte=span.last_day
        )
        for day in counted_days.values_list("date", flat=True):
            months[day.replace(day=1)].days_enrolled += 1
    daily: dict[dt.date, Decimal] = {}
    for row in (
        _counted_events(students, school_year, last)
        .filter(code__category__in=ABSENT_CATEGORIES)
        .values("date")
        .annotate(share=Max(Coalesce("day_fraction", "code__day_fraction")))
    ):
        daily[row["date"]] = max(daily.get(row["date"], ZERO), min(Decimal(row["share"]), 1))
    for day, share in daily.items():
        months[day.replace(day=1)].days_absent += share
    return [
        MonthAttendance(
            month=month, days_enrolled=t.days_enrolled, days_absent=float(t.days_absent)
        )
        for month, t in sorted(months.items())
    ]


def student_events(access: StudentAccess, *, school_year: SchoolYear) -> QuerySet[AttendanceEvent]:
    """Every attendance event of the student in the year, counted or not, newest first."""
    return (
        AttendanceEvent.objects.filter(
            student=access.student,
            date__gte=school_year.start_date,
            date__lte=school_year.end_date,
        )
        .select_related("code", "school")
        .order_by("-date")
    )
