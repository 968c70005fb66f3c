"""Reads of district-level facts: which district, today's date there, the current school year."""

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


class DistrictNotFound(LookupError):
    """No district of the name given, or none named where not exactly one is held."""


def district_named(name: str | None) -> District:
    """The district of that name, or the only one held; `DistrictNotFound` says which failed."""
    districts = District.objects.all()
    if name:
        found = districts.filter(name=name).first()
        if found is None:
            raise DistrictNotFound(f"no district named {name!r}")
        return found
    count = districts.count()
    if count == 1:
        return districts.get()
    if count == 0:
        raise DistrictNotFound("no district is held yet: import one first (homeroom import)")
    raise DistrictNotFound("several districts are held: name one with --district NAME")
