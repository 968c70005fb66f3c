"""Writes of the metrics app: refreshing the materialized per-student summaries."""

import datetime as dt
import time
from dataclasses import dataclass, replace

import ibis
import ibis.expr.types as ir
from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.expressions import RawSQL

from homeroom.core.models import District, SchoolYear
from homeroom.core.selectors import district_today
from homeroom.ingest.models import ImportRun
from homeroom.metrics import definitions
from homeroom.metrics.dashboards import CELL_KEYS, GROUPS, in_group
from homeroom.metrics.definitions import Window
from homeroom.metrics.engines import (
    STAND_INS,
    Engine,
    EngineError,
    Script,
    database_engine,
    database_table,
    kept_script,
    stage_table,
    year_back,
)
from homeroom.metrics.models import (
    SUMMARY_COLUMNS,
    GroupCell,
    SchoolDayAttendance,
    StandingCell,
    StudentSummary,
    SummaryState,
    TierChange,
)
from homeroom.metrics.rules import RuleProfile, load_rule_profile


def do_refresh_summaries(
    district: District,
    *,
    as_of: dt.date | None = None,
    profile: RuleProfile | None = None,
    incremental: bool = False,
) -> SummaryState | None:
    """Bring the district's student summaries up to date as of a date (default: today there).

    In full, everyone's rows are recomputed from every fact. An `incremental` refresh (after
    imports, and nightly) redoes only what the import runs not yet summarized may have
    changed since the summaries held were computed (they say for which year, day and
    profile), when those runs changed nothing but attendance events:
    - as of the same day: the rows of the students whose events changed;
    - as of a later day of the same year: every row, but only the events of the students
      whose events changed or whom the days added move (`definitions.moved_by_advance`)
      are read; the others' absences are carried over (`student_school_update`).
    Anything else (no summaries yet, another year, profile or start, an earlier day, an
    import that changed calendars, enrollments, students or codes) is a full refresh.
    Each way writes the same rows. The rows are computed and written by the database
    itself (INSERT ... SELECT of the compiled definitions), in one transaction: readers see
    the old rows or the new, never a mix. Returns None when the district has no school
    year yet.
    """
    started = time.monotonic()
    profile = profile or load_rule_profile(district.rule_profile)
    with transaction.atomic():
        engine = database_engine(district)
        try:
            window = engine.window(as_of or district_today(district))
        except EngineError:
            return None
        state = SummaryState.objects.filter(district=district).first()
        refresh = _choose(district, state, window, profile, incremental)
        last_year = dashboards_last_year(engine, window)
        held, scripts = _compute(district, engine, profile, window, last_year, refresh, state)
        # Tiers compared under the same year and rules only: a new year or profile starts
        # them afresh rather than moving everyone.
        same_rules = state is not None and (state.school_year_id, state.profile) == (
            window.school_year_id,
            refresh.profile_name,
        )
        tiers_before = _overall_tiers(held) if same_rules else {}
        # The rows replaced, then the database computes and inserts the new ones itself.
        held.delete()
        years = SchoolYear.objects.filter(district=district).values("pk")
        SchoolDayAttendance.objects.filter(school_year__in=years).delete()
        StandingCell.objects.filter(school_year__in=years).delete()
        for script, ids in scripts:
            script.run(ids)
        _record_tier_changes(tiers_before, _overall_tiers(held), window, profile)
        _write_group_cells(district, window)
        _analyze(
            [SchoolDayAttendance, StandingCell, GroupCell]
            + ([StudentSummary] if refresh.kind != _SAME_DAY else [])
        )
        if refresh.kind == _SAME_DAY:  # the same spans: the same students
            students = state.students
        else:  # the year is the district's
            students = StudentSummary.objects.filter(
                school_year_id=window.school_year_id, school__isnull=True
            ).count()
        ImportRun.objects.filter(pk__in=refresh.pending).update(summarized=True)
        state, _ = SummaryState.objects.update_or_create(
            district=district,
            defaults={
                "school_year_id": window.school_year_id,
                "as_of": window.as_of,
                "start": window.start,
                "profile": refresh.profile_name,
                "students": students,
                "seconds": time.monotonic() - started,
            },
        )
    return state


_FULL, _SAME_DAY, _LATER_DAY = "full", "same day", "later day"


@dataclass(frozen=True)
class _Refresh:
    """How a refresh brings the summaries up to date, as `_choose` decided."""

    kind: str  # _FULL, _SAME_DAY or _LATER_DAY
    profile_name: str
    pending: list[int]  # the import runs not yet in the summaries: all are taken in
    runs: list[int]  # those whose changed students are recomputed (not for _FULL)


