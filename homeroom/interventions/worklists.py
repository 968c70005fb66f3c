"""Reads of the early-warning worklist and the chronic-absence list, for the requesting user.

The worklist is who to reach next, not everyone with a flag: students who are not
chronically absent yet (so their year can still be turned around) and whose risk rose (an
open early-warning flag, which is raised when absences start, a band worsens or a pattern
appears; a move to a more intensive tier in the last two weeks; or a forecast higher than
the one before). It is ordered by the forecast, highest
first, and sized to the district's capacity (`District.risk_capacity`: the share of its
students staff can reach). Students already chronically absent are on the chronic list,
most intensive tier first: they need a plan, not an early warning.

Both lists start from the materialized summaries (`StudentSummary`) of the students the
gatekeeper lets the user see, with every filter applied in SQL.
"""

import datetime as dt
import math
from dataclasses import dataclass

from django.db.models import Case as Choose
from django.db.models import Exists, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When

from homeroom.access.gatekeeper import visible_students
from homeroom.core.models import School, SchoolYear
from homeroom.core.selectors import district_today
from homeroom.interventions.flags import CASE_FLAG_KINDS
from homeroom.interventions.models import Case, FamilyContact
from homeroom.metrics.models import StudentSummary, TierChange
from homeroom.metrics.selectors import SORTABLE_FIGURES
from homeroom.roster.models import Enrollment, Student
from homeroom.roster.selectors import find_students
from homeroom.warnings.models import Flag, RiskScore

# A forecast counts as risen when it is this much above the one it replaced: a night's
# noise of a point or two is not news.
FORECAST_RISE = 0.05
# A tier raised within these days puts a student on the worklist (as a new flag would).
TIER_RISE_DAYS = 14
EARLY = "early"
RISK_FLAG_CHOICES = [
    (kind, label) for kind, label in Flag.Kind.choices if kind not in CASE_FLAG_KINDS
]
CHRONIC = "chronic"


@dataclass(frozen=True)
class WorklistFilters:
    """What a worklist keeps to; each empty or False means no filter."""

    school: School | None = None
    grade: int | None = None
    tier: str = ""
    flag: str = ""
    caseload: bool = False
    no_contact: bool = False


@dataclass(frozen=True)
class Worklist:
    """A list: the ids of its summary rows in order (to the capacity), how many match, and
    the rows of any of them (`rows_of`), annotated for the page.

    The ids are read in one query: a count and a page would each ask the gatekeeper of every
    student of the district again; the rows of a page are then read by id.
    """

    ids: list[int]
    matching: int
    capacity: int | None  # None: the list is not sized (the chronic list)
    students: int  # visible students enrolled this year: what the capacity is a share of
    annotated: QuerySet[StudentSummary]

    @property
    def shown(self) -> int:
        """How many rows the list holds: all matching, or the capacity if fewer."""
        return len(self.ids)

    def rows_of(self, ids: list[int]) -> list[StudentSummary]:
        """The rows of these ids (a page of `ids`), in their order."""
        rows = {row.pk: row for row in self.annotated.filter(pk__in=ids)}
        return [rows[pk] for pk in ids]


def risk_flags() -> QuerySet[Flag]:
    """Open early-warning flags (not the case-management ones, which are about staff)."""
    return Flag.objects.filter(cleared_on__isnull=True).exclude(kind__in=CASE_FLAG_KINDS)


def on_caseload(user) -> Q:
    """A filter on Student: on the user's caseload today, or with an open case they manage."""
    if user.district_id is None:
        return Q(pk__in=[])
    today = district_today(user.district)
    assigned = user.caseload.filter(
        Q(end_date__isnull=True) | Q(end_date__gte=today),
        start_date__lte=today,
        student=OuterRef("pk"),
    )
    managed = Case.objects.filter(
        student=OuterRef("pk"), case_manager=user, status=Case.Status.OPEN
    )
    return Q(Exists(assigned)) | Q(Exists(managed))


