"""Reads of the student metrics, for the students a user may see.

Pages read the materialized summaries (`StudentSummary`, written by `do_refresh_summaries`
after each import) instead of counting events on every request. Every read starts from
`visible_students(user)` as a SQL filter; one student's rows take the `StudentAccess` the
gatekeeper granted. Which days are counted, who is counted, chronic absence, bands and
tiers are the rule profile's, as the metrics engine applied it (`SummaryState.profile`).
One student's months are computed live, by the same definitions on the database engine,
so that they add up to the student's summary.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from homeroom.access.gatekeeper import StudentAccess, visible_students
from homeroom.core.models import School, SchoolYear
from homeroom.metrics import definitions
from homeroom.metrics.engines import database_engine
from homeroom.metrics.models import StudentSummary, SummaryState, TierChange
from homeroom.metrics.rules import RuleProfile, RuleProfileError, load_rule_profile
from homeroom.roster.models import Student

# The figures of the students table that sort: a student without a summary sorts last.
SORTABLE_FIGURES = frozenset({"days_enrolled", "days_absent", "attendance_rate", "absence_rate"})
NAME_ORDER = ("last_name", "first_name", "local_id")


@dataclass(frozen=True)
class StudentAttendance:
    """A student's attendance this school year so far: overall, or at one school."""

    student: Student
    school: School | None
    days_enrolled: int
    days_absent: float
    excused: float
    unexcused: float
    suspended: float
    tardies: int
    attendance_rate: float | None
    absence_rate: float | None
    chronic: bool | None  # None: not enrolled long enough to be counted
    band: str
    tier: str


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
class StudentYear:
    """One student's summaries: over all their schools, and at each school (by name)."""

    overall: StudentAttendance | None
    schools: list[StudentAttendance]


def summary_state(user) -> SummaryState | None:
    """What the summaries of the user's district were computed for (None: not yet), with
    `not_recorded`: the schools whose attendance is recorded to an earlier day than the
    summaries' date, and that day (their later days are not counted yet)."""
    if user.district_id is None:
        return None
    states = SummaryState.objects.select_related("district", "school_year")
    state = states.filter(district=user.district_id).first()
    if state is not None:
        behind = School.objects.filter(
            district=user.district_id,
            recorded_through__lt=state.as_of,
            recorded_through__gte=state.start,
        )
        state.not_recorded = list(behind.order_by("recorded_through", "name"))
    return state


def summary_rules(state: SummaryState) -> RuleProfile | None:
    """The rule profile the summaries were computed under, if the district still uses it."""
    try:
        profile = load_rule_profile(state.district.rule_profile)
    except RuleProfileError:
        return None
    return profile if f"{profile.name}@{profile.version}" == state.profile else None


def _visible_summaries(user) -> QuerySet[StudentSummary]:
    return StudentSummary.objects.filter(student__in=visible_students(user).values("pk"))


def _attendance(row: StudentSummary) -> StudentAttendance:
    return StudentAttendance(
        student=row.student,
        school=row.school,
        days_enrolled=row.days_enrolled,
        days_absent=row.days_absent,
        excused=row.excused,
        unexcused=row.unexcused,
        suspended=row.oss,
        tardies=row.tardies,
        attendance_rate=row.attendance_rate,
        absence_rate=row.absence_rate,
        chronic=row.chronic if row.counted else None,
        band=row.band,
        tier=row.tier,
    )


def student_attendance(
    user, *, students: QuerySet[Student] | None = None
) -> list[StudentAttendance]:
    """Each visible student's attendance over all their schools (of `students`), by name."""
    seen = visible_students(user)
    if students is not None:
        # The gatekeeper asked of `students` only (a page of them), not of the district.
        seen = seen.filter(pk__in=students.values("pk"))
    rows = StudentSummary.objects.filter(school__isnull=True, student__in=seen.values("pk"))
    rows = rows.select_related("student").order_by(
        *(f"student__{field}" for field in NAME_ORDER), "student_id"
    )
    return [_attendance(row) for row in rows]


