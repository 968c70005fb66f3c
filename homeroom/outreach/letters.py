"""Printed letters: the letters waiting in the outbox, printed as one PDF per school.

Each batch is one PDF for the print shop (a cover sheet, then one page per household,
addressed for a #10 window envelope, in the household's language, right to left for
Arabic) and a CSV manifest of what is in it (every cell through `safe_row`). Printing a
batch marks its letters sent in the same transaction that records the batch; if writing the
files fails, nothing is marked.
"""

import csv
import datetime as dt
import io
import multiprocessing
import os
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from homeroom.core.actions import do_log_district_change, do_log_student_access
from homeroom.core.models import AuditEntry, School
from homeroom.core.selectors import district_today
from homeroom.core.spreadsheets import safe_row
from homeroom.metrics.display import date as show_date
from homeroom.outreach.letter_pdf import render_pdf
from homeroom.outreach.models import LetterBatch, Message
from homeroom.outreach.templates import RIGHT_TO_LEFT
from homeroom.roster.models import ContactChannel, Enrollment, Language

MANIFEST_COLUMNS = (
    "letter",
    "message id",
    "school",
    "guardian",
    "address",
    "city",
    "state",
    "postal code",
    "language",
    "children",
    "kind",
)


def letters_waiting(district_id: int) -> dict[School, list[Message]]:
    """The letters queued to print, by the school of the household's first child."""
    waiting = list(
        Message.objects.filter(
            district_id=district_id,
            channel=ContactChannel.LETTER,
            direction=Message.Direction.OUT,
            status=Message.Status.QUEUED,
        )
        .select_related("guardian")
        .prefetch_related("students")
        .order_by("pk")
    )
    first_child = {
        message.pk: min(message.students.all(), key=lambda s: (s.last_name, s.first_name)).pk
        for message in waiting
        if message.students.all()
    }
    schools = {}
    for student_id, school in (
        Enrollment.objects.filter(student_id__in=set(first_child.values()))
        .select_related("school")
        .order_by("entry_date")
        .values_list("student_id", "school")
    ):
        schools[student_id] = school  # the latest span wins
    by_school: dict[int, list[Message]] = defaultdict(list)
    for message in waiting:
        school_id = schools.get(first_child.get(message.pk))
        if school_id is not None:
            by_school[school_id].append(message)
    found = School.objects.in_bulk(by_school)
    return {found[pk]: by_school[pk] for pk in sorted(by_school, key=lambda pk: found[pk].name)}


def do_exclude_letter(user, *, message_id: int, reason: str) -> Message:
    """Take one household's letter out of the batch before it is printed (district
    administrators); it is never sent, and each child's audit trail says who and why."""
    if user.role != "district_admin":
        raise PermissionDenied("Only district administrators review letter batches.")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why this letter should not go (kept in the log)."})
    with transaction.atomic():
        letter = (
            Message.objects.select_for_update()
            .filter(
                pk=message_id,
                district_id=user.district_id,
                channel=ContactChannel.LETTER,
                direction=Message.Direction.OUT,
            )
            .first()
        )
        if letter is None or letter.status != Message.Status.QUEUED:
            raise ValidationError({"message_id": "This letter is no longer waiting to print."})
        letter.status, letter.status_at = Message.Status.EXCLUDED, timezone.now()
        letter.last_error = f"Excluded by {user.get_full_name() or user.username}: {reason}"
        letter.save(update_fields=["status", "status_at", "last_error"])
        for student_id in letter.students.values_list("pk", flat=True):
            do_log_student_access(
                user=user,
                student_id=student_id,
                subject="family message",
                access_reason=user.get_role_display(),
                action=AuditEntry.Action.UPDATE,
                details={"message_id": letter.pk, "status": letter.status, "reason": reason},
            )
    return letter


