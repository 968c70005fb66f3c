"""Scoped sync of daily attendance: the file's events replace what is held in its scope.

Attendance is the large entity (a 50,000-student district has ~0.7 million events a year),
so it is written set-wise: the file's events go into a temporary staging table (COPY on
PostgreSQL), then three statements delete what the SIS no longer exports, update what
changed and insert what is new. Events are matched on (student, school, date, code,
period); an identical re-import touches nothing.

Presence rows of positive-attendance files are counted and dropped: presence derives from
calendar x enrollment. Rows the metrics will not count are kept (nothing is lost) and
reported as findings: events on non-instructional days, outside any enrollment, and
student-days with conflicting codes.
"""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import Q

from homeroom.attendance.models import AttendanceEvent, Category
from homeroom.core.models import Calendar, CalendarDate, School
from homeroom.ingest.records import (
    AttendanceRows,
    AttendanceScope,
    Batch,
    EntityCounts,
    Where,
)
from homeroom.roster.models import Enrollment

STAGE = "homeroom_ingest_stage"
HELD = "homeroom_ingest_held"  # the events the staged rows are compared with
COLUMNS = (
    "student_id",
    "school_id",
    "date",
    "code_id",
    "period",
    "day_fraction",
    "minutes_missed",
    "reason",
    "source_file",
    "source_line",
)
MATCH = (
    "s.student_id = e.student_id AND s.school_id = e.school_id AND s.date = e.date"
    " AND s.code_id = e.code_id AND s.period = e.period"
)
FINDINGS_LISTED = 1000
# An import that deletes more than this share of a school's events in its scope is more
# likely a broken export than the SIS's corrections; it must be confirmed.
LARGE_DELETE_SHARE = 0.2
LARGE_DELETE_MINIMUM = 50  # fewer deletions than this are never "large"
LARGE_DELETION = "large_deletion"  # the error's code


