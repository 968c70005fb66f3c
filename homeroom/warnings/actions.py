"""Writes of the early-warning app: flags with their history, the forecast, its scores.

The computation runs on DuckDB over the district's facts exported from the database to a
temporary directory (`analysis_engine`): the same metric definitions, in a fraction of the
time the database takes for the many snapshots the forecast needs. Each write is one
transaction: a failure leaves the previous results in place.
"""

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import transaction
from django.db.models import Max

from homeroom.core.models import District, SchoolYear
from homeroom.metrics.engines import Engine, database_engine, duckdb_engine, export_parquet
from homeroom.metrics.rules import load_rule_profile
from homeroom.warnings import training
from homeroom.warnings.flags import find_flags
from homeroom.warnings.forecast import ESTIMATOR
from homeroom.warnings.models import Flag, RiskModel, RiskScore
from homeroom.warnings.rules import load_warning_rules
from homeroom.warnings.snapshots import recent_enrollment, take_snapshot, year_before


class WarningError(ValueError):
    """Flags or scores that cannot be computed as asked, said plainly."""


@contextmanager
def analysis_engine(district: District) -> Iterator[Engine]:
    """The district's facts on an in-process DuckDB, read from the database now."""
    with tempfile.TemporaryDirectory(prefix="homeroom-facts-") as directory:
        export_parquet(database_engine(district), Path(directory))
        yield duckdb_engine(Path(directory))


def _school_year(district: District, window) -> SchoolYear:
    return SchoolYear.objects.get(district=district, pk=window.school_year_id)


def do_evaluate_flags(district: District, *, as_of: dt.date, engine: Engine) -> dict[str, int]:
    """Raise the flags that hold as of `as_of`, clear those that no longer do.

    Safe to repeat for the same date (nothing changes); refused for a date before the
    last evaluation, since the history runs forward. Returns counts: raised, cleared,
    active.
    """
    rules = load_warning_rules(district.warning_rules)
    profile = load_rule_profile(district.rule_profile)
    last = Flag.objects.filter(student__district=district).aggregate(last=Max("checked_on"))
    if last["last"] is not None and as_of < last["last"]:
        raise WarningError(
            f"flags were evaluated as of {last['last']}; evaluate as of that date or later"
        )
    snapshot = take_snapshot(engine, profile, as_of)
    recent = None
    if rules.on("worsening"):
        recent = recent_enrollment(
            engine, profile, snapshot.as_of, int(rules.rules["worsening"]["recent_days"])
        )
    findings = find_flags(
        snapshot,
        rules,
        profile,
        last_year=year_before(engine, profile, snapshot.window),
        recent=recent,
    )
    holding = {(f.student_id, f.kind, f.variant): f.reason for f in findings}
    with transaction.atomic():
        school_year = _school_year(district, snapshot.window)
        open_flags = Flag.objects.filter(student__district=district, cleared_on__isnull=True)
        cleared, kept = [], []
        for flag in open_flags.only("pk", "student_id", "kind", "variant", "reason"):
            reason = holding.pop((flag.student_id, flag.kind, flag.variant), None)
            if reason is None or flag.school_year_id != school_year.pk:
                cleared.append(flag.pk)
                if reason is not None:  # a new year starts a new flag
                    holding[(flag.student_id, flag.kind, flag.variant)] = reason
            else:
                flag.reason, flag.checked_on = reason, as_of
                kept.append(flag)
        Flag.objects.filter(pk__in=cleared).update(cleared_on=as_of, checked_on=as_of)
        Flag.objects.bulk_update(kept, ["reason", "checked_on"], batch_size=2000)
        Flag.objects.bulk_create(
            [
                Flag(
                    student_id=student_id,
                    school_year=school_year,
                    kind=kind,
                    variant=variant,
                    raised_on=as_of,
                    checked_on=as_of,
                    reason=reason,
                )
                for (student_id, kind, variant), reason in holding.items()
            ],
            batch_size=2000,
        )
    return {"raised": len(holding), "cleared": len(cleared), "active": len(findings)}


def do_train_forecast(
    district: District,
    *,
    today: dt.date,
    engine: Engine,
    say: Callable[[str], None] = lambda message: None,
) -> RiskModel:
    """Train and evaluate the forecast on the district's complete years and store it."""
    started = time.monotonic()
    profile = load_rule_profile(district.rule_profile)
    try:
        trained = training.train(engine, profile, today, float(district.risk_capacity), say)
    except training.ForecastError as error:
        raise WarningError(str(error)) from None
    with transaction.atomic():
        version = RiskModel.objects.filter(district=district).aggregate(v=Max("version"))["v"]
        return RiskModel.objects.create(
            district=district,
            version=(version or 0) + 1,
            estimator=ESTIMATOR,
            rule_profile=f"{profile.name}@{profile.version}",
            trained_years=trained.trained_years,
            evaluated_year=trained.evaluated_year,
            parameters=trained.parameters,
            evaluation=trained.evaluation,
            seconds=time.monotonic() - started,
        )


def current_model(district: District) -> RiskModel | None:
    """The district's latest trained forecast, if any."""
    return RiskModel.objects.filter(district=district).order_by("-version").first()


def do_score_students(district: District, *, as_of: dt.date, engine: Engine) -> dict[str, int]:
    """Replace every student's stored forecast with one as of `as_of` (the latest model's)."""
    model = current_model(district)
    if model is None:
        raise WarningError("no forecast has been trained yet: run 'homeroom risk train'")
    profile = load_rule_profile(district.rule_profile)
    table, week, window = training.score(engine, profile, model.parameters, as_of)
    with transaction.atomic():
        school_year = _school_year(district, window)
        RiskScore.objects.filter(student__district=district).delete()
        RiskScore.objects.bulk_create(
            [
                RiskScore(
                    student_id=student_id,
                    school_year=school_year,
                    model=model,
                    as_of=window.as_of,
                    week=week,
                    method=row.method,
                    probability=float(row.probability),
                    factors=row.factors,
                    chronic_last_year=bool(row.chronic_last_year),
                    absent_two_in_september=bool(row.absent_two_in_september),
                    projected_chronic=bool(row.projected_chronic),
                )
                for student_id, row in zip(table.index, table.itertuples(), strict=True)
            ],
            batch_size=2000,
        )
    high = int((table["probability"] >= 0.5).sum())
    return {"scored": len(table), "likely_chronic": high, "week": week}
