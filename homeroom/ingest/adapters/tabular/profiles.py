"""Mapping profiles: TOML files that say how a district's CSV/XLSX export maps onto records.

A profile names, per entity, the file (glob) holding it and the column (or constant) for
each field of the normalized record (`homeroom.ingest.records`), with value maps, date
formats, the id scheme, the attendance code mapping and, for attendance, whether the file
is positive or exceptions-only, its scope and an optional period roll-up. Writing one for a
new SIS needs no code; docs/import.md is the reference. `load_profile` reads and validates
a profile and raises `ProfileError` naming the profile file and key of every mistake; what
it returns is the `Profile` of `mappings.py`.
"""

import codecs
import datetime as dt
import re
import tomllib
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from homeroom.attendance.models import Category
from homeroom.ingest.adapters.tabular.fields import (
    ABSENT_CATEGORIES,
    DEFAULT_DAY_FRACTION,
    ENTITIES,
    OMIT,
    CellError,
    DateParser,
    FieldType,
    convert,
    parse_fraction,
)
from homeroom.ingest.adapters.tabular.mappings import (
    NORMALIZERS,
    CodeMapping,
    DeclaredScope,
    FieldMapping,
    IdScheme,
    PeriodRollup,
    Profile,
    Source,
)
from homeroom.ingest.adapters.vocabulary import LIMITS

# The shipped profiles stay beside the ingest app, where package-data installs them.
SHIPPED = Path(__file__).resolve().parents[2] / "profiles"
ENCODINGS_HELP = "auto, utf-8, utf-8-sig, utf-16, windows-1252 or another Python codec name"


class ProfileError(ValueError):
    """A profile that cannot be used; `problems` lists each mistake with its file and key."""

    def __init__(self, path: str, problems: list[str]):
        self.path, self.problems = path, problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"profile {path} is not valid:\n{listed}")


ID_KINDS = ("student", "school", "guardian", "section")
SOURCE_KEYS = frozenset(
    {"file", "sheet", "distinct", "extra_columns", "ignore_columns", "date_format"}
)
ATTENDANCE_KEYS = frozenset({"mode", "unmapped_codes", "minutes_per_day", "periods", "scope"})
FIELD_KEYS = frozenset(
    {"column", "value", "default", "map", "normalize", "date_format", "blank", "separator"}
)
PROFILE_KEYS = frozenset(
    {"name", "description", "encoding", "delimiter", "date_format", "extra_columns", "ignore_files"}
)
TOP_KEYS = frozenset({"profile", "ids", "codes", "maps"}) | ENTITIES.keys()
DELIMITERS = {"auto": "auto", ",": ",", ";": ";", "\t": "\t", "tab": "\t", "|": "|"}
EXTRA_COLUMNS = ("ignore", "report", "error")
ROLLUP_RULES = ("all_periods", "half_or_more", "fraction")


def shipped_profiles() -> list[str]:
    """Names of the profiles that ship with Homeroom."""
    return sorted(path.stem for path in SHIPPED.glob("*.toml"))


