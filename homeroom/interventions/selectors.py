"""Reads of case management for the requesting user: cases, a case file, a student's
timeline, my caseload, caseload balancing, the team meeting agenda, the playbook.

Lists start from the gatekeeper's `visible_students(user)` as a SQL filter; one case goes
through `access_case`, which also says whether its confidential notes may be read.
Reading a case file is audited by `actions.do_view_case`, which calls `case_file` here.
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from django.db import connection, models
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils.translation import gettext

from homeroom.access.cases import CaseAccess, access_case, of_visible_students
from homeroom.access.gatekeeper import StudentAccess, access_student, visible_students
from homeroom.accounts.models import Role, User
from homeroom.attendance.selectors import student_events
from homeroom.core.selectors import current_school_year, district_today
from homeroom.interventions.models import (
    ActionItem,
    AttendancePlan,
    Barrier,
    Case,
    CaseBarrier,
    CaseEvent,
    CaseNote,
    FamilyContact,
    FollowUp,
    Intervention,
    InterventionType,
    Partner,
    Referral,
    SisInterventionMapping,
    TeamMeeting,
)
from homeroom.interventions.playbook import (
    BarrierEntry,
    InterventionEntry,
    Playbook,
    write_playbook,
)
from homeroom.metrics import display
from homeroom.metrics.selectors import tier_moves
from homeroom.roster.models import Enrollment, SisIntervention, Student
from homeroom.warnings.models import Flag

# A Tier 3 case asks more of its manager than a Tier 2 or Tier 1 case: it weighs double
# when caseloads are balanced.
CASELOAD_WEIGHTS = {1: 1, 2: 1, 3: 2}
# Flags raised within these days count as new on "my caseload" and team meeting pages.
NEW_FLAG_DAYS = 14
# Plans whose review falls within these days come up at the team meeting.
REVIEW_AHEAD_DAYS = 7


@dataclass(frozen=True)
class TimelineEntry:
    """One dated line of a student's timeline."""

    on: dt.date
    kind: str
    label: str
    summary: str
    case_id: int | None = None
    by: str = ""
    source: str = ""  # where an entry Homeroom did not record comes from ("from the SIS, ...")


@dataclass(frozen=True)
class SisInterventionView:
    """An intervention from the SIS as Homeroom shows it: the record, the playbook entry its
    code maps to (None: not in the playbook), and where it came from. Read-only."""

    record: SisIntervention
    kind: InterventionType | None

    @property
    def title(self) -> str:
        """The playbook entry's name, else the SIS's name for it, else its code."""
        return self.kind.name if self.kind else (self.record.name or self.record.code)

    @property
    def source(self) -> str:
        """'from the SIS, import run 12 (StudentIntervention.xml, line 98)'."""
        r = self.record
        run = f", import run {r.source_run_id}" if r.source_run_id else ""
        line = f", line {r.source_line}" if r.source_line else ""
        place = f" ({r.source_file}{line})" if r.source_file else ""
        return f"from the SIS{run}{place}"


@dataclass(frozen=True)
class SisCode:
    """An intervention code of the SIS and the playbook entry it is shown as (None: none)."""

    code: str
    name: str
    kind: InterventionType | None
    mapped: bool  # by the district's mapping, not by a key or name reading the same


@dataclass(frozen=True)
class CaseFile:
    """A case as one user may read it; `confidential_notes` is empty unless they may."""

    case: Case
    access: CaseAccess
    barriers: list[CaseBarrier]
    plans: list[AttendancePlan]
    interventions: list[Intervention]
    follow_ups: list[FollowUp]
    contacts: list[FamilyContact]
    notes: list[CaseNote]
    confidential_notes: list[CaseNote]
    referrals: list[Referral]
    timeline: list[TimelineEntry]
    suggested_interventions: list[InterventionType]