def _choose(
    district: District,
    state: SummaryState | None,
    window: Window,
    profile: RuleProfile,
    incremental: bool,
) -> _Refresh:
    """Full, or incremental as of the same day or a later one (see do_refresh_summaries)."""
    profile_name = f"{profile.name}@{profile.version}"
    pending = dict(
        ImportRun.objects.filter(
            district=district, status=ImportRun.Status.SUCCEEDED, summarized=False
        ).values_list("pk", "counts")
    )
    later = _only_attendance(state, window, profile_name, pending) if incremental else None
    if later is None:
        return _Refresh(_FULL, profile_name, list(pending), [])
    if state.as_of != window.as_of:
        return _Refresh(_LATER_DAY, profile_name, list(pending), later)
    # a school recorded to a later day lengthens every span there: only a later day's
    # refresh recomputes everyone's days enrolled
    if any("recorded_through" in counts for counts in pending.values()):
        return _Refresh(_FULL, profile_name, list(pending), [])
    return _Refresh(_SAME_DAY, profile_name, list(pending), later)


def _compute(
    district: District,
    engine: Engine,
    profile: RuleProfile,
    window: Window,
    last_year: Window | None,
    refresh: _Refresh,
    state: SummaryState | None,
) -> tuple[QuerySet[StudentSummary], list[tuple[Script, dict[int, int]]]]:
    """The summary rows the refresh replaces, and the scripts (with the ids to run them
    with) computing and inserting the summaries and the dashboards' figures replacing them.

    A full refresh's statements depend only on the rule profile and the dates, and are
    kept (`kept_script`): built once, run for any district by its ids. So are the
    dashboards' figures of an incremental refresh; its summaries name the students and
    import runs, and are built each time."""
    years = SchoolYear.objects.filter(district=district).values("pk")
    held = StudentSummary.objects.filter(school_year__in=years)  # no join: a plain DELETE
    ids = {STAND_INS["district"]: district.pk, STAND_INS["year"]: window.school_year_id}
    if last_year is not None:
        ids[STAND_INS["last_year"]] = last_year.school_year_id
    shape = (profile, _dates(window), _dates(last_year))
    stand_ins = _stand_in_windows(window, last_year)
    if refresh.kind == _FULL:

        def build(script: Script) -> None:
            full_statements(script, STAND_INS["district"], profile, *stand_ins)

        return held, [(kept_script(engine.backend, (_FULL, *shape), build), ids)]

    facts = engine.facts
    changed = database_table(engine, ImportRun.attendance_students.through._meta.db_table)
    changed = changed.filter(changed.importrun_id.isin(refresh.runs)).select("student_id")
    if refresh.kind == _SAME_DAY:
        again = stage_table(engine.backend, changed, nested_loops=True)
        staged = RawSQL(f"SELECT student_id FROM {again.get_name()}", ())
        held = StudentSummary.objects.filter(student_id__in=staged)
        facts = definitions.only_students(facts, again.student_id)
        per_school = definitions.student_school(facts, profile, window)
    else:
        earlier = replace(window, as_of=state.as_of)
        moved = definitions.moved_by_advance(facts, earlier, window)
        # the days added are read from the events' (school, date) index
        again = stage_table(engine.backend, changed.union(moved, distinct=True), nested_loops=True)
        previous = _previous_rows(engine, window)
        per_school = definitions.student_school_update(
            facts, profile, window, previous, again.student_id
        )
    summaries = Script(engine.backend)
    _insert_summaries(summaries, facts, profile, window, per_school)

    def build_dashboards(script: Script) -> None:
        dashboard_statements(script, STAND_INS["district"], profile, *stand_ins)

    dashboards = kept_script(engine.backend, ("dashboards", *shape), build_dashboards)
    return held, [(summaries, {}), (dashboards, ids)]


def full_statements(
    script: Script,
    district_id: int,
    profile: RuleProfile,
    window: Window,
    last_year: Window | None,
) -> None:
    """Add a full refresh's statements: the district's summaries and dashboards' figures
    from every fact, the spans and absence days staged once for both."""
    facts = script.facts(district_id)
    spans = definitions.spans(facts, window)
    current = (spans, definitions.absence_days(facts, profile, window, spans))
    per_school = definitions.student_school(facts, profile, window, *current)
    _insert_summaries(script, facts, profile, window, per_school)
    _insert_dashboard_figures(script, facts, profile, window, last_year, current)


def dashboard_statements(
    script: Script,
    district_id: int,
    profile: RuleProfile,
    window: Window,
    last_year: Window | None,
) -> None:
    """Add the statements of the district's dashboards' figures alone."""
    facts = script.facts(district_id)
    _insert_dashboard_figures(script, facts, profile, window, last_year)


