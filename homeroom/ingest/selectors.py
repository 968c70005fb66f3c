"""Reads of import runs. Runs belong to a district; district administrators and analysts see them.

A run's problems quote the district's files (ids, names, values), so the runs are shown
only to the roles that see every student of the district anyway.
"""

from django.db.models import QuerySet
from django.http import Http404

from homeroom.accounts.models import Role
from homeroom.ingest.models import ImportRun

IMPORT_VIEWERS = frozenset({Role.DISTRICT_ADMIN, Role.DISTRICT_ANALYST})


class ImportRunNotFound(Http404):
    """No such run, or not one the user may see: deliberately the same error."""

    def __init__(self) -> None:
        super().__init__("No import run with that id is visible to you.")


def may_view_imports(user) -> bool:
    """Whether the user may list the district's import runs (administrators and analysts)."""
    return user.district_id is not None and user.role in IMPORT_VIEWERS


def may_import(user) -> bool:
    """Whether the user may load files into the district (administrators only)."""
    return user.district_id is not None and user.role == Role.DISTRICT_ADMIN


def import_runs(user) -> QuerySet[ImportRun]:
    """The runs of the user's district, newest first; none for a role that may not see them."""
    if not may_view_imports(user):
        return ImportRun.objects.none()
    return (
        ImportRun.objects.filter(district_id=user.district_id)
        .select_related("user")
        .order_by("-started_at", "-pk")
    )


def access_import_run(user, run_id: int) -> ImportRun:
    """One run of the user's district; `ImportRunNotFound` if missing or not theirs to see."""
    run = import_runs(user).filter(pk=run_id).first()
    if run is None:
        raise ImportRunNotFound
    return run