def do_print_letters(user, *, school_id: int) -> LetterBatch:
    """Print a school's waiting letters as one batch (district administrators)."""
    if user is not None and user.role != "district_admin":
        raise PermissionDenied("Only district administrators print letter batches.")
    district_id = user.district_id
    waiting = {
        school.pk: (school, letters) for school, letters in letters_waiting(district_id).items()
    }
    if school_id not in waiting:
        raise ValidationError({"school_id": "No letters wait to be printed for this school."})
    school, letters = waiting[school_id]
    today = district_today(school.district)
    directory = Path(settings.DATA_DIR) / "letters" / f"{today.isoformat()}-{school.local_id}"
    with transaction.atomic():
        batch = LetterBatch.objects.create(
            district_id=district_id,
            school=school,
            made_by=user,
            letters=len(letters),
            pdf="",
            manifest="",
        )
        directory = directory.with_name(f"{directory.name}-{batch.pk}")
        directory.mkdir(parents=True, exist_ok=True)
        pdf, manifest = directory / "letters.pdf", directory / "manifest.csv"
        write_pdf(pdf, school=school, letters=letters, on=today, batch=batch)
        write_manifest(manifest, school=school, letters=letters)
        batch.pdf = str(pdf.relative_to(settings.DATA_DIR))
        batch.manifest = str(manifest.relative_to(settings.DATA_DIR))
        batch.save(update_fields=["pdf", "manifest"])
        now = timezone.now()
        Message.objects.filter(pk__in=[m.pk for m in letters], status=Message.Status.QUEUED).update(
            status=Message.Status.SENT, sent_at=now, status_at=now, letter_batch=batch
        )
        do_log_district_change(
            user=user,
            subject="letter batch",
            action="export",
            details={"batch": batch.pk, "school": school.pk, "letters": len(letters)},
        )
    return batch


def _address_lines(message: Message) -> list[str]:
    guardian = message.guardian
    return [
        f"{guardian.first_name} {guardian.last_name}",
        guardian.address_line,
        f"{guardian.city}, {guardian.state} {guardian.postal_code}".strip(", "),
    ]


# Pages laid out per WeasyPrint document. Its layout time grows faster than the page count
# (1,600 letters in one document took 17% more CPU than the same in chunks of 200), and
# memory with it; each chunk is rendered on its own and the chunks' pages joined into the
# batch's one PDF (pypdf), so a 5,000-letter batch costs 25 times a 200-letter one.
CHUNK = 200


def write_pdf(path: Path, *, school: School, letters: list[Message], on: dt.date, batch) -> None:
    """The batch's PDF: the print shop's cover sheet, then one page per household."""
    import pypdf  # imported here: only printing needs it

    pages = [
        {
            "number": n,
            "address": _address_lines(message),
            "language": message.language,
            "rtl": message.language in RIGHT_TO_LEFT,
            "paragraphs": [p for p in message.body.split("\n\n") if p.strip()],
        }
        for n, message in enumerate(letters, start=1)
    ]
    context = {
        "school": school,
        "district": school.district.name,
        "batch": batch.pk,
        "count": len(pages),
        "printed_on": show_date(on),
        "languages": sorted({Language(m.language).label for m in letters}),
    }
    documents = [
        render_to_string(
            "outreach/letters.html",
            {**context, "cover": start == 0, "pages": pages[start : start + CHUNK]},
        )
        for start in range(0, max(len(pages), 1), CHUNK)
    ]
    merged = pypdf.PdfWriter()
    for pdf in _render_all(documents):
        merged.append(pypdf.PdfReader(io.BytesIO(pdf)))
    merged.add_metadata({"/Title": f"Letters for {school.name}, batch {batch.pk}"})
    with path.open("wb") as file:
        merged.write(file)


def _render_all(documents: list[str]) -> list[bytes]:
    """Each chunk's PDF, in order: in this process for one chunk; otherwise in up to
    LETTER_PROCESSES worker processes (a fresh interpreter each, not a fork of a server
    holding database connections and threads), which halves a large batch on two cores."""
    processes = min(len(documents), getattr(settings, "LETTER_PROCESSES", os.cpu_count() or 1))
    if processes <= 1:
        return [render_pdf(html) for html in documents]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        return list(pool.map(render_pdf, documents))


def write_manifest(path: Path, *, school: School, letters: list[Message]) -> None:
    """One row per letter, in the PDF's order, for the print shop and the district's records."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(MANIFEST_COLUMNS)
        for n, message in enumerate(letters, start=1):
            guardian = message.guardian
            children = ", ".join(sorted(s.first_name for s in message.students.all()))
            writer.writerow(
                safe_row(
                    [
                        n,
                        message.pk,
                        school.name,
                        f"{guardian.first_name} {guardian.last_name}",
                        guardian.address_line,
                        guardian.city,
                        guardian.state,
                        guardian.postal_code,
                        Language(message.language).label,
                        children,
                        message.get_kind_display(),
                    ]
                )
            )