def sync_attendance(batch: Batch, resolve, run, *, allow_large_deletes: bool = False):
    """Replace the held events in the batch's scope with the batch's events; return the
    events' counts and those of the schools whose recorded days moved forward.

    Without a scope the file declares, it speaks for the schools and first-to-last dates of
    its rows that passed validation: a row with an impossible date never widens what is
    replaced. A replacement that would delete more than LARGE_DELETE_SHARE of a school's
    events in scope is an error unless `allow_large_deletes`.
    """
    counts = EntityCounts(read=len(batch.attendance))
    staged, covered = _validated_rows(batch, resolve, counts)
    scope = batch.attendance_scope or covered.scope()
    if scope is None:
        return counts, EntityCounts()
    unknown = sorted(scope.school_ids - resolve.schools.keys())
    for school_id in unknown:
        batch.error("unknown_school", "unknown school id in the file's scope", value=school_id)
    school_pks = [resolve.schools[s] for s in sorted(scope.school_ids) if s in resolve.schools]
    run.scope = {
        "schools": sorted(scope.school_ids),
        "start": scope.start.isoformat(),
        "end": scope.end.isoformat(),
    }
    events = AttendanceEvent._meta.db_table
    gone: list[int] = []
    with connection.cursor() as cursor:
        _stage(cursor, staged)
        in_scope = (
            f"e.school_id IN ({', '.join(['%s'] * len(school_pks)) or 'NULL'})"
            " AND e.date >= %s AND e.date <= %s"
        )
        scope_params = [*school_pks, scope.start, scope.end]
        pks = set(school_pks)
        _hold(
            cursor,
            in_scope,
            scope_params,
            outside=any(
                row[1] not in pks or not scope.start <= row[2] <= scope.end for row in staged
            ),
        )
        no_longer_exported = (
            f"FROM {HELD} AS e WHERE e.in_scope"
            f" AND NOT EXISTS (SELECT 1 FROM {STAGE} AS s WHERE {MATCH})"
        )
        if not allow_large_deletes:
            _refuse_large_deletes(cursor, batch, resolve)
        if batch.errors:
            # Rows skipped for errors may be the very events held: a file with errors
            # cannot show what the SIS stopped exporting, so nothing is deleted.
            cursor.execute(f"SELECT COUNT(*) {no_longer_exported}")
            if withheld := cursor.fetchone()[0]:
                batch.finding(
                    "deletions_withheld",
                    f"{withheld} held event(s) in the file's"
                    " scope are not in it, but the file has errors, so they are"
                    " kept",
                    hint="Fix the errors and import the file again to apply deletions.",
                )
        else:
            cursor.execute(
                f"DELETE FROM {events} WHERE id IN (SELECT e.id {no_longer_exported})"
                " RETURNING student_id"
            )
            gone = [student for (student,) in cursor.fetchall()]
            counts.deleted = len(gone)
        distinct = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
        cursor.execute(
            f"UPDATE {events} SET day_fraction = x.day_fraction,"
            " minutes_missed = x.minutes_missed, reason = x.reason, source_run_id = %s,"
            " source_file = x.source_file, source_line = x.source_line FROM (SELECT e.id,"
            " s.day_fraction, s.minutes_missed, s.reason, s.source_file, s.source_line"
            f" FROM {HELD} AS e JOIN {STAGE} AS s ON {MATCH}"
            f" WHERE e.day_fraction {distinct} s.day_fraction"
            f" OR e.minutes_missed {distinct} s.minutes_missed OR e.reason <> s.reason) AS x"
            f" WHERE {events}.id = x.id",
            [run.pk],
        )
        counts.updated = cursor.rowcount
        cursor.execute(
            f"INSERT INTO {events} ({', '.join(COLUMNS)}, source_run_id)"
            f" SELECT {', '.join('s.' + c for c in COLUMNS)}, %s FROM {STAGE} AS s"
            f" WHERE NOT EXISTS (SELECT 1 FROM {HELD} AS e WHERE {MATCH})",
            [run.pk],
        )
        counts.inserted = cursor.rowcount
        counts.unchanged = len(staged) - counts.inserted - counts.updated
        _record_students(cursor, run, gone)
        _report_findings(cursor, batch, resolve, school_pks)
        cursor.execute(f"DROP TABLE {STAGE}")
        cursor.execute(f"DROP TABLE {HELD}")
    return counts, _advance_recorded(batch, resolve, scope, covered)


def _advance_recorded(batch: Batch, resolve, scope: AttendanceScope, covered) -> EntityCounts:
    """Move each school's `recorded_through` forward to the last day the file speaks for
    there (a declared scope's end, else the school's last row), never back."""
    through = (
        {school_id: scope.end for school_id in scope.school_ids}
        if batch.attendance_scope
        else covered.last
    )
    counts = EntityCounts(read=len(through))
    for school_id, day in through.items():
        if school_id in resolve.schools:
            counts.updated += (
                School.objects.filter(pk=resolve.schools[school_id])
                .filter(Q(recorded_through__isnull=True) | Q(recorded_through__lt=day))
                .update(recorded_through=day)
            )
    counts.unchanged = counts.read - counts.updated
    return counts


def _record_students(cursor, run, gone: list[int]) -> None:
    """Remember which students' events the run changed (the summaries recompute theirs):
    those of the events it wrote, and of those it deleted (`gone`)."""
    events = AttendanceEvent._meta.db_table
    through = type(run).attendance_students.through._meta.db_table
    insert = f"INSERT INTO {through} (importrun_id, student_id)"
    cursor.execute(
        f"{insert} SELECT DISTINCT %s, student_id FROM {events} WHERE source_run_id = %s",
        [run.pk, run.pk],
    )
    cursor.executemany(
        f"{insert} VALUES (%s, %s) ON CONFLICT DO NOTHING",
        [(run.pk, student) for student in sorted(set(gone))],
    )


class _Coverage:
    """The schools and first and last dates of the rows that passed validation."""

    def __init__(self) -> None:
        self.last: dict[str, dt.date] = {}  # per school: its last row's date
        self.first: dt.date | None = None

    def add(self, school_id: str, first: dt.date, last: dt.date) -> None:
        self.first = first if self.first is None else min(self.first, first)
        held = self.last.get(school_id)
        self.last[school_id] = last if held is None else max(held, last)

    def scope(self) -> AttendanceScope | None:
        """The scope these rows speak for (None when no row passed)."""
        if not self.last:
            return None
        return AttendanceScope(set(self.last), self.first, max(self.last.values()))


