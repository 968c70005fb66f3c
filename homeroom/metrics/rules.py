"""Rule profiles: named, versioned definitions of who is counted and what counts as absent.

A profile is a TOML file (shipped ones in `profiles/`, documented in docs/rule-profiles.md).
A district copies one by writing its own file with `based_on = "NAME"` and the keys it
changes. Conditions are written as people say them ("attendance_rate <= 0.90") and kept
as exact fractions, so 18/180 and 2/20 land on the side their source says on every engine.
No Django imports: the metric definitions and every engine use this module.
"""

import re
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = "attendance-works"
CATEGORIES = (
    "excused",
    "unexcused",
    "oss",
    "iss",
    "partial",
    "tardy",
    "early_departure",
    "present",
    "not_taken",
)
PARTIAL_RULES = ("fraction", "full_days_only", "half_or_more")
COUNTING = ("district", "school")
CONDITION = re.compile(
    r"^\s*(?P<measure>absence_rate|attendance_rate)\s*(?P<op>>=|>|<=|<)\s*"
    r"(?P<value>\d+(?:\.\d+)?)\s*$"
)
TABLE_KEYS = {"absence": {"categories", "partial_days"}, "chronic": {"when"}}
IDENTITY_KEYS = ("name", "version", "title", "summary")
KEYS = {
    "name",
    "version",
    "title",
    "summary",
    "sources",
    "based_on",
    "minimum_days_enrolled",
    "minimum_days_present",
    "counting",
    "absence",
    "chronic",
    "bands",
    "tiers",
}


class RuleProfileError(ValueError):
    """A rule profile that cannot be used, with the file and key at fault."""


@dataclass(frozen=True)
class Condition:
    """'Absence rate at or above (or above, if strict) a fraction', the form every rule takes.

    `attendance_rate <= 0.90` is absence rate >= 1/10; `attendance_rate < 0.90` is absence
    rate > 1/10: the two read alike but differ at exactly 10%, as NYC and the OEA notebook do.
    """

    text: str
    threshold: Fraction
    strict: bool

    @classmethod
    def parse(cls, text: str, where: str) -> "Condition":
        """Read 'absence_rate >= 0.10' or 'attendance_rate < 0.90'."""
        match = CONDITION.match(text) if isinstance(text, str) else None
        if match is None:
            raise RuleProfileError(
                f"{where}: {text!r} is not a condition; write e.g. 'absence_rate >= 0.10' or "
                "'attendance_rate < 0.90'"
            )
        value = Fraction(match["value"])
        if not 0 <= value <= 1:
            raise RuleProfileError(f"{where}: {match['value']} is not a rate between 0 and 1")
        measure, op = match["measure"], match["op"]
        if measure == "absence_rate" and op in (">=", ">"):
            return cls(text.strip(), value, op == ">")
        if measure == "attendance_rate" and op in ("<=", "<"):
            return cls(text.strip(), 1 - value, op == "<")
        raise RuleProfileError(
            f"{where}: {text!r} picks the better side; a condition names the worse attendance "
            "(absence_rate >= or >, attendance_rate <= or <)"
        )

    def holds(self, days_absent: Fraction, days_enrolled: int) -> bool:
        """Whether a student with these days meets the condition (exact arithmetic)."""
        if days_enrolled <= 0:
            return False
        rate = Fraction(days_absent) / days_enrolled
        return rate > self.threshold if self.strict else rate >= self.threshold


@dataclass(frozen=True)
class Level:
    """A band or tier: its name, label and the condition that puts a student in it."""

    name: str
    label: str
    when: Condition | None


@dataclass(frozen=True)
class RuleProfile:
    """Everything that decides who is counted and what is chronic, bands and tiers."""

    name: str
    version: int
    title: str
    summary: str
    sources: tuple[str, ...]
    minimum_days_enrolled: int
    minimum_days_present: int
    counting: str
    absent_categories: frozenset[str]
    partial_days: str
    chronic: Condition
    bands: tuple[Level, ...]
    tiers: tuple[Level, ...]

    def is_counted(self, days_absent: Fraction, days_enrolled: int) -> bool:
        """Whether a student enrolled this long (and present this much) counts."""
        return (
            days_enrolled >= self.minimum_days_enrolled
            and days_enrolled - days_absent >= self.minimum_days_present
            and days_enrolled > 0
        )

    def level(self, levels: tuple[Level, ...], days_absent: Fraction, days_enrolled: int) -> str:
        """The first band or tier whose condition holds (the last one has none)."""
        for level in levels:
            if level.when is None or level.when.holds(days_absent, days_enrolled):
                return level.name
        raise AssertionError("the last level has no condition")  # checked when loading