def _dates(window: Window | None) -> tuple[dt.date, dt.date, dt.date] | None:
    """What of a window shapes the statements, but for its year's id (a stand-in)."""
    return None if window is None else (window.start, window.as_of, window.year_end)


def _stand_in_windows(window: Window, last_year: Window | None) -> tuple[Window, Window | None]:
    """The windows with their years' stand-in ids, for a kept script."""
    this = replace(window, school_year_id=STAND_INS["year"])
    if last_year is None:
        return this, None
    return this, replace(last_year, school_year_id=STAND_INS["last_year"])


def _insert_summaries(
    script: Script,
    facts: definitions.Facts,
    profile: RuleProfile,
    window: Window,
    per_school: ir.Table,
) -> None:
    """Add the statements storing the per-school rows and inserting them and each
    student's overall row into the summaries."""
    per_school = facts.stage(per_school)
    overall = definitions.student_district(facts, profile, window, per_school).mutate(
        school_id=ibis.null("int64")
    )
    rows = per_school.select(*SUMMARY_COLUMNS[:2], *SUMMARY_COLUMNS[3:]).union(
        overall.select(*SUMMARY_COLUMNS[:2], *SUMMARY_COLUMNS[3:])
    )
    rows = rows.mutate(
        school_year_id=ibis.literal(window.school_year_id, "int64"),
        band=rows.band.fill_null(""),
        tier=rows.tier.fill_null(""),
    ).select(*SUMMARY_COLUMNS)
    script.insert(StudentSummary._meta.db_table, rows)


def _overall_tiers(rows: QuerySet[StudentSummary]) -> dict[int, str]:
    """Each student's tier in `rows` (their overall row), as read when called."""
    return dict(rows.filter(school__isnull=True).values_list("student_id", "tier"))


def _record_tier_changes(
    before: dict[int, str], after: dict[int, str], window: Window, profile: RuleProfile
) -> None:
    """A `TierChange` for each student whose tier moved from one of the profile's tiers to
    another (a student without a tier, e.g. too few days enrolled, has none to move)."""
    rank = {tier.name: i for i, tier in enumerate(profile.tiers)}  # most intensive first
    TierChange.objects.bulk_create(
        TierChange(
            student_id=student_id,
            school_year_id=window.school_year_id,
            on=window.as_of,
            from_tier=before[student_id],
            to_tier=tier,
            raised=rank[tier] < rank[before[student_id]],
        )
        for student_id, tier in after.items()
        if before.get(student_id, tier) != tier and before[student_id] in rank and tier in rank
    )


def dashboards_last_year(engine: Engine, window: Window) -> Window | None:
    """The window of the dashboards' year before: all of last year (its days for the trend
    line, its standing as of this year's dates a year back), if the facts hold it."""
    earlier = engine.last_year(window)
    if earlier is None:
        return None
    last_start = SchoolYear.objects.get(pk=earlier.school_year_id).start_date
    return replace(earlier, start=last_start, as_of=earlier.year_end)


def _insert_dashboard_figures(
    script: Script,
    facts: definitions.Facts,
    profile: RuleProfile,
    window: Window,
    last_year: Window | None,
    current: tuple[ir.Table, ir.Table] | None = None,
) -> None:
    """Add the statements inserting the aggregates the dashboards read: each school, grade
    and day of this year to the window's end and of the whole year before
    (`SchoolDayAttendance`), and the students' standing as of each Friday of this year to
    the window's end and that day, and as of the same dates a year earlier
    (`StandingCell`). Computed set-wise by the database: their cost grows with spans,
    events, school days and weeks, not with student-days. `current` may pass the window's
    staged spans and absence days."""
    dates = dashboard_dates(window)
    windows = [(window, dates)]
    if last_year is not None:
        windows.append((last_year, [year_back(day) for day in dates]))
    for measured, on in windows:
        if measured is window and current is not None:
            held, absent = current
        else:
            held = definitions.spans(facts, measured)
            absent = definitions.absence_days(facts, profile, measured, held)
        days = definitions.school_grade_days(facts, profile, measured, held, absent)
        cells = definitions.standing_cells(facts, profile, measured, on, held, absent)
        script.insert(SchoolDayAttendance._meta.db_table, _school_days(days, measured))
        script.insert(StandingCell._meta.db_table, _cells(cells, measured))


