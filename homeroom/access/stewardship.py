"""Who reads the coding audit: the district's data stewards.

The audit compares schools with each other and with the district, and links each finding
to the attendance rows behind it: district administrators and analysts read it (their
district's only). The rows themselves are shown through `gatekeeper.visible_students`
like any student data, and audited.
"""

from homeroom.access.gatekeeper import aggregate_scope


def reads_coding_audit(user) -> bool:
    """Whether the user reads the district's coding audit (district-wide roles)."""
    return aggregate_scope(user).district