def _contacts(school_year) -> QuerySet[FamilyContact]:
    contacts = FamilyContact.objects.filter(student=OuterRef("student"), struck_on__isnull=True)
    if school_year is not None:
        contacts = contacts.filter(contacted_on__gte=school_year.start_date)
    return contacts


def _summaries(
    user, filters: WorklistFilters, year: SchoolYear | None
) -> tuple[QuerySet[StudentSummary], int]:
    """The visible students' overall summaries in `year`, filtered, annotated for a list;
    and how many visible students have one (unfiltered)."""
    seen = visible_students(user)
    rows = StudentSummary.objects.filter(
        school__isnull=True, school_year=year, student__in=seen.values("pk")
    )
    students = rows.count()
    if filters.school is not None:
        at_school = StudentSummary.objects.filter(
            student=OuterRef("student"), school_year=year, school=filters.school
        )
        rows = rows.filter(Exists(at_school))
    if filters.grade is not None:
        rows = rows.filter(grade=filters.grade)
    if filters.tier:
        rows = rows.filter(tier=filters.tier)
    if filters.flag:
        rows = rows.filter(
            Exists(risk_flags().filter(student=OuterRef("student"), kind=filters.flag))
        )
    if filters.caseload:
        rows = rows.filter(student__in=seen.filter(on_caseload(user)).values("pk"))
    contacts = _contacts(year)
    if filters.no_contact:
        rows = rows.exclude(Exists(contacts))
    score = RiskScore.objects.filter(student=OuterRef("student")).order_by("-as_of", "-pk")
    latest = Enrollment.objects.filter(student=OuterRef("student"), school_year=year).order_by(
        "-entry_date", "-pk"
    )
    newest_flag = risk_flags().filter(student=OuterRef("student")).order_by("-raised_on", "-pk")
    rows = rows.select_related("student").annotate(
        risk_probability=Subquery(score.values("probability")[:1]),
        previous_probability=Subquery(score.values("previous_probability")[:1]),
        flag_raised_on=Subquery(newest_flag.values("raised_on")[:1]),
        last_contact=Subquery(contacts.order_by("-contacted_on").values("contacted_on")[:1]),
        school_name=Subquery(latest.values("school__name")[:1]),
    )
    return rows, students


def worklist_menus(user, *, school_year: SchoolYear | None) -> tuple[QuerySet[School], list[int]]:
    """What the worklists' school and grade menus offer: the schools and grades of the
    visible students' summaries in the year, which is what the lists filter on (a school
    keeps students with a summary there; a grade is the overall summary's). One query on
    the summaries' (year, school) index: the students list's menus
    (`menus_of_visible_students`) join every visible student to all their enrollments,
    the early-warning page's slowest query at 50,000 students (docs/benchmarks.md)."""
    pairs = set(
        StudentSummary.objects.filter(
            school_year=school_year, student__in=visible_students(user).values("pk")
        )
        .order_by()
        .values_list("school", "grade")
        .distinct()
    )
    schools = {school for school, _ in pairs if school is not None}
    grades = sorted({grade for school, grade in pairs if school is None})
    return School.objects.filter(pk__in=schools).order_by("name"), grades


def early_warning_worklist(
    user, *, school_year: SchoolYear | None, filters: WorklistFilters, capacity_share
) -> Worklist:
    """Students not yet chronically absent whose risk rose, highest forecast first, as many
    as the district's capacity (`capacity_share` of the visible students enrolled)."""
    rows, students = _summaries(user, filters, school_year)
    rose = Q(risk_probability__gte=F("previous_probability") + FORECAST_RISE)
    tier_raised = TierChange.objects.filter(
        student=OuterRef("student"),
        school_year=school_year,
        raised=True,
        on__gt=district_today(user.district) - dt.timedelta(days=TIER_RISE_DAYS),
    )
    flagged = Exists(risk_flags().filter(student=OuterRef("student")))
    rows = (
        rows.filter(Q(counted=False) | Q(chronic=False))
        .filter(Q(flagged) | Q(Exists(tier_raised)) | rose)
        .order_by(
            F("risk_probability").desc(nulls_last=True),
            F("flag_raised_on").desc(nulls_last=True),
            "student__last_name",
            "student__first_name",
            "student_id",
        )
    )
    capacity = math.ceil(float(capacity_share) * students)
    ids = list(rows.values_list("pk", flat=True))
    return Worklist(
        ids=ids[:capacity], matching=len(ids), capacity=capacity, students=students, annotated=rows
    )


