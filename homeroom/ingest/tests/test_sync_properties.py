"""Properties of the sync engine over random files: idempotent, and exact within its scope."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homeroom.attendance.models import AttendanceEvent
from homeroom.ingest.records import AttendanceRecord, AttendanceScope, Batch, Where
from homeroom.ingest.sync import SourceFile, do_import

pytestmark = pytest.mark.django_db

FILE = SourceFile(name="attendance.csv", sha256="0" * 64, size=1)
STUDENTS = {"S1": "101", "S2": "101", "S3": "301", "S4": "301"}  # student -> school
DAYS = 15

# One event per (student, day offset, code); a fraction of None means the code's default.
events = st.dictionaries(
    keys=st.tuples(
        st.sampled_from(sorted(STUDENTS)),
        st.integers(0, DAYS - 1),
        st.sampled_from(["A", "E", "T"]),
    ),
    values=st.sampled_from([None, "0.5", "0.25"]),
    max_size=25,
)
scopes = st.tuples(
    st.sets(st.sampled_from(["101", "301"]), min_size=1),
    st.integers(0, DAYS - 1),
    st.integers(0, DAYS - 1),
).map(lambda t: (t[0], min(t[1], t[2]), max(t[1], t[2])))


def records(start: dt.date, chosen: dict) -> list[AttendanceRecord]:
    return [
        AttendanceRecord(
            student,
            STUDENTS[student],
            start + dt.timedelta(days=offset),
            code,
            Where("attendance.csv", line),
            day_fraction=None if share is None else Decimal(share),
        )
        for line, ((student, offset, code), share) in enumerate(sorted(chosen.items()), start=2)
    ]


def held(start: dt.date) -> dict:
    return {
        (e.student.local_id, (e.date - start).days, e.code.code): None
        if e.day_fraction is None
        else str(e.day_fraction.normalize())
        for e in AttendanceEvent.objects.select_related("student", "code")
    }


def normalized(chosen: dict) -> dict:
    return {k: None if v is None else str(Decimal(v).normalize()) for k, v in chosen.items()}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=events, second=events, scope=scopes)
def test_a_file_replaces_exactly_its_scope_and_reimports_change_nothing(cast, first, second, scope):
    AttendanceEvent.objects.all().delete()
    start = cast.this_year.start_date
    schools, low, high = scope
    in_scope = {
        k: v for k, v in second.items() if STUDENTS[k[0]] in schools and low <= k[1] <= high
    }

    def run(chosen, declared=None):
        batch = Batch(attendance=records(start, chosen), attendance_scope=declared)
        return do_import(batch, district=cast.district, source_format="t", files=[FILE])

    run(first, AttendanceScope({"101", "301"}, start, start + dt.timedelta(days=DAYS - 1)))
    before = held(start)
    declared = AttendanceScope(
        schools, start + dt.timedelta(days=low), start + dt.timedelta(days=high)
    )
    replaced = run(in_scope, declared)
    expected = {
        k: v
        for k, v in normalized(first).items()
        if not (STUDENTS[k[0]] in schools and low <= k[1] <= high)
    } | normalized(in_scope)
    assert held(start) == expected
    # the run names the students whose events it inserted, updated or deleted
    gone = object()
    changed = {
        k[0]
        for k in before.keys() | expected.keys()
        if before.get(k, gone) != expected.get(k, gone)
    }
    assert set(replaced.attendance_students.values_list("local_id", flat=True)) == changed

    again = run(in_scope, declared)
    counts = again.counts["attendance"]
    assert (counts["inserted"], counts["updated"], counts["deleted"]) == (0, 0, 0)
    assert not again.attendance_students.exists()
    assert counts["unchanged"] == len(in_scope)
    assert held(start) == expected
