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

from django.db import connection, transaction
from django.db.models import Max, Model

from homeroom.core.models import District, SchoolYear
from homeroom.metrics.engines import Engine, database_engine, duckdb_engine, export_parquet
from homeroom.metrics.rules import RuleProfile, load_rule_profile
from homeroom.warnings import training
from homeroom.warnings.flags import FLAG_RULES, find_flags
from homeroom.warnings.forecast import ESTIMATOR
from homeroom.warnings.models import Flag, RiskModel, RiskScore
from homeroom.warnings.rules import load_warning_rules
from homeroom.warnings.snapshots import Known, known_on, recent_enrollment

BATCH = 5000  # rows a statement names, well under SQLite's 32,766 parameters


class WarningError(ValueError):
    """Flags or scores that cannot be computed as asked, said plainly."""


@contextmanager
def analysis_engine(district: District, *, as_of: dt.date | None = None) -> Iterator[Engine]:
    """The district's facts on an in-process DuckDB, read from the database now.

    All its years for training; with `as_of`, the year holding that date and the two
    before (last year's attendance, and the year before it for the forecast's combined
    rate), all that flags and scores read, so a night's cost does not grow with history.
    """
    since = None
    if as_of is not None:
        years = SchoolYear.objects.filter(district=district, start_date__lte=as_of)
        starts = list(years.order_by("-start_date").values_list("start_date", flat=True)[:3])
        since = starts[-1] if len(starts) == 3 else None
    with tempfile.TemporaryDirectory(prefix="homeroom-facts-") as directory:
        export_parquet(database_engine(district, since=since), Path(directory))
        yield duckdb_engine(Path(directory))


def _insert_rows(model: type[Model], fields: list[str], rows: list[tuple]) -> None:
    """Insert rows of plain values (dates already adapted): on PostgreSQL by COPY, on SQLite
    with one prepared statement.

    The ORM's bulk_create prepares every value of every row in Python, slow for a night's
    tens of thousands of rows; the rows here are built from computed tables and need none
    of it. On PostgreSQL even a prepared statement costs a round of the protocol per row;
    COPY streams them (docs/benchmarks.md, "Design figures").
    """
    table = model._meta.db_table
    columns = ", ".join(model._meta.get_field(name).column for name in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)


def _reword(reworded: list[tuple[str, int]]) -> None:
    """Set the reasons of held flags, given as (reason, pk): on PostgreSQL by one statement
    over two arrays, on SQLite by one prepared statement (never a CASE per row)."""
    table = Flag._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET reason = v.reason FROM unnest(%s::text[], %s::bigint[])"
                f" AS v (reason, id) WHERE {table}.id = v.id",
                [[reason for reason, _ in reworded], [pk for _, pk in reworded]],
            )
        else:
            cursor.executemany(f"UPDATE {table} SET reason = %s WHERE id = %s", reworded)


def _school_year(district: District, window) -> SchoolYear:
    return SchoolYear.objects.get(district=district, pk=window.school_year_id)


