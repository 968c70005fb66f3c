"""`homeroom nightly`'s pipeline: import -> metrics -> flags -> forecast -> tier changes.

One `NightlyRun` records the steps in order with their counts. Each step commits on its
own, and a step that fails stops the run: what the earlier steps wrote is consistent, and
the later steps' results from the previous night stay in place. Every step is safe to
repeat, so running the night twice changes nothing the second time.
"""

import datetime as dt
import io
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from django.core.management import call_command
from django.utils import timezone

from homeroom.core.models import District
from homeroom.ingest.models import ImportRun
from homeroom.metrics.actions import do_refresh_summaries
from homeroom.metrics.models import StudentSummary
from homeroom.metrics.rules import load_rule_profile
from homeroom.warnings.actions import (
    analysis_engine,
    current_model,
    do_evaluate_flags,
    do_score_students,
)
from homeroom.warnings.models import NightlyRun
from homeroom.warnings.snapshots import known_on


def _tiers(district: District) -> dict[int, str]:
    rows = StudentSummary.objects.filter(student__district=district, school__isnull=True)
    return dict(rows.values_list("student_id", "tier"))


def _tier_changes(before: dict[int, str], after: dict[int, str], order: list[str]) -> dict:
    """Students whose tier rose (toward the most intensive) or fell since the last run."""
    rank = {name: i for i, name in enumerate(order)}  # the profile's most intensive first
    moves = Counter()
    for student, tier in after.items():
        old = before.get(student)
        if old is None or old == tier or old not in rank or tier not in rank:
            continue
        moves["raised" if rank[tier] < rank[old] else "lowered"] += 1
    return {"raised": moves["raised"], "lowered": moves["lowered"]}


def do_run_nightly(
    district: District,
    *,
    as_of: dt.date,
    files: list[Path] | None = None,
    source_format: str | None = None,
    profile: str | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> NightlyRun:
    """Run the night's steps for a district and record them; returns the run."""
    run = NightlyRun.objects.create(district=district, as_of=as_of)
    tiers_before = _tiers(district)

    def step(name: str, work: Callable[[], dict]) -> None:
        say(f"{name}…")
        started = time.monotonic()
        try:
            counts = work()
        except Exception as error:
            run.steps.append({"step": name, "status": "failed", "seconds": 0, "counts": {}})
            run.status, run.error = NightlyRun.Status.FAILED, f"{name}: {error}"
            run.finished_at = timezone.now()
            run.save()
            raise
        run.steps.append(
            {
                "step": name,
                "status": "done",
                "counts": counts,
                "seconds": round(time.monotonic() - started, 2),
            }
        )
        run.save(update_fields=["steps"])

    def import_files() -> dict:
        arguments = [source_format, *map(str, files), "--district", district.name]
        if profile:
            arguments += ["--profile", profile]
        call_command("import", *arguments, verbosity=0, stdout=io.StringIO())
        latest = ImportRun.objects.filter(district=district).latest("pk")
        return {"run": latest.pk, **latest.counts}

    def metrics() -> dict:  # only what the night changed is recomputed
        return {"students": do_refresh_summaries(district, as_of=as_of, incremental=True).students}

    if files:
        step("import", import_files)
    step("metrics", metrics)
    with analysis_engine(district, as_of=as_of) as engine:
        read = {"as_of": as_of, "engine": engine}

        def flags() -> dict:  # what was known on the date is read once, for both steps
            read["known"] = known_on(engine, load_rule_profile(district.rule_profile), as_of)
            return do_evaluate_flags(district, **read)

        step("flags", flags)
        if current_model(district) is not None:
            step("forecast", lambda: do_score_students(district, **read))
        else:
            run.steps.append(
                {
                    "step": "forecast",
                    "status": "skipped: no forecast trained yet (homeroom risk train)",
                    "counts": {},
                    "seconds": 0,
                }
            )
    order = [tier.name for tier in load_rule_profile(district.rule_profile).tiers]
    step("tiers", lambda: _tier_changes(tiers_before, _tiers(district), order))
    run.status, run.finished_at = NightlyRun.Status.SUCCEEDED, timezone.now()
    run.save()
    return run
