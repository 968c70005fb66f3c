"""Scoped sync of daily attendance: the file's events replace what is held in its scope.

Attendance is the large entity (a 50,000-student district has ~0.7 million events a year),
so it is written set-wise: the held events in the file's scope are read once and compared
with the file's in Python, the file's events go into a temporary staging table (COPY on
PostgreSQL), then one statement each deletes what the SIS no longer exports, updates what
changed and inserts what is new, and only when there is such a row. Events are matched on
(student, school, date, code, period); an identical re-import writes no event.

Presence rows of positive-attendance files are counted and dropped: presence derives from
calendar x enrollment. Rows the metrics will not count are kept (nothing is lost) and
reported as findings: events on non-instructional days, outside any enrollment, and
student-days with conflicting codes.
"""

import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q

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

STAGE = "homeroom_ingest_stage"  # the file's validated rows none is held for: inserted
OUTSIDE = "homeroom_ingest_outside"  # staged rows outside the scope, to find them held
GONE = "homeroom_ingest_gone"  # the ids of the held events the file no longer holds
CHANGED = "homeroom_ingest_changed"  # held events' ids and their new values
EVENTS = AttendanceEvent._meta.db_table
STAGE_COLUMNS = (
    "student_id bigint, school_id bigint, date date, code_id bigint, period varchar(20),"
    " day_fraction numeric(4, 3), minutes_missed integer, reason varchar(200),"
    " source_file varchar(200), source_line integer"
)
CHANGED_COLUMNS = (
    "id bigint, day_fraction numeric(4, 3), minutes_missed integer, reason varchar(200),"
    " source_file varchar(200), source_line integer"
)
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
THOUSANDTH = Decimal("0.001")  # the events' day fractions are stored to a thousandth
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
    in_scope = (
        f"e.school_id IN ({', '.join(['%s'] * len(school_pks)) or 'NULL'})"
        " AND e.date >= %s AND e.date <= %s"
    )
    scope_params = [*school_pks, scope.start, scope.end]
    pks = set(school_pks)
    gone: list[int] = []
    with connection.cursor() as cursor:
        held = _held(cursor, in_scope, scope_params)
        outside = [r for r in staged if r[1] not in pks or not scope.start <= r[2] <= scope.end]
        if outside:  # e.g. a second attendance table of the profile without the declared scope
            _stage(cursor, OUTSIDE, outside)
            cursor.execute(f"CREATE INDEX {OUTSIDE}_key ON {OUTSIDE} (student_id, date)")
            matching = f"EXISTS (SELECT 1 FROM {OUTSIDE} AS s WHERE {MATCH})"
            in_outside = f"NOT COALESCE(({in_scope}), FALSE) AND {matching}"
            for key, rows in _held(cursor, in_outside, scope_params).items():
                held.setdefault(key, []).extend(rows)
            cursor.execute(f"DROP TABLE {OUTSIDE}")
        new, changed = [], []  # changed: (event id, fraction, minutes, reason, file, line)
        students = set()  # whose events the run writes
        for row in staged:
            matched = held.pop(row[:5], None)
            new.append(matched is None)
            if matched is None:
                students.add(row[0])
            for event_id, *values in matched or ():
                if values != list(row[5:8]):
                    changed.append((event_id, *row[5:]))
                    students.add(row[0])
        # What remains of the held events in scope is what the SIS no longer exports.
        no_longer_exported = [
            (event_id, key[1])
            for key, rows in held.items()
            for event_id, *_ in rows
            if key[1] in pks and scope.start <= key[2] <= scope.end
        ]
        if not allow_large_deletes:
            _refuse_large_deletes(batch, resolve, school_pks, scope, no_longer_exported)
        if batch.errors and no_longer_exported:
            # Rows skipped for errors may be the very events held: a file with errors
            # cannot show what the SIS stopped exporting, so nothing is deleted.
            batch.finding(
                "deletions_withheld",
                f"{len(no_longer_exported)} held event(s) in the file's"
                " scope are not in it, but the file has errors, so they are"
                " kept",
                hint="Fix the errors and import the file again to apply deletions.",
            )
        elif no_longer_exported:
            _load(cursor, GONE, "id bigint", [(event_id,) for event_id, _ in no_longer_exported])
            cursor.execute(
                f"DELETE FROM {EVENTS} WHERE id IN (SELECT id FROM {GONE}) RETURNING student_id"
            )
            gone = [student for (student,) in cursor.fetchall()]
            counts.deleted = len(gone)
            cursor.execute(f"DROP TABLE {GONE}")
        if changed:
            rows = [_typed(row, fraction_at=1) for row in changed]
            _load(cursor, CHANGED, CHANGED_COLUMNS, rows)
            cursor.execute(
                f"UPDATE {EVENTS} SET day_fraction = c.day_fraction,"
                " minutes_missed = c.minutes_missed, reason = c.reason, source_run_id = %s,"
                f" source_file = c.source_file, source_line = c.source_line FROM {CHANGED} AS c"
                f" WHERE {EVENTS}.id = c.id",
                [run.pk],
            )
            counts.updated = cursor.rowcount
            cursor.execute(f"DROP TABLE {CHANGED}")
        if inserted := [row for row, is_new in zip(staged, new, strict=True) if is_new]:
            _stage(cursor, STAGE, inserted)
            cursor.execute(
                f"INSERT INTO {EVENTS} ({', '.join(COLUMNS)}, source_run_id)"
                f" SELECT {', '.join(COLUMNS)}, %s FROM {STAGE}",
                [run.pk],
            )
            counts.inserted = cursor.rowcount
            cursor.execute(f"DROP TABLE {STAGE}")
        counts.unchanged = len(staged) - counts.inserted - counts.updated
        _record_students(cursor, run, students | set(gone))
    _report_findings(batch, resolve, school_pks, staged)
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