def do_evaluate_flags(
    district: District,
    *,
    as_of: dt.date,
    engine: Engine,
    profile: RuleProfile | None = None,
    known: Known | None = None,
) -> dict[str, int]:
    """Raise the flags that hold as of `as_of`, clear those that no longer do.

    `profile`: the district's rule profile, when the caller resolved it already (the
    pipeline does, once a night); `known`: what was known on `as_of`, when already read
    from `engine`. Safe to repeat
    for the same date (nothing changes); refused for a date before the last evaluation,
    since the history runs forward. Returns counts: raised, cleared, active.
    """
    rules = load_warning_rules(district.warning_rules)
    profile = profile or load_rule_profile(district.rule_profile)
    # Only the kinds these rules raise: flags computed elsewhere (case management's) are
    # raised and cleared by their own step.
    managed = Flag.objects.filter(student__district=district, kind__in=list(FLAG_RULES))
    last = managed.aggregate(last=Max("checked_on"))
    if last["last"] is not None and as_of < last["last"]:
        raise WarningError(
            f"flags were evaluated as of {last['last']}; evaluate as of that date or later"
        )
    known = known or known_on(engine, profile, as_of)
    snapshot = known.snapshot
    recent = None
    if rules.on("worsening"):
        recent = recent_enrollment(
            engine, profile, snapshot.as_of, int(rules.rules["worsening"]["recent_days"])
        )
    findings = find_flags(
        snapshot,
        rules,
        profile,
        last_year=known.last_year,
        recent=recent,
    )
    holding = {(f.student_id, f.kind, f.variant): f.reason for f in findings}
    with transaction.atomic():
        school_year = _school_year(district, snapshot.window)
        open_flags = managed.filter(cleared_on__isnull=True)
        cleared, reworded = [], []
        held = open_flags.values_list(
            "pk", "student_id", "school_year_id", "kind", "variant", "reason"
        )
        for pk, student_id, year_id, kind, variant, reason_held in held:
            reason = holding.pop((student_id, kind, variant), None)
            if reason is None or year_id != school_year.pk:
                cleared.append(pk)
                if reason is not None:  # a new year starts a new flag
                    holding[(student_id, kind, variant)] = reason
            elif reason != reason_held:
                reworded.append((reason, pk))
        open_flags.update(checked_on=as_of)
        for start in range(0, len(cleared), BATCH):
            Flag.objects.filter(pk__in=cleared[start : start + BATCH]).update(cleared_on=as_of)
        _reword(reworded)
        day = connection.ops.adapt_datefield_value(as_of)
        _insert_rows(
            Flag,
            ["student", "school_year", "kind", "variant", "raised_on", "checked_on", "reason"],
            [
                (student_id, school_year.pk, kind, variant, day, day, reason)
                for (student_id, kind, variant), reason in holding.items()
            ],
        )
    return {"raised": len(holding), "cleared": len(cleared), "active": len(findings)}


def do_train_forecast(
    district: District,
    *,
    today: dt.date,
    engine: Engine,
    say: Callable[[str], None] = lambda message: None,
) -> RiskModel:
    """Train and evaluate the forecast on the district's complete years and store it.

    A year is complete when its records reach its end (`training.years_in_data`), not
    when the calendar says it is over."""
    started = time.monotonic()
    profile = load_rule_profile(district.rule_profile)
    rules = load_warning_rules(district.warning_rules)
    try:
        trained = training.train(
            engine, profile, today, float(district.risk_capacity), say, rules=rules
        )
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


def do_score_students(district: District, *, known: Known) -> dict[str, int]:
    """Replace every student's stored forecast with the latest model's, from what was
    `known` on a date (`known_on`: the night reads it once, for the flags too)."""
    model = current_model(district)
    if model is None:
        raise WarningError("no forecast has been trained yet: run 'homeroom risk train'")
    table = training.score(known, model.parameters)
    week, window = known.snapshot.week, known.snapshot.window
    with transaction.atomic():
        school_year = _school_year(district, window)
        # The forecast each score replaces is kept beside it: the worklist asks whose rose.
        # Scoring the same day again keeps the one before that day, not the day's own.
        stored = RiskScore.objects.filter(student__district=district)
        previous = {
            student: earlier if as_of == window.as_of else probability
            for student, as_of, probability, earlier in stored.values_list(
                "student_id", "as_of", "probability", "previous_probability"
            )
        }
        stored.delete()
        day = connection.ops.adapt_datefield_value(window.as_of)
        _insert_rows(
            RiskScore,
            [
                "student",
                "school_year",
                "model",
                "as_of",
                "week",
                "method",
                "probability",
                "previous_probability",
                "factors",
                "chronic_last_year",
                "absent_two_in_september",
                "projected_chronic",
            ],
            [
                (
                    int(student_id),
                    school_year.pk,
                    model.pk,
                    day,
                    week,
                    row.method,
                    float(row.probability),
                    previous.get(int(student_id)),
                    connection.ops.adapt_json_value(row.factors, None),
                    bool(row.chronic_last_year),
                    bool(row.absent_two_in_september),
                    bool(row.projected_chronic),
                )
                for student_id, row in zip(table.index, table.itertuples(), strict=True)
            ],
        )
    high = int((table["probability"] >= 0.5).sum())
    return {"scored": len(table), "likely_chronic": high, "week": week}
