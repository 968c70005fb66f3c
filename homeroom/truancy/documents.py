"""The documents escalation produces, as snapshots and PDFs: notice letters in the family's
language, meeting agreements, referral packets.

A document is made in two parts: a snapshot (plain JSON: every word and figure it shows,
frozen when it is generated) and `render`, which turns a snapshot into a PDF with
WeasyPrint. Rendering the stored snapshot again gives the same bytes, so a document can be
shown to be the one that was sent (`TruancyDocument.sha256`).
"""

import datetime as dt
import hashlib
from string import Template

from django.template.loader import render_to_string

from homeroom.metrics import display

MONTHS_ES = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]
# The words around a letter's text; the statute's wording is the pack's.
LABELS = {
    "en": {
        "absences": "Absences counted",
        "date": "Date",
        "code": "Code",
        "kind": "Kind",
        "minutes": "Minutes missed",
        "full_day": "Full day",
        "part_day": "Part of the day",
        "student": "Student",
        "school": "School",
        "grade": "Grade",
        "statute": "Statute",
        "sincerely": "Sincerely,",
        "principal": "Principal",
        "subject": "Attendance notice for $student_name",
    },
    "es": {
        "absences": "Ausencias contadas",
        "date": "Fecha",
        "code": "Código",
        "kind": "Tipo",
        "minutes": "Minutos perdidos",
        "full_day": "Día completo",
        "part_day": "Parte del día",
        "student": "Estudiante",
        "school": "Escuela",
        "grade": "Grado",
        "statute": "Ley",
        "sincerely": "Atentamente,",
        "principal": "Director/a",
        "subject": "Aviso de asistencia de $student_name",
    },
}


def letter_date(day: dt.date, language: str) -> str:
    """A date as a letter in `language` writes it ("Dec 7, 2026", "7 de diciembre de 2026")."""
    if language == "es":
        return f"{day.day} de {MONTHS_ES[day.month - 1]} de {day.year}"
    return display.date(day)


def letter_language(available: dict[str, str], wanted: str) -> str:
    """The family's language where the pack has the letter in it, else English."""
    return wanted if wanted in available else "en"


def notice_snapshot(
    *,
    step,
    letter: dict[str, str],
    language: str,
    guardian_name: str,
    district_name: str,
    today: dt.date,
) -> dict:
    """Everything a notice letter shows, from the step's frozen evidence."""
    language = letter_language(letter, language)
    labels = LABELS.get(language, LABELS["en"])
    evidence = step.evidence
    student = evidence["student"]
    values = {
        "student_name": student["name"],
        "guardian_name": guardian_name
        or ("Padre, madre o tutor" if language == "es" else "Parent or guardian"),
        "school_name": evidence["enrollment"]["school"],
        "absence_count": str(len(evidence["counted"])),
        "district_name": district_name,
    }
    text = Template(letter[language]).safe_substitute(values)
    return {
        "kind": "notice",
        "language": language,
        "title": step.title,
        "statute": step.statute,
        "pack": evidence["pack"],
        "district": district_name,
        "dated": letter_date(today, language),
        "paragraphs": [p.strip() for p in text.split("\n\n") if p.strip()],
        "labels": labels,
        "student": student,
        "enrollment": evidence["enrollment"],
        "absences": [_row(absence, language, labels) for absence in evidence["counted"]],
    }


def notice_words(snapshot: dict) -> dict[str, str]:
    """A notice's words as the outreach app sends them (the mailed letter, the email): the
    letter's date and text in its language, the statute's wording as the pack holds it,
    then the absences counted, one a line."""
    labels = snapshot["labels"]
    absences = "\n".join(
        f"{row['date']}: {row['code']} ({row['kind'].lower()}"
        + (f", {row['minutes']} min" if row["minutes"] else "")
        + ")"
        for row in snapshot["absences"]
    )
    body = "\n\n".join(
        [
            snapshot["dated"],
            *snapshot["paragraphs"],
            f"{labels['absences']} ({labels['statute']}: {snapshot['statute']}):\n{absences}",
        ]
    )
    subject = Template(labels["subject"]).safe_substitute(student_name=snapshot["student"]["name"])
    return {"language": snapshot["language"], "subject": subject[:200], "body": body}


def _row(absence: dict, language: str, labels: dict) -> dict:
    minutes = absence.get("minutes_missed")
    return {
        "date": letter_date(dt.date.fromisoformat(absence["date"]), language),
        "code": absence["code"],
        "kind": labels["full_day"] if absence["full_day"] else labels["part_day"],
        "minutes": "" if minutes is None else str(minutes),
        "source": absence["source"],
    }


def agreement_snapshot(*, step, meeting, district_name: str) -> dict:
    """Everything a meeting's agreement (attendance contract) shows."""
    return {
        "kind": "agreement",
        "language": "en",
        "title": step.title,
        "statute": step.statute,
        "pack": step.evidence["pack"],
        "district": district_name,
        "student": step.evidence["student"],
        "enrollment": step.evidence["enrollment"],
        "held_on": display.date(meeting.held_on),
        "place": meeting.place,
        "attendees": [line.strip() for line in meeting.attendees.splitlines() if line.strip()],
        "agreement": [p.strip() for p in meeting.agreement.split("\n\n") if p.strip()],
        "notes": [p.strip() for p in meeting.notes.split("\n\n") if p.strip()],
    }


def packet_snapshot(
    *,
    step,
    history: list[dict],
    interventions: list[dict],
    meetings: list[dict],
    absences: list[dict],
    district_name: str,
    today: dt.date,
) -> dict:
    """Everything a SARB or court referral packet shows: the notices sent, the interventions
    tried, the meetings held, and the attendance record."""
    return {
        "kind": "packet",
        "language": "en",
        "title": step.title,
        "statute": step.statute,
        "pack": step.evidence["pack"],
        "district": district_name,
        "dated": display.date(today),
        "due": display.date(step.due_on) if step.due_on else "",
        "student": step.evidence["student"],
        "enrollment": step.evidence["enrollment"],
        "history": history,
        "interventions": interventions,
        "meetings": meetings,
        "absences": [_row(a, "en", LABELS["en"]) for a in absences],
        "labels": LABELS["en"],
    }


def render(snapshot: dict) -> bytes:
    """The PDF of a snapshot (the same bytes every time for the same snapshot)."""
    import weasyprint  # a dependency; imported here so the rest of the app loads without it

    html = render_to_string(f"truancy/pdf_{snapshot['kind']}.html", {"doc": snapshot})
    # No base_url: the document fetches nothing (its stylesheet is inline).
    return weasyprint.HTML(string=html).write_pdf()


def fingerprint(pdf: bytes) -> str:
    """The SHA-256 a regenerated document is compared with."""
    return hashlib.sha256(pdf).hexdigest()
