"""Early-warning rules: which flags a district raises, and their numbers, as a TOML file.

Shipped rules live in `rules/` (`default`); a district names them, or the path of its own
file, in its `warning_rules` setting. Every key is checked when loading, and a mistake is
reported with the file and the key. No Django imports.
"""

import tomllib
from dataclasses import dataclass
from pathlib import Path

from homeroom.metrics.rules import CATEGORIES

SHIPPED = Path(__file__).resolve().parent / "rules"
# Each rule's keys and what they must be: "days" (a whole number, 1 or more), "share"
# (a number above 0 and at most 1), "ratio" (a number above 1), "switch" (true/false).
RULE_KEYS: dict[str, dict[str, str]] = {
    "early_absences": {"absences": "days", "school_days": "days"},
    "recent_absences": {"absences": "days", "calendar_days": "days"},
    "band": {"enabled": "switch"},
    "consecutive": {"absences": "days", "within_days": "days"},
    "long_absence": {"absences": "days"},
    "weekday_pattern": {"minimum_absences": "days", "share": "share"},
    "worsening": {"recent_days": "days", "ratio": "ratio", "minimum_absences": "days"},
    "chronic_last_year": {"enabled": "switch"},
    "no_follow_up": {"days": "days"},
    "follow_up_overdue": {"enabled": "switch"},
}
# Kinds computed from case data by the interventions app, not by a rule of `flags.py`.
CASE_RULES = frozenset({"no_follow_up", "follow_up_overdue"})


class WarningRulesError(ValueError):
    """Warning rules that cannot be used, with the file and key at fault."""


@dataclass(frozen=True)
class WarningRules:
    """The checked rules: `rules[name][key]`; a rule absent from the file is off."""

    name: str
    version: int
    title: str
    categories: frozenset[str]
    rules: dict[str, dict[str, float | int | bool]]

    def on(self, rule: str) -> bool:
        """Whether the district raises this flag."""
        settings = self.rules.get(rule)
        return settings is not None and settings.get("enabled", True) is not False


def _checked(value, kind: str, where: str):
    if kind == "switch":
        if not isinstance(value, bool):
            raise WarningRulesError(f"{where} must be true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WarningRulesError(f"{where} must be a number")
    if kind == "days" and (not isinstance(value, int) or value < 1):
        raise WarningRulesError(f"{where} must be a whole number, 1 or more")
    if kind == "share" and not 0 < value <= 1:
        raise WarningRulesError(f"{where} must be above 0 and at most 1 (0.6 is 60%)")
    if kind == "ratio" and value <= 1:
        raise WarningRulesError(f"{where} must be above 1 (2.0 is twice the rate)")
    return value


def load_warning_rules(name: str = "default") -> WarningRules:
    """Read and check warning rules by shipped name or .toml path."""
    path = Path(name) if name.endswith(".toml") else SHIPPED / f"{name}.toml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.toml")))
        raise WarningRulesError(
            f"no warning rules {name!r}: give a shipped name ({shipped}) or a .toml file's path"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise WarningRulesError(f"{path.name}: not valid TOML: {error}") from None
    unknown = sorted(set(data) - {"name", "version", "title", "categories", *RULE_KEYS})
    if unknown:
        raise WarningRulesError(f"{path.name}: unknown key(s) {', '.join(unknown)}")
    categories = data.get("categories", ["excused", "unexcused", "oss", "partial"])
    wrong = sorted(set(categories) - set(CATEGORIES)) if isinstance(categories, list) else []
    if not isinstance(categories, list) or not categories or wrong:
        raise WarningRulesError(
            f"{path.name}: categories must list absence categories ({', '.join(CATEGORIES)})"
            + (f"; unknown: {', '.join(wrong)}" if wrong else "")
        )
    rules = {}
    for rule, keys in RULE_KEYS.items():
        if rule not in data:
            continue
        settings = data[rule]
        if not isinstance(settings, dict):
            raise WarningRulesError(f"{path.name}: {rule} must be a table: write [{rule}]")
        unknown = sorted(set(settings) - set(keys))
        if unknown:
            raise WarningRulesError(
                f"{path.name}: unknown key(s) {', '.join(f'{rule}.{k}' for k in unknown)}"
            )
        missing = sorted(set(keys) - set(settings) - {"enabled"})
        if missing:
            raise WarningRulesError(
                f"{path.name}: [{rule}] needs {', '.join(f'{rule}.{k}' for k in missing)}"
            )
        rules[rule] = {
            key: _checked(value, keys[key], f"{path.name}: {rule}.{key}")
            for key, value in settings.items()
        }
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise WarningRulesError(f"{path.name}: version must be a whole number, 1 or more")
    return WarningRules(
        name=str(data.get("name", path.stem)),
        version=version,
        title=str(data.get("title", path.stem)),
        categories=frozenset(categories),
        rules=rules,
    )
