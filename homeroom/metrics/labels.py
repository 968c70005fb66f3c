"""Words for the rule profile's stored names: bands, tiers and the profile itself.

A summary stores a band or tier by its name in the profile (`severe`, `tier3`) and the
profile as `name@version`; the words people read are the profile's own (its `label`s and
`title`), so a district's own profile names its levels once, in its TOML file.
"""

from functools import cache

from homeroom.metrics.display import MISSING
from homeroom.metrics.rules import RuleProfile, RuleProfileError, load_rule_profile


def short_label(label: str) -> str:
    """A level's label without its parenthesized condition, for a table cell:
    "Tier 3: intensive (20% or more)" -> "Tier 3: intensive"."""
    return label.split(" (", 1)[0]


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
def profile_title(stored: str) -> str:
    """A stored `name@version` as the profile's title, e.g. "Attendance Works (Homeroom's
    default), version 1"; the stored text if the profile is no longer shipped."""
    name, _, version = stored.partition("@")
    try:
        profile = load_rule_profile(name)
    except RuleProfileError:
        return stored
    if version and str(profile.version) != version:
        return f"{profile.title}, version {version}"
    return profile.title
