"""What every management command shares: which district it works on."""

from django.core.management.base import CommandError

from homeroom.core.models import District
from homeroom.core.selectors import DistrictNotFound, district_named


def command_district(name: str | None) -> District:
    """`district_named` for a command: a district not found is a message, never a traceback."""
    try:
        return district_named(name)
    except DistrictNotFound as error:
        raise CommandError(str(error)) from None
