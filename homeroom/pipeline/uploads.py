"""Imports from the web: upload, validation report, confirmation.

1. `save_upload` writes the uploaded files into a private directory of their own,
   `DATA_DIR/uploads/<token>/files/` (names sanitised), beside a manifest: who uploaded
   them, for which district, the options chosen, and each file's SHA-256.
2. `validate_upload` reads the files and imports them as a dry run: the report says what
   the import would change and lists every problem. The database is left exactly as it
   was (not even a rejected run is recorded); the report is kept in the manifest.
3. `do_run_upload` checks the files are still the ones the report was made from, imports
   them for real with the audit entry in the same transaction, and removes the files (the
   run keeps their names, sizes and SHA-256).

An upload is its uploader's alone. Uploads never confirmed are removed after a day.
"""

import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from homeroom.ingest.actions import do_import_files
from homeroom.ingest.attendance_sync import LARGE_DELETION
from homeroom.ingest.formats import source_file
from homeroom.ingest.models import ImportRun
from homeroom.ingest.runs import run_summary
from homeroom.ingest.selectors import may_import
from homeroom.ingest.sync import ImportRejected
from homeroom.pipeline.actions import do_refresh_after_import

logger = logging.getLogger(__name__)

MANIFEST = "upload.json"
CLAIM = "confirming"
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
UPLOAD_LIFETIME = dt.timedelta(days=1)
NAME_LENGTH = 150


class UploadNotFound(Http404):
    """No such upload, or not one of the user's: deliberately the same error."""

    def __init__(self) -> None:
        super().__init__("No upload with that id is yours.")


class UploadRefused(Exception):
    """The upload cannot be imported; the message says why and what to do."""


@dataclass(frozen=True)
class UploadOptions:
    """What the uploader chose: the format, its profile and how errors are handled."""

    source_format: str
    profile: str | None = None
    on_error: str = "reject"
    implied_enrollments: bool = False
    allow_large_deletes: bool = False  # given only after a report showed the deletions


@dataclass(frozen=True)
class Upload:
    """An upload kept on disk: its token (the only way to name it) and its manifest."""

    token: str
    directory: Path
    manifest: dict[str, Any]

    @property
    def options(self) -> UploadOptions:
        """The options the files are read and imported with."""
        return UploadOptions(**self.manifest["options"])

    @property
    def files(self) -> list[dict[str, Any]]:
        """Name, SHA-256 and size of each file, as uploaded."""
        return self.manifest["files"]

    @property
    def paths(self) -> list[Path]:
        """Where the files are kept."""
        return [self.directory / "files" / entry["name"] for entry in self.files]

    @property
    def report(self) -> dict[str, Any] | None:
        """The dry run's summary (`homeroom.ingest.runs.run_summary`), once validated."""
        return self.manifest.get("report")

    @property
    def failure(self) -> str:
        """Why the files could not be read at all, if they could not."""
        return self.manifest.get("failure", "")

    @property
    def may_confirm(self) -> bool:
        """Whether the report found the files fit to import."""
        report = self.report
        return report is not None and report["status"] == ImportRun.Status.SUCCEEDED

    @property
    def large_deletions(self) -> list[str]:
        """When the only errors are deletions too large to make unasked, what each would
        delete (`homeroom.ingest.attendance_sync`); otherwise nothing."""
        report = self.report
        if report is None or report["status"] == ImportRun.Status.SUCCEEDED:
            return []
        errors = [p for p in report["problems"] if p["severity"] == "error"]
        if not errors or any(p["code"] != LARGE_DELETION for p in errors):
            return []
        return [p["message"] for p in errors]


