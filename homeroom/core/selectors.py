"""Reads of district-level facts: today's date in the district, the current school year."""

import datetime as dt
import zoneinfo

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from homeroom.core.models import Calendar, District, SchoolYear


def district_today(district: District) -> dt.date:
    """Today's date where the district's schools are."""
    return timezone.now().astimezone(zoneinfo.ZoneInfo(district.timezone)).date()


def current_school_year(district_id: int, on: dt.date) -> SchoolYear | None:
    """The school year holding `on`, or in summer the latest one that ended before it."""
    return (
        SchoolYear.objects.filter(district_id=district_id, start_date__lte=on)
        .order_by("-start_date")
        .first()
    )


def counted_calendars() -> QuerySet[Calendar]:
    """The calendars attendance counts days on: one per school and year (see `Calendar`)."""
    preferred = Calendar.objects.filter(
        Q(code=Calendar.DEFAULT_CODE) | Q(pk__lt=OuterRef("pk")),
        school=OuterRef("school"),
        school_year=OuterRef("school_year"),
    )
    return Calendar.objects.filter(Q(code=Calendar.DEFAULT_CODE) | ~Exists(preferred))
