"""The import formats Homeroom reads, each an adapter from files to a `Batch`."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from homeroom.ingest.records import Batch
from homeroom.ingest.sync import SourceFile


@dataclass(frozen=True)
class Format:
    """A named source format and how to read it."""

    name: str
    description: str
    needs_profile: bool
    read: Callable[[list[Path], str | None], Batch]


def _read_tabular(paths: list[Path], profile: str | None) -> Batch:
    from homeroom.ingest.profiles import load_profile
    from homeroom.ingest.tabular import read_tabular

    return read_tabular(paths, load_profile(profile))


def _read_edfi_xml(paths: list[Path], profile: str | None) -> Batch:
    from homeroom.ingest.edfi import read_edfi_xml

    return read_edfi_xml(paths)


def _read_edfi_json(paths: list[Path], profile: str | None) -> Batch:
    from homeroom.ingest.edfi import read_edfi_json

    return read_edfi_json(paths)


def _read_oneroster(paths: list[Path], profile: str | None) -> Batch:
    from homeroom.ingest.oneroster import read_oneroster

    return read_oneroster(paths)


FORMATS = {
    f.name: f
    for f in (
        Format("csv", "CSV or XLSX files described by a mapping profile", True, _read_tabular),
        Format("xlsx", "same as csv (the profile decides)", True, _read_tabular),
        Format("edfi-xml", "Ed-Fi interchange XML (Data Standard 4/5)", False, _read_edfi_xml),
        Format("edfi-json", "Ed-Fi ODS/API JSON responses", False, _read_edfi_json),
        Format(
            "oneroster",
            "OneRoster 1.2 CSV rostering (the files, their directory or a .zip)",
            False,
            _read_oneroster,
        ),
    )
}


def source_file(path: Path) -> SourceFile:
    """Name, SHA-256 and size of a file, streamed so large files cost no memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return SourceFile(name=path.name, sha256=digest.hexdigest(), size=path.stat().st_size)
