"""Message templates: the placeholders they may hold, filling them in, and the shipped defaults.

Templates are edited by district staff, so they are not Django templates (which reach into
objects): a placeholder is `{{ name }}` from a fixed list, filled with plain text.
"""

import datetime as dt
import re
import tomllib
from functools import cache
from pathlib import Path

from homeroom.metrics.display import family_date

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")
ANY_BRACES = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)  # what a writer meant as a placeholder

# What each placeholder says; a template naming any other is refused when saved.
PLACEHOLDERS = {
    "guardian": "the guardian's name",
    "children": "the child's first name, or each child's in one household",
    "school": "the school's name",
    "district": "the district's name",
    "days_absent": "days absent this school year (this month, in monthly notices)",
    "typical_days": "days absent of a typical classmate (the median of the grade)",
    "as_of": "the date the figures speak for",
    "date": "the day the message is about",
    "message": "the words staff wrote (one-off messages)",
    "sender": "the staff member who wrote it",
    "link": "the household's own survey link (survey invitations)",
    "closes": "the last day the survey can be answered (survey invitations)",
}

DEFAULTS = Path(__file__).with_name("defaults.toml")
# Right-to-left languages: pages and letters set dir="rtl" for them.
RIGHT_TO_LEFT = frozenset({"ar"})


def unknown_placeholders(text: str) -> list[str]:
    """The placeholders in `text` that are not in `PLACEHOLDERS`, in order of appearance."""
    names = (inside.strip() for inside in ANY_BRACES.findall(text))
    return [name for name in names if name not in PLACEHOLDERS]


def fill(text: str, values: dict[str, str | dt.date], language: str) -> str:
    """`text` with each placeholder replaced by its value (empty when none was given); a
    date is written in `language`'s own form (`display.family_date`)."""

    def value(match: re.Match) -> str:
        found = values.get(match.group(1), "")
        return family_date(found, language) if isinstance(found, dt.date) else str(found)

    return PLACEHOLDER.sub(value, text)


def names_together(names: list[str], language: str) -> str:
    """Children's names as one phrase: "Ana", "Ana and Ben", "Ana, Ben and Gabe"."""
    conjunction = AND.get(language, "and")
    if len(names) <= 1:
        return "".join(names)
    separator = "، " if language == "ar" else ("、" if language == "zh" else ", ")
    return f"{separator.join(names[:-1])} {conjunction} {names[-1]}"


AND = {
    "en": "and",
    "es": "y",
    "vi": "và",
    "zh": "和",
    "ar": "و",
    "so": "iyo",
    "ht": "ak",
    "tl": "at",
}


@cache
def shipped_defaults() -> dict[str, dict[str, dict[str, str]]]:
    """Homeroom's default templates: kind -> language -> {"subject", "body"}."""
    data = tomllib.loads(DEFAULTS.read_text(encoding="utf-8"))
    data.pop("version")
    return data
