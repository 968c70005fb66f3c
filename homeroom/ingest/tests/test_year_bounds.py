"""Calendars and enrollments whose dates disagree with their school year are reported."""

import datetime as dt

import pytest

from homeroom.ingest.records import Batch, CalendarDateRecord, EnrollmentRecord, Where
from homeroom.ingest.sync import SourceFile, do_import

pytestmark = pytest.mark.django_db

FILE = SourceFile(name="export.csv", sha256="0" * 64, size=100)
DAY = dt.timedelta(days=1)


def test_school_days_and_enrollments_outside_their_year_are_findings(cast):
    # given a calendar with two school days and a weekend before the year's first day,
    # an enrollment registered before the year, and one naming last year with this
    # year's dates
    year, last_year = cast.this_year, cast.last_year
    early = [year.start_date - 2 * DAY, year.start_date - DAY]
    calendar = [
        CalendarDateRecord("101", year.name, day, kind, Where("calendar.csv", line))
        for line, (day, kind) in enumerate(
            [
                (year.start_date - 3 * DAY, "weekend"),
                *((day, "instructional") for day in early),
                (year.start_date, "instructional"),
            ],
            start=2,
        )
    ]
    enrollments = [
        EnrollmentRecord(
            "S2", "101", year.name, 4, year.start_date - 7 * DAY, Where("enrollments.csv", 2)
        ),
        EnrollmentRecord(
            "S3", "301", last_year.name, 9, year.start_date, Where("enrollments.csv", 3)
        ),
    ]
    batch = Batch(calendar_dates=calendar, enrollments=enrollments)
    # when it is imported
    run = do_import(batch, district=cast.district, source_format="test", files=[FILE])
    # then the run succeeds with one finding for the calendar's early days and one for the
    # enrollment that no day of its year holds; the early registration is no news
    found = [(p["code"], p["file"], p["line"], p["value"]) for p in run.problems]
    assert found == [
        ("outside_school_year", "calendar.csv", 3, "101"),
        ("outside_school_year", "enrollments.csv", 3, f"S3 {year.start_date}"),
    ]
    assert f"from {early[0]} to {early[1]}" in run.problems[0]["message"]
