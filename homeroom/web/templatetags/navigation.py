"""Template filters that decide which parts of the navigation a user is offered."""

from django import template

from homeroom.access import audit, cases, stewardship, surveys, truancy
from homeroom.accounts.models import Role
from homeroom.ingest import selectors as ingest_selectors
from homeroom.outreach import selectors as outreach_selectors

register = template.Library()


@register.filter
def may_view_imports(user) -> bool:
    """Whether the user is offered the Imports pages."""
    return user.is_authenticated and ingest_selectors.may_view_imports(user)


@register.filter
def opens_cases(user) -> bool:
    """Whether the user is offered the caseload and team meeting pages (case managers)."""
    return user.is_authenticated and cases.opens_cases(user)


@register.filter
def sees_process_measures(user) -> bool:
    """Whether the user is offered the process measures (district staff and principals)."""
    return user.is_authenticated and (user.is_district_wide or user.role == Role.PRINCIPAL)


@register.filter
def reads_truancy_queue(user) -> bool:
    """Whether the user is offered the truancy escalation queue."""
    return user.is_authenticated and truancy.reads_a_queue(user)


@register.filter
def may_read_audit(user) -> bool:
    """Whether the user is offered the audit trail (district administrators)."""
    return user.is_authenticated and audit.may_read_audit(user)


@register.filter
def reads_survey_results(user) -> bool:
    """Whether the user is offered the needs surveys (whoever sees a whole school's totals)."""
    return user.is_authenticated and surveys.reads_survey_results(user)


@register.filter
def reads_coding_audit(user) -> bool:
    """Whether the user is offered the coding audit (the district's data stewards)."""
    return user.is_authenticated and stewardship.reads_coding_audit(user)


@register.filter
def sends_to_check(user) -> int | None:
    """How many interrupted sends wait for the user to settle (None: not theirs to settle),
    so the menu shows the count where district administrators see it on every page."""
    if not (user.is_authenticated and cases.resolves_unknown_sends(user)):
        return None
    return outreach_selectors.unknown_send_count(user.district_id)
