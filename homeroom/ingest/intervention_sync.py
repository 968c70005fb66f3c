"""Writing the interventions a district's SIS records (`Batch.student_interventions`).

They are stored as `roster.SisIntervention`, a plain record of what the SIS says; the
interventions app maps them to playbook entries when it shows them. A file speaks for the
students it names and the schools its rows give: every SIS intervention held for those is
replaced by the file's (matched on student, code and start date; an identical re-import
changes nothing). A school id that is not a school Homeroom holds (Ed-Fi lets a district,
not only a school, give an intervention) is a finding, and the row is kept without school.
"""

from collections.abc import Callable
from typing import Any

from django.db.models import Q

from homeroom.ingest.models import ImportRun
from homeroom.ingest.records import Batch, EntityCounts, Where
from homeroom.roster.models import SisIntervention


def sync_student_interventions(
    batch: Batch, resolve, run: ImportRun, upsert: Callable[..., EntityCounts]
) -> dict[str, EntityCounts]:
    """Replace the SIS interventions of the students and schools the batch speaks for.

    `resolve` is the sync engine's resolver (local ids to keys) and `upsert` its natural-key
    writer, handed in because the engine imports this module; the counts are returned under
    `student_interventions`, nothing when the batch holds none.
    """
    if not batch.student_interventions:
        return {}
    rows: dict[tuple, dict[str, Any]] = {}
    seen: dict[tuple, Where] = {}
    schools, unknown_schools = set(), set()
    for r in batch.student_interventions:
        if resolve.unknown_student(r.student_id, r.where):
            continue
        school = resolve.schools.get(r.school_id) if r.school_id else None
        if r.school_id and school is None and r.school_id not in unknown_schools:
            unknown_schools.add(r.school_id)
            batch.finding(
                "intervention_school_unknown",
                "the intervention's school is not a school Homeroom holds (a district or other"
                " education organization?); its rows are kept without a school",
                r.where,
                value=r.school_id,
                hint="Import the school first if it is one.",
            )
        if school is not None:
            schools.add(school)
        key = (resolve.students[r.student_id], r.code, r.start_date)
        if key in rows:
            batch.finding(
                "duplicate_record",
                "the same intervention of the same student from the same day appears twice;"
                " the later one is kept",
                r.where,
                value=f"{r.student_id} {r.code} {r.start_date}",
                hint=f"First seen at {seen[key]}; keep one of the rows.",
            )
        seen[key] = r.where
        rows[key] = {
            "name": r.name,
            "end_date": r.end_date,
            "school_id": school,
            "source_run": run,
            "source_file": r.where.file,
            "source_line": r.where.line,
        }
    students = {key[0] for key in rows}
    held = SisIntervention.objects.filter(Q(student_id__in=students) | Q(school_id__in=schools))
    counts = upsert(
        SisIntervention,
        rows,
        held=held,
        key=("student_id", "code", "start_date"),
        delete_missing=True,
    )
    return {"student_interventions": counts}
