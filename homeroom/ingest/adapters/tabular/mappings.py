"""What a mapping profile says once read and checked: the `Profile` and its parts.

A profile maps, per entity, a file (`Source`) and each record field's column or constant
(`FieldMapping`), with the id schemes, the attendance codes (`CodeMapping`), a period
roll-up and a declared scope. `profiles.py` builds these from TOML; the reader follows them.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from homeroom.ingest.adapters.tabular.fields import OMIT, FieldType

# The normalizations a profile may name (`normalize = "upper"`), applied to cell text.
NORMALIZERS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "strip_leading_zeros": lambda text: text.lstrip("0") or ("0" if text else ""),
}


@dataclass(frozen=True)
class IdScheme:
    """How ids of one kind are normalized: normalizers applied in order, then a prefix."""

    prefix: str = ""
    normalize: tuple[str, ...] = ()


@dataclass(frozen=True)
class FieldMapping:
    """Where one record field comes from: a column or a constant, with value map and options."""

    field: str
    key: str
    field_type: FieldType
    column: str | None = None
    value: Any = OMIT
    default: Any = OMIT
    value_map: dict[str, str] = field(default_factory=dict)
    normalize: tuple[str, ...] = ()
    blank: str = "default"
    date_formats: tuple[str, ...] | None = None
    separator: str = ";"


@dataclass(frozen=True)
class CodeMapping:
    """A local attendance code of the profile: its category and default share of a day."""

    code: str
    category: str
    description: str
    day_fraction: Decimal
    line: int


@dataclass(frozen=True)
class PeriodRollup:
    """How period rows become one daily row per student-day (docs/import.md)."""

    rule: str
    absent_code: str | None = None
    present_code: str | None = None
    periods_per_day: int | None = None


@dataclass(frozen=True)
class DeclaredScope:
    """The schools and dates an attendance file speaks for, where the profile fixes them."""

    school_ids: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None


@dataclass(frozen=True)
class Source:
    """One entity's mapping from one file: `[students]`, or each `[[students]]`."""

    entity: str
    key: str
    file: str
    fields: dict[str, FieldMapping]
    sheet: str | None = None
    distinct: bool = False
    extra_columns: str = "report"
    ignore_columns: tuple[str, ...] = ()
    mode: str = "exceptions"
    unmapped_codes: str = "error"
    minutes_per_day: int | None = None
    periods: PeriodRollup | None = None
    scope: DeclaredScope | None = None

    @property
    def columns(self) -> list[str]:
        """The file columns this mapping reads, in field order, each once."""
        return list(dict.fromkeys(m.column for m in self.fields.values() if m.column))


@dataclass(frozen=True)
class Profile:
    """A validated mapping profile."""

    name: str
    path: Path
    description: str
    sources: tuple[Source, ...]
    encoding: str = "auto"
    delimiter: str = "auto"
    date_formats: tuple[str, ...] | None = None
    ignore_files: tuple[str, ...] = ()
    codes: dict[str, CodeMapping] = field(default_factory=dict)
    ids: dict[str, IdScheme] = field(default_factory=dict)

    def code(self, text: str) -> CodeMapping | None:
        """The profile's mapping of a local code (exact, else ignoring case)."""
        found = self.codes.get(text)
        if found is None:
            found = next((c for k, c in self.codes.items() if k.lower() == text.lower()), None)
        return found
