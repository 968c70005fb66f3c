"""Districts the engine and command tests share across a module, and how they are removed.

Loading a district through the import engine takes seconds, and pytest-django rolls back
each test's transaction, so a district a module's tests share is written outside any
test's transaction (`django_db_blocker.unblock()`, pytest-django's way for fixtures wider
than a test), committed, and deleted when the module is done, with the audit entries its
loading and deleting wrote: the next module finds the database as it was.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import transaction
from django.db.models import Max

from homeroom.core.models import AuditEntry, District
from homeroom.demo.district import DistrictParameters, generate_district
from homeroom.demo.export import write_district_csv
from homeroom.demo.loading import delete_district, load_generated_district


def load_generated(params: DistrictParameters, directory: Path) -> District:
    """Generate a district, write its CSV files in `directory` and load them (the import)."""
    write_district_csv(generate_district(params), directory)
    return load_generated_district(directory).district


@contextmanager
def module_district(django_db_blocker, make: Callable[[], District]) -> Iterator[District]:
    """The district `make` writes, committed for a module's tests and deleted after them."""
    with django_db_blocker.unblock():
        last_entry = AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0
        with transaction.atomic():
            district = make()
    try:
        yield district
    finally:
        with django_db_blocker.unblock():
            delete_district(district)
            AuditEntry.objects.filter(pk__gt=last_entry).delete()