@dataclass(frozen=True)
class CaseStatus:
    """What a teacher sees of a student's case: no notes, no barriers, no plan."""

    case_id: int
    status: str
    tier: int
    opened_on: dt.date
    case_manager: str
    next_follow_up_on: dt.date | None


@dataclass(frozen=True)
class Caseload:
    """A staff member's home page: open cases, follow-ups due today and overdue, and new
    flags among the students they see who have no case."""

    on: dt.date
    cases: list[Case]
    due_today: list[FollowUp]
    overdue: list[FollowUp]
    flagged_without_case: list[Student]


@dataclass(frozen=True)
class StaffCaseload:
    """An eligible case manager's open cases and their weight (`CASELOAD_WEIGHTS`)."""

    user: User
    open_cases: int
    weighted: int


@dataclass(frozen=True)
class StudentOfConcern:
    """A student the team meeting discusses, why, and what was tried since the last one."""

    student: Student
    reasons: list[str]
    case: Case | None
    tried: list[TimelineEntry] = field(default_factory=list)  # oldest first

    @property
    def tried_summary(self) -> str:
        """What was tried, counted by kind, most first: "Family contact (3) · Follow-up done
        (1)". The agenda shows this and the latest entry; the rest is on the timeline (a
        large school's agenda listed over a thousand entries, most of its time and length)."""
        counts = Counter(entry.label for entry in self.tried)
        return " · ".join(f"{label} ({n})" for label, n in counts.most_common())

    @property
    def latest_tried(self) -> TimelineEntry | None:
        return self.tried[-1] if self.tried else None


@dataclass(frozen=True)
class TeamMeetingAgenda:
    """A school's attendance team (SART) meeting data for a date."""

    school_id: int
    on: dt.date
    since: dt.date
    students: list[StudentOfConcern]
    open_action_items: list[ActionItem]


def visible_cases(user) -> QuerySet[Case]:
    """The cases of the students `user` may see, newest first."""
    return of_visible_students(user, Case.objects.all()).select_related(
        "student", "case_manager", "school"
    )


def _live(rows: QuerySet) -> QuerySet:
    return rows.filter(struck_on__isnull=True)


def _name(user: User | None) -> str:
    return (user.get_full_name() or user.username) if user else ""


def _name_fields(user_field: str) -> tuple[str, ...]:
    """The fields `_name_of` takes, of the user a row's `user_field` names."""
    return tuple(f"{user_field}__{name}" for name in ("first_name", "last_name", "username"))


def _name_of(first_name: str | None, last_name: str | None, username: str | None) -> str:
    """`_name` of a user read as values (`_name_fields`); empty when there is none."""
    if username is None:  # no user: the field was empty
        return ""
    return f"{first_name} {last_name}".strip() or username


def _case_events(student_id: int, readable_cases: set[int]) -> list[TimelineEntry]:
    """The student's case events; confidential ones only of the cases in `readable_cases`."""
    events = CaseEvent.objects.filter(student_id=student_id).select_related("by")
    events = events.filter(Q(confidential=False) | Q(case_id__in=readable_cases))
    return [
        TimelineEntry(
            on=event.on,
            kind=event.kind,
            label=event.get_kind_display(),
            summary=event.summary,
            case_id=event.case_id,
            by=_name(event.by),
        )
        for event in events
    ]


def _flag_events(student_id: int) -> list[TimelineEntry]:
    entries = []
    for flag in Flag.objects.filter(student_id=student_id):
        label = flag.get_kind_display()
        entries.append(TimelineEntry(flag.raised_on, "flag_raised", gettext("Flag raised"), label))
        if flag.cleared_on is not None:
            entries.append(
                TimelineEntry(flag.cleared_on, "flag_cleared", gettext("Flag cleared"), label)
            )
    return entries


