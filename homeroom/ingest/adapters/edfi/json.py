"""Ed-Fi ODS/API JSON: response files, each a JSON array of the items of one resource.

The resource a file holds is told by its name (`studentSchoolAttendanceEvents.json`, or any
name ending in a resource name such as `2022-students.json`) or, failing that, by the keys
of its first item. Each item becomes an `Item` for the mapping shared with the XML parser
(`reader.py`), so both formats give the same records. Lines are real: an item's line is
the line where its object begins; the column is the JSON key.
"""

import json
from decimal import Decimal
from pathlib import Path

from homeroom.ingest.adapters.edfi.facts import Facts
from homeroom.ingest.adapters.edfi.reader import Reader, file_name, read_file
from homeroom.ingest.adapters.edfi.resources import RESOURCES, Field, Item, Value
from homeroom.ingest.limits import over_rows, refuse_file
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import Where


def _resource_name(element: str) -> str:
    """The ODS/API resource of an Ed-Fi element: camelCase plural (School -> schools)."""
    return element[0].lower() + element[1:] + "s"


BY_RESOURCE = {_resource_name(element).lower(): element for element in RESOURCES}
# Keys the first item must have, most specific first, when the file name does not tell.
SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (element, frozenset(keys.split()))
    for element, keys in (
        ("StudentSectionAttendanceEvent", "sectionReference studentReference eventDate"),
        ("StudentSchoolAttendanceEvent", "schoolReference studentReference eventDate"),
        ("StudentSchoolAssociation", "schoolReference studentReference entryDate"),
        ("StudentContactAssociation", "contactReference studentReference"),
        ("StudentInterventionAssociation", "interventionReference studentReference"),
        ("StudentParentAssociation", "parentReference studentReference"),
        ("StudentProgramAssociation", "programReference studentReference beginDate"),
        (
            "StudentEducationOrganizationAssociation",
            "educationOrganizationReference studentReference",
        ),
        ("Student", "studentUniqueId birthDate"),
        ("Contact", "contactUniqueId"),
        ("Parent", "parentUniqueId"),
        ("School", "schoolId nameOfInstitution"),
        ("Intervention", "interventionIdentificationCode beginDate"),
        ("Session", "sessionName beginDate endDate"),
        ("CalendarDate", "date calendarEvents"),
        ("Calendar", "calendarCode calendarTypeDescriptor"),
        ("AttendanceEventCategoryDescriptor", "codeValue namespace"),
    )
)
WHITESPACE = " \t\r\n"


def resource_of(path: Path) -> str:
    """The Ed-Fi element a file holds, by its name ('' when the name does not tell)."""
    stem = path.name.lower().removesuffix(".json")
    matches = [
        name
        for name in BY_RESOURCE
        if stem == name or (stem.endswith(name) and not stem[-len(name) - 1].isalnum())
    ]
    return BY_RESOURCE[max(matches, key=len)] if matches else ""


def _sniff(first: dict) -> str:
    """The Ed-Fi element an API item is, by its keys ('' when unknown or not read)."""
    keys = set(first)
    for element, needed in SIGNATURES:
        if needed <= keys:
            if element == "AttendanceEventCategoryDescriptor":
                namespace = str(first.get("namespace", ""))
                return element if namespace.endswith("AttendanceEventCategoryDescriptor") else ""
            return element
    return ""


def read_json(reader: Reader, path: Path, progress: ReadProgress) -> None:
    """Read one API response file into the reader; a damaged file contributes only its error.

    The file is decoded whole, so `progress` counts it when the caller's file is done.
    """
    read_file(reader, path, lambda facts: _parse(reader, path, facts))


def _bad_json(reader: Reader, file: str, line: int, message: str) -> bool:
    """Report a file that is not a readable JSON array of resources; always False."""
    reader.batch.error(
        "bad_json",
        message,
        Where(file, line),
        hint="The file is damaged, truncated or not an API response; export it again."
        " Nothing of it was read.",
    )
    return False


