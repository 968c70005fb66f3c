"""Reads of truancy escalation: the district's pack, the year's counted absences (read
once for the whole district), the steps recorded so far, a school's queue and one step.
Student data only through the gatekeeper (`homeroom.access`)."""

import bisect
import datetime as dt
import functools
from dataclasses import dataclass

from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    Q,
    Sum,
    Value,
    When,
)

from homeroom.access.gatekeeper import visible_students
from homeroom.access.truancy import StepAccess, access_step, reads_school_queue
from homeroom.attendance.models import AttendanceEvent
from homeroom.core.models import CalendarDate, District, School, SchoolYear
from homeroom.core.selectors import counted_calendars, district_today
from homeroom.metrics.models import StudentSummary
from homeroom.roster.models import StudentCharacteristic, StudentGuardian
from homeroom.truancy.evaluation import Absence, Recorded
from homeroom.truancy.models import DistrictPack, TruancyStep
from homeroom.truancy.packs import Pack, PackError, load_pack, read_pack


def district_pack(district: District) -> tuple[Pack, str] | None:
    """The pack the district follows and the label its steps record, or None if it has
    chosen none yet; `PackError` if its copy no longer reads (the nightly step fails with
    it, and the pages say so)."""
    chosen = DistrictPack.objects.filter(district=district).first()
    if chosen is None:
        return None
    if not chosen.text.strip():
        pack = load_pack(chosen.based_on)
        return pack, pack.label
    pack = read_pack(chosen.text)
    return pack, f"{pack.label}, district copy r{chosen.revision}"


def source_of(absence: Absence) -> str:
    """Where an absence came from, in words: 'import run 12 (attendance.csv, line 4)'."""
    with_line, without_line = source_parts(absence.run_id, absence.file)
    return f"{with_line[0]}line {absence.line}{with_line[1]}" if absence.line else without_line


@functools.lru_cache(maxsize=1024)
def source_parts(run_id: int | None, file: str) -> tuple[tuple[str, str], str]:
    """The words of a source around its line ('import run 12 (attendance.csv, ' and ')'),
    and the words without a line: made once per import run and file, not once per absence
    (a first night writes the sources of hundreds of thousands of absences)."""
    if run_id is None:
        return (f"{file}, " if file else "", ""), file or "entered by hand"
    run = f"import run {run_id}"
    return (f"{run} ({file}, " if file else f"{run} (", ")"), f"{run} ({file})" if file else run


def _counted_events(district: District, pack: Pack, *, start: dt.date, end: dt.date):
    """The district's events from `start` to `end` that the pack counts: its full-day
    categories whatever the minutes, its part-day ones over its minutes."""
    counts = Q(code__category__in=pack.full_day_categories)
    if pack.part_day_categories:
        counts |= Q(
            code__category__in=pack.part_day_categories,
            minutes_missed__gt=pack.part_day_minutes_over,
        )
    return AttendanceEvent.objects.filter(
        counts, school__district=district, date__gte=start, date__lte=end
    )


def counted_summaries(
    district: District, pack: Pack, *, start: dt.date, end: dt.date
) -> dict[int, tuple]:
    """Per student, a summary of the events the pack counts, aggregated by the database (one
    row a student, not one an event): how many, the sums of their ids, of their codes' ids
    and of the two multiplied. A new, removed or re-coded event changes it; the night
    compares it with the last night's to find whom to evaluate."""
    pk_times_code = ExpressionWrapper(F("pk") * F("code_id"), output_field=BigIntegerField())
    rows = (
        _counted_events(district, pack, start=start, end=end)
        .order_by()
        .values("student_id")
        .annotate(n=Count("pk"), ids=Sum("pk"), codes=Sum("code_id"), mixed=Sum(pk_times_code))
        .values_list("student_id", "n", "ids", "codes", "mixed")
    )
    return {row[0]: row[1:] for row in rows}