def _attendance_weeks(user, access: StudentAccess) -> list[TimelineEntry]:
    """The student's attendance events of the current year, a line a week (dated its
    Monday), e.g. "Unexcused absence 2, Tardy 1": what the SIS recorded, not what the
    rule profile counts (the student page's months and figures say that)."""
    year = current_school_year(user.district_id, district_today(user.district))
    if year is None:
        return []
    weeks: dict[dt.date, Counter] = {}
    for event in student_events(access, school_year=year):
        monday = event.date - dt.timedelta(days=event.date.weekday())
        weeks.setdefault(monday, Counter())[event.code.get_category_display()] += 1
    return [
        TimelineEntry(
            monday,
            "attendance_week",
            gettext("Attendance"),
            gettext("Week of %(monday)s: %(counts)s")
            % {
                "monday": display.date(monday),
                "counts": ", ".join(f"{label} {n}" for label, n in sorted(counts.items())),
            },
        )
        for monday, counts in weeks.items()
    ]


def _tier_events(user, student_id: int) -> list[TimelineEntry]:
    return [
        TimelineEntry(move.on, "tier_change", gettext("Tier change"), move.summary)
        for move in tier_moves(user, [student_id])
    ]


def _normal(text: str) -> str:
    """A code or name as matching reads it: letters and digits, lower case."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _playbook_entries_for(district_id: int, pairs: set[tuple[str, str]]) -> dict[str, SisCode]:
    """The playbook entry each (code, name) of the SIS is shown as: the district's mapping of
    the code, else an entry whose key or name reads as the code, else as the SIS's name.
    Offered entries match before retired ones; an entry matched by reading is the first by
    name."""
    mapped = {
        m.code: m.kind
        for m in SisInterventionMapping.objects.filter(district_id=district_id).select_related(
            "kind"
        )
    }
    by_text: dict[str, InterventionType] = {}
    kinds = InterventionType.objects.filter(district_id=district_id)
    for kind in sorted(kinds, key=lambda k: (k.retired_on is not None, k.name, k.pk)):
        by_text.setdefault(_normal(kind.key), kind)
        by_text.setdefault(_normal(kind.name), kind)
    found: dict[str, SisCode] = {}
    for code, name in sorted(pairs, key=lambda pair: (pair[0], not pair[1], pair[1])):
        if code in found:  # a code is one entry: its first name read (a named row first)
            continue
        kind = mapped.get(code) or by_text.get(_normal(code))
        if kind is None and name:
            kind = by_text.get(_normal(name))
        found[code] = SisCode(code, name, kind, code in mapped)
    return found


def sis_interventions_of(user, *, student_id: int) -> list[SisInterventionView]:
    """A visible student's interventions from the SIS, first started first, each with the
    playbook entry it is shown as. They are the SIS's: no action changes them."""
    access_student(user, student_id)
    rows = list(SisIntervention.objects.filter(student_id=student_id).order_by("start_date", "pk"))
    codes = _playbook_entries_for(user.district_id, {(r.code, r.name) for r in rows})
    return [SisInterventionView(r, codes[r.code].kind) for r in rows]


def sis_intervention_codes(user, *, unmapped_only: bool = False) -> list[SisCode]:
    """The intervention codes the district's SIS has sent, by code, each with the playbook
    entry it is shown as; with `unmapped_only`, those shown as themselves (no entry)."""
    pairs = set(
        SisIntervention.objects.filter(student__district_id=user.district_id)
        .values_list("code", "name")
        .distinct()
    )
    codes = _playbook_entries_for(user.district_id, pairs).values()
    return [c for c in codes if not (unmapped_only and c.kind is not None)]


def _sis_events(user, student_id: int) -> list[TimelineEntry]:
    entries = []
    for sis in sis_interventions_of(user, student_id=student_id):
        r, what = sis.record, sis.title
        if sis.kind is None:
            what += " (not in the playbook)"
        elif sis.kind.name != (r.name or r.code):
            what += f" (SIS: {r.name or r.code})"
        entries.append(
            TimelineEntry(
                r.start_date, "sis_intervention", "Intervention (SIS)", what, source=sis.source
            )
        )
        if r.end_date is not None:
            entries.append(
                TimelineEntry(
                    r.end_date,
                    "sis_intervention_ended",
                    "Intervention ended (SIS)",
                    what,
                    source=sis.source,
                )
            )
    return entries