def most_absent_students(user, *, count: int) -> list[StudentAttendance]:
    """The visible students with the highest share of days absent, highest first."""
    rows = (
        _visible_summaries(user)
        .filter(school__isnull=True)
        .select_related("student")
        .order_by(
            Coalesce("absence_rate", Value(0.0)).desc(),
            *(f"student__{field}" for field in NAME_ORDER),
            "student_id",
        )
    )
    return [_attendance(row) for row in rows[:count]]


def order_by_attendance(
    user, students: QuerySet[Student], *, figure: str, descending: bool
) -> QuerySet[Student]:
    """`students` the user may see, ordered by a figure of their summary, then by name.

    Students without a summary (not enrolled this year, or none computed) come last
    either way.
    """
    if figure not in SORTABLE_FIGURES:
        raise ValueError(f"cannot sort students by {figure!r}")
    # The outer filter keeps to visible students, so the summary each one is sorted by is
    # a visible student's own.
    visible = students.filter(pk__in=visible_students(user).values("pk"))
    summary = StudentSummary.objects.filter(school__isnull=True, student=OuterRef("pk"))
    ordered = visible.annotate(sort_figure=Subquery(summary.values(figure)[:1]))
    first = (
        F("sort_figure").desc(nulls_last=True)
        if descending
        else F("sort_figure").asc(nulls_last=True)
    )
    return ordered.order_by(first, *NAME_ORDER, "pk")


# Aggregates of summary rows, named apart from the fields they sum.
FIGURES = {
    "total_students": Count("pk"),
    "total_counted": Count("pk", filter=Q(counted=True)),
    "total_enrolled": Coalesce(Sum("days_enrolled"), 0),
    "total_absent": Coalesce(Sum("days_absent"), Value(0.0), output_field=FloatField()),
    "total_chronic": Count("pk", filter=Q(counted=True, chronic=True)),
}


def _summarize(school: School | None, figures: dict) -> SchoolAttendance:
    enrolled, absent = figures["total_enrolled"], round(figures["total_absent"], 3)
    counted, chronic = figures["total_counted"], figures["total_chronic"]
    return SchoolAttendance(
        school=school,
        students=figures["total_students"],
        counted=counted,
        days_enrolled=enrolled,
        days_absent=absent,
        attendance_rate=1 - absent / enrolled if enrolled else None,
        chronic_count=chronic,
        chronic_rate=chronic / counted if counted else None,
    )


def school_attendance(user) -> list[SchoolAttendance]:
    """Per school, by name: ADA and chronic absence of the visible students enrolled there.

    A student who attended two schools counts at each, with their days at that school.
    """
    rows = (
        _visible_summaries(user)
        .filter(school__isnull=False)
        .values("school")
        .annotate(**FIGURES)
        .order_by()
    )
    by_school = {row["school"]: row for row in rows}
    schools = School.objects.in_bulk(list(by_school))
    summaries = [_summarize(schools[pk], figures) for pk, figures in by_school.items()]
    return sorted(summaries, key=lambda row: (row.school.name, row.school.pk))


def attendance_at_schools(user, *, schools: list[School]) -> SchoolAttendance:
    """The visible students' attendance at `schools` only: the sum of those schools' rows.

    A student at two of them counts at each with their days there, as in the rows; their
    days at any other school are not counted.
    """
    rows = _visible_summaries(user).filter(school__in=[school.pk for school in schools])
    return _summarize(schools[0] if len(schools) == 1 else None, rows.aggregate(**FIGURES))


def district_attendance(user) -> SchoolAttendance:
    """All visible students, each counted once over all their schools."""
    figures = _visible_summaries(user).filter(school__isnull=True).aggregate(**FIGURES)
    return _summarize(None, figures)


def attendance_of_student(access: StudentAccess) -> StudentYear:
    """One student's summaries this year: overall, and per school by the school's name."""
    rows = (
        StudentSummary.objects.filter(student=access.student)
        .select_related("student", "school")
        .order_by(F("school__name").asc(nulls_first=True), "school_id")
    )
    overall, schools = None, []
    for row in rows:
        if row.school_id is None:
            overall = _attendance(row)
        else:
            schools.append(_attendance(row))
    return StudentYear(overall=overall, schools=schools)


