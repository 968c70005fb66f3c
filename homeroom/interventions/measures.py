"""Process measures: is the school following through on its flags and cases?

Over a window of dates (`start` to `end`, counted up to `as_of`), per district, school and
staff member (docs/interventions.md, "Process measures", defines each exactly):

- days to first contact: for each student first flagged in the window (an early-warning
  flag, not a case flag), the school days after the flag up to and including the first
  family contact logged on or after it; the median over the students contacted by `as_of`;
- reached within 10 school days: of the students first flagged in the window whose 10th
  school day after the flag has come by `as_of`, the share with a family contact or an
  intervention started on or before that day;
- follow-ups done on time: of the follow-ups due in the window whose due date has passed
  by `as_of` (or that are done), the share done on or before the due date;
- plans reviewed on time: the same for attendance plans and their review dates;
- open cases: cases open on `as_of`.

Each is a few set-wise SQL queries over the district's rows (no query per student); Python
matches the students' rows, counts school days on the calendars read once, and groups.
Struck-through records do not count. Staff are listed by name, never ranked.
"""

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, Min, OuterRef, Q, QuerySet

from homeroom.access.gatekeeper import visible_students
from homeroom.accounts.models import Role, User
from homeroom.core.models import School
from homeroom.core.selectors import district_today
from homeroom.interventions.flags import CASE_FLAG_KINDS, SchoolDays
from homeroom.interventions.models import (
    AttendancePlan,
    Case,
    FamilyContact,
    FollowUp,
    Intervention,
)
from homeroom.roster.models import Enrollment
from homeroom.warnings.models import Flag

REACH_WITHIN_SCHOOL_DAYS = 10


@dataclass
class Measures:
    """The process measures of one group (district, school or staff member)."""

    flagged: int = 0
    contacted: int = 0
    days_to_contact: list[int] = field(default_factory=list, repr=False)
    reach_due: int = 0
    reached_in_time: int = 0
    follow_ups_due: int = 0
    follow_ups_on_time: int = 0
    plans_due: int = 0
    plans_on_time: int = 0
    open_cases: int = 0

    @property
    def median_days_to_contact(self) -> float | None:
        """Median school days from flag to first contact (None: nobody contacted yet)."""
        return statistics.median(self.days_to_contact) if self.days_to_contact else None

    @property
    def share_reached_in_time(self) -> float | None:
        """Share of flagged students reached within 10 school days (None: none due yet)."""
        return self.reached_in_time / self.reach_due if self.reach_due else None

    @property
    def share_follow_ups_on_time(self) -> float | None:
        """Share of follow-ups due that were done on time (None: none due)."""
        return self.follow_ups_on_time / self.follow_ups_due if self.follow_ups_due else None

    @property
    def share_plans_on_time(self) -> float | None:
        """Share of plan reviews due that were done on time (None: none due)."""
        return self.plans_on_time / self.plans_due if self.plans_due else None


@dataclass(frozen=True)
class ProcessMeasures:
    """The measures for the district (or the schools the user serves), each school, and
    (for district staff) each case manager or follow-up owner, by name."""

    start: dt.date
    end: dt.date
    as_of: dt.date
    overall: Measures
    schools: list[tuple[School, Measures]]
    staff: list[tuple[User, Measures]]


def _first_flags(
    district_id: int, students: QuerySet, start: dt.date, end: dt.date, as_of: dt.date
) -> list[tuple]:
    """Each student first flagged in the window, one row each: (school_id then, manager_id,
    first_contact_on, first_intervention_on, days_to_contact, tenth_day).

    Set-wise: one query per kind of row, matched to the students in Python. Correlated
    subqueries per student (the school then, the first contact, the school days counted on
    the calendar) cost seconds at 50,000 students (docs/benchmarks.md, "Interventions").
    School days are only read up to `as_of`: a 10th day after it is not due yet, and a
    contact after it is not counted, so nothing later changes a measure."""
    window = Flag.objects.filter(raised_on__gte=start, raised_on__lte=end).exclude(
        kind__in=CASE_FLAG_KINDS
    )
    warnings = window.filter(student__in=students)
    flagged = dict(
        warnings.order_by()
        .values("student")
        .annotate(on=Min("raised_on"))
        .values_list("student", "on")
    )
    if not flagged:
        return []
    ids = warnings.values("student")
    # The enrollment holding the flag's date, the latest begun (then the latest row) if two.
    school_then: dict[int, int] = {}
    for student_id, school_id, entry, left in (
        Enrollment.objects.filter(student__in=ids)
        .order_by("student", "entry_date", "pk")
        .values_list("student", "school", "entry_date", "exit_date")
    ):
        on = flagged[student_id]
        if entry <= on and (left is None or left >= on):
            school_then[student_id] = school_id

    def first_after_flag(model, field: str) -> dict[int, dt.date]:
        # A record on or after the student's first flag is one on or after any flag of the
        # window: an Exists the database answers with one semi-join for every student.
        after = window.filter(student=OuterRef("student"), raised_on__lte=OuterRef(field))
        rows = model.objects.filter(Exists(after), struck_on__isnull=True, student__in=ids)
        return dict(
            rows.order_by().values("student").annotate(on=Min(field)).values_list("student", "on")
        )

    contacts = first_after_flag(FamilyContact, "contacted_on")
    interventions = first_after_flag(Intervention, "started_on")
    manager = dict(  # the latest case's (the last row per student wins)
        Case.objects.filter(student__in=ids)
        .order_by("student", "opened_on", "pk")
        .values_list("student", "case_manager")
    )
    calendar = SchoolDays(district_id, since=min(flagged.values()), through=as_of)
    rows = []
    for student_id, flagged_on in flagged.items():
        school_id = school_then.get(student_id)
        contact_on = contacts.get(student_id)
        to_contact = calendar.between(school_id, flagged_on, contact_on) if contact_on else 0
        rows.append(
            (
                school_id,
                manager.get(student_id),
                contact_on,
                interventions.get(student_id),
                to_contact,
                calendar.nth_after(school_id, flagged_on, REACH_WITHIN_SCHOOL_DAYS),
            )
        )
    return rows