def _parse(reader: Reader, path: Path, facts: Facts) -> bool:
    """Decode the array item by item, mapping each; False if the file is not read whole."""
    file, data = file_name(path), path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return _bad_json(reader, file, line, f"not UTF-8 text at line {line}")
    decoder = json.JSONDecoder(parse_float=Decimal)
    element = resource_of(path)
    skipped: dict[str, int] = {}
    pos, line, counted, records = _skip(text, 0), 1, 0, 0

    def line_at(offset: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, offset)
        counted = offset
        return line

    if pos >= len(text) or text[pos] != "[":
        return _bad_json(
            reader, file, line_at(pos), "expected a JSON array of resources (as the API returns)"
        )
    pos, first = _skip(text, pos + 1), True
    while True:
        if pos >= len(text):
            return _bad_json(reader, file, line_at(pos), "the file ends before the array closes")
        if text[pos] == "]":
            break
        if not first:
            if text[pos] != ",":
                return _bad_json(reader, file, line_at(pos), "expected ',' between resources")
            pos = _skip(text, pos + 1)
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            return _bad_json(
                reader,
                file,
                exc.lineno,
                f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            )
        except RecursionError:
            return _bad_json(reader, file, line_at(pos), "JSON nested too deeply")
        start, pos, first, records = line_at(pos), _skip(text, end), False, records + 1
        if over_rows(records):
            refuse_file(reader.batch, file, f"has more than {records - 1:,} records")
            return False
        if not isinstance(obj, dict):
            reader.batch.error(
                "bad_json",
                "expected a resource (a JSON object)",
                Where(file, start),
                value=_printable(str(obj)),
            )
            continue
        if not element:
            element = _sniff(obj) or "?"
        if element == "?":
            skipped["unknown resource"] = skipped.get("unknown resource", 0) + 1
            continue
        reader.map_item(_item(reader, obj, element, RESOURCES[element], file, start), facts)
    if _skip(text, pos + 1) < len(text):
        return _bad_json(reader, file, line_at(pos), "text after the end of the array")
    if skipped:
        reader.batch.error(
            "unknown_resource",
            "cannot tell which Ed-Fi resource this file holds",
            Where(file, 1),
            hint="Name the file after the API resource, e.g. studentSchoolAttendanceEvents.json"
            f" (resources read: {', '.join(sorted(_resource_name(e) for e in RESOURCES))}).",
        )
        return False
    return True


def _skip(text: str, pos: int) -> int:
    """The position of the next non-blank character."""
    while pos < len(text) and text[pos] in WHITESPACE:
        pos += 1
    return pos


def _get(obj: dict, path: str) -> object:
    """The value at a dotted path of nested objects (None when absent)."""
    current: object = obj
    for key in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def _item(
    reader: Reader, obj: dict, element: str, fields: tuple[Field, ...], file: str, line: int
) -> Item:
    """An Item from an API resource, by the JSON paths of `fields`."""
    item = Item(element, Where(file, line, element))
    for spec in fields:
        item.columns[spec.name] = spec.json[0]
        if spec.many:
            entries = _get(obj, spec.json[0])
            if entries is not None and not isinstance(entries, list):
                _wrong_type(reader, file, line, spec.json[0], "an array")
                entries = None
            item.lists[spec.name] = [
                _item(reader, entry, spec.json[0], spec.many, file, line)
                for entry in entries or []
                if isinstance(entry, dict)
                or _wrong_type(reader, file, line, spec.json[0], "objects")
            ]
            continue
        for path in spec.json:
            found = _get(obj, path)
            if found is None:
                continue
            if isinstance(found, dict | list):
                _wrong_type(reader, file, line, path, "a value")
                break
            text = ("true" if found else "false") if isinstance(found, bool) else str(found)
            if not _storable(text):
                reader.batch.error(
                    "bad_json",
                    f"{path} holds characters no database can store (NUL or a lone surrogate)",
                    Where(file, line, path),
                    value=_printable(text),
                    hint="Fix the value in the source system and export it again.",
                )
                break
            if text.strip():
                item.values[spec.name] = Value(text.strip(), Where(file, line, path))
                break
    return item


def _storable(text: str) -> bool:
    """Whether text can be stored: no NUL character, valid Unicode (no lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _printable(text: str) -> str:
    """Text safe to show and store in a problem: NUL and lone surrogates escaped, cut short."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")[:80]


def _wrong_type(reader: Reader, file: str, line: int, key: str, expected: str) -> bool:
    """Report a JSON value of the wrong shape; always False."""
    reader.batch.error(
        "bad_json",
        f"{key} should hold {expected}",
        Where(file, line, key),
        hint="Export the resource again as the ODS/API returns it.",
    )
    return False