def load_profile(name_or_path: str) -> Profile:
    """Read and validate a shipped profile by name, or a profile file by path."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path.is_file() or len(path.parts) > 1):
        path = SHIPPED / f"{name_or_path}.toml"
        if not path.is_file():
            raise ProfileError(
                str(name_or_path),
                [
                    f"no shipped profile is named {name_or_path!r}; shipped profiles:"
                    f" {', '.join(shipped_profiles())}; or give the path of a .toml file"
                ],
            )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ProfileError(path.name, [f"{path.name}: cannot be read: {error}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(path.name, [f"{path.name}: is not valid TOML: {error}"]) from None
    return _Checker(path, text).profile(data)


class _Checker:
    """Builds a Profile from parsed TOML, collecting every mistake with its key."""

    def __init__(self, path: Path, text: str):
        self.path, self.lines = path, text.splitlines()
        self.problems: list[str] = []
        self.maps: dict[str, dict[str, str]] = {}
        self.date_formats: tuple[str, ...] | None = None

    def fail(self, key: str, message: str) -> None:
        """Record a mistake at `key` (the empty key is the file's top level)."""
        self.problems.append(f"{self.path.name}: {key or '(top level)'}: {message}")

    def unknown_keys(self, table: dict, allowed: frozenset | set, key: str) -> None:
        """A mistake for every key of `table` not in `allowed`."""
        for name in table:
            if name not in allowed:
                where = f"{key}.{name}" if key else name
                self.fail(where, f"unknown key; allowed here: {', '.join(sorted(allowed))}")

    def table(self, data: dict, name: str, key: str) -> dict:
        """data[name] when it is a table (or absent: empty)."""
        value = data.get(name, {})
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
            return {}
        return value

    def string(self, data: dict, name: str, key: str, default: str | None = None) -> str | None:
        """data[name] when it is a string."""
        value = data.get(name, default)
        if value is not None and not isinstance(value, str):
            self.fail(key, f"must be a string (got {value!r})")
            return default
        return value

    def one_of(self, data: dict, name: str, key: str, allowed: tuple, default: str) -> str:
        """data[name] when it is one of `allowed`."""
        value = self.string(data, name, key, default)
        if value not in allowed:
            self.fail(key, f"must be one of {', '.join(allowed)} (got {value!r})")
            return default
        return value

    def formats(self, value: Any, key: str) -> tuple[str, ...] | None:
        """A date_format value: "auto", a strptime format, or a list of them."""
        if value is None or value == "auto":
            return None
        values = [value] if isinstance(value, str) else value
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and "%" in v for v in values)
        ):
            self.fail(key, 'must be "auto", a format like "%m/%d/%Y", or a list of formats')
            return None
        sample = dt.datetime(2001, 2, 13)
        for fmt in values:
            try:
                valid = dt.datetime.strptime(sample.strftime(fmt), fmt).date() == sample.date()
            except ValueError:
                valid = False
            if not valid:
                self.fail(key, f"not a date format with year, month and day: {fmt!r}")
        return tuple(values)

    def profile(self, data: dict) -> Profile:
        """The validated profile, or ProfileError listing every mistake."""
        self.unknown_keys(data, TOP_KEYS, "")
        head = self.table(data, "profile", "profile")
        self.unknown_keys(head, PROFILE_KEYS, "profile")
        encoding = self.string(head, "encoding", "profile.encoding", "auto")
        if encoding != "auto":
            try:
                codecs.lookup(encoding)
            except LookupError:
                self.fail(
                    "profile.encoding", f"unknown encoding {encoding!r}; use {ENCODINGS_HELP}"
                )
        delimiter = self.string(head, "delimiter", "profile.delimiter", "auto")
        if delimiter not in DELIMITERS:
            self.fail(
                "profile.delimiter",
                f'must be "auto", ",", ";", "tab" (or "\\t") or "|" (got {delimiter!r})',
            )
        self.date_formats = self.formats(head.get("date_format"), "profile.date_format")
        extra = self.one_of(head, "extra_columns", "profile.extra_columns", EXTRA_COLUMNS, "report")
        ignore_files = head.get("ignore_files", [])
        if not isinstance(ignore_files, list) or not all(isinstance(g, str) for g in ignore_files):
            self.fail("profile.ignore_files", "must be a list of file patterns")
            ignore_files = []
        ids = self.ids(self.table(data, "ids", "ids"))
        self.maps = self.named_maps(self.table(data, "maps", "maps"))
        codes = self.codes(self.table(data, "codes", "codes"))
        sources = []
        for entity in ENTITIES:
            if entity not in data:
                continue
            tables = data[entity]
            if isinstance(tables, dict):
                sources.append(self.source(entity, tables, entity, extra, codes))
            elif isinstance(tables, list) and all(isinstance(t, dict) for t in tables):
                for n, table in enumerate(tables, 1):
                    sources.append(self.source(entity, table, f"{entity}[{n}]", extra, codes))
            else:
                self.fail(entity, f"must be a table [{entity}] or tables [[{entity}]]")
        if not sources and not self.problems:
            self.fail(
                "", f"maps no entity; add a table such as [attendance] ({', '.join(ENTITIES)})"
            )
        if self.problems:
            raise ProfileError(self.path.name, self.problems)
        return Profile(
            name=self.string(head, "name", "profile.name") or self.path.stem,
            path=self.path,
            description=self.string(head, "description", "profile.description") or "",
            sources=tuple(sources),
            encoding=encoding or "auto",
            delimiter=DELIMITERS.get(delimiter or "auto", "auto"),
            date_formats=self.date_formats,
            ignore_files=tuple(ignore_files),
            codes=codes,
            ids=ids,
        )

    def ids(self, table: dict) -> dict[str, IdScheme]:
        """The [ids.<kind>] tables."""
        self.unknown_keys(table, set(ID_KINDS), "ids")
        schemes = {}
        for kind, spec in table.items():
            if kind not in ID_KINDS:
                continue
            key = f"ids.{kind}"
            if not isinstance(spec, dict):
                self.fail(key, "must be a table with prefix and/or normalize")
                continue
            self.unknown_keys(spec, {"prefix", "normalize"}, key)
            schemes[kind] = IdScheme(
                prefix=self.string(spec, "prefix", f"{key}.prefix", "") or "",
                normalize=self.normalizers(spec.get("normalize"), f"{key}.normalize"),
            )
        return schemes

    def normalizers(self, value: Any, key: str) -> tuple[str, ...]:
        """A normalize value: a name or list of names from NORMALIZERS."""
        if value is None:
            return ()
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.fail(key, f"must be one of {', '.join(NORMALIZERS)} or a list of them")
            return ()
        for name in names:
            if name not in NORMALIZERS:
                self.fail(key, f"unknown normalization {name!r}; use {', '.join(NORMALIZERS)}")
        return tuple(n for n in names if n in NORMALIZERS)

    def named_maps(self, table: dict) -> dict[str, dict[str, str]]:
        """The [maps.<name>] value maps fields can refer to by name."""
        maps = {}
        for name, spec in table.items():
            maps[name] = self.value_map(spec, f"maps.{name}")
        return maps

    def value_map(self, spec: Any, key: str) -> dict[str, str]:
        """A value map: file value -> stored value, all strings ("*" matches the rest)."""
        if isinstance(spec, str):
            if spec not in self.maps:
                self.fail(key, f"no map named {spec!r} in [maps]")
                return {}
            return self.maps[spec]
        if not isinstance(spec, dict):
            self.fail(key, "must be a table of value = stored value, or the name of a [maps] map")
            return {}
        table = {}
        for source, target in spec.items():
            if isinstance(target, bool):
                target = "true" if target else "false"
            elif isinstance(target, int | float):
                target = str(target)
            if not isinstance(target, str):
                self.fail(f"{key}.{source}", "must map to a string")
                continue
            table[source.strip()] = target.strip()
        return table

    def codes(self, table: dict) -> dict[str, CodeMapping]:
        """The [codes] table: local code -> category, description, day_fraction."""
        codes = {}
        for code, spec in table.items():
            key = f"codes.{code}"
            if isinstance(spec, str):
                spec = {"category": spec}
            if not isinstance(spec, dict):
                self.fail(
                    key, 'must be { category = "...", description = "...", day_fraction = 1 }'
                )
                continue
            self.unknown_keys(spec, {"category", "description", "day_fraction"}, key)
            if not code.strip() or len(code) > LIMITS["code"]:
                self.fail(key, f"a code must be 1 to {LIMITS['code']} characters")
                continue
            category = spec.get("category")
            if category not in Category.values:
                self.fail(
                    f"{key}.category",
                    f"unknown category {category!r}; use one of {', '.join(Category.values)}",
                )
                continue
            fraction = DEFAULT_DAY_FRACTION.get(category, Decimal(0))
            if "day_fraction" in spec:
                try:
                    fraction = parse_fraction(str(spec["day_fraction"]))
                except CellError as error:
                    self.fail(f"{key}.day_fraction", error.message)
            description = self.string(spec, "description", f"{key}.description") or code
            codes[code] = CodeMapping(
                code, category, description[: LIMITS["description"]], fraction, self.line(code)
            )
        return codes

    def line(self, code: str) -> int:
        """The line of the profile where [codes] maps `code` (1 when not found)."""
        quoted = rf"(\"|')?{re.escape(code)}(\"|')?"
        entry = re.compile(rf"^\s*{quoted}\s*=")
        own_table = re.compile(rf"^\s*\[\s*codes\s*\.\s*{quoted}\s*\]")
        inside = False
        for number, text in enumerate(self.lines, 1):
            if own_table.match(text):
                return number
            if text.lstrip().startswith("["):
                inside = re.match(r"^\s*\[\s*codes\s*\]", text) is not None
            elif inside and entry.match(text):
                return number
        return 1

    def source(
        self, entity: str, table: dict, key: str, extra: str, codes: dict[str, CodeMapping]
    ) -> Source:
        """One entity mapping, checked field by field."""
        _record, types = ENTITIES[entity]
        allowed = set(SOURCE_KEYS | types.keys())
        if entity == "attendance":
            allowed |= ATTENDANCE_KEYS
        self.unknown_keys(table, allowed, key)
        file = self.string(table, "file", f"{key}.file")
        if not file:
            self.fail(f"{key}.file", 'missing: the file name or pattern (e.g. "students*.csv")')
        formats = self.formats(table.get("date_format"), f"{key}.date_format") or self.date_formats
        fields = {}
        for name, field_type in types.items():
            if name in table:
                mapping = self.field(name, table[name], f"{key}.{name}", field_type, formats)
                if mapping:
                    fields[name] = mapping
            elif field_type.required:
                self.fail(
                    f"{key}.{name}",
                    'missing required field: map it to a column (name = "Column")'
                    ' or give a constant (name = { value = "..." })',
                )
        ignore = table.get("ignore_columns", [])
        if not isinstance(ignore, list) or not all(isinstance(c, str) for c in ignore):
            self.fail(f"{key}.ignore_columns", "must be a list of column names")
            ignore = []
        distinct = table.get("distinct", False)
        if not isinstance(distinct, bool):
            self.fail(f"{key}.distinct", "must be true or false")
            distinct = False
        source = Source(
            entity=entity,
            key=key,
            file=file or "",
            fields=fields,
            sheet=self.string(table, "sheet", f"{key}.sheet"),
            distinct=distinct,
            extra_columns=self.one_of(
                table, "extra_columns", f"{key}.extra_columns", EXTRA_COLUMNS, extra
            ),
            ignore_columns=tuple(ignore),
        )
        if entity == "attendance":
            source = self.attendance(source, table, key, codes)
        return source

    def field(
        self,
        name: str,
        spec: Any,
        key: str,
        field_type: FieldType,
        formats: tuple[str, ...] | None,
    ) -> FieldMapping | None:
        """One field: "Column", or { column = ..., map = ..., ... }, or { value = ... }."""
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict):
            self.fail(key, 'must be a column name ("Column") or a table ({ column = "Column" })')
            return None
        self.unknown_keys(spec, FIELD_KEYS, key)
        column = self.string(spec, "column", f"{key}.column")
        has_value = "value" in spec
        if bool(column) == has_value:
            self.fail(key, "give exactly one of column (read from the file) or value (a constant)")
            return None
        own_formats = self.formats(spec.get("date_format"), f"{key}.date_format") or formats
        dates = DateParser(own_formats)
        value_map = self.value_map(spec["map"], f"{key}.map") if "map" in spec else {}
        blank = self.one_of(
            spec,
            "blank",
            f"{key}.blank",
            ("error", "default", "skip"),
            "error" if field_type.required else "default",
        )
        separator = self.string(spec, "separator", f"{key}.separator", ";") or ";"
        for source_value, target in value_map.items():
            if target:
                self.constant(target, field_type, dates, f"{key}.map.{source_value}")
        mapping = FieldMapping(
            field=name,
            key=key,
            field_type=field_type,
            column=column.strip() if column else None,
            value_map=value_map,
            normalize=self.normalizers(spec.get("normalize"), f"{key}.normalize"),
            blank=blank,
            date_formats=own_formats,
            separator=separator,
        )
        if has_value:
            value = self.constant(spec["value"], field_type, dates, f"{key}.value")
            if value is OMIT and field_type.required:
                self.fail(f"{key}.value", "a required field needs a non-empty value")
            return replace(mapping, value=value)
        if "default" in spec:
            default = self.constant(spec["default"], field_type, dates, f"{key}.default")
            return replace(mapping, default=default)
        return mapping

    def constant(self, raw: Any, field_type: FieldType, dates: DateParser, key: str) -> Any:
        """A constant of the profile converted to the field's type (mistakes recorded)."""
        if isinstance(raw, bool):
            raw = "true" if raw else "false"
        elif isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
            raw = raw.isoformat()
            dates = DateParser(None)
        elif isinstance(raw, int | float):
            raw = str(raw)
        if not isinstance(raw, str):
            self.fail(key, f"must be a string, number, true/false or date (got {raw!r})")
            return OMIT
        text = raw.strip()
        if not text:
            return "" if field_type.kind == "text" else OMIT
        try:
            if field_type.kind == "list":
                return [text]
            if field_type.kind == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return dt.date.fromisoformat(text)
            return convert(text, field_type, dates)
        except (CellError, ValueError) as error:
            message = error.message if isinstance(error, CellError) else str(error)
            self.fail(key, f"{text!r}: {message}")
            return OMIT

    def attendance(
        self, source: Source, table: dict, key: str, codes: dict[str, CodeMapping]
    ) -> Source:
        """The attendance options: mode, unmapped codes, minutes, period roll-up, scope."""
        mode = table.get("mode")
        if mode not in ("positive", "exceptions"):
            self.fail(
                f"{key}.mode",
                'missing or wrong: "positive" (every day has a code, present days included)'
                ' or "exceptions" (only absences, tardies and other exceptions)',
            )
            mode = "exceptions"
        unmapped = self.one_of(
            table, "unmapped_codes", f"{key}.unmapped_codes", ("error", "pass"), "error"
        )
        minutes = table.get("minutes_per_day")
        if minutes is not None and (not isinstance(minutes, int) or not 1 <= minutes <= 1440):
            self.fail(f"{key}.minutes_per_day", "must be a whole number of minutes, 1 to 1440")
            minutes = None
        if (
            mode == "positive"
            and codes
            and not any(c.category == Category.PRESENT for c in codes.values())
        ):
            self.fail(
                f"{key}.mode",
                'a positive-attendance file needs a code with category = "present" in [codes]',
            )
        periods = None
        if "periods" in table:
            periods = self.periods(table["periods"], f"{key}.periods", mode, unmapped, codes)
            if "period" not in source.fields:
                self.fail(f"{key}.period", "a period roll-up needs the column naming the period")
        scope = self.scope(table["scope"], f"{key}.scope") if "scope" in table else None
        return replace(
            source,
            mode=mode,
            unmapped_codes=unmapped,
            minutes_per_day=minutes,
            periods=periods,
            scope=scope,
        )

    def periods(
        self, spec: Any, key: str, mode: str, unmapped: str, codes: dict[str, CodeMapping]
    ) -> PeriodRollup | None:
        """The [attendance.periods] roll-up of period rows to daily rows."""
        if not isinstance(spec, dict):
            self.fail(key, "must be a table with rule (and absent_code, present_code, ...)")
            return None
        self.unknown_keys(spec, {"rule", "absent_code", "present_code", "periods_per_day"}, key)
        rule = spec.get("rule")
        if rule not in ROLLUP_RULES:
            self.fail(f"{key}.rule", f"missing or wrong: use one of {', '.join(ROLLUP_RULES)}")
        if not codes or unmapped != "error":
            self.fail(
                key,
                "a period roll-up needs every code in [codes] (with unmapped_codes ="
                ' "error") to know which period codes are absences',
            )
        absent = self.string(spec, "absent_code", f"{key}.absent_code")
        if absent is not None and (
            absent not in codes or codes[absent].category not in ABSENT_CATEGORIES
        ):
            self.fail(
                f"{key}.absent_code",
                f"{absent!r} is not a code of [codes] with an absence category",
            )
        present = self.string(spec, "present_code", f"{key}.present_code")
        if present is not None and (
            present not in codes or codes[present].category != Category.PRESENT
        ):
            self.fail(
                f"{key}.present_code", f"{present!r} is not a code of [codes] with category present"
            )
        if present is None and mode == "positive":
            present = next((c.code for c in codes.values() if c.category == Category.PRESENT), None)
        per_day = spec.get("periods_per_day")
        if per_day is not None and (not isinstance(per_day, int) or not 1 <= per_day <= 30):
            self.fail(f"{key}.periods_per_day", "must be a whole number from 1 to 30")
            per_day = None
        if mode == "exceptions" and per_day is None:
            self.fail(
                f"{key}.periods_per_day",
                "an exceptions-only file does not show the periods a student had: give"
                " periods_per_day",
            )
        return PeriodRollup(rule or "all_periods", absent, present, per_day)

    def scope(self, spec: Any, key: str) -> DeclaredScope | None:
        """A declared [attendance.scope]: schools, start, end (each optional)."""
        if not isinstance(spec, dict):
            self.fail(key, "must be a table with schools, start and/or end")
            return None
        self.unknown_keys(spec, {"schools", "start", "end"}, key)
        schools = spec.get("schools", [])
        if not isinstance(schools, list) or not all(isinstance(s, str) for s in schools):
            self.fail(f"{key}.schools", "must be a list of school ids")
            schools = []
        bounds = []
        for name in ("start", "end"):
            value = spec.get(name)
            if isinstance(value, str):
                try:
                    value = dt.date.fromisoformat(value)
                except ValueError:
                    self.fail(f"{key}.{name}", "must be a date like 2022-08-15")
                    value = None
            elif value is not None and (
                not isinstance(value, dt.date) or isinstance(value, dt.datetime)
            ):
                self.fail(f"{key}.{name}", "must be a date like 2022-08-15")
                value = None
            bounds.append(value)
        if bounds[0] and bounds[1] and bounds[0] > bounds[1]:
            self.fail(key, "start is after end")
        return DeclaredScope(tuple(schools), bounds[0], bounds[1])


# Profile is imported from here too: load_profile returns one.
__all__ = ["Profile", "ProfileError", "load_profile", "shipped_profiles"]
