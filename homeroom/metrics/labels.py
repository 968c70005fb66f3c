"""Words for the rule profile's stored names: bands, tiers and the profile itself.

A summary stores a band or tier by its name in the profile (`severe`, `tier3`) and the
profile as `name@version`; the words people read are the profile's own (its `label`s and
`title`), so a district's own profile names its levels once, in its TOML file.
"""

from functools import cache

from django.utils.translation import gettext, gettext_noop

from homeroom.metrics.display import MISSING
from homeroom.metrics.rules import RuleProfile, RuleProfileError, load_rule_profile

# The words of the rule profiles Homeroom ships (homeroom/metrics/profiles), listed here so
# that they are translated (docs/languages.md): pages pass a profile's words through
# `words`, which finds these; a district's own profile keeps its words as written.
# test_languages.py checks this list against the profiles.
SHIPPED_WORDS = (
    # xgettext:no-python-format
    gettext_noop("At risk (5% to under 10%)"),
    # xgettext:no-python-format
    gettext_noop("At risk (attendance under 80%)"),
    # xgettext:no-python-format
    gettext_noop("Early warning (attendance under 88%)"),
    # xgettext:no-python-format
    gettext_noop("Moderate chronic absence (10% to under 20%)"),
    # xgettext:no-python-format
    gettext_noop("On track (88% or more)"),
    # xgettext:no-python-format
    gettext_noop("Satisfactory (under 5%)"),
    # xgettext:no-python-format
    gettext_noop("Severe chronic absence (20% or more)"),
    gettext_noop("Tier 1: universal"),
    # xgettext:no-python-format
    gettext_noop("Tier 2: targeted (10% to under 20%)"),
    # xgettext:no-python-format
    gettext_noop("Tier 2: targeted (attendance under 90%)"),
    # xgettext:no-python-format
    gettext_noop("Tier 3: intensive (20% or more)"),
    # xgettext:no-python-format
    gettext_noop("Tier 3: intensive (attendance under 80%)"),
    gettext_noop("Attendance Works (Homeroom's default)"),
    gettext_noop("California (CALPADS and the California School Dashboard)"),
    gettext_noop("Ed-Fi Analytics Middle Tier"),
    gettext_noop("Federal EDFacts (per-school counting)"),
    gettext_noop("New York City Department of Education"),
)


def words(text: str) -> str:
    """A rule profile's label or title in the reader's language, when it has a translation."""
    return gettext(text) if text else text


def short_label(label: str) -> str:
    """A level's label without its parenthesized condition, for a table cell:
    "Tier 3: intensive (20% or more)" -> "Tier 3: intensive"."""
    return words(label).split(" (", 1)[0]


def level_choices(rules: RuleProfile | None, kind: str) -> list[tuple[str, str]]:
    """The profile's bands or tiers (`kind`) as choices, in the profile's order."""
    if rules is None:
        return []
    return [(level.name, short_label(level.label)) for level in getattr(rules, kind)]


def level_label(rules: RuleProfile | None, kind: str, name: str) -> str:
    """A stored band or tier name as the profile's words (short form); a dash if empty."""
    if not name:
        return MISSING
    for level in getattr(rules, kind) if rules else ():
        if level.name == name:
            return short_label(level.label)
    return name.replace("_", " ").capitalize()


@cache
def _shipped_profile(name: str) -> RuleProfile | None:
    try:
        return load_rule_profile(name)
    except RuleProfileError:
        return None


def profile_title(stored: str) -> str:
    """A stored `name@version` as the profile's title, e.g. "Attendance Works (Homeroom's
    default), version 1"; the stored text if the profile is no longer shipped."""
    name, _, version = stored.partition("@")
    profile = _shipped_profile(name)
    if profile is None:
        return stored
    if version and str(profile.version) != version:
        return gettext("%(title)s, version %(version)s") % {
            "title": words(profile.title),
            "version": version,
        }
    return words(profile.title)
