"""A profile's sources compiled for reading: a converter per field, its columns per file.

A converter turns one cell into its field's value (or raises `CellError` or `SkipRow`),
applying the field's normalizations, value map and id scheme; it remembers its answers,
since ids, dates and codes repeat row after row. `FileMapping` is a source matched to one
file's header.
"""

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from homeroom.ingest.adapters.tabular.fields import OMIT, CellError, DateParser, SkipRow, convert
from homeroom.ingest.adapters.tabular.mappings import (
    NORMALIZERS,
    FieldMapping,
    IdScheme,
    Profile,
    Source,
)
from homeroom.ingest.records import Where

CACHED_VALUES = 200_000  # converted values remembered per field (ids, dates and codes repeat)
CACHED_TEXTS = 10_000  # the same for free text (reasons repeat, names seldom do)


@dataclass
class FileMapping:
    """A source compiled for one file: column positions and a converter per field."""

    source: Source
    # (mapping, column index, converter, the converter's cache of text -> value or None)
    fields: list[tuple[FieldMapping, int | None, Callable[[Any], Any], dict | None]]
    columns: dict[str, str] = field(default_factory=dict)  # field -> header name
    checked: bool = True  # whether _Reader.checked can find anything wrong or fill anything


def converters(profile: Profile, source: Source) -> dict[str, Callable[[Any], Any]]:
    """A converter for each mapped field of `source` (constants already converted)."""
    return {name: converter(profile, source, m) for name, m in source.fields.items()}


def converter(profile: Profile, source: Source, mapping: FieldMapping) -> Callable[[Any], Any]:
    """Cell value -> field value, raising CellError or SkipRow."""
    field_type = mapping.field_type
    dates = DateParser(mapping.date_formats)
    scheme = profile.ids.get(field_type.id_kind, IdScheme())
    folded = {k.casefold(): v for k, v in mapping.value_map.items()}
    normalizers = [NORMALIZERS[n] for n in mapping.normalize]
    id_normalizers = [NORMALIZERS[n] for n in scheme.normalize]
    required = field_type.required

    def missing() -> Any:
        if mapping.default is not OMIT:
            return mapping.default
        if mapping.blank == "skip":
            raise SkipRow
        if mapping.blank == "error" or required:
            raise CellError(
                "missing_value",
                f"the value is empty, and {mapping.key} needs one",
                'Fill it in, or give a default in the profile (default = "...").',
            )
        return OMIT

    def convert_cell(raw: Any) -> Any:
        if field_type.kind == "date" and isinstance(raw, dt.date):
            return raw.date() if isinstance(raw, dt.datetime) else raw
        text = raw.strip() if type(raw) is str else cell_text(raw)
        for normalize in normalizers:
            text = normalize(text)
        if mapping.value_map:
            if text in mapping.value_map:
                text = mapping.value_map[text]
            elif text.casefold() in folded:
                text = folded[text.casefold()]
            elif text and "*" in mapping.value_map:
                text = mapping.value_map["*"]
        if not text:
            return missing()
        if field_type.kind == "id":
            for normalize in id_normalizers:
                text = normalize(text)
            text = scheme.prefix + text
        if field_type.kind == "list":
            items = [item.strip() for item in text.split(mapping.separator)]
            for item in items:
                convert(item, field_type, dates)
            return [item for item in items if item]
        if field_type.kind == "code":
            return mapped_code(profile, source, convert(text, field_type, dates))
        return convert(text, field_type, dates)

    if mapping.column is not None:
        # Free text may repeat (reasons) or not (names): fewer of its values are kept.
        if field_type.kind in ("text", "list"):
            return memoized(convert_cell, limit=CACHED_TEXTS, blank_only=field_type.kind == "list")
        return memoized(convert_cell, limit=CACHED_VALUES)
    value = mapping.value
    try:
        if field_type.kind in ("id", "code") and isinstance(value, str):
            value = convert_cell(value)
    except CellError as error:
        problem = error

        def fail(raw: Any) -> Any:
            raise problem

        return fail
    return lambda raw: value


def mapped_code(profile: Profile, source: Source, text: str) -> str:
    """An attendance code checked against the profile's mapping."""
    if not profile.codes:
        return text
    mapped = profile.code(text)
    if mapped is not None:
        return mapped.code
    if source.unmapped_codes == "pass":
        return text
    raise CellError(
        "unknown_code",
        "unknown attendance code: the profile's [codes] does not map it",
        f"Add it to [codes] in {profile.path.name} (e.g. {text} = {{ category ="
        ' "unexcused" }), or set unmapped_codes = "pass" to use the district\'s codes.',
    )


def cell_text(value: Any) -> str:
    """A cell's value as stripped text (XLSX numbers and dates rendered as a SIS would)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def memoized(
    convert_cell: Callable[[Any], Any], *, limit: int, blank_only: bool = False
) -> Callable[[Any], Any]:
    """The converter remembering up to `limit` answers (ids, dates and codes repeat row after
    row). With `blank_only` it remembers only its answer for the empty cell (lists, which
    are mutable, are made anew for every other cell).
    """
    cache: dict[Any, Any] = {}

    def cached(raw: Any) -> Any:
        key = raw if type(raw) is str else (type(raw), raw)  # True == 1, yet reads otherwise
        try:
            return cache[key]
        except KeyError:
            value = convert_cell(raw)
            if len(cache) < limit and (not blank_only or key == ""):
                cache[key] = value
            return value

    cached.cache = cache  # type: ignore[attr-defined]  # read directly by _Reader.record
    return cached


def file_mapping(
    source: Source,
    converters: dict[str, Callable[[Any], Any]],
    header: list[str],
    header_line: int,
    name: str,
    *,
    checked: bool,
    error: Callable[..., None],
) -> FileMapping | None:
    """The source compiled against this header, its `converters` placed at their columns;
    None if columns are missing, each reported to `error` (the reader's, which counts them).
    `checked` is whether the reader's checks across fields apply to the source.
    """
    exact = {column: i for i, column in reversed(list(enumerate(header)))}
    folded = {column.casefold(): i for i, column in reversed(list(enumerate(header)))}
    fields, columns, ok = [], {}, True
    duplicated = {c.casefold() for c, n in Counter(h.casefold() for h in header).items() if n > 1}
    for field_name, mapping in source.fields.items():
        index = None
        if mapping.column is not None:
            index = exact.get(mapping.column, folded.get(mapping.column.casefold()))
            if index is None:
                ok = False
                error(
                    "missing_column",
                    f"the header has no column {mapping.column!r}, which the profile maps"
                    f" to {mapping.key}",
                    Where(name, header_line, mapping.column),
                    value=mapping.column,
                    hint=f"Expected columns: {', '.join(source.columns)}. The header has:"
                    f" {', '.join(header)}. Rename the column or change the profile.",
                )
                continue
            if mapping.column.casefold() in duplicated:
                ok = False
                error(
                    "duplicate_column",
                    f"the header names the column {mapping.column!r} more than once",
                    Where(name, header_line, mapping.column),
                    hint="Rename or remove one of them.",
                )
                continue
            columns[field_name] = header[index]
        convert_cell = converters[field_name]
        fields.append((mapping, index, convert_cell, getattr(convert_cell, "cache", None)))
    return FileMapping(source, fields, columns, checked) if ok else None