def _write_group_cells(district: District, window: Window) -> None:
    """Replace the student groups' cells (`GroupCell`): the summaries just written, of the
    students holding each characteristic on the window's end, added up per school (and
    overall), grade, counted, chronic, band and tier. One query per group, read back as
    a few rows per school and grade: the district's dashboard then reads them instead of
    testing each of its students' characteristics per request."""
    GroupCell.objects.filter(school_year__in=SchoolYear.objects.filter(district=district)).delete()
    summaries = StudentSummary.objects.filter(school_year=window.school_year_id)
    cells = []
    for group in GROUPS:
        grouped = (
            summaries.filter(in_group(group, window.as_of))
            .values("school", "grade", *CELL_KEYS)
            .annotate(
                cell_students=Count("pk"),
                cell_enrolled=Sum("days_enrolled"),
                cell_absent=Sum("days_absent"),
            )
            .order_by()
        )
        cells += [
            GroupCell(
                school_year_id=window.school_year_id,
                as_of=window.as_of,
                group=group,
                school_id=row["school"],
                grade=row["grade"],
                **{key: row[key] for key in CELL_KEYS},
                students=row["cell_students"],
                days_enrolled=row["cell_enrolled"],
                days_absent=row["cell_absent"],
            )
            for row in grouped
        ]
    GroupCell.objects.bulk_create(cells, batch_size=2000)


def dashboard_dates(window: Window) -> list[dt.date]:
    """The dates the dashboards keep standings for: each Friday of the window, and its end."""
    first_friday = window.start + dt.timedelta(days=(4 - window.start.weekday()) % 7)
    fridays = []
    day = first_friday
    while day < window.as_of:
        fridays.append(day)
        day += dt.timedelta(weeks=1)
    return [*fridays, window.as_of]


def _school_days(days: ir.Table, window: Window) -> ir.Table:
    return days.select(
        school_year_id=ibis.literal(window.school_year_id, "int64"),
        school_id=days.school_id,
        grade=days.grade,
        date=days.date,
        enrolled=days.enrolled,
        days_absent=days.absent_milli.cast("float64") / definitions.MILLI,
    )


def _cells(cells: ir.Table, window: Window) -> ir.Table:
    return cells.select(
        school_year_id=ibis.literal(window.school_year_id, "int64"),
        as_of=cells.as_of,
        school_id=cells.school_id,
        grade=cells.grade,
        counted=cells.counted,
        chronic=cells.chronic,
        band=cells.band,
        tier=cells.tier,
        students=cells.students,
        days_enrolled=cells.days_enrolled,
        days_absent=cells.absent_milli.cast("float64") / definitions.MILLI,
    )


def _analyze(models: list) -> None:
    """ANALYZE the tables the refresh replaced whole, so the pages' next queries are planned
    on what they hold. Without it the planner kept the statistics of before the refresh
    (where autovacuum is off, or has not come round yet: on the 50,000-student district,
    none of them had any after its first refresh): it took 94,660 school-day rows for 1,027
    and sorted them on disk to add them up per day, 0.45 s of the district dashboard's
    0.55 s of queries (docs/benchmarks.md, "Dashboards"). A refresh of the same day
    replaces a few students' summaries only: those are left to autovacuum. SQLite samples
    each index (`analysis_limit`), as the import does."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit = 1000")
        for model in models:
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def _only_attendance(
    state: SummaryState | None, window: Window, profile_name: str, pending: dict[int, dict]
) -> list[int] | None:
    """The runs not yet in the summaries held (`pending`: their counts by id), if the
    summaries can be brought up to date by changing some students' absences (None: a full
    refresh is needed)."""
    if state is None or state.as_of > window.as_of:
        return None
    computed_for = (state.start, state.school_year_id, state.profile)
    if computed_for != (window.start, window.school_year_id, profile_name):
        return None
    for counts in pending.values():
        changed = {
            entity
            for entity, count in counts.items()
            if count.get("inserted") or count.get("updated") or count.get("deleted")
        }
        if changed - {"attendance", "recorded_through"}:
            return None
    return list(pending)


def _previous_rows(engine: Engine, window: Window) -> ir.Table:
    """The per-school summaries held for the window's year, in the definitions' units."""
    held = database_table(engine, StudentSummary._meta.db_table)  # the year is the district's
    held = held.filter(held.school_year_id == window.school_year_id, held.school_id.notnull())

    def milli(days: ir.FloatingValue) -> ir.IntegerValue:
        return (days * definitions.MILLI).round().cast("int64")

    return held.select(
        "student_id",
        "school_id",
        absent_milli=milli(held.days_absent),
        excused_milli=milli(held.excused),
        unexcused_milli=milli(held.unexcused),
        oss_milli=milli(held.oss),
        tardies=held.tardies,
        absent_last_30_milli=milli(held.absent_last_30),
        longest_absence_run=held.longest_absence_run,
    )