def _validated_rows(batch: Batch, resolve, counts) -> tuple[list[tuple], "_Coverage"]:
    """Resolve ids, drop presence rows, collapse duplicates; errors and findings recorded.

    Returns the rows to stage and what the rows that passed validation cover.
    """
    rows: dict[tuple, tuple] = {}
    places: dict[tuple, Where] = {}
    covered = _Coverage()
    records = batch.attendance
    if isinstance(records, AttendanceRows) and _plain_rows_present(records, resolve):
        # Each plain row would pass every check below and only be counted as present.
        counts.present += records.plain_count
        if records.plain_count:
            first, last = min(records.plain_dates), max(records.plain_dates)
            for _student, school_id, _code, _file in records.plain_keys:
                covered.add(school_id, first, last)
        records = records.records
    for r in records:
        if resolve.unknown_school(r.school_id, r.where):
            continue
        if resolve.outside_school_years(r.date, r.where):
            continue
        code = resolve.codes.get(r.code)
        if code is None:
            batch.error(
                "unknown_code",
                "unknown attendance code",
                r.where,
                value=r.code,
                hint="Add the code to the attendance codes (or the profile's mapping).",
            )
            continue
        covered.add(r.school_id, r.date, r.date)
        student = resolve.students.get(r.student_id)
        if student is None:
            batch.finding(
                "student_not_rostered",
                "attendance for a student never rostered; the row is skipped",
                r.where,
                value=r.student_id,
                hint="Import the student (roster) first, then this file again.",
            )
            counts.skipped += 1
            continue
        if code.category == Category.PRESENT:
            counts.present += 1
            continue
        key = (student, resolve.schools[r.school_id], r.date, code.pk, r.period)
        fraction = None if r.day_fraction is None else r.day_fraction.quantize(Decimal("0.001"))
        values = (fraction, r.minutes_missed, r.reason)
        if key in rows:
            if rows[key][:3] == values:
                batch.finding(
                    "duplicate_row",
                    "the same event appears twice; kept once",
                    r.where,
                    hint=f"First seen at {places[key]}.",
                )
            else:
                batch.error(
                    "duplicate_conflict",
                    "two rows for the same student, school, date and code disagree",
                    r.where,
                    hint=f"The other row is at {places[key]}; keep one of them.",
                )
            continue
        rows[key] = (*values, r.where.file, r.where.line)
        places[key] = r.where
    return [(*key, *values) for key, values in rows.items()], covered


def _plain_rows_present(rows: AttendanceRows, resolve) -> bool:
    """Whether every plain row names a known school and student, a present code, and a
    date inside one of the district's school years."""
    if not all(map(resolve.in_school_year, rows.plain_dates)):
        return False
    for student_id, school_id, code_name, _file in rows.plain_keys:
        code = resolve.codes.get(code_name)
        if (
            school_id not in resolve.schools
            or code is None
            or code.category != Category.PRESENT
            or student_id not in resolve.students
        ):
            return False
    return True


def _refuse_large_deletes(cursor, batch: Batch, resolve) -> None:
    """An error for each school where the file would delete more than LARGE_DELETE_SHARE
    of the events held in its scope (and at least LARGE_DELETE_MINIMUM of them)."""
    cursor.execute(
        "SELECT e.school_id, COUNT(*), SUM(CASE WHEN NOT EXISTS"
        f" (SELECT 1 FROM {STAGE} AS s WHERE {MATCH}) THEN 1 ELSE 0 END)"
        f" FROM {HELD} AS e WHERE e.in_scope GROUP BY e.school_id"
    )
    local_ids = {pk: local_id for local_id, pk in resolve.schools.items()}
    names = dict(School.objects.filter(pk__in=local_ids).values_list("pk", "name"))
    for school_pk, held, deleted in sorted(cursor.fetchall()):
        if deleted >= LARGE_DELETE_MINIMUM and deleted > LARGE_DELETE_SHARE * held:
            batch.error(
                LARGE_DELETION,
                f"the file would delete {deleted:,} of the {held:,} events held for"
                f" {names[school_pk]} ({local_ids[school_pk]}) in its dates"
                f" ({deleted / held:.0%})",
                value=local_ids[school_pk],
                hint="If the SIS really no longer exports them, import again allowing large"
                " deletions (homeroom import --allow-large-deletes; on the web, confirm the"
                " deletion); otherwise check the file's dates and schools.",
            )


