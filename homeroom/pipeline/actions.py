"""The pipeline: the night's steps in order, import -> metrics -> flags -> forecast ->
case defaults -> case flags -> truancy -> tiers -> outreach (the triggers:
homeroom/outreach/triggers.py) -> impact -> report figures.

Data flows one way through the apps (ingest -> attendance -> metrics -> warnings), and this
is the one place that runs them in sequence, so no app calls the one downstream of it. The
as-of date and the district's rule profile are resolved once per run and handed to every
step. One `NightlyRun` records the steps with their counts. Each step commits on its own,
and a step that fails stops the run: what the earlier steps wrote is consistent, and the
later steps' results from the previous night stay in place. Every step is safe to repeat,
so running the night twice changes nothing the second time.
"""

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.utils import timezone

from homeroom.core.actions import CommandLine
from homeroom.core.models import District
from homeroom.impact.actions import do_refresh_impact
from homeroom.ingest.actions import do_import_files
from homeroom.ingest.models import ImportRun
from homeroom.interventions.actions import do_install_defaults
from homeroom.interventions.flags import do_evaluate_case_flags
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import SummaryState, TierChange
from homeroom.metrics.rules import load_rule_profile
from homeroom.outreach.actions import do_install_default_templates
from homeroom.outreach.triggers import do_evaluate_triggers
from homeroom.pipeline.models import NightlyRun
from homeroom.reports.actions import do_refresh_group_months
from homeroom.truancy.actions import do_find_eligible
from homeroom.warnings.actions import (
    analysis_engine,
    current_model,
    do_evaluate_flags,
    do_score_students,
)
from homeroom.warnings.snapshots import known_on


def do_refresh_after_import(run: ImportRun) -> SummaryState | None:
    """Bring the district's summaries up to date after a successful, committed import."""
    if run.dry_run or run.status != ImportRun.Status.SUCCEEDED:
        return None
    return do_refresh_summaries(run.district, incremental=True)


@dataclass(frozen=True)
class NightlyImport:
    """The files the night imports first, in one format (and mapping profile for CSV/XLSX)."""

    paths: list[Path]
    source_format: str
    profile: str | None = None


def _tier_changes(district: District, run: NightlyRun) -> dict:
    """Students whose tier rose (toward the most intensive) or fell in the night's refresh
    (the refresh records each change: `metrics.models.TierChange`)."""
    changes = TierChange.objects.filter(
        school_year__district=district, recorded_at__gte=run.started_at
    )
    raised = changes.filter(raised=True).count()
    return {"raised": raised, "lowered": changes.count() - raised}


def _raised(district: District, run: NightlyRun) -> list[int]:
    """The students whose tier rose in the night's refresh (outreach tells their families)."""
    changes = TierChange.objects.filter(
        school_year__district=district, recorded_at__gte=run.started_at, raised=True
    )
    return list(changes.values_list("student_id", flat=True).distinct())


class _Steps:
    """Runs named steps and records each in the run as it ends."""

    def __init__(self, run: NightlyRun, say: Callable[[str], None]) -> None:
        self.run, self.say = run, say

    def __call__(self, name: str, work: Callable[[], dict]) -> None:
        """Run one step; a failure is recorded, ends the run and is raised again."""
        self.say(f"{name}…")
        started = time.monotonic()
        try:
            counts = work()
        except Exception as error:
            self.record(name, "failed", {})
            self.run.status, self.run.error = NightlyRun.Status.FAILED, f"{name}: {error}"
            self.run.finished_at = timezone.now()
            self.run.save()
            raise
        self.record(name, "done", counts, time.monotonic() - started)
        self.run.save(update_fields=["steps"])

    def record(self, name: str, status: str, counts: dict, seconds: float = 0) -> None:
        """Add a step's line to the run (saved with the run's next save)."""
        line = {"step": name, "status": status, "counts": counts, "seconds": round(seconds, 2)}
        self.run.steps.append(line)


def do_run_nightly(
    district: District,
    *,
    as_of: dt.date,
    files: NightlyImport | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> NightlyRun:
    """Run the night's steps for a district and record them; returns the run."""
    profile = load_rule_profile(district.rule_profile)
    run = NightlyRun.objects.create(district=district, as_of=as_of)
    step = _Steps(run, say)

    def import_files() -> dict:  # the metrics step below takes in what it changed
        imported = do_import_files(
            files.paths,
            district=district,
            source_format=files.source_format,
            profile=files.profile,
            via=CommandLine("homeroom nightly"),
        )
        return {"run": imported.pk, **imported.counts}

    def metrics() -> dict:  # only what the night changed is recomputed
        state = do_refresh_summaries(district, as_of=as_of, profile=profile, incremental=True)
        return {"students": state.students if state else 0}

    if files:
        step("import", import_files)
    step("metrics", metrics)
    with analysis_engine(district, as_of=as_of) as engine:
        read = {"as_of": as_of, "engine": engine, "profile": profile}

        def flags() -> dict:  # what was known on the date is read once, for both steps
            read["known"] = known_on(engine, profile, as_of)
            return do_evaluate_flags(district, **read)

        step("flags", flags)
        if current_model(district) is not None:
            step("forecast", lambda: do_score_students(district, known=read["known"]))
        else:
            step.record("forecast", "skipped: no forecast trained yet (homeroom risk train)", {})
    # A district new to Homeroom gets the default playbook (once; later nights find it
    # installed and leave the district's edits alone).
    step("case defaults", lambda: do_install_defaults(district))
    step("case flags", lambda: do_evaluate_case_flags(district, as_of=as_of))
    # Students who reached the next step of the district's truancy pack (none chosen: the
    # step records so and finds nobody).
    step("truancy", lambda: do_find_eligible(district, as_of=as_of))
    step("tiers", lambda: _tier_changes(district, run))

    def outreach() -> dict:  # templates first: a district new to Homeroom gets the defaults
        installed = do_install_default_templates(district)
        raised = _raised(district, run)
        return installed | do_evaluate_triggers(district, as_of=as_of, raised_tiers=raised)

    step("outreach", outreach)
    # The impact table the Impact page and the board report read (too slow for a page).
    step("impact", lambda: do_refresh_impact(district, as_of=as_of))
    # The student groups' months the reports read (a refresh of the summaries outdates them).
    step("report figures", lambda: {"rows": do_refresh_group_months(district)})
    run.status, run.finished_at = NightlyRun.Status.SUCCEEDED, timezone.now()
    run.save()
    return run
