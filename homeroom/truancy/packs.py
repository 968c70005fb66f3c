"""Truancy rule packs: a state's escalation law as versioned TOML data, read and checked.

A pack (shipped ones in `packs/`, documented in docs/truancy.md) says which attendance
events count (by category, and by minutes missed for part days), the steps in order with
their thresholds and windows, who approves each, their deadlines, the characteristics that
block a step, and each notice's wording in the family's languages. A district uses its own
copy: TOML text with `based_on = "NAME"` and the keys it changes (`read_pack`), as the
metric rule profiles do (`homeroom/metrics/rules.py`). No Django imports: the evaluation
engine and the tests read packs without a database.
"""

import re
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).resolve().parent / "packs"
CATEGORIES = ("excused", "unexcused", "oss", "iss", "partial", "tardy", "early_departure")
ROLES = ("district_admin", "district_analyst", "principal", "counselor", "teacher", "viewer")
KINDS = ("notice", "meeting", "referral")
WINDOW = re.compile(r"^(?:school_year|(?P<count>[1-9]\d?) (?P<unit>weeks|months))$")
PACK_KEYS = {"name", "version", "title", "state", "summary", "sources", "based_on", "counting"}
PACK_KEYS |= {"steps"}
COUNTING_KEYS = {"full_day_categories", "part_day_categories", "part_day_minutes_over"}
STEP_KEYS = {
    "key",
    "title",
    "kind",
    "statute",
    "absences",
    "window",
    "more_since_previous",
    "unexcused_rate",
    "approvers",
    "deadline_school_days",
    "deadline_days",
    "blocked_by",
    "letter",
}
LANGUAGES = ("en", "es", "zh", "vi", "ar", "ht", "so", "ru", "pt")


class PackError(ValueError):
    """A pack that cannot be used, with the file (or district copy) and key at fault."""


@dataclass(frozen=True)
class Window:
    """Where a step counts absences: the school year so far, or any run of weeks or months."""

    text: str
    weeks: int = 0
    months: int = 0

    @property
    def rolling(self) -> bool:
        return bool(self.weeks or self.months)


@dataclass(frozen=True)
class Step:
    """One step of the escalation: when a student becomes eligible, who approves, by when."""

    key: str
    title: str
    kind: str
    statute: str
    absences: int
    window: Window
    more_since_previous: int
    unexcused_rate: Fraction | None
    approvers: frozenset[str]
    deadline_school_days: int | None
    deadline_days: int | None
    blocked_by: tuple[str, ...]
    letter: dict[str, str]

    @property
    def condition(self) -> str:
        """When a student reaches the step, in words."""
        parts = []
        if self.absences:
            within = "the school year" if not self.window.rolling else f"{self.window.text}"
            parts.append(f"{self.absences} unexcused days or part days within {within}")
        if self.more_since_previous:
            parts.append(f"{self.more_since_previous} more after the previous step was sent")
        if self.unexcused_rate is not None:
            parts.append(f"unexcused on {float(self.unexcused_rate):.0%} or more of days enrolled")
        return "; ".join(parts) or "once the previous step is done"


@dataclass(frozen=True)
class Pack:
    """A checked pack: what counts and the steps in the order the law sets."""

    name: str
    version: int
    title: str
    state: str
    summary: str
    sources: tuple[str, ...]
    full_day_categories: frozenset[str]
    part_day_categories: frozenset[str]
    part_day_minutes_over: int
    steps: tuple[Step, ...]

    @property
    def label(self) -> str:
        """The name and version every step and document records (`california@1`)."""
        return f"{self.name}@{self.version}"

    def step(self, key: str) -> Step | None:
        """The step of that key, or None if the pack has none."""
        return next((step for step in self.steps if step.key == key), None)

    def counts(self, category: str, minutes_missed: int | None) -> bool:
        """Whether an event of this category and minutes missed is a truant day or part day."""
        if category in self.full_day_categories:
            return True
        if category in self.part_day_categories:
            return minutes_missed is not None and minutes_missed > self.part_day_minutes_over
        return False


def shipped_packs() -> list[str]:
    """Names of the packs Homeroom ships."""
    return sorted(path.stem for path in SHIPPED.glob("*.toml"))


def _shipped_text(name: str) -> str:
    path = SHIPPED / f"{name}.toml"
    if not path.is_file():
        raise PackError(f"no truancy pack {name!r}: choose one of {', '.join(shipped_packs())}")
    return path.read_text(encoding="utf-8")


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PackError(f"{where}: not valid TOML: {error}") from None


def _merged(text: str, where: str) -> dict[str, Any]:
    """The pack's data with its `based_on` pack under it; steps are overridden by key."""
    data = _parse(text, where)
    base = data.get("based_on")
    if base is None:
        return data
    if not isinstance(base, str):
        raise PackError(f"{where}: based_on must be a shipped pack's name in quotes")
    merged = _parse(_shipped_text(base), f"{base}.toml")
    if "based_on" in merged:
        raise PackError(f"{base}.toml: a shipped pack is not based on another")
    for key, value in data.items():
        if key == "steps":
            merged["steps"] = _override_steps(merged.get("steps", []), value, where)
        elif key == "counting" and isinstance(value, dict):
            merged["counting"] = merged.get("counting", {}) | value
        else:
            merged[key] = value
    return merged


