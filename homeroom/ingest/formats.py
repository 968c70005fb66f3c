"""The import formats Homeroom reads, each an adapter from files to a `Batch`."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from homeroom.ingest.progress import ReadProgress
from homeroom.ingest.records import Batch
from homeroom.ingest.sync import SourceFile


@dataclass(frozen=True)
class ReadOptions:
    """What the user said about how to read the files."""

    profile: str | None = None
    implied_enrollments: bool = False
    progress: ReadProgress | None = None  # told the bytes read, for a progress display


@dataclass(frozen=True)
class Format:
    """A named source format and how to read it."""

    name: str
    description: str
    needs_profile: bool
    reads_directories: bool
    read: Callable[[list[Path], ReadOptions], Batch]


def _read_tabular(paths: list[Path], options: ReadOptions) -> Batch:
    from homeroom.ingest.adapters.tabular import read_tabular
    from homeroom.ingest.adapters.tabular.profiles import load_profile

    return read_tabular(paths, load_profile(options.profile), progress=options.progress)


def _read_edfi_xml(paths: list[Path], options: ReadOptions) -> Batch:
    from homeroom.ingest.adapters.edfi import read_edfi_xml

    return read_edfi_xml(
        paths, implied_enrollments=options.implied_enrollments, progress=options.progress
    )


def _read_edfi_json(paths: list[Path], options: ReadOptions) -> Batch:
    from homeroom.ingest.adapters.edfi import read_edfi_json

    return read_edfi_json(
        paths, implied_enrollments=options.implied_enrollments, progress=options.progress
    )


def _read_oneroster(paths: list[Path], options: ReadOptions) -> Batch:
    from homeroom.ingest.adapters.oneroster import read_oneroster

    return read_oneroster(paths, progress=options.progress)


FORMATS = {
    f.name: f
    for f in (
        Format(
            "csv", "CSV or XLSX files described by a mapping profile", True, False, _read_tabular
        ),
        Format("xlsx", "same as csv (the profile decides)", True, False, _read_tabular),
        Format(
            "edfi-xml", "Ed-Fi interchange XML (Data Standard 4/5)", False, False, _read_edfi_xml
        ),
        Format("edfi-json", "Ed-Fi ODS/API JSON responses", False, False, _read_edfi_json),
        Format(
            "oneroster",
            "OneRoster 1.2 CSV bulk export (files, a directory or a .zip)",
            False,
            True,
            _read_oneroster,
        ),
    )
}


def files_read(paths: list[Path]) -> list[Path]:
    """The files behind the paths given: a directory stands for the files directly in it."""
    files = []
    for path in paths:
        files.extend(sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path])
    return files


def source_file(path: Path) -> SourceFile:
    """Name, SHA-256 and size of a file, streamed so large files cost no memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return SourceFile(name=path.name, sha256=digest.hexdigest(), size=path.stat().st_size)
