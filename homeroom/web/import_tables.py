"""The import pages' tables: a run's counts per kind of row, its problems by code, a page of them.

A run and a validation report are shown the same way, from the same plain data
(`homeroom.ingest.runs.run_summary`).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Paginator

from homeroom.ingest.models import ImportRun

PROBLEMS_PER_PAGE = 100
COUNT_COLUMNS = ("read", "inserted", "updated", "deleted", "unchanged", "skipped", "present")
CHANGES = ("inserted", "updated", "deleted", "unchanged")
# The engine writes entities in this order; a run's counts are shown in it too.
ENTITY_LABELS = {
    "schools": "Schools",
    "school_years": "School years",
    "attendance_codes": "Attendance codes",
    "calendar_dates": "Calendar dates",
    "students": "Students",
    "characteristics": "Student characteristics",
    "guardians": "Guardians",
    "student_guardians": "Guardian links",
    "contact_preferences": "Contact preferences",
    "enrollments": "Enrollments",
    "sections": "Sections",
    "section_enrollments": "Section memberships",
    "student_interventions": "Interventions (from the SIS)",
    "attendance": "Attendance events",
    "recorded_through": "Schools recorded to a later day",
}


@dataclass(frozen=True)
class CountRow:
    """What a run did (or would do) to one kind of row."""

    entity: str
    label: str
    counts: dict[str, int]

    @property
    def cells(self) -> list[int]:
        """The counts in the table's column order."""
        return [self.counts.get(column, 0) for column in COUNT_COLUMNS]

    @property
    def changes(self) -> str:
        """The changes in words, e.g. '3 inserted, 1 deleted, 40 unchanged'."""
        said = [f"{self.counts[k]:,} {k}" for k in CHANGES if self.counts.get(k)]
        return ", ".join(said) or "nothing"


@dataclass(frozen=True)
class ProblemCount:
    """How many problems of one code a run had."""

    severity: str
    code: str
    count: int


def _label(entity: str) -> str:
    return ENTITY_LABELS.get(entity, entity.replace("_", " ").capitalize())


def count_rows(counts: dict[str, dict[str, int]]) -> list[CountRow]:
    """One row per kind of row the run touched, in the order the engine writes them."""
    order = list(ENTITY_LABELS)
    entities = sorted(counts, key=lambda e: (order.index(e) if e in order else len(order), e))
    return [CountRow(e, _label(e), counts[e]) for e in entities]


def problem_counts(by_code: dict[str, int]) -> list[ProblemCount]:
    """Problems by code, errors first, then the most frequent."""
    rows = []
    for key, count in by_code.items():
        severity, _, code = key.partition(":")
        rows.append(ProblemCount(severity, code, count))
    return sorted(rows, key=lambda row: (row.severity != "error", -row.count, row.code))


def scope_text(scope: dict[str, Any]) -> str:
    """What the run replaced, in words ('' when it declared nothing)."""
    if not scope:
        return ""
    schools = ", ".join(scope.get("schools", [])) or "no school"
    if "start" in scope:
        return (
            f"Attendance of school{'s' if len(scope.get('schools', [])) != 1 else ''} "
            f"{schools}, from {scope['start']} to {scope.get('end', scope['start'])}"
        )
    return "; ".join(f"{key}: {value}" for key, value in scope.items())


def run_details(summary: dict[str, Any], page_number: str | int | None) -> dict[str, Any]:
    """What the run and report pages show of a run: files, scope, counts and problems."""
    problems = summary.get("problems") or []
    by_code = problem_counts(summary.get("problem_counts") or {})
    return {
        "files": summary.get("files") or [],
        "scope": scope_text(summary.get("scope") or {}),
        "count_rows": count_rows(summary.get("counts") or {}),
        "count_columns": COUNT_COLUMNS,
        "problem_codes": by_code,
        "problems_total": sum(row.count for row in by_code),
        "errors_total": sum(row.count for row in by_code if row.severity == "error"),
        "problems": Paginator(problems, PROBLEMS_PER_PAGE).get_page(page_number),
    }


@dataclass(frozen=True)
class RunRow:
    """A run in the list of runs, with its counts and problems summed up."""

    run: ImportRun
    count_rows: list[CountRow]
    problem_codes: list[ProblemCount]

    @property
    def file_names(self) -> list[str]:
        """The names of the files the run read."""
        return [entry.get("name", "") for entry in self.run.files]


def run_rows(runs: Iterable[ImportRun]) -> list[RunRow]:
    """The runs of a page of the list, each summed up."""
    return [RunRow(run, count_rows(run.counts), problem_counts(run.problem_counts)) for run in runs]