def _override_steps(base: list, changes: Any, where: str) -> list:
    """The base pack's steps with the copy's changes applied to the steps of the same key;
    a copy cannot add, drop or reorder the law's steps."""
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        raise PackError(f"{where}: write each changed step as [[steps]] with its key")
    steps = {step["key"]: dict(step) for step in base}
    for change in changes:
        key = change.get("key")
        if key not in steps:
            raise PackError(
                f"{where}: steps: no step {key!r} in the base pack to change "
                f"(its steps: {', '.join(steps)})"
            )
        letter = steps[key].get("letter", {}) | change.get("letter", {})
        steps[key] |= change
        steps[key]["letter"] = letter
    return list(steps.values())


def _check_keys(data: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise PackError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _count(value: Any, where: str, *, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise PackError(f"{where}: must be a whole number of at least {minimum}")
    return value


def _names(value: Any, allowed: tuple[str, ...] | None, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PackError(f"{where}: must be a list of names in quotes")
    if allowed is not None:
        wrong = [v for v in value if v not in allowed]
        if wrong:
            raise PackError(f"{where}: unknown {', '.join(wrong)} (use {', '.join(allowed)})")
    return tuple(value)


def _window(value: Any, where: str) -> Window:
    match = WINDOW.match(value) if isinstance(value, str) else None
    if match is None:
        raise PackError(f"{where}: {value!r}: write 'school_year', 'N weeks' or 'N months'")
    if match["unit"] == "weeks":
        return Window(value, weeks=int(match["count"]))
    if match["unit"] == "months":
        return Window(value, months=int(match["count"]))
    return Window(value)


def _step(data: Any, index: int, where: str) -> Step:
    at = f"{where}: steps[{index + 1}]"
    if not isinstance(data, dict):
        raise PackError(f"{at}: write each step as [[steps]]")
    _check_keys(data, STEP_KEYS, at)
    for required in ("key", "title", "kind", "statute", "approvers"):
        if not isinstance(data.get(required), str | list) or not data.get(required):
            raise PackError(f"{at}: {required} is required")
    if data["kind"] not in KINDS:
        raise PackError(f"{at}: kind {data['kind']!r}: use {', '.join(KINDS)}")
    rate = data.get("unexcused_rate")
    if rate is not None:
        try:
            rate = Fraction(str(rate))
        except ValueError:
            raise PackError(f"{at}: unexcused_rate must be a share such as 0.10") from None
        if not 0 < rate <= 1:
            raise PackError(f"{at}: unexcused_rate must be above 0 and at most 1")
    letter = data.get("letter", {})
    if not isinstance(letter, dict) or not all(isinstance(t, str) for t in letter.values()):
        raise PackError(f"{at}: letter must be a table of texts by language ([steps.letter])")
    _names(list(letter), LANGUAGES, f"{at}: letter")
    if data["kind"] == "notice" and "en" not in letter:
        raise PackError(f"{at}: a notice needs its letter in English at least (letter.en)")
    deadline_school = data.get("deadline_school_days")
    deadline_days = data.get("deadline_days")
    return Step(
        key=data["key"],
        title=data["title"],
        kind=data["kind"],
        statute=data["statute"],
        absences=_count(data.get("absences", 0), f"{at}: absences"),
        window=_window(data.get("window", "school_year"), f"{at}: window"),
        more_since_previous=_count(
            data.get("more_since_previous", 0), f"{at}: more_since_previous"
        ),
        unexcused_rate=rate,
        approvers=frozenset(_names(data["approvers"], ROLES, f"{at}: approvers")),
        deadline_school_days=None
        if deadline_school is None
        else _count(deadline_school, f"{at}: deadline_school_days", minimum=1),
        deadline_days=None
        if deadline_days is None
        else _count(deadline_days, f"{at}: deadline_days", minimum=1),
        blocked_by=_names(data.get("blocked_by", []), None, f"{at}: blocked_by"),
        letter=dict(letter),
    )


def read_pack(text: str, *, where: str = "the district's pack") -> Pack:
    """The pack in `text` (a shipped pack or a district's copy), checked; `PackError` says
    what is wrong and where."""
    data = _merged(text, where)
    _check_keys(data, PACK_KEYS, where)
    for required in ("name", "version", "title", "steps"):
        if required not in data:
            raise PackError(f"{where}: {required} is required")
    counting = data.get("counting", {})
    if not isinstance(counting, dict):
        raise PackError(f"{where}: counting must be a table: write [counting]")
    _check_keys(counting, COUNTING_KEYS, f"{where}: counting")
    steps = tuple(_step(step, index, where) for index, step in enumerate(data["steps"]))
    keys = [step.key for step in steps]
    if len(set(keys)) != len(keys):
        raise PackError(f"{where}: a step key is used twice ({', '.join(keys)})")
    if steps[0].more_since_previous:
        raise PackError(f"{where}: the first step has no previous step to count from")
    return Pack(
        name=data["name"],
        version=_count(data["version"], f"{where}: version", minimum=1),
        title=data["title"],
        state=data.get("state", ""),
        summary=data.get("summary", ""),
        sources=tuple(data.get("sources", ())),
        full_day_categories=frozenset(
            _names(counting.get("full_day_categories", ["unexcused"]), CATEGORIES, where)
        ),
        part_day_categories=frozenset(
            _names(counting.get("part_day_categories", []), CATEGORIES, where)
        ),
        part_day_minutes_over=_count(
            counting.get("part_day_minutes_over", 0), f"{where}: part_day_minutes_over"
        ),
        steps=steps,
    )


def load_pack(name: str) -> Pack:
    """A shipped pack by name (`california`, `texas`, `north-carolina`, `generic`)."""
    return read_pack(_shipped_text(name), where=f"{name}.toml")
