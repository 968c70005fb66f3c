"""Reads of needs surveys: the district's surveys, their roll-up by school, the barrier
counts the needs allocation reads, a link's state, and one household's answers.

Counts are raw here; pages show them through `shown_count`, which suppresses small cells.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count
from django.http import Http404

from homeroom.access.gatekeeper import aggregate_scope
from homeroom.access.surveys import access_household_answers, reads_survey_results
from homeroom.core.models import School, SchoolYear
from homeroom.core.selectors import district_today
from homeroom.interventions.models import Barrier, Case
from homeroom.metrics.display import count as show_count
from homeroom.roster.models import Language
from homeroom.surveys.models import Answer, Invitation, Survey
from homeroom.surveys.tokens import token_hash
from homeroom.surveys.wording import Label, barrier_label, survey_languages

SMALL_CELL = 10  # counts below this are shown as "fewer than 10"
FEWER = f"fewer than {SMALL_CELL}"


def shown_count(value: int) -> str:
    """A count as a page publishes it: below 10 (zero included) it says "fewer than 10"."""
    return FEWER if value < SMALL_CELL else show_count(value)


class SurveyNotFound(Http404):
    """No such survey, or not one the user may read: deliberately the same error."""

    def __init__(self) -> None:
        super().__init__("No survey with that id is visible to you.")


def surveys_of(user) -> list[Survey]:
    """The surveys of the user's district, newest first (readers of results only)."""
    if not reads_survey_results(user):
        return []
    return list(Survey.objects.filter(district_id=user.district_id).select_related("school_year"))


def survey_for(user, survey_id: int) -> Survey:
    """The survey if the user may read its results; else `SurveyNotFound`."""
    if not reads_survey_results(user):
        raise SurveyNotFound()
    survey = Survey.objects.filter(pk=survey_id, district_id=user.district_id).first()
    if survey is None:
        raise SurveyNotFound()
    return survey


@dataclass
class SchoolBarrierCounts:
    """One school's answers: how many households answered, and how many named each barrier
    (by the barrier's key)."""

    answers: int = 0
    barriers: dict[str, int] = field(default_factory=dict)


def barrier_counts_by_school(
    user, *, survey: Survey | None = None, school_year: SchoolYear | None = None
) -> dict[int, SchoolBarrierCounts]:
    """Per school id (schools the user sees whole), the answers of one survey, or of every
    survey of a school year, and how many named each barrier. Raw counts: whoever publishes
    them suppresses small cells (`shown_count`). An answer counts at each school its
    household's children attended when invited."""
    if (survey is None) == (school_year is None):
        raise ValueError("Give a survey or a school year, not both.")
    scope = aggregate_scope(user)
    seen = [pk for pk in scope.schools if scope.sees_school(pk)]
    if survey is not None:
        answers = Answer.objects.filter(invitation__survey=survey)
    else:
        answers = Answer.objects.filter(
            invitation__survey__school_year=school_year,
            invitation__survey__district_id=user.district_id,
        )
    return _counts(answers, seen)


def district_barrier_counts(district, school_year_id: int) -> dict[int, SchoolBarrierCounts]:
    """`barrier_counts_by_school` over every school of the district and every survey of the
    year, for district-wide figures whose reader the caller has checked (the needs
    allocation of homeroom.reports, for district roles)."""
    answers = Answer.objects.filter(
        invitation__survey__school_year_id=school_year_id,
        invitation__survey__district=district,
    )
    return _counts(answers, district.schools.values("pk"))


def _counts(answers, seen) -> dict[int, SchoolBarrierCounts]:
    counts: dict[int, SchoolBarrierCounts] = {}
    for row in (
        Invitation.schools.through.objects.filter(
            invitation__answer__in=answers, school_id__in=seen
        )
        .values("school_id")
        .annotate(n=Count("pk"))
    ):
        counts[row["school_id"]] = SchoolBarrierCounts(answers=row["n"])
    named = (
        Answer.barriers.through.objects.filter(
            answer__in=answers, answer__invitation__schools__in=seen
        )
        .values("answer__invitation__schools", "barrier__key")
        .annotate(n=Count("pk"))
    )
    for row in named:
        school = counts.setdefault(row["answer__invitation__schools"], SchoolBarrierCounts())
        school.barriers[row["barrier__key"]] = row["n"]
    return counts


