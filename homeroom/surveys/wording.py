"""The survey page's words and the barriers' names in each language families answer in.

The languages are outreach's (those it ships message templates in), so a family that gets
its invitation in a language can answer in it. Homeroom's translations (`wording.toml`) are
shipped defaults awaiting the district's review; a barrier without one is shown by its name.
"""

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from homeroom.interventions.playbook import default_playbook
from homeroom.outreach.templates import RIGHT_TO_LEFT, shipped_defaults

WORDING = Path(__file__).with_name("wording.toml")
ENGLISH = "en"


@cache
def _wording() -> dict[str, dict]:
    data = tomllib.loads(WORDING.read_text(encoding="utf-8"))
    data.pop("version")
    return data


@cache
def survey_languages() -> tuple[str, ...]:
    """The languages a survey is offered in: outreach's, English first."""
    outreach = {language for kind in shipped_defaults().values() for language in kind}
    return tuple(sorted(outreach & _wording().keys(), key=lambda code: (code != ENGLISH, code)))


def language_of(wanted: str) -> str:
    """`wanted` if surveys are offered in it, else English."""
    return wanted if wanted in survey_languages() else ENGLISH


def is_right_to_left(language: str) -> bool:
    """Whether the language is written right to left (the page sets dir="rtl")."""
    return language in RIGHT_TO_LEFT


def page_words(language: str) -> dict[str, str]:
    """The page's words in `language` (English when it is not offered)."""
    words = dict(_wording()[language_of(language)])
    words.pop("barriers", None)
    return words


@dataclass(frozen=True)
class Label:
    """A barrier's name in one language, and whether it is Homeroom's shipped translation."""

    text: str
    shipped: bool


def barrier_label(*, key: str, name: str, language: str) -> Label:
    """The barrier's name in `language`: Homeroom's translation of a default barrier whose
    name the district kept, else the district's own name for it."""
    names = _wording()[language_of(language)]["barriers"]
    shipped_english = _wording()[ENGLISH]["barriers"].get(key)
    default_name = _default_name(key)
    if key in names and name in {default_name, shipped_english}:
        return Label(text=names[key], shipped=language != ENGLISH)
    return Label(text=name, shipped=False)


@cache
def _default_name(key: str) -> str | None:
    """The barrier's name in Homeroom's default playbook (a renamed barrier is the
    district's own: its name is shown as written, not a translation of the old one)."""
    return next((b.name for b in default_playbook().barriers if b.key == key), None)
