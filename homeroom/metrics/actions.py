"""Writes of the metrics app: refreshing the materialized per-student summaries."""

import datetime as dt
import time

import ibis
from django.db import connection, transaction
from django.db.models import Q

from homeroom.core.models import District
from homeroom.core.selectors import district_today
from homeroom.ingest.models import ImportRun
from homeroom.metrics import definitions
from homeroom.metrics.engines import EngineError, database_engine
from homeroom.metrics.models import StudentSummary, SummaryState
from homeroom.metrics.rules import load_rule_profile
from homeroom.roster.models import Enrollment

# Beyond this many students a partial refresh costs more than a full one: their ids go
# into the SQL as a list (measured: 50,000 ids took 75 s on SQLite, a full refresh 27 s).
PARTIAL_LIMIT = 2_000
SUMMARY_COLUMNS = (
    "student_id",
    "school_id",
    "school_year_id",
    "grade",
    "days_enrolled",
    "days_absent",
    "excused",
    "unexcused",
    "oss",
    "tardies",
    "absent_last_30",
    "longest_absence_run",
    "absence_rate",
    "attendance_rate",
    "counted",
    "chronic",
    "band",
    "tier",
    "projected_days_absent",
    "projected_chronic",
)


def do_refresh_summaries(
    district: District, *, as_of: dt.date | None = None, students: set[int] | None = None
) -> SummaryState | None:
    """Recompute the district's student summaries as of a date (default: today there).

    With `students` (up to PARTIAL_LIMIT of them), only theirs are recomputed, if the
    summaries held were computed for the same date, year and profile; otherwise
    everyone's are. The rows are computed and written by the database itself (INSERT ...
    SELECT of the compiled definitions), in one transaction: readers see the old rows or
    the new, never a mix. Returns None when the district has no school year yet.
    """
    started = time.monotonic()
    profile = load_rule_profile(district.rule_profile)
    profile_name = f"{profile.name}@{profile.version}"
    with transaction.atomic():
        engine = database_engine(district)
        try:
            window = engine.window(as_of or district_today(district))
        except EngineError:
            return None
        state = SummaryState.objects.filter(district=district).first()
        partial = (
            students is not None
            and len(students) <= PARTIAL_LIMIT
            and state is not None
            and (state.as_of, state.start, state.school_year_id, state.profile)
            == (window.as_of, window.start, window.school_year_id, profile_name)
        )
        facts = engine.facts
        if partial:
            facts = definitions.only_students(facts, sorted(students))
        per_school = definitions.student_school(facts, profile, window)
        per_school = facts.stage(per_school)
        overall = definitions.student_district(facts, profile, window, per_school).mutate(
            school_id=ibis.null("int64")
        )
        rows = per_school.select(*SUMMARY_COLUMNS[:2], *SUMMARY_COLUMNS[3:]).union(
            overall.select(*SUMMARY_COLUMNS[:2], *SUMMARY_COLUMNS[3:])
        )
        held = StudentSummary.objects.filter(student__district=district)
        if partial:
            held = held.filter(student_id__in=students)
        rows = rows.mutate(
            school_year_id=ibis.literal(window.school_year_id, "int64"),
            band=rows.band.fill_null(""),
            tier=rows.tier.fill_null(""),
        ).select(*SUMMARY_COLUMNS)
        held.delete()
        table = StudentSummary._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(SUMMARY_COLUMNS)}) {engine.backend.compile(rows)}"
            )
        state, _ = SummaryState.objects.update_or_create(
            district=district,
            defaults={
                "school_year_id": window.school_year_id,
                "as_of": window.as_of,
                "start": window.start,
                "profile": profile_name,
                "students": StudentSummary.objects.filter(
                    student__district=district, school__isnull=True
                ).count(),
                "seconds": time.monotonic() - started,
            },
        )
    return state


def students_to_refresh(run: ImportRun) -> set[int] | None:
    """The students whose summaries an import run may have changed (None: everyone's).

    A run that changed only attendance, in a scope of schools and dates, can change only
    the students enrolled at those schools then; any other change (calendars, enrollments,
    students) may move anyone's numbers.
    """
    changed = {
        entity
        for entity, counts in run.counts.items()
        if counts.get("inserted") or counts.get("updated") or counts.get("deleted")
    }
    if not changed:
        return set()
    if changed != {"attendance"} or not run.scope.get("schools"):
        return None
    spans = Enrollment.objects.filter(
        Q(exit_date__isnull=True) | Q(exit_date__gte=run.scope["start"]),
        school__district=run.district,
        school__local_id__in=run.scope["schools"],
        entry_date__lte=run.scope["end"],
    )
    return set(spans.values_list("student_id", flat=True))


def do_refresh_after_import(run: ImportRun) -> SummaryState | None:
    """Bring the district's summaries up to date after a successful, committed import."""
    if run.dry_run or run.status != ImportRun.Status.SUCCEEDED:
        return None
    students = students_to_refresh(run)
    state = SummaryState.objects.filter(district=run.district).first()
    if students == set() and state is not None:
        return state
    return do_refresh_summaries(run.district, students=students)
