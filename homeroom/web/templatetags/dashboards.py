"""Links of the dashboards: each figure opens the student list filtered to its students."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext

from homeroom.metrics import display
from homeroom.metrics.dashboards import grade_label
from homeroom.metrics.labels import words

register = template.Library()


@register.simple_tag
def students_url(query: dict[str, str], **extra) -> str:
    """The student list filtered by `query` (a dashboard row's) and `extra` filters."""
    filters = {**query, **{key: str(value) for key, value in extra.items() if value != ""}}
    return f"{reverse('web:students')}?{urlencode(filters)}" if filters else reverse("web:students")


@register.simple_tag
def dashboard_url(query: dict[str, str]) -> str:
    """The dashboard of a row's students (a school, a grade, a group)."""
    school, grade, group = query.get("school"), query.get("grade"), query.get("group")
    if group and school:
        return reverse("web:school_group_dashboard", args=[school, group])
    if group:
        return reverse("web:group_dashboard", args=[group])
    if grade is not None:
        return reverse("web:grade_dashboard", args=[school, grade])
    return reverse("web:school_dashboard", args=[school])


@register.simple_tag(takes_context=True)
def sort_url(context, key: str) -> str:
    """This page sorted by `key`, descending when it is sorted by it already."""
    query = context["request"].GET.copy()
    query["sort"] = f"-{key}" if context["sort"] == key else key
    return f"?{query.urlencode()}"


@register.simple_tag(takes_context=True)
def compare_url(context, compare: bool) -> str:
    """This page with last year's figures shown or hidden."""
    query = context["request"].GET.copy()
    query["compare"] = "1" if compare else "0"
    return f"?{query.urlencode()}"


@register.filter
def grade_name(grade: int) -> str:
    """A grade as staff say it: Pre-K, Kindergarten, Grade 3."""
    return grade_label(grade)


@register.filter
def signed(value: int | None) -> str:
    """A change of a count with its sign, e.g. +12, or a minus sign and 3."""
    if value is None:
        return display.MISSING
    if value == 0:
        return gettext("no change")
    return f"{'+' if value > 0 else '\u2212'}{display.count(abs(value))}"


@register.filter
def tier_name(tier: str, rules) -> str:
    """A tier's label in the rule profile, or a dash when the student is not counted."""
    if not tier:
        return display.MISSING
    for level in rules.tiers if rules else ():
        if level.name == tier:
            return words(level.label).split(":")[0]
    return tier


@register.simple_tag
def figure_link(current: bool, query: dict[str, str], text: str, **extra) -> str:
    """A figure linked to the student list of the students it counts; plain when the page
    is as of an earlier date (the list shows the students as of the latest)."""
    if not current:
        return text
    return format_html('<a href="{}">{}</a>', students_url(query, **extra), text)
