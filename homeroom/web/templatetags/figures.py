"""Template filters that write attendance figures the way staff read them.

The numbers themselves are written by `homeroom.metrics.display`, which the CLI uses too,
so a figure reads the same on every page and in every terminal.
"""

from django import template
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from homeroom.access.gatekeeper import Grant
from homeroom.metrics import display
from homeroom.metrics.rules import Condition

register = template.Library()

MISSING = display.MISSING

BANDS = {
    "satisfactory": _("Satisfactory"),
    "at_risk": _("At risk"),
    "moderate": _("Moderate chronic"),
    "severe": _("Severe chronic"),
}

GRANT_REASONS = {
    Grant.DISTRICT: _("your role covers the whole district"),
    Grant.SCHOOL: _("the student is enrolled this year at a school you serve"),
    Grant.GRADE: _("the student is in a grade you serve at their school"),
    Grant.SECTION: _("the student is in a section you teach"),
    Grant.CASELOAD: _("the student is on your caseload"),
}


@register.filter
def days(value: float | int | None, places: int | None = None) -> str:
    """A number of days to the page's `places` (`day_places`: 0 or 1), e.g. 1,234.5."""
    return display.days(value, None if places in (None, "") else int(places))


@register.filter
def percent(value: float | None) -> str:
    """A share as a percentage with one decimal, e.g. 0.9712 -> 97.1%."""
    return display.percent(value)


@register.filter
def points(value: float | None) -> str:
    """A change of a rate in signed percentage points, e.g. +5.3 pts."""
    return display.points(value)


@register.filter
def count(value: int | None) -> str:
    """A whole count of students or days, e.g. 12,345."""
    return display.count(value)


@register.simple_tag
def partial_days_note() -> str:
    """The sentence a page shows once when its day counts hold partial days."""
    return display.PARTIAL_DAYS_NOTE


@register.filter
def band_label(band: str) -> str:
    """The band as words (a rule profile's own band by its name), or a dash if not counted."""
    if not band:
        return MISSING
    return BANDS.get(band) or band.replace("_", " ").capitalize()


@register.filter
def chronic_label(chronic: bool | None) -> str:
    """Yes, No, or a note that the student has too few days enrolled to count."""
    if chronic is None:
        return gettext("Not yet counted")
    return gettext("Yes") if chronic else gettext("No")


@register.filter
def chronic_rule(condition: Condition) -> str:
    """A rule profile's chronic-absence condition in words: absent 10% or more of days enrolled."""
    share = display.percent(float(condition.threshold))
    if condition.strict:
        return gettext("absent more than %(share)s of days enrolled") % {"share": share}
    return gettext("absent %(share)s or more of days enrolled") % {"share": share}


@register.filter
def grant_reason(grant: str) -> str:
    """Why the gatekeeper let this user see a student, in words."""
    return str(GRANT_REASONS.get(grant, grant))


@register.filter
def school_date(value) -> str:
    """A date as staff write it, e.g. Dec 7, 2026."""
    return display.date(value)