@dataclass(frozen=True)
class RollupRow:
    """A row of the roll-up page: a school (or the district) and its counts, as shown."""

    name: str
    invited: str
    answers: str
    barriers: list[str]
    suppressed: bool


@dataclass(frozen=True)
class Rollup:
    """The roll-up page's table: barrier names as columns, a row per school."""

    barriers: list[Barrier]
    rows: list[RollupRow]
    total: RollupRow | None


def _row(name: str, invited: int, counts: SchoolBarrierCounts, barriers) -> RollupRow:
    suppressed = counts.answers < SMALL_CELL
    return RollupRow(
        name=name,
        invited=show_count(invited),
        answers=shown_count(counts.answers),
        barriers=[
            "" if suppressed else shown_count(counts.barriers.get(b.key, 0)) for b in barriers
        ],
        suppressed=suppressed,
    )


def rollup(user, survey: Survey) -> Rollup:
    """Answers to `survey` by school, small cells suppressed; a district row for district roles."""
    barriers = list(survey.barriers.order_by("name"))
    counts = barrier_counts_by_school(user, survey=survey)
    scope = aggregate_scope(user)
    schools = School.objects.filter(
        pk__in=[pk for pk in scope.schools if scope.sees_school(pk)]
    ).order_by("name")
    invited = dict(
        Invitation.schools.through.objects.filter(invitation__survey=survey)
        .values("school_id")
        .annotate(n=Count("pk"))
        .values_list("school_id", "n")
    )
    rows = [
        _row(s.name, invited.get(s.pk, 0), counts.get(s.pk, SchoolBarrierCounts()), barriers)
        for s in schools
    ]
    total = None
    if scope.district:
        answers = Answer.objects.filter(invitation__survey=survey)
        named = dict(
            Answer.barriers.through.objects.filter(answer__in=answers)
            .values("barrier__key")
            .annotate(n=Count("pk"))
            .values_list("barrier__key", "n")
        )
        everyone = SchoolBarrierCounts(answers=answers.count(), barriers=named)
        total = _row("Whole district", survey.invitations.count(), everyone, barriers)
    return Rollup(barriers=barriers, rows=rows, total=total)


@dataclass(frozen=True)
class Translation:
    """A barrier's name in each survey language, marked where Homeroom's translation awaits
    the district's review."""

    barrier: Barrier
    labels: list[tuple[str, Label]]


def translations(survey: Survey) -> list[Translation]:
    """The survey's barriers in every language it is offered in."""
    return [
        Translation(
            barrier=b,
            labels=[
                (language, barrier_label(key=b.key, name=b.name, language=language))
                for language in survey_languages()
            ],
        )
        for b in survey.barriers.order_by("name")
    ]


class LinkNotFound(Exception):
    """No invitation has this token."""


def invitation_for_token(token: str) -> Invitation:
    """The invitation a family's token opens (any state); else `LinkNotFound`."""
    invitation = (
        Invitation.objects.filter(token_hash=token_hash(token))
        .select_related("survey__district")
        .first()
    )
    if invitation is None:
        raise LinkNotFound()
    return invitation


def is_closed(invitation: Invitation, today: dt.date | None = None) -> bool:
    """Whether the survey's last day has passed in the district's time."""
    today = today or district_today(invitation.survey.district)
    return today > invitation.survey.closes_on


@dataclass(frozen=True)
class HouseholdAnswer:
    """One survey a student's household answered, and the barriers it named."""

    survey: Survey
    answered_at: dt.datetime
    language: str
    barriers: list[str]


def household_answers(user, student_id: int):
    """The student (with why the user may see them) and their household's answers, for the
    team managing one of the student's open cases (`access.surveys`)."""
    open_cases = Case.objects.filter(student_id=student_id, status=Case.Status.OPEN)
    access = access_household_answers(user, student_id, open_cases)
    answers = (
        Answer.objects.filter(invitation__students=access.student)
        .select_related("invitation__survey")
        .prefetch_related("barriers")
        .order_by("-answered_at")
    )
    return access, [
        HouseholdAnswer(
            survey=a.invitation.survey,
            answered_at=a.answered_at,
            language=Language(a.language).label,
            barriers=sorted(b.name for b in a.barriers.all()),
        )
        for a in answers
    ]