class UploadLimit(FileUploadHandler):
    """Stops storing a request's files once together they exceed `max_upload_bytes`.

    Django has no limit of its own on file uploads; this handler goes first, so nothing
    past the limit reaches a temporary file. The rest of the request is read and dropped.
    """

    def __init__(self, request=None, limit: int | None = None) -> None:
        super().__init__(request)
        self.limit = max_upload_bytes() if limit is None else limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def max_upload_bytes() -> int:
    """The most the files of one upload may hold together (`HOMEROOM_MAX_UPLOAD_MB`)."""
    return settings.HOMEROOM_MAX_UPLOAD_BYTES


def uploads_root() -> Path:
    """Where uploads are kept: private to Homeroom, never served."""
    return Path(settings.DATA_DIR) / "uploads"


def safe_file_name(name: str) -> str:
    """The uploaded name with no path, and nothing but letters, digits, ' ', '.', '-', '_'."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = "".join(c if c.isalnum() or c in " .-_()" else "_" for c in name)
    name = name.strip(" .") or "upload"
    if len(name) > NAME_LENGTH:
        stem, dot, suffix = name.rpartition(".")
        if dot and stem and len(suffix) <= 10:
            name = f"{stem[: NAME_LENGTH - len(suffix) - 1]}.{suffix}"
        else:
            name = name[:NAME_LENGTH]
    return name


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name-2`, `name-3` ... when an earlier file of the upload has it."""
    candidate, number = name, 1
    stem, dot, suffix = name.rpartition(".")
    while candidate.lower() in taken:
        number += 1
        candidate = f"{stem}-{number}.{suffix}" if dot and stem else f"{name}-{number}"
    taken.add(candidate.lower())
    return candidate


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    temporary = directory / f"{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest), encoding="utf-8")
    temporary.chmod(0o600)
    os.replace(temporary, directory / MANIFEST)


def prune_uploads(now: float | None = None) -> None:
    """Remove the uploads older than `UPLOAD_LIFETIME`: a report not confirmed by then lapses."""
    root = uploads_root()
    if not root.is_dir():
        return
    oldest = (now or time.time()) - UPLOAD_LIFETIME.total_seconds()
    for directory in root.iterdir():
        if directory.is_dir() and directory.stat().st_mtime < oldest:
            shutil.rmtree(directory, ignore_errors=True)


def save_upload(*, user, options: UploadOptions, files: list[UploadedFile]) -> Upload:
    """Keep the uploaded files in a new private directory, with their SHA-256; not yet read."""
    prune_uploads()
    token = secrets.token_urlsafe(18)
    directory = uploads_root() / token
    uploads_root().mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.mkdir(mode=0o700)
    (directory / "files").mkdir(mode=0o700)
    taken: set[str] = set()
    entries = []
    for uploaded in files:
        name = _unique(safe_file_name(uploaded.name or ""), taken)
        digest, size = hashlib.sha256(), 0
        path = directory / "files" / name
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            for chunk in uploaded.chunks():
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        entries.append({"name": name, "sha256": digest.hexdigest(), "size": size})
    manifest = {
        "user": user.pk,
        "district": user.district_id,
        "created": timezone.now().isoformat(),
        "options": asdict(options),
        "files": entries,
        "report": None,
        "failure": "",
    }
    _write_manifest(directory, manifest)
    return Upload(token=token, directory=directory, manifest=manifest)


def access_upload(user, token: str) -> Upload:
    """One of the user's uploads; `UploadNotFound` if missing, lapsed or someone else's."""
    if not may_import(user):
        raise UploadNotFound
    if not TOKEN.fullmatch(token):
        raise UploadNotFound
    directory = uploads_root() / token
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UploadNotFound from None
    if manifest.get("user") != user.pk:
        raise UploadNotFound
    if manifest.get("district") != user.district_id:
        raise UploadNotFound
    return Upload(token=token, directory=directory, manifest=manifest)


