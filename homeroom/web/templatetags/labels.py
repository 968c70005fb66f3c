"""Template filters that write stored codes as words: import problems, rule profiles.

Each set of words has one home below the web (`ingest.problems`, the rule profiles'
titles through `metrics.labels`); these filters only reach them from templates.
"""

from django import template

from homeroom.ingest.problems import problem_label as _problem_label
from homeroom.metrics import labels

register = template.Library()


@register.filter
def problem_label(code: str) -> str:
    """An import problem's code in words, e.g. teacher_without_account -> "Teacher without a
    Homeroom account"."""
    return _problem_label(code)


@register.filter
def profile_title(stored: str) -> str:
    """A stored rule profile (`attendance-works@1`) as its title."""
    return labels.profile_title(stored)


@register.filter
def profile_words(text: str) -> str:
    """A rule profile's label or title in the reader's language (metrics.labels.words)."""
    return labels.words(text)
