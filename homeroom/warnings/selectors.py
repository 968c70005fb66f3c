"""Reads of early-warning flags and forecasts, for the students a user may see.

Lists start from `visible_students(user)` as a SQL filter; one student's flags and
forecast take the `StudentAccess` the gatekeeper granted. Flags and scores are written
by `homeroom nightly` (`actions.py`); nothing here computes them.
"""

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery

from homeroom.access.gatekeeper import StudentAccess, visible_students
from homeroom.roster.models import Enrollment, Student
from homeroom.warnings.models import Flag, RiskScore

NAME_ORDER = ("last_name", "first_name", "local_id", "pk")


def _open_flags() -> QuerySet[Flag]:
    return Flag.objects.filter(cleared_on__isnull=True)


def student_flags(access: StudentAccess) -> list[Flag]:
    """The student's flags: the open ones, newest first, then the cleared ones, newest first."""
    return list(
        Flag.objects.filter(student=access.student).order_by(
            F("cleared_on").desc(nulls_first=True), "-raised_on", "kind", "-pk"
        )
    )


def student_risk(access: StudentAccess) -> RiskScore | None:
    """The student's latest forecast with the model that made it, or None if none is stored."""
    scores = RiskScore.objects.filter(student=access.student).select_related("model")
    return scores.order_by("-as_of", "-pk").first()


def flagged_students(user, *, kind: str | None = None) -> QuerySet[Student]:
    """Visible students with an open flag (of `kind`), highest forecast first, then most flags.

    Each student carries `open_flags` (their open flags, of every kind, newest first),
    `open_flag_count`, `risk_probability` (None: no forecast) and `school_name` (the school
    of their latest enrollment).
    """
    flagged = _open_flags().filter(student=OuterRef("pk"))
    if kind:
        flagged = flagged.filter(kind=kind)
    score = RiskScore.objects.filter(student=OuterRef("pk")).order_by("-as_of", "-pk")
    latest = Enrollment.objects.filter(student=OuterRef("pk")).order_by("-entry_date", "-pk")
    return (
        visible_students(user)
        .filter(Exists(flagged))
        .annotate(
            open_flag_count=Count("flags", filter=Q(flags__cleared_on__isnull=True)),
            risk_probability=Subquery(score.values("probability")[:1]),
            school_name=Subquery(latest.values("school__name")[:1]),
        )
        .prefetch_related(
            Prefetch(
                "flags",
                queryset=_open_flags().order_by("-raised_on", "kind", "pk"),
                to_attr="open_flags",
            )
        )
        .order_by(
            F("risk_probability").desc(nulls_last=True),
            F("open_flag_count").desc(),
            *NAME_ORDER,
        )
    )