def chronic_list(
    user, *, school_year: SchoolYear | None, filters: WorklistFilters, tier_order: list[str]
) -> Worklist:
    """Students already chronically absent: the most intensive tier (`tier_order`, most
    intensive first) first, then the most days absent."""
    rows, students = _summaries(user, filters, school_year)
    rows = rows.filter(counted=True, chronic=True).order_by(
        *_tier_rank(tier_order),
        F("days_absent").desc(),
        "student__last_name",
        "student__first_name",
        "student_id",
    )
    ids = list(rows.values_list("pk", flat=True))
    return Worklist(ids=ids, matching=len(ids), capacity=None, students=students, annotated=rows)


def _tier_rank(tier_order: list[str]) -> list:
    """An ORDER BY putting the profile's most intensive tier first."""
    if not tier_order:
        return []
    return [
        Choose(
            *(When(tier=tier, then=Value(rank)) for rank, tier in enumerate(tier_order)),
            default=Value(len(tier_order)),
            output_field=IntegerField(),
        ).asc()
    ]


def student_list(
    user,
    *,
    school_year,
    text: str = "",
    school: School | None = None,
    grade: int | None = None,
    band: str = "",
    tier: str = "",
    flag: str = "",
    group: str = "",
    caseload: bool = False,
    chronic: bool = False,
    enrolled_only: bool = True,
    figure: str = "",
) -> QuerySet[Student]:
    """The students list: `find_students` narrowed by their summary's band and tier this
    year (and to the chronically absent), an open flag of a kind, and the user's caseload;
    one query, unordered. With a school, the band, tier and chronic absence are those of the
    student's row for that school, as the school's dashboard counts them; else their
    overall row. With
    `figure` (a field of the summary), each student carries it as `sort_figure` (None: no
    summary this year), so the list sorts on it without asking the gatekeeper again."""
    students = find_students(
        user,
        school_year=school_year,
        text=text,
        school=school,
        grade=grade,
        group=group,
        enrolled_only=enrolled_only,
    )
    if band or tier or chronic:
        summary = StudentSummary.objects.filter(student=OuterRef("pk"), school_year=school_year)
        summary = summary.filter(school=school) if school else summary.filter(school__isnull=True)
        if band:
            summary = summary.filter(band=band)
        if tier:
            summary = summary.filter(tier=tier)
        if chronic:
            summary = summary.filter(chronic=True)
        students = students.filter(Exists(summary))
    if flag:
        students = students.filter(Exists(risk_flags().filter(student=OuterRef("pk"), kind=flag)))
    if caseload:
        students = students.filter(on_caseload(user))
    if figure:
        if figure not in SORTABLE_FIGURES:
            raise ValueError(f"cannot sort students by {figure!r}")
        overall = StudentSummary.objects.filter(
            student=OuterRef("pk"), school_year=school_year, school__isnull=True
        )
        students = students.annotate(sort_figure=Subquery(overall.values(figure)[:1]))
    return students


def open_flags_of(rows: list[StudentSummary]) -> dict[int, list[Flag]]:
    """The open early-warning flags of the rows' students (one query), newest first."""
    flags: dict[int, list[Flag]] = {row.student_id: [] for row in rows}
    found = risk_flags().filter(student__in=list(flags)).order_by("-raised_on", "kind", "pk")
    for flag in found:
        flags[flag.student_id].append(flag)
    return flags