def _import(upload: Upload, *, user, dry_run: bool) -> ImportRun:
    """Read the upload's files in its format and import them for the user's district."""
    options = upload.options
    run = do_import_files(
        upload.paths,
        district=user.district,
        source_format=options.source_format,
        profile=options.profile,
        implied_enrollments=options.implied_enrollments,
        user=user,
        on_error=options.on_error,
        dry_run=dry_run,
        allow_large_deletes=options.allow_large_deletes,
    )
    do_refresh_after_import(run)
    return run


def _unexpected(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def validate_upload(upload: Upload, *, user) -> Upload:
    """Import the files as a dry run and keep the report; the database is left as it was."""
    manifest = dict(upload.manifest)
    try:
        with transaction.atomic():
            try:
                run = _import(upload, user=user, dry_run=True)
            except ImportRejected as rejected:
                run = rejected.run
            # A report is not an import: even a rejected run is not recorded.
            transaction.set_rollback(True)
    except (ValueError, OSError) as error:
        manifest["failure"] = str(error)
    except Exception as error:  # an unforeseen reader failure is a message, never a crash
        logger.exception("validating upload %s failed", upload.token)
        manifest["failure"] = f"The files could not be read ({_unexpected(error)})."
    else:
        manifest["report"] = run_summary(run) | {"run": None}
    validated = Upload(token=upload.token, directory=upload.directory, manifest=manifest)
    _write_manifest(upload.directory, manifest)
    if not (validated.may_confirm or validated.large_deletions):
        shutil.rmtree(upload.directory / "files", ignore_errors=True)
    return validated


def allow_large_deletes(upload: Upload, *, user) -> Upload:
    """The uploader saw the deletions the report refused and allows them: report again."""
    if not upload.large_deletions:
        raise UploadRefused("This report has no deletions waiting to be allowed.")
    manifest = dict(upload.manifest)
    manifest["options"] = {**manifest["options"], "allow_large_deletes": True}
    manifest.pop("report", None)
    allowed = Upload(token=upload.token, directory=upload.directory, manifest=manifest)
    return validate_upload(allowed, user=user)


def receive_upload(*, user, options: UploadOptions, files: list[UploadedFile]) -> Upload:
    """Keep the uploaded files and make their validation report (`save_upload`, then
    `validate_upload`)."""
    return validate_upload(save_upload(user=user, options=options, files=files), user=user)


def _changed_files(upload: Upload) -> list[str]:
    """The files whose content is no longer what was uploaded (or that are gone)."""
    changed = []
    for entry, path in zip(upload.files, upload.paths, strict=True):
        try:
            now = source_file(path)
        except OSError:
            changed.append(entry["name"])
            continue
        if (now.sha256, now.size) != (entry["sha256"], entry["size"]):
            changed.append(entry["name"])
    return changed


def do_run_upload(*, user, upload: Upload) -> ImportRun:
    """Import a validated upload for real, with its audit entry, and remove the files.

    Raises `UploadRefused` when the report rejected the files, when they changed since the
    report, when the upload is already being imported, or when the import fails.
    """
    if not upload.may_confirm:
        raise UploadRefused("The report found errors, so these files cannot be imported.")
    try:
        (upload.directory / CLAIM).open("x").close()
    except FileExistsError:
        raise UploadRefused("These files are already being imported.") from None
    try:
        if changed := _changed_files(upload):
            raise UploadRefused(
                f"The files changed after the report was made ({', '.join(changed)}), so "
                "nothing was imported. Upload them again for a new report."
            )
        with transaction.atomic():
            try:
                run = _import(upload, user=user, dry_run=False)
            except ImportRejected as rejected:
                run = rejected.run
    except UploadRefused:
        (upload.directory / CLAIM).unlink(missing_ok=True)
        raise
    except Exception as error:
        (upload.directory / CLAIM).unlink(missing_ok=True)
        logger.exception("importing upload %s failed", upload.token)
        raise UploadRefused(
            f"The import failed and nothing was changed ({_unexpected(error)})."
        ) from error
    shutil.rmtree(upload.directory, ignore_errors=True)
    return run
