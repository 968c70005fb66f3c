"""What the truancy tests share: the cast with a pack chosen, absences with minutes, the night."""

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from homeroom.attendance.models import AttendanceCode, AttendanceEvent, Category

# The outreach tests' families and local SMTP server: notices go out through the outbox.
from homeroom.outreach.tests.conftest import families, smtp  # noqa: F401
from homeroom.truancy.actions import do_choose_pack, do_find_eligible
from homeroom.truancy.models import TruancyStep


def choose(cast, pack: str, text: str = ""):
    """The district follows `pack` (its administrator chooses it)."""
    return do_choose_pack(cast.admin, based_on=pack, text=text)


def absent(cast, student, day: dt.date, code: str = "A", minutes: int | None = None, school=None):
    """An attendance event as an import records it."""
    return AttendanceEvent.objects.create(
        student=student,
        school=school or cast.lincoln,
        date=day,
        code=cast.codes[code],
        minutes_missed=minutes,
        source_file="attendance.csv",
        source_line=day.toordinal() % 1000,
    )


def night(cast, as_of: dt.date | None = None) -> dict:
    """The nightly truancy step as of today (or `as_of`)."""
    return do_find_eligible(cast.district, as_of=as_of or cast.today)


def steps_of(student) -> list[tuple[str, str]]:
    """A student's steps as (key, status), in the pack's order."""
    return list(
        TruancyStep.objects.filter(student=student)
        .order_by("position")
        .values_list("key", "status")
    )


def school_days_from(start: dt.date, count: int) -> list[dt.date]:
    """`count` weekdays from `start` on (the cast's calendars have no holidays)."""
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def pdf_text(pdf: bytes) -> str:
    """The text of a PDF, as a reader's tool extracts it, with lines joined."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


@pytest.fixture
def partial_code(cast):
    """A part-day absence code (category partial) next to the cast's A, E and T."""
    code = AttendanceCode.objects.create(
        district=cast.district,
        code="P",
        description="Left early",
        category=Category.PARTIAL,
        day_fraction=0,
    )
    cast.codes["P"] = code
    return code