def _stage(cursor, staged: list[tuple]) -> None:
    """Load the validated rows into a temporary table (COPY on PostgreSQL)."""
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {STAGE} (student_id bigint, school_id bigint, date date,"
        " code_id bigint, period varchar(20), day_fraction numeric(4, 3),"
        " minutes_missed integer, reason varchar(200), source_file varchar(200),"
        " source_line integer)"
    )
    # (student, school, date, code, period, fraction, minutes, reason, file, line)
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {STAGE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in staged:
                copy.write_row(row)
    else:
        cursor.executemany(
            f"INSERT INTO {STAGE} VALUES ({', '.join(['%s'] * len(COLUMNS))})",
            [
                (s, sc, d.isoformat(), c, p, None if f is None else str(f), m, r, fi, li)
                for s, sc, d, c, p, f, m, r, fi, li in staged
            ],
        )
    cursor.execute(f"CREATE INDEX {STAGE}_key ON {STAGE} (student_id, date)")
    if connection.vendor == "postgresql":
        cursor.execute(f"ANALYZE {STAGE}")  # temporary tables are never analyzed otherwise


def _hold(cursor, in_scope: str, scope_params: list, *, outside: bool) -> None:
    """Copy the held events in scope (and, when staged rows lie outside it, those matching
    them) into a temporary table the statements compare the staged rows with.

    Comparing with a copy keeps every statement's plan sound whatever the planner knows of
    the events table (nothing, right after a large import, when the planner would choose a
    nested loop over it for each staged row), and the insert never reads the table it
    writes.
    """
    events = AttendanceEvent._meta.db_table
    held = "e.id, e.student_id, e.school_id, e.date, e.code_id, e.period, e.day_fraction,"
    held += " e.minutes_missed, e.reason"
    cursor.execute(f"DROP TABLE IF EXISTS {HELD}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {HELD} AS SELECT {held}, TRUE AS in_scope"
        f" FROM {events} AS e WHERE {in_scope}",
        scope_params,
    )
    if outside:  # e.g. a second attendance table of the profile without the declared scope
        cursor.execute(
            f"INSERT INTO {HELD} SELECT {held}, FALSE FROM {events} AS e"
            f" WHERE NOT COALESCE(({in_scope}), FALSE)"
            f" AND EXISTS (SELECT 1 FROM {STAGE} AS s WHERE {MATCH})",
            scope_params,
        )
    # SQLite joins only through indexes: without this one, the insert's search of the held
    # events for each staged row reads them all, and a re-import costs rows x rows.
    cursor.execute(f"CREATE INDEX {HELD}_key ON {HELD} (student_id, date)")
    if connection.vendor == "postgresql":
        cursor.execute(f"ANALYZE {HELD}")


def _report_sparse_calendars(cursor, batch: Batch, resolve, unlisted: dict) -> None:
    """One finding per school whose calendar lists fewer than half of the weekdays its
    attendance falls on: its days can hardly be counted (a partial calendar)."""
    if not unlisted:
        return
    cursor.execute(f"SELECT school_id, COUNT(DISTINCT date) FROM {STAGE} GROUP BY school_id")
    dates = dict(cursor.fetchall())
    local_ids = {pk: local for local, pk in resolve.schools.items()}
    for school_pk, days in sorted(unlisted.items()):
        if len(days) * 2 > dates[school_pk]:
            batch.finding(
                "calendar_incomplete",
                f"the school's calendar lists none of {len(days):,} of the"
                f" {dates[school_pk]:,} dates its attendance falls on, so those days are"
                " neither checked nor counted",
                value=local_ids[school_pk],
                hint="Import the school's full calendar for the year.",
            )


def _report_findings(cursor, batch: Batch, resolve, school_pks: list[int]) -> None:
    """Findings about the staged rows: off-calendar days, no enrollment, conflicting codes."""
    if not school_pks:
        return
    student_ids = {pk: local for local, pk in resolve.students.items()}
    dates, calendars = CalendarDate._meta.db_table, Calendar._meta.db_table
    enrollments = Enrollment._meta.db_table
    with_calendar = set(
        Calendar.objects.filter(school_id__in=school_pks).values_list("school_id", flat=True)
    )
    for school_pk in sorted(set(school_pks) - with_calendar):
        local = next(k for k, v in resolve.schools.items() if v == school_pk)
        batch.finding(
            "no_calendar",
            "no calendar is held for this school, so no day of its"
            " attendance can be checked or counted",
            value=local,
            hint="Import the school's calendar.",
        )
    counted = ", ".join(f"'{kind}'" for kind in CalendarDate.COUNTED_KINDS)
    listed = (
        f"SELECT 1 FROM {dates} AS d JOIN {calendars} AS c ON d.calendar_id = c.id"
        " WHERE c.school_id = s.school_id AND d.date = s.date"
    )
    cursor.execute(
        f"SELECT s.source_file, s.source_line, s.student_id, s.date, EXISTS ({listed}),"
        f" s.school_id FROM {STAGE} AS s WHERE s.school_id IN (SELECT school_id FROM {calendars})"
        f" AND NOT EXISTS ({listed} AND d.kind IN ({counted}))"
        " ORDER BY s.source_file, s.source_line"
    )
    unlisted = defaultdict(set)  # per school: the school days its calendar does not list
    for file, line, student, day, is_listed, school_pk in cursor.fetchall():
        day = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
        value = f"{student_ids.get(student, student)} {day}"
        if not is_listed and day.weekday() < 5:
            unlisted[school_pk].add(day)
        if is_listed or day.weekday() >= 5:
            batch.finding(
                "non_instructional_day",
                "event on a weekend, holiday or other day without instruction; kept, not counted",
                Where(file, line),
                value=value,
            )
        else:
            batch.finding(
                "date_not_in_calendar",
                "event on a date the school's calendar does not list; kept, not counted",
                Where(file, line),
                value=value,
                hint="Import the school's full calendar for the year.",
            )
    _report_sparse_calendars(cursor, batch, resolve, unlisted)
    cursor.execute(
        f"SELECT s.source_file, s.source_line, s.student_id, s.date FROM {STAGE} AS s"
        f" WHERE NOT EXISTS (SELECT 1 FROM {enrollments} AS n WHERE n.student_id = s.student_id"
        " AND n.school_id = s.school_id AND n.entry_date <= s.date"
        " AND (n.exit_date IS NULL OR n.exit_date >= s.date))"
        " ORDER BY s.source_file, s.source_line"
    )
    for file, line, student, day in cursor.fetchall():
        batch.finding(
            "outside_enrollment",
            "event outside any enrollment of the student at this school; kept, not counted",
            Where(file, line),
            value=f"{student_ids.get(student, student)} {day}",
        )
    cursor.execute(
        f"SELECT MIN(s.source_file), MIN(s.source_line), s.student_id, s.date FROM {STAGE} AS s"
        " GROUP BY s.student_id, s.school_id, s.date HAVING COUNT(DISTINCT s.code_id) > 1"
    )
    by_day = defaultdict(list)
    for file, line, student, day in cursor.fetchall():
        by_day[file, line].append((student, day))
    for (file, line), days in sorted(by_day.items()):
        for student, day in days:
            batch.finding(
                "conflicting_events",
                "several codes for one student-day; the metrics"
                " count the day once, by its largest share",
                Where(file, line),
                value=f"{student_ids.get(student, student)} {day}",
            )
