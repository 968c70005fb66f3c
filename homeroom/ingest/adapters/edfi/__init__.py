"""Ed-Fi: interchange XML and ODS/API JSON, read through one mapping into a `Batch`.

`resources.py` names the fields read and their XML and JSON paths; `xml.py` and `json.py`
turn files into items; `reader.py` maps items to records and `finish.py` settles what
needs every file read. docs/import-edfi.md describes the rules.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from homeroom.ingest.adapters.edfi.descriptors import code_value
from homeroom.ingest.adapters.edfi.json import read_json
from homeroom.ingest.adapters.edfi.reader import Reader
from homeroom.ingest.adapters.edfi.resources import RESOURCES
from homeroom.ingest.adapters.edfi.xml import read_xml
from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import Batch

type Parse = Callable[[Reader, Path, ReadProgress], None]
PARSERS: dict[str, Parse] = {"xml": read_xml, "json": read_json}


def read_edfi(
    paths: list[Path],
    *,
    kind: Literal["xml", "json", "either"] = "either",
    implied_enrollments: bool = False,
    progress: ReadProgress | None = None,
) -> Batch:
    """Read Ed-Fi files (any order, any mix of interchanges or resources) into a Batch.

    `kind` says how every file is parsed; "either" tells XML from JSON by each file's first
    character.
    """
    reader = Reader(implied_enrollments=implied_enrollments)
    progress = progress or ReadProgress()
    for path in map(Path, paths):
        with progress.file(path):
            parse = PARSERS[kind] if kind != "either" else PARSERS[_kind_of(path)]
            parse(reader, path, progress)
    return reader.finish()


def read_edfi_xml(
    paths: list[Path],
    *,
    implied_enrollments: bool = False,
    progress: ReadProgress | None = None,
) -> Batch:
    """Read Ed-Fi interchange XML files into a Batch."""
    return read_edfi(paths, kind="xml", implied_enrollments=implied_enrollments, progress=progress)


def read_edfi_json(
    paths: list[Path],
    *,
    implied_enrollments: bool = False,
    progress: ReadProgress | None = None,
) -> Batch:
    """Read Ed-Fi ODS/API JSON response files (one resource array per file) into a Batch."""
    return read_edfi(paths, kind="json", implied_enrollments=implied_enrollments, progress=progress)


def _kind_of(path: Path) -> str:
    """XML when a file's first non-blank character opens neither an array nor an object.

    A blank or unreadable file goes to the JSON parser, which reports it.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return "json"
    return "xml" if head and chr(head[0]) not in "[{" else "json"


__all__ = ["RESOURCES", "code_value", "read_edfi", "read_edfi_json", "read_edfi_xml"]