def _record_students(cursor, run, students: set[int]) -> None:
    """Remember which students' events the run changed (the summaries recompute theirs):
    those of the events it wrote, and of those it deleted."""
    through = type(run).attendance_students.through._meta.db_table
    cursor.executemany(
        f"INSERT INTO {through} (importrun_id, student_id) VALUES (%s, %s)",
        [(run.pk, student) for student in sorted(students)],
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
        fraction = None if r.day_fraction is None else r.day_fraction.quantize(THOUSANDTH)
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


def _refuse_large_deletes(
    batch: Batch, resolve, school_pks: list[int], scope: AttendanceScope, gone: list[tuple]
) -> None:
    """An error for each school where the file would delete more than LARGE_DELETE_SHARE
    of the events held in its scope (and at least LARGE_DELETE_MINIMUM of them)."""
    deleted = Counter(school_pk for _event_id, school_pk in gone)
    if not any(n >= LARGE_DELETE_MINIMUM for n in deleted.values()):
        return
    by_school = AttendanceEvent.objects.filter(
        school_id__in=list(deleted), date__gte=scope.start, date__lte=scope.end
    )
    held = dict(by_school.values_list("school_id").annotate(n=Count("id")))
    local_ids = {pk: local_id for local_id, pk in resolve.schools.items()}
    names = dict(School.objects.filter(pk__in=deleted).values_list("pk", "name"))
    for school_pk in sorted(deleted):
        n, total = deleted[school_pk], held[school_pk]
        if n >= LARGE_DELETE_MINIMUM and n > LARGE_DELETE_SHARE * total:
            batch.error(
                LARGE_DELETION,
                f"the file would delete {n:,} of the {total:,} events held for"
                f" {names[school_pk]} ({local_ids[school_pk]}) in its dates"
                f" ({n / total:.0%})",
                value=local_ids[school_pk],
                hint="If the SIS really no longer exports them, import again allowing large"
                " deletions (homeroom import --allow-large-deletes; on the web, confirm the"
                " deletion); otherwise check the file's dates and schools.",
            )


def _held(cursor, where: str, params: list) -> dict[tuple, list[list]]:
    """The held events `where` selects (`e` names the events), by their key (student,
    school, date, code, period): each as [id, day fraction, minutes missed, reason].

    Comparing in Python is one pass over the held events: SQLite, which joins only
    through indexes, took several times longer to match them with the staged rows by
    statement, once to delete, once to update and once to insert, and an identical
    re-import then wrote nothing anyway (docs/benchmarks.md, "Re-import").
    """
    # SQLite's dates as text, parsed below by `fromisoformat`: Django's converter of a date
    # column matches a regular expression per value, several times slower.
    date = "CAST(e.date AS text)" if connection.vendor == "sqlite" else "e.date"
    cursor.execute(
        f"SELECT e.student_id, e.school_id, {date}, e.code_id, e.period, e.id,"
        f" e.day_fraction, e.minutes_missed, e.reason FROM {EVENTS} AS e WHERE {where}",
        params,
    )
    held: dict[tuple, list[list]] = {}
    while chunk := cursor.fetchmany(10_000):
        for student, school, day, code, period, event_id, fraction, *values in chunk:
            if not isinstance(day, dt.date):  # SQLite's text
                day = dt.date.fromisoformat(day)
            if isinstance(fraction, float):  # SQLite stores decimals as reals
                fraction = Decimal(str(fraction)).quantize(THOUSANDTH)
            key = (student, school, day, code, period)
            held.setdefault(key, []).append([event_id, fraction, *values])
    return held


def _typed(row: tuple, *, fraction_at: int, date_at: int | None = None) -> tuple:
    """A row as a staging table takes it: SQLite's driver takes no Decimal, and dates as
    text."""
    if connection.vendor == "postgresql":
        return row
    row = list(row)
    if row[fraction_at] is not None:
        row[fraction_at] = str(row[fraction_at])
    if date_at is not None:
        row[date_at] = row[date_at].isoformat()
    return tuple(row)


def _load(cursor, table: str, columns: str, rows: list[tuple]) -> None:
    """A temporary table of the rows (COPY on PostgreSQL)."""
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(f"CREATE TEMPORARY TABLE {table} ({columns})")
    if connection.vendor == "postgresql":
        with cursor.cursor.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    elif rows:
        cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join(['%s'] * len(rows[0]))})", rows)


