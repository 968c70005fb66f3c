"""The playbook file: a district's barriers and intervention types as TOML, read and written.

`read_playbook` checks every entry and reports the first mistake with its line and field
(`PlaybookError`); `write_playbook` writes what `read_playbook` reads back unchanged. The
shipped default is `playbook/default.toml`. No Django imports: the actions store it.
"""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PLAYBOOK = Path(__file__).resolve().parent / "playbook" / "default.toml"
TIERS = (1, 2, 3)
BARRIER_KEYS = {"key", "name", "description"}
INTERVENTION_KEYS = {"key", "name", "tiers", "barriers", "description", "typical_weeks", "evidence"}


class PlaybookError(ValueError):
    """A playbook file that cannot be used: the line and the field at fault."""

    def __init__(self, message: str, *, line: int | None = None, field: str = "") -> None:
        self.line, self.field = line, field
        where = f"line {line}: " if line else ""
        super().__init__(f"{where}{field + ': ' if field else ''}{message}")


@dataclass(frozen=True)
class BarrierEntry:
    """A barrier as the playbook file gives it."""

    key: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class InterventionEntry:
    """An intervention type as the playbook file gives it."""

    key: str
    name: str
    tiers: tuple[int, ...]
    barriers: tuple[str, ...] = ()
    description: str = ""
    typical_weeks: int | None = None
    evidence: str = ""


@dataclass(frozen=True)
class Playbook:
    """A checked playbook: barriers and intervention types, in file order."""

    barriers: list[BarrierEntry] = field(default_factory=list)
    interventions: list[InterventionEntry] = field(default_factory=list)


def _header_lines(text: str, table: str) -> list[int]:
    """The line numbers (1-based) of each `[[table]]` header, in order."""
    return [
        number
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip().split("#")[0].strip() == f"[[{table}]]"
    ]


def _text(entry: dict, name: str, where: str, line: int | None, *, required: bool) -> str:
    value = entry.get(name, "")
    if not isinstance(value, str):
        raise PlaybookError("must be text in quotes", line=line, field=f"{where}.{name}")
    if required and not value.strip():
        raise PlaybookError("is required", line=line, field=f"{where}.{name}")
    return value.strip()


def _key(entry: dict, where: str, line: int | None) -> str:
    key = _text(entry, "key", where, line, required=True)
    if not all(c.isascii() and (c.isalnum() or c in "-_") for c in key) or len(key) > 60:
        raise PlaybookError(
            f"{key!r} must be letters, digits, '-' or '_' (at most 60)",
            line=line,
            field=f"{where}.key",
        )
    return key


def _unknown(entry: dict, allowed: set[str], where: str, line: int | None) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise PlaybookError(
            f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})",
            line=line,
            field=where,
        )


def _tables(data: dict, name: str) -> list:
    tables = data.get(name, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise PlaybookError(f"write each entry as [[{name}]]", field=name)
    return tables


def read_playbook(text: str) -> Playbook:
    """The playbook in `text`, checked; `PlaybookError` names the line and field of a mistake."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PlaybookError(
            f"not valid TOML: {error}", line=getattr(error, "lineno", None)
        ) from None
    _unknown(data, {"version", "barriers", "interventions"}, "playbook", None)
    barriers: list[BarrierEntry] = []
    lines = _header_lines(text, "barriers")
    for index, entry in enumerate(_tables(data, "barriers")):
        where, line = f"barriers[{index + 1}]", lines[index] if index < len(lines) else None
        _unknown(entry, BARRIER_KEYS, where, line)
        key = _key(entry, where, line)
        if key in {b.key for b in barriers}:
            raise PlaybookError(f"{key!r} is listed twice", line=line, field=f"{where}.key")
        barriers.append(
            BarrierEntry(
                key=key,
                name=_text(entry, "name", where, line, required=True),
                description=_text(entry, "description", where, line, required=False),
            )
        )
    known = {b.key for b in barriers}
    interventions: list[InterventionEntry] = []
    lines = _header_lines(text, "interventions")
    for index, entry in enumerate(_tables(data, "interventions")):
        where, line = f"interventions[{index + 1}]", lines[index] if index < len(lines) else None
        _unknown(entry, INTERVENTION_KEYS, where, line)
        key = _key(entry, where, line)
        if key in {i.key for i in interventions}:
            raise PlaybookError(f"{key!r} is listed twice", line=line, field=f"{where}.key")
        tiers = entry.get("tiers")
        if (
            not isinstance(tiers, list)
            or not tiers
            or any(isinstance(t, bool) or t not in TIERS for t in tiers)
        ):
            raise PlaybookError(
                "must list one or more of the tiers 1, 2, 3, e.g. [2, 3]",
                line=line,
                field=f"{where}.tiers",
            )
        addressed = entry.get("barriers", [])
        if not isinstance(addressed, list) or not all(isinstance(b, str) for b in addressed):
            raise PlaybookError(
                'must list barrier keys, e.g. ["transportation"]',
                line=line,
                field=f"{where}.barriers",
            )
        unknown = sorted(set(addressed) - known)
        if unknown:
            raise PlaybookError(
                f"unknown barrier(s) {', '.join(unknown)}: list them under [[barriers]]",
                line=line,
                field=f"{where}.barriers",
            )
        weeks = entry.get("typical_weeks")
        if weeks is not None and (isinstance(weeks, bool) or not isinstance(weeks, int)):
            raise PlaybookError(
                "must be a whole number of weeks", line=line, field=f"{where}.typical_weeks"
            )
        if weeks is not None and not 1 <= weeks <= 52:
            raise PlaybookError(
                "must be from 1 to 52 weeks", line=line, field=f"{where}.typical_weeks"
            )
        interventions.append(
            InterventionEntry(
                key=key,
                name=_text(entry, "name", where, line, required=True),
                tiers=tuple(sorted(set(tiers))),
                barriers=tuple(addressed),
                description=_text(entry, "description", where, line, required=False),
                typical_weeks=weeks,
                evidence=_text(entry, "evidence", where, line, required=False),
            )
        )
    return Playbook(barriers=barriers, interventions=interventions)


def _quoted(value: str) -> str:
    """A TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def write_playbook(playbook: Playbook) -> str:
    """The playbook as a TOML file `read_playbook` reads back to the same entries."""
    out = ["# Homeroom playbook (docs/interventions.md, 'The playbook file')", "version = 1"]
    for barrier in playbook.barriers:
        out += ["", "[[barriers]]", f"key = {_quoted(barrier.key)}"]
        out.append(f"name = {_quoted(barrier.name)}")
        if barrier.description:
            out.append(f"description = {_quoted(barrier.description)}")
    for entry in playbook.interventions:
        out += ["", "[[interventions]]", f"key = {_quoted(entry.key)}"]
        out.append(f"name = {_quoted(entry.name)}")
        out.append(f"tiers = [{', '.join(str(t) for t in entry.tiers)}]")
        out.append(f"barriers = [{', '.join(_quoted(b) for b in entry.barriers)}]")
        if entry.description:
            out.append(f"description = {_quoted(entry.description)}")
        if entry.typical_weeks is not None:
            out.append(f"typical_weeks = {entry.typical_weeks}")
        if entry.evidence:
            out.append(f"evidence = {_quoted(entry.evidence)}")
    return "\n".join(out) + "\n"


def default_playbook() -> Playbook:
    """The playbook Homeroom installs for each district."""
    return read_playbook(DEFAULT_PLAYBOOK.read_text(encoding="utf-8"))
