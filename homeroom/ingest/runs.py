"""Import runs as plain data: the CLI's `--json`, and the web's validation reports."""

from homeroom.ingest.models import ImportRun


def run_summary(run: ImportRun) -> dict:
    """The run as plain data for machines."""
    return {
        "run": run.pk,
        "status": run.status,
        "dry_run": run.dry_run,
        "format": run.source_format,
        "files": run.files,
        "scope": run.scope,
        "counts": run.counts,
        "problem_counts": run.problem_counts,
        "problems": run.problems,
        "duration_seconds": run.duration_seconds,
    }