def _stage(cursor, table: str, rows: list[tuple]) -> None:
    """Load validated rows into a temporary table (COPY on PostgreSQL)."""
    # (student, school, date, code, period, fraction, minutes, reason, file, line)
    _load(cursor, table, STAGE_COLUMNS, [_typed(row, fraction_at=5, date_at=2) for row in rows])
    if connection.vendor == "postgresql":
        cursor.execute(f"ANALYZE {table}")  # temporary tables are never analyzed otherwise


def _report_sparse_calendars(batch: Batch, resolve, staged: list[tuple], unlisted: dict) -> None:
    """One finding per school whose calendar lists fewer than half of the weekdays its
    attendance falls on: its days can hardly be counted (a partial calendar)."""
    if not unlisted:
        return
    dates = defaultdict(set)
    for row in staged:
        if row[1] in unlisted:
            dates[row[1]].add(row[2])
    local_ids = {pk: local for local, pk in resolve.schools.items()}
    for school_pk, days in sorted(unlisted.items()):
        if len(days) * 2 > len(dates[school_pk]):
            batch.finding(
                "calendar_incomplete",
                f"the school's calendar lists none of {len(days):,} of the"
                f" {len(dates[school_pk]):,} dates its attendance falls on, so those days are"
                " neither checked nor counted",
                value=local_ids[school_pk],
                hint="Import the school's full calendar for the year.",
            )


def _report_findings(batch: Batch, resolve, school_pks: list[int], staged: list[tuple]) -> None:
    """Findings about the validated rows: off-calendar days, no enrollment, conflicting codes.

    Checked in Python, against the calendars and enrollments of the rows' schools read
    once: every row of a full re-export is checked again, and staging them all to check
    them by statement cost more than the rest of an unchanged import's attendance.
    """
    if not school_pks:
        return
    student_ids = {pk: local for local, pk in resolve.students.items()}
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
    schools = {row[1] for row in staged}
    calendared = set(
        Calendar.objects.filter(school_id__in=schools).values_list("school_id", flat=True)
    )
    listed, counted = set(), set()  # (school, date)
    for school_pk, day, kind in CalendarDate.objects.filter(
        calendar__school_id__in=schools
    ).values_list("calendar__school_id", "date", "kind"):
        listed.add((school_pk, day))
        if kind in CalendarDate.COUNTED_KINDS:
            counted.add((school_pk, day))
    enrolled = defaultdict(list)  # (student, school): [(entry, exit)]
    for student, school_pk, entry, exit_date in Enrollment.objects.filter(
        school_id__in=schools
    ).values_list("student_id", "school_id", "entry_date", "exit_date"):
        enrolled[student, school_pk].append((entry, exit_date or dt.date.max))
    off_calendar, outside, codes, conflicting = [], [], {}, set()
    for row in staged:
        student, school_pk, day, code = row[:4]
        if school_pk in calendared and (school_pk, day) not in counted:
            off_calendar.append((row[8], row[9], student, day, school_pk))
        spans = enrolled.get((student, school_pk), ())
        if not any(entry <= day <= exit_date for entry, exit_date in spans):
            outside.append((row[8], row[9], student, day))
        if codes.setdefault((student, school_pk, day), code) != code:
            conflicting.add((student, school_pk, day))
    conflicts = {}  # per student-day with several codes: its rows' first file and line
    for row in staged if conflicting else ():
        if (student_day := row[:3]) in conflicting:
            file, line = conflicts.get(student_day, row[8:10])
            conflicts[student_day] = (min(file, row[8]), min(line, row[9]))
    unlisted = defaultdict(set)  # per school: the school days its calendar does not list
    for file, line, student, day, school_pk in sorted(off_calendar, key=_place):
        is_listed = (school_pk, day) in listed
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
    _report_sparse_calendars(batch, resolve, staged, unlisted)
    for file, line, student, day in sorted(outside, key=_place):
        batch.finding(
            "outside_enrollment",
            "event outside any enrollment of the student at this school; kept, not counted",
            Where(file, line),
            value=f"{student_ids.get(student, student)} {day}",
        )
    for (student, _school, day), (file, line) in sorted(
        conflicts.items(), key=lambda item: (item[1], item[0])
    ):
        batch.finding(
            "conflicting_events",
            "several codes for one student-day; the metrics"
            " count the day once, by its largest share",
            Where(file, line),
            value=f"{student_ids.get(student, student)} {day}",
        )


def _place(finding: tuple) -> tuple:
    """A finding's file and line: findings are listed in the files' order."""
    return finding[:2]