def student_timeline(user, *, student_id: int) -> list[TimelineEntry]:
    """One chronological list of a visible student's attendance by week, case events, flags
    raised and cleared, tier changes, and interventions from the SIS (with their source);
    confidential events only where the user reads the case's confidential notes."""
    access = access_student(user, student_id)
    readable = {
        case.pk
        for case in Case.objects.filter(student_id=student_id)
        if access_case(user, case).reads_confidential
    }
    entries = (
        _attendance_weeks(user, access)
        + _case_events(student_id, readable)
        + _flag_events(student_id)
        + _tier_events(user, student_id)
        + _sis_events(user, student_id)
    )
    return sorted(entries, key=lambda entry: entry.on)


def case_file(user, *, case: Case, access: CaseAccess) -> CaseFile:
    """Everything on a case `access` (from `access_case`) lets the user read. Views call
    `actions.do_view_case`, which audits the reading."""
    notes = list(_live(case.notes.select_related("author")))
    readable = access.reads_confidential
    return CaseFile(
        case=case,
        access=access,
        barriers=list(_live(case.barriers.select_related("barrier"))),
        plans=list(_live(case.plans.all())),
        interventions=list(_live(case.interventions.select_related("kind", "owner"))),
        follow_ups=list(_live(case.follow_ups.select_related("owner"))),
        contacts=list(_live(case.contacts.select_related("guardian", "recorded_by"))),
        notes=[note for note in notes if not note.confidential],
        confidential_notes=[note for note in notes if note.confidential] if readable else [],
        referrals=list(_live(case.referrals.select_related("partner"))),
        timeline=student_timeline(user, student_id=case.student_id),
        suggested_interventions=_suggested(case),
    )


def student_case_status(user, *, student_id: int) -> CaseStatus | None:
    """The status of a visible student's latest case, as anyone who sees them may know it."""
    access_student(user, student_id)
    cases = Case.objects.filter(student_id=student_id).select_related("case_manager")
    case = (
        cases.filter(status=Case.Status.OPEN).first() or cases.order_by("-opened_on", "-pk").first()
    )
    if case is None:
        return None
    due = _live(case.follow_ups.filter(done_on__isnull=True)).order_by("due_on").first()
    return CaseStatus(
        case_id=case.pk,
        status=case.status,
        tier=case.tier,
        opened_on=case.opened_on,
        case_manager=_name(case.case_manager),
        next_follow_up_on=due.due_on if due else None,
    )


def _open_follow_ups(user, students: QuerySet[Student] | None = None) -> QuerySet[FollowUp]:
    rows = _live(FollowUp.objects.filter(done_on__isnull=True, case__status=Case.Status.OPEN))
    return of_visible_students(
        user, rows, student_field="case__student", students=students
    ).select_related("case__student")


def cases_awaiting_manager(user) -> list[Case]:
    """For a principal, the open cases of their schools with no case manager yet (theirs to
    assign), highest tier first; for anyone else, none."""
    if user.role != Role.PRINCIPAL:
        return []
    return list(
        visible_cases(user)
        .filter(status=Case.Status.OPEN, case_manager__isnull=True, school__in=user.schools.all())
        .order_by("-tier", "opened_on", "pk")
    )