def counted_absences(
    district: District,
    pack: Pack,
    *,
    start: dt.date,
    end: dt.date,
    student_ids: list[int] | None = None,
) -> list[Absence]:
    """Every event of the district from `start` to `end` that the pack counts, in one query
    (the categories and the part-day minutes filtered, and the rows ordered, by the
    database): by student and date, a date's full-day event first, so that it is the
    day's evidence."""
    events = _counted_events(district, pack, start=start, end=end)
    if student_ids is not None:
        events = events.filter(student_id__in=student_ids)
    part_day_last = Case(
        When(code__category__in=pack.full_day_categories, then=Value(0)), default=Value(1)
    )
    rows = events.order_by("student_id", "date", part_day_last, "pk").values_list(
        "student_id",
        "pk",
        "date",
        "code__code",
        "code__category",
        "minutes_missed",
        "school_id",
        "source_run_id",
        "source_file",
        "source_line",
    )
    return list(map(Absence._make, rows))


# Up to this many students, their rows are read by a list of ids; above, the district's
# rows are read at once and the students' kept (PostgreSQL plans a long list of ids slowly).
FEW_STUDENTS = 2_000


def of_students(queryset, students: set[int], field: str = "student_id"):
    """The `students`' rows by a list of ids when they are few; else all (the caller keeps
    the students')."""
    if len(students) <= FEW_STUDENTS:
        return queryset.filter(**{f"{field}__in": sorted(students)})
    return queryset


def recorded_steps(year: SchoolYear) -> dict[int, dict[str, Recorded]]:
    """Each student's steps recorded in the year, by key."""
    recorded: dict[int, dict[str, Recorded]] = {}
    rows = TruancyStep.objects.filter(school_year=year).values_list(
        "student_id", "key", "status", "sent_on"
    )
    for student, key, status, sent_on in rows:
        recorded.setdefault(student, {})[key] = Recorded(status, sent_on)
    return recorded


def days_enrolled(year: SchoolYear) -> dict[int, int]:
    """Each student's days enrolled in the district this year, as the last refresh counted
    them (the materialized summaries: a rate step reads no calendar)."""
    rows = StudentSummary.objects.filter(school_year=year, school__isnull=True)
    return dict(rows.values_list("student_id", "days_enrolled"))


def characteristics_on(student_ids: list[int], on: dt.date) -> dict[int, set[str]]:
    """The characteristics each student holds on `on`."""
    held: dict[int, set[str]] = {}
    wanted = set(student_ids)
    rows = of_students(
        StudentCharacteristic.objects.filter(
            Q(end_date__isnull=True) | Q(end_date__gte=on), start_date__lte=on
        ),
        wanted,
    ).values_list("student_id", "kind")
    for student, kind in rows:
        if student in wanted:
            held.setdefault(student, set()).add(kind)
    return held


def school_days(year: SchoolYear, school_ids: set[int]) -> dict[int, list[dt.date]]:
    """Each school's counted days of the year on its calendar, in order (read at once for
    every school a night's steps need a deadline at)."""
    days: dict[int, list[dt.date]] = {school: [] for school in school_ids}
    rows = (
        CalendarDate.objects.filter(
            calendar__in=counted_calendars().filter(school_id__in=school_ids, school_year=year),
            kind__in=CalendarDate.COUNTED_KINDS,
        )
        .order_by("date")
        .values_list("calendar__school_id", "date")
    )
    for school, day in rows:
        days[school].append(day)
    return days


def school_days_after(days: list[dt.date], day: dt.date, count: int) -> dt.date:
    """The `count`-th of a school's days (`school_days`) after `day` (a calendar that ends
    sooner: counted on in weekdays)."""
    later = days[bisect.bisect_right(days, day) :][:count]
    last = later[-1] if later else day
    while len(later) < count:
        last += dt.timedelta(days=1)
        if last.weekday() < 5:
            later.append(last)
    return later[count - 1]