@dataclass(frozen=True)
class MonthAttendance:
    """One student's days enrolled and absent in one month."""

    month: dt.date
    days_enrolled: int
    days_absent: float


def absences_by_month(
    access: StudentAccess, *, school_year: SchoolYear, as_of: dt.date, profile: RuleProfile
) -> list[MonthAttendance]:
    """One student's days enrolled and absent per month of the year, up to `as_of`.

    The days are the metric definitions' (`definitions.student_months`), run on the
    database for this student only: the months add up to the summary under any profile.
    """
    engine = database_engine(school_year.district, since=school_year.start_date)
    facts = definitions.only_students(engine.facts, [access.student.pk])
    window = definitions.Window(
        school_year_id=school_year.pk,
        start=school_year.start_date,
        as_of=min(as_of, school_year.end_date),
        year_end=school_year.end_date,
    )
    rows = engine.run(definitions.student_months(facts, profile, window)).to_pylist()
    return [
        MonthAttendance(
            month=dt.date(row["year"], row["month"], 1),
            days_enrolled=row["days_enrolled"],
            days_absent=row["days_absent"],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class SchoolDay:
    """One counted (instructional) school day of a student's enrollment, and the share of
    it the rule profile counts absent (0 to 1)."""

    date: dt.date
    absent: float


def school_days_of_students(
    user, student_ids: list[int], *, school_year: SchoolYear, start: dt.date, as_of: dt.date
) -> dict[int, list[SchoolDay]]:
    """Per visible student of `student_ids`, their counted school days from `start` to
    `as_of` (within `school_year`), in date order, each with its absence.

    The days are the metric definitions' (`definitions.student_days`) under the district's
    rule profile, so they are the summaries' days: instructional days of the student's
    school calendar, within an enrollment span, not after the school's `recorded_through`,
    absences by the profile's categories and partial-day rule. A day at two schools is
    listed at each, as the summaries count it. Students the user may not see are left out.
    """
    visible = visible_students(user, on=as_of).filter(pk__in=student_ids)
    ids = sorted(visible.values_list("pk", flat=True))
    as_of = min(as_of, school_year.end_date)
    start = max(start, school_year.start_date)
    if not ids or start > as_of:
        return {}
    profile = load_rule_profile(school_year.district.rule_profile)
    engine = database_engine(school_year.district, since=school_year.start_date)
    facts = definitions.only_students(engine.facts, ids)
    window = definitions.Window(
        school_year_id=school_year.pk, start=start, as_of=as_of, year_end=school_year.end_date
    )
    rows = engine.run(definitions.student_days(facts, profile, window, ids)).to_pylist()
    days: dict[int, list[SchoolDay]] = {pk: [] for pk in ids}
    for row in rows:
        if row["instructional"]:
            days[row["student_id"]].append(SchoolDay(date=row["date"], absent=row["absent"]))
    for listed in days.values():
        listed.sort(key=lambda day: day.date)
    return days


@dataclass(frozen=True)
class TierMove:
    """A student's tier moving, in words: from one tier to another on a day."""

    student_id: int
    on: dt.date
    from_tier: str
    to_tier: str
    raised: bool

    @property
    def summary(self) -> str:
        return f"{self.from_tier} to {self.to_tier}"


def tier_moves(
    user, student_ids: list[int], *, since: dt.date | None = None, until: dt.date | None = None
) -> list[TierMove]:
    """The tier changes of the visible students among `student_ids` recorded by the
    refreshes (after `since`, up to `until`), oldest first, tiers named by the district's
    rule profile (a tier it no longer has by its stored name)."""
    rows = TierChange.objects.filter(
        student_id__in=student_ids, student__in=visible_students(user).values("pk")
    )
    if since is not None:
        rows = rows.filter(on__gt=since)
    if until is not None:
        rows = rows.filter(on__lte=until)
    try:
        labels = {t.name: t.label for t in load_rule_profile(user.district.rule_profile).tiers}
    except RuleProfileError:
        labels = {}
    return [
        TierMove(
            row.student_id,
            row.on,
            labels.get(row.from_tier, row.from_tier),
            labels.get(row.to_tier, row.to_tier),
            row.raised,
        )
        for row in rows.order_by("on", "pk")
    ]