def my_caseload(user, *, on: dt.date | None = None) -> Caseload:
    """The user's open cases (with their next follow-up), their follow-ups due on `on` and
    overdue, and students they see with a flag raised in the last `NEW_FLAG_DAYS` days and
    no open case."""
    today = district_today(user.district)
    on = on or today
    # The students the user sees, built once for the three lists (building the gatekeeper's
    # filter is a good part of this page's time); cases and follow-ups as of today.
    seen = visible_students(user, on=today)
    seen_on = seen if on == today else visible_students(user, on=on)
    live = _live(FollowUp.objects.filter(case=OuterRef("pk"), done_on__isnull=True))
    # Counted per case by a subquery on the follow-ups' case index: a join and GROUP BY
    # over every column of the case, student, school and manager cost more.
    overdue = live.filter(due_on__lt=on).order_by().values("case").annotate(n=Count("pk"))
    cases = (
        of_visible_students(user, Case.objects.all(), students=seen)
        .select_related("student", "case_manager", "school")
        .filter(case_manager=user, status=Case.Status.OPEN)
        .annotate(
            overdue_follow_ups=Coalesce(
                Subquery(overdue.values("n"), output_field=IntegerField()), 0
            ),
            has_follow_up=Exists(live),
        )
        .order_by("-tier", "student__last_name", "student__first_name", "pk")
    )
    mine = _open_follow_ups(user, seen).filter(owner=user)
    recent = Flag.objects.filter(
        student=OuterRef("pk"),
        cleared_on__isnull=True,
        raised_on__gt=on - dt.timedelta(days=NEW_FLAG_DAYS),
    )
    open_case = Case.objects.filter(student=OuterRef("pk"), status=Case.Status.OPEN)
    flagged = (
        seen_on.filter(Exists(recent))
        .exclude(Exists(open_case))
        .order_by("last_name", "first_name", "pk")
    )
    return Caseload(
        on=on,
        cases=list(cases),
        due_today=list(mine.filter(due_on=on).order_by("pk")),
        overdue=list(mine.filter(due_on__lt=on).order_by("due_on", "pk")),
        flagged_without_case=list(flagged),
    )


def _suggested(case: Case) -> list[InterventionType]:
    barriers = _live(case.barriers.all()).values("barrier")
    kinds = InterventionType.objects.filter(
        district_id=case.student.district_id,
        retired_on__isnull=True,
        **{f"tier{case.tier}": True},
    )
    return list(
        kinds.annotate(
            matches=Count("barriers", filter=Q(barriers__in=barriers), distinct=True)
        ).order_by("-matches", "name", "pk")
    )


def suggested_interventions(user, *, case_id: int) -> list[InterventionType]:
    """The playbook's interventions for the case's tier, those addressing most of the case's
    barriers first (each carries `matches`, the number it addresses)."""
    case = Case.objects.select_related("student").filter(pk=case_id).first()
    access_case(user, case)
    return _suggested(case)


