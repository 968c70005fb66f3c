"""Property: however the events change and the days move on, an incremental refresh of the
summaries writes exactly the rows of a full one."""

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homeroom.attendance.models import AttendanceEvent
from homeroom.conftest import school_days
from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import AttendanceRecord, AttendanceScope, Batch, Where
from homeroom.ingest.sync import SourceFile, do_import
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import StudentSummary, SummaryState

pytestmark = pytest.mark.django_db

FILE = SourceFile(name="attendance.csv", sha256="0" * 64, size=1)
STUDENTS = {"S1": "101", "S2": "101", "S5": "101", "S6": "101", "S3": "301", "S4": "301"}
DAYS = 50  # the last school days up to today: more than the 30 the recent absences span


def events(most: int):
    """One event per (student, school day, code); a share of None: the code's default."""
    return st.dictionaries(
        keys=st.tuples(
            st.sampled_from(sorted(STUDENTS)),
            st.integers(0, DAYS - 1),
            st.sampled_from(["A", "E", "T"]),
        ),
        values=st.sampled_from([None, "0.5"]),
        max_size=most,
    )


def records(days: list[dt.date], chosen: dict) -> list[AttendanceRecord]:
    return [
        AttendanceRecord(
            student,
            STUDENTS[student],
            days[index],
            code,
            Where("attendance.csv", line),
            day_fraction=None if share is None else Decimal(share),
        )
        for line, ((student, index, code), share) in enumerate(sorted(chosen.items()), start=2)
    ]


def summary_rows() -> list[dict]:
    rows = StudentSummary.objects.values()
    return sorted(
        ({k: v for k, v in row.items() if k != "id"} for row in rows),
        key=lambda row: (row["student_id"], row["school_id"] or 0),
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=events(60),
    second=events(8),  # a correction: most students' events stay as they were
    scope=st.tuples(st.integers(0, DAYS - 1), st.integers(0, DAYS - 1)).map(sorted),
    before=st.integers(0, DAYS - 1),
    later=st.integers(0, 15),
)
def test_an_incremental_refresh_writes_the_rows_of_a_full_one(
    cast, first, second, scope, before, later
):
    AttendanceEvent.objects.all().delete()
    days = [day for day in school_days(cast.this_year) if day <= cast.today][-DAYS:]
    everywhere = AttendanceScope({"101", "301"}, days[0], days[-1])
    # given the summaries as of a day, after a first file
    do_import(
        Batch(attendance=records(days, first), attendance_scope=everywhere),
        district=cast.district,
        source_format="test",
        files=[FILE],
    )
    do_refresh_summaries(cast.district, as_of=days[before])
    # when a second file replaces the events of some days, and the summaries are brought
    # up to the same day or a later one
    low, high = scope
    in_scope = {key: share for key, share in second.items() if low <= key[1] <= high}
    do_import(
        Batch(
            attendance=records(days, in_scope),
            attendance_scope=AttendanceScope({"101", "301"}, days[low], days[high]),
        ),
        district=cast.district,
        source_format="test",
        files=[FILE],
    )
    as_of = days[min(before + later, DAYS - 1)]
    do_refresh_summaries(cast.district, as_of=as_of, incremental=True)
    incremental = summary_rows()
    assert not ImportRun.objects.filter(summarized=False).exists()
    # then a full refresh writes exactly the same rows
    do_refresh_summaries(cast.district, as_of=as_of)
    assert summary_rows() == incremental
    assert SummaryState.objects.get().as_of == as_of
