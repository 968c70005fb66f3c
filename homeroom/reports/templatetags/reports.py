"""How published tables print their figures: a hidden count or rate is a star."""

from django import template

from homeroom.metrics import display
from homeroom.reports.suppression import HIDDEN

register = template.Library()


@register.filter
def shown_count(value: int | None) -> str:
    return HIDDEN if value is None else display.count(value)


@register.filter
def shown_percent(value: float | None) -> str:
    return HIDDEN if value is None else display.percent(value)


@register.filter
def shown_points(value: float | None) -> str:
    return HIDDEN if value is None else display.points(value)