def _weight() -> Sum:
    cases = Q(managed_cases__status=Case.Status.OPEN)
    return Sum(
        models.Case(
            *[
                When(cases & Q(managed_cases__tier=tier), then=Value(weight))
                for tier, weight in CASELOAD_WEIGHTS.items()
            ],
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def caseload_weights(user, *, school_id: int) -> list[StaffCaseload]:
    """The counselors serving a school with their open and weighted caseloads, by name (the
    principal of the school, or district staff, ask)."""
    staff = (
        User.objects.filter(
            district_id=user.district_id, is_active=True, role=Role.COUNSELOR, schools=school_id
        )
        .annotate(
            open_cases=Count("managed_cases", filter=Q(managed_cases__status=Case.Status.OPEN)),
            weighted=Coalesce(_weight(), 0),
        )
        .order_by("last_name", "first_name", "username")
    )
    return [StaffCaseload(member, member.open_cases, member.weighted) for member in staff]


def suggested_case_manager(user, *, case_id: int) -> StaffCaseload | None:
    """The counselor at the case's school with the lightest weighted caseload (then fewest
    open cases, then by name); None when the school has no counselor."""
    case = Case.objects.filter(pk=case_id).first()
    access_case(user, case)
    staff = caseload_weights(user, school_id=case.school_id)
    return min(staff, key=lambda s: (s.weighted, s.open_cases), default=None)


def _among(ids: list[int]):
    """The ids for an `__in` filter: on PostgreSQL one array parameter. A large school's
    hundreds of students as as many parameters, or its visibility filter repeated as a
    subquery in each of the agenda's queries, cost more than the rows they find
    (docs/benchmarks.md, "Interventions")."""
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (ids,))
    return ids


def team_meeting_agenda(
    user, *, school_id: int, on: dt.date, since: dt.date | None = None
) -> TeamMeetingAgenda:
    """Students of a school to discuss on `on`: new flags since `since` (default: the
    school's last meeting, or two weeks back), tier changes, overdue follow-ups, plans due for
    review; what was tried since; open action items of earlier meetings."""
    if since is None:
        last = TeamMeeting.objects.filter(school_id=school_id, held_on__lt=on).first()
        since = last.held_on if last else on - dt.timedelta(days=NEW_FLAG_DAYS)
    year = current_school_year(user.district_id, on)
    enrolled = Enrollment.objects.filter(
        student=OuterRef("pk"), school_id=school_id, school_year=year
    )
    students = visible_students(user, on=on).filter(Exists(enrolled))
    ids = _among(list(students.values_list("pk", flat=True)))
    reasons: dict[int, list[str]] = {}

    def concern(student_id: int, reason: str) -> None:
        reasons.setdefault(student_id, []).append(reason)

    # Rows as values, not models: a large school's agenda reads thousands (its time, in
    # docs/benchmarks.md, "Interventions", went to building model instances).
    flag_kinds = dict(Flag.Kind.choices)
    for student_id, kind, raised_on in (
        Flag.objects.filter(student_id__in=ids, raised_on__gt=since, raised_on__lte=on)
        .order_by("raised_on", "pk")
        .values_list("student_id", "kind", "raised_on")
    ):
        concern(student_id, f"New flag: {flag_kinds.get(kind, kind)} ({display.date(raised_on)})")
    for event in CaseEvent.objects.filter(
        student_id__in=ids,
        on__gt=since,
        on__lte=on,
        kind__in=[CaseEvent.Kind.CASE_UPDATED, CaseEvent.Kind.CASE_OPENED],
        details__has_key="tier",
    ).order_by("on", "pk"):
        if event.kind == CaseEvent.Kind.CASE_UPDATED:
            concern(event.student_id, f"Tier change: {event.summary} ({display.date(event.on)})")
    for move in tier_moves(user, ids, since=since, until=on):
        concern(move.student_id, f"Tier change: {move.summary} ({display.date(move.on)})")
    cases = Case.objects.filter(student_id__in=ids, status=Case.Status.OPEN)
    for student_id, description, due_on, *owner in _live(
        FollowUp.objects.filter(case__in=cases, done_on__isnull=True, due_on__lt=on)
    ).values_list("case__student_id", "description", "due_on", *_name_fields("owner")):
        concern(
            student_id,
            f"Overdue follow-up: {description} (due {display.date(due_on)}, {_name_of(*owner)})",
        )
    for student_id, review_on in _live(
        AttendancePlan.objects.filter(
            case__in=cases,
            reviewed_on__isnull=True,
            review_on__lte=on + dt.timedelta(days=REVIEW_AHEAD_DAYS),
        )
    ).values_list("case__student_id", "review_on"):
        concern(student_id, f"Plan due for review on {display.date(review_on)}")
    tried_kinds = [
        CaseEvent.Kind.INTERVENTION,
        CaseEvent.Kind.CONTACT,
        CaseEvent.Kind.REFERRAL,
        CaseEvent.Kind.REFERRAL_UPDATED,
        CaseEvent.Kind.PLAN_WRITTEN,
        CaseEvent.Kind.PLAN_REVIEWED,
        CaseEvent.Kind.FOLLOW_UP_DONE,
    ]
    tried: dict[int, list[TimelineEntry]] = {}
    event_kinds = dict(CaseEvent.Kind.choices)
    for student_id, day, kind, summary, case_id, *by in CaseEvent.objects.filter(
        student_id__in=_among(list(reasons)),
        on__gt=since,
        on__lte=on,
        kind__in=tried_kinds,
        confidential=False,
    ).values_list("student_id", "on", "kind", "summary", "case_id", *_name_fields("by")):
        tried.setdefault(student_id, []).append(
            TimelineEntry(day, kind, event_kinds.get(kind, kind), summary, case_id, _name_of(*by))
        )
    open_cases = {case.student_id: case for case in cases.select_related("case_manager")}
    listed = Student.objects.filter(pk__in=_among(list(reasons))).order_by(
        "last_name", "first_name", "pk"
    )
    items = ActionItem.objects.filter(
        meeting__school_id=school_id, meeting__held_on__lt=on, done_on__isnull=True
    ).filter(Q(student__isnull=True) | Q(student_id__in=ids))
    return TeamMeetingAgenda(
        school_id=school_id,
        on=on,
        since=since,
        students=[
            StudentOfConcern(
                student=student,
                reasons=reasons[student.pk],
                case=open_cases.get(student.pk),
                tried=sorted(tried.get(student.pk, []), key=lambda e: e.on),
            )
            for student in listed
        ],
        open_action_items=list(items.select_related("owner", "student", "meeting")),
    )


def barriers(user, *, include_retired: bool = False) -> QuerySet[Barrier]:
    """The district's barriers, by name."""
    rows = Barrier.objects.filter(district_id=user.district_id)
    return rows if include_retired else rows.filter(retired_on__isnull=True)


def playbook(user, *, tier: int | None = None, include_retired: bool = False):
    """The district's intervention types (of `tier`), by name, with their barriers."""
    rows = InterventionType.objects.filter(district_id=user.district_id)
    if tier is not None:
        rows = rows.filter(**{f"tier{tier}": True})
    if not include_retired:
        rows = rows.filter(retired_on__isnull=True)
    return rows.prefetch_related(Prefetch("barriers", queryset=Barrier.objects.order_by("key")))


def partners(
    user,
    *,
    school_id: int | None = None,
    barrier_id: int | None = None,
    include_retired: bool = False,
) -> QuerySet[Partner]:
    """The district's partner directory; serving a school, addressing a barrier, if asked.
    Each carries `open_referrals` (made, accepted or in progress)."""
    rows = Partner.objects.filter(district_id=user.district_id)
    if not include_retired:
        rows = rows.filter(retired_on__isnull=True)
    if school_id is not None:
        serves = Partner.schools.through.objects.filter(partner=OuterRef("pk"))
        rows = rows.filter(Q(schools=school_id) | ~Exists(serves))
    if barrier_id is not None:
        rows = rows.filter(barriers=barrier_id)
    return rows.distinct().annotate(
        open_referrals=Count(
            "referrals",
            filter=Q(
                referrals__status__in=Referral.OPEN_STATUSES, referrals__struck_on__isnull=True
            ),
            distinct=True,
        )
    )


def export_playbook(user) -> str:
    """The district's current playbook (retired entries left out) as a TOML file."""
    listed = barriers(user).order_by("key")
    return write_playbook(
        Playbook(
            barriers=[BarrierEntry(b.key, b.name, b.description) for b in listed],
            interventions=[
                InterventionEntry(
                    key=kind.key,
                    name=kind.name,
                    tiers=tuple(kind.tiers),
                    barriers=tuple(b.key for b in kind.barriers.all() if b.retired_on is None),
                    description=kind.description,
                    typical_weeks=kind.typical_weeks,
                    evidence=kind.evidence,
                )
                for kind in playbook(user).order_by("key")
            ],
        )
    )