def profile_path(name: str) -> Path:
    """The file of a shipped profile name, or the path given."""
    if name.endswith(".toml"):
        return Path(name)
    return SHIPPED / f"{name}.toml"


def shipped_profiles() -> list[str]:
    """Names of the profiles Homeroom ships."""
    return sorted(path.stem for path in SHIPPED.glob("*.toml"))


def _read(name: str, seen: tuple[str, ...]) -> tuple[dict[str, Any], Path]:
    path = profile_path(name)
    if not path.is_file():
        raise RuleProfileError(
            f"no rule profile {name!r}: give a shipped name ({', '.join(shipped_profiles())}) "
            "or the path of a .toml file"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RuleProfileError(f"{path.name}: not valid TOML: {error}") from None
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise RuleProfileError(f"{path.name}: unknown key(s) {', '.join(unknown)}")
    for table, known in TABLE_KEYS.items():
        if table not in data:
            continue
        if not isinstance(data[table], dict):
            raise RuleProfileError(f"{path.name}: {table} must be a table: write [{table}]")
        unknown = sorted(set(data[table]) - known)
        if unknown:
            raise RuleProfileError(
                f"{path.name}: unknown key(s) {', '.join(f'{table}.{k}' for k in unknown)}"
            )
    base = data.get("based_on")
    if base is None:
        return data, path
    if base in seen:
        raise RuleProfileError(f"{path.name}: based_on {base!r} forms a loop")
    if not profile_path(base).is_file():
        raise RuleProfileError(
            f"{path.name}: based_on {base!r}: no such profile; give a shipped name "
            f"({', '.join(shipped_profiles())}) or the path of a .toml file"
        )
    merged, _ = _read(base, (*seen, base))
    for key in IDENTITY_KEYS:  # a profile of one's own is not the base under its name
        merged.pop(key, None)
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merged[key] | value
        else:
            merged[key] = value
    return merged, path


def _levels(data: dict, key: str, where: str) -> tuple[Level, ...]:
    raw = data.get(key)
    if not isinstance(raw, list) or not raw:
        raise RuleProfileError(f"{where}: [[{key}]] must list at least one {key[:-1]}")
    levels = []
    for number, item in enumerate(raw, 1):
        spot = f"{where}: {key} #{number}"
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise RuleProfileError(f"{spot}: needs a name")
        last = number == len(raw)
        if last and "when" in item:
            raise RuleProfileError(f"{spot}: the last {key[:-1]} takes everyone else: no 'when'")
        if not last and "when" not in item:
            raise RuleProfileError(f"{spot}: needs 'when' (only the last one has none)")
        when = None if last else Condition.parse(item["when"], f"{spot}.when")
        levels.append(Level(item["name"], item.get("label", item["name"]), when))
    return tuple(levels)


def _int(data: dict, key: str, where: str, default: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RuleProfileError(f"{where}: {key} must be a whole number of days, 0 or more")
    return value


def load_rule_profile(name: str = DEFAULT_PROFILE) -> RuleProfile:
    """Read and check a rule profile by shipped name or .toml path."""
    data, path = _read(name, (name,))
    where = path.name
    absence = data.get("absence", {})
    categories = absence.get("categories", [])
    if not isinstance(categories, list) or not categories:
        raise RuleProfileError(f"{where}: absence.categories must list the absent categories")
    unknown = sorted(set(categories) - set(CATEGORIES))
    if unknown:
        raise RuleProfileError(
            f"{where}: absence.categories: unknown {', '.join(unknown)}; "
            f"known: {', '.join(CATEGORIES)}"
        )
    partial = absence.get("partial_days", "fraction")
    if partial not in PARTIAL_RULES:
        raise RuleProfileError(
            f"{where}: absence.partial_days {partial!r}: use one of {', '.join(PARTIAL_RULES)}"
        )
    counting = data.get("counting", "district")
    if counting not in COUNTING:
        raise RuleProfileError(f"{where}: counting {counting!r}: use district or school")
    chronic = data.get("chronic", {})
    return RuleProfile(
        name=data.get("name", path.stem),
        version=_int(data, "version", where, 1),
        title=data.get("title", path.stem),
        summary=data.get("summary", ""),
        sources=tuple(data.get("sources", ())),
        minimum_days_enrolled=_int(data, "minimum_days_enrolled", where, 1),
        minimum_days_present=_int(data, "minimum_days_present", where, 0),
        counting=counting,
        absent_categories=frozenset(categories),
        partial_days=partial,
        chronic=Condition.parse(chronic.get("when"), f"{where}: chronic.when"),
        bands=_levels(data, "bands", where),
        tiers=_levels(data, "tiers", where),
    )