def _measure(
    district_id: int, students: QuerySet, start: dt.date, end: dt.date, as_of: dt.date
) -> tuple[Measures, dict[int, Measures], dict[int, Measures]]:
    overall = Measures()
    schools: dict[int, Measures] = defaultdict(Measures)
    staff: dict[int, Measures] = defaultdict(Measures)

    def each(school_id, user_id):
        groups = [overall]
        if school_id is not None:
            groups.append(schools[school_id])
        if user_id is not None:
            groups.append(staff[user_id])
        return groups

    for school_id, manager_id, contact_on, action_on, days, tenth in _first_flags(
        district_id, students, start, end, as_of
    ):
        contacted = contact_on is not None and contact_on <= as_of
        first_action = min((d for d in (contact_on, action_on) if d is not None), default=None)
        for group in each(school_id, manager_id):
            group.flagged += 1
            if contacted:
                group.contacted += 1
                group.days_to_contact.append(days)
            if tenth is not None and tenth <= as_of:
                group.reach_due += 1
                if first_action is not None and first_action <= tenth:
                    group.reached_in_time += 1
    cases = Case.objects.filter(student__in=students)
    follow_ups = FollowUp.objects.filter(
        Q(due_on__lt=as_of) | Q(done_on__isnull=False, done_on__lte=as_of),
        case__in=cases,
        struck_on__isnull=True,
        due_on__gte=start,
        due_on__lte=end,
    )
    for school_id, owner_id, due_on, done_on in follow_ups.values_list(
        "case__school", "owner", "due_on", "done_on"
    ):
        for group in each(school_id, owner_id):
            group.follow_ups_due += 1
            group.follow_ups_on_time += done_on is not None and done_on <= due_on
    plans = AttendancePlan.objects.filter(
        Q(review_on__lt=as_of) | Q(reviewed_on__isnull=False, reviewed_on__lte=as_of),
        case__in=cases,
        struck_on__isnull=True,
        review_on__gte=start,
        review_on__lte=end,
    )
    for school_id, manager_id, review_on, reviewed_on in plans.values_list(
        "case__school", "case__case_manager", "review_on", "reviewed_on"
    ):
        for group in each(school_id, manager_id):
            group.plans_due += 1
            group.plans_on_time += reviewed_on is not None and reviewed_on <= review_on
    open_cases = cases.filter(
        Q(closed_on__isnull=True) | Q(closed_on__gt=as_of), opened_on__lte=as_of
    )
    for school_id, manager_id in open_cases.values_list("school", "case_manager"):
        for group in each(school_id, manager_id):
            group.open_cases += 1
    return overall, schools, staff


def process_measures(
    user, *, start: dt.date, end: dt.date, as_of: dt.date | None = None
) -> ProcessMeasures:
    """The process measures over the window for the students `user` sees: district staff
    get every school and staff member (by name); principals the schools they serve."""
    if not (user.is_district_wide or user.role == Role.PRINCIPAL):
        raise PermissionDenied("District staff and principals see process measures.")
    as_of = as_of or district_today(user.district)
    students = visible_students(user, on=as_of)
    overall, by_school, by_staff = _measure(user.district_id, students, start, end, as_of)
    schools = School.objects.filter(district_id=user.district_id)
    if not user.is_district_wide:
        schools = schools.filter(pk__in=user.schools.all())
    staff = []
    if user.is_district_wide:
        named = User.objects.filter(pk__in=by_staff).order_by("last_name", "first_name", "username")
        staff = [(member, by_staff[member.pk]) for member in named]
    return ProcessMeasures(
        start=start,
        end=end,
        as_of=as_of,
        overall=overall,
        schools=[(school, by_school.get(school.pk, Measures())) for school in schools],
        staff=staff,
    )


def my_follow_through(
    user, *, start: dt.date, end: dt.date, as_of: dt.date | None = None
) -> Measures:
    """The user's own measures over the window (their cases, follow-ups and plans), for
    themselves: never beside anyone else's."""
    as_of = as_of or district_today(user.district)
    students = visible_students(user, on=as_of)
    _, _, by_staff = _measure(user.district_id, students, start, end, as_of)
    return by_staff.get(user.pk, Measures())
