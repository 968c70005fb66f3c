"""Which district a command works on."""

from django.core.management.base import CommandError

from homeroom.core.models import District


def district_named(name: str | None) -> District:
    """The district of that name, or the only one held; a clear error otherwise."""
    districts = District.objects.all()
    if name:
        found = districts.filter(name=name).first()
        if found is None:
            raise CommandError(f"no district named {name!r}")
        return found
    count = districts.count()
    if count == 1:
        return districts.get()
    if count == 0:
        raise CommandError("no district is held yet: import one first (homeroom import)")
    raise CommandError("several districts are held: name one with --district NAME")