def notice_guardian(student):
    """Who a notice is addressed to: the first guardian by contact priority who may be
    contacted (rights to the student's records, not marked no-contact); None if none may."""
    link = (
        StudentGuardian.objects.filter(student=student, contact_rights=True, no_contact=False)
        .select_related("guardian")
        .order_by("contact_priority", "pk")
        .first()
    )
    return link.guardian if link is not None else None


def family_language(guardian, student) -> tuple[str, str]:
    """The language to write to the family in and the guardian's name: the notice's
    guardian's, else the student's home language and no name ('Parent or guardian')."""
    if guardian is None:
        return student.home_language, ""
    return guardian.preferred_language, f"{guardian.first_name} {guardian.last_name}".strip()


@dataclass(frozen=True)
class Queue:
    """A school's escalation queue, in the order the attendance team works it."""

    school: School
    on: dt.date
    awaiting: list[TruancyStep]
    review: list[TruancyStep]
    blocked: list[TruancyStep]
    approved: list[TruancyStep]
    sent: list[TruancyStep]
    overdue: list[TruancyStep]


def _steps_seen(user):
    return TruancyStep.objects.filter(student__in=visible_students(user)).select_related(
        "student", "school"
    )


def school_queue(user, *, school_id: int | None) -> Queue | None:
    """The escalation queue of a school the user reads (their first school by default), of
    the students they may see; None if there is none they read."""
    schools = School.objects.filter(district_id=user.district_id).order_by("name")
    if school_id is not None:
        schools = schools.filter(pk=school_id)
    school = next((s for s in schools if reads_school_queue(user, s)), None)
    if school is None:
        return None
    today = district_today(school.district)
    steps = list(_steps_seen(user).filter(school=school).order_by("eligible_on", "pk"))
    status = TruancyStep.Status

    def having(*statuses):
        return [step for step in steps if step.status in statuses]

    return Queue(
        school=school,
        on=today,
        awaiting=having(status.ELIGIBLE),
        review=having(status.REVIEW),
        blocked=having(status.BLOCKED),
        approved=having(status.APPROVED),
        sent=sorted(having(status.SENT), key=lambda s: s.sent_on, reverse=True)[:50],
        overdue=[s for s in steps if s.pending and s.due_on is not None and s.due_on < today],
    )


def queue_schools(user) -> list[School]:
    """The schools whose queue the user reads."""
    schools = School.objects.filter(district_id=user.district_id).order_by("name")
    return [school for school in schools if reads_school_queue(user, school)]


def overdue_steps(user) -> list[TruancyStep]:
    """Pending steps past their deadline, of the students the user sees, at the schools
    whose queue they read (the attendance team's home page)."""
    schools = [school.pk for school in queue_schools(user)]
    if not schools:
        return []
    today = district_today(user.district)
    pending = [TruancyStep.Status.ELIGIBLE, TruancyStep.Status.REVIEW, TruancyStep.Status.APPROVED]
    return list(
        _steps_seen(user)
        .filter(school_id__in=schools, status__in=pending, due_on__lt=today)
        .order_by("due_on", "pk")
    )


def step_with_access(user, step_id: int) -> tuple[TruancyStep, StepAccess]:
    """A step the user may see, with what they may do with it; else `StepNotFound`."""
    step = (
        TruancyStep.objects.filter(pk=step_id, student__district_id=user.district_id)
        .select_related("student", "school", "school_year", "case")
        .first()
    )
    approvers = _approvers(step) if step is not None else frozenset()
    return step, access_step(user, step, approvers=approvers)


def _approvers(step: TruancyStep) -> frozenset[str]:
    """Who approves the step under the district's pack as it is now."""
    try:
        chosen = district_pack(step.student.district)
    except PackError:
        return frozenset()  # a copy the shipped pack no longer fits: fixed before deciding
    if chosen is None:
        return frozenset()
    found = chosen[0].step(step.key)
    # A step the district's pack no longer has is decided by nobody.
    return found.approvers if found is not None else frozenset()
