"""The truancy app's part of pages other apps render (the caseload's overdue steps): a
template tag, so the interventions app below it never imports it."""

from django import template

from homeroom.truancy.selectors import overdue_steps

register = template.Library()


@register.inclusion_tag("truancy/_overdue.html")
def overdue_truancy_steps(user) -> dict:
    """The pending steps past their deadline that the user's schools must act on."""
    return {"steps": overdue_steps(user) if user.is_authenticated else []}
