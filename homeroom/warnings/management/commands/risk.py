"""`homeroom risk train|evaluate|scores`: the forecast of year-end chronic absence."""

import csv
import io
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from homeroom.core.actions import CommandLine, do_log_export
from homeroom.core.commands import command_district
from homeroom.core.models import School
from homeroom.core.selectors import district_today
from homeroom.core.spreadsheets import safe_cell
from homeroom.metrics import display
from homeroom.metrics.engines import EngineError
from homeroom.metrics.management.commands.metrics import iso_date
from homeroom.metrics.rules import RuleProfileError, load_rule_profile
from homeroom.roster.models import Student
from homeroom.warnings import training
from homeroom.warnings.actions import (
    WarningError,
    analysis_engine,
    current_model,
    do_train_forecast,
)
from homeroom.warnings.report import write_report
from homeroom.warnings.snapshots import known_on

SCORE_COLUMNS = (
    "student_local_id",
    "school_local_id",
    "grade",
    "probability",
    "method",
    "chronic_last_year",
    "absent_two_in_september",
    "projected_chronic",
    "factors",
)


class Command(BaseCommand):
    """Train the forecast, write its evaluation report, or list every student's score."""

    help = (
        "The forecast of year-end chronic absence (docs/forecast.md): 'train' fits and "
        "evaluates it on the district's complete years; 'evaluate' writes the evaluation "
        "report; 'scores' lists every student's probability as of a date."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """The three actions and their options."""
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        train = actions.add_parser("train", help="fit and evaluate the forecast, store it")
        train.add_argument("--today", type=iso_date, help="default: today in the district")
        train.add_argument(
            "--dry-run",
            action="store_true",
            help="say which years it would train and test on, and how, without training",
        )
        evaluate = actions.add_parser("evaluate", help="write the evaluation report")
        evaluate.add_argument("--output", type=Path, required=True, help="directory")
        evaluate.add_argument("--retrain", action="store_true", help="train a new model first")
        scores = actions.add_parser("scores", help="every student's forecast as of a date")
        scores.add_argument("--as-of", type=iso_date, required=True)
        scores.add_argument("--format", choices=["csv", "json"], default="csv")
        scores.add_argument("--output", type=Path, help="file (default: standard output)")
        for sub in (train, evaluate, scores):
            sub.add_argument("--district", help="district name, when several are held")

    def handle(self, *args, **options) -> None:
        """Run the action; every refusal is one line, never a traceback."""
        district = command_district(options["district"])
        self.verbosity = options["verbosity"]
        try:
            getattr(self, options["action"])(district, options)
        except (
            WarningError,
            training.ForecastError,
            EngineError,
            RuleProfileError,
            OSError,
        ) as error:
            raise CommandError(str(error)) from None

    def say(self, message: str) -> None:
        if self.verbosity >= 1:
            self.stderr.write(message)

    def _train(self, district, today):
        with analysis_engine(district) as engine:
            model = do_train_forecast(
                district, today=today, engine=engine, say=lambda m: self.say(f"  {m}")
            )
        self.say(
            f"Trained forecast v{model.version} on {', '.join(model.trained_years)}, "
            f"evaluated on {model.evaluated_year}, in {model.seconds:.1f} s."
        )
        for year in model.evaluation.get("data", []):
            self.say(f"  {year['words']}")
        if model.evaluation.get("evaluation_words"):
            self.say(f"  {model.evaluation['evaluation_words']}")
        for week, result in sorted(model.evaluation["weeks"].items(), key=lambda i: int(i[0])):
            chosen = result["chosen"]
            auc = result["methods"][chosen]["roc_auc"]
            self.say(f"  week {week}: uses {chosen} (ROC-AUC {auc:.3f})")
        return model

    def train(self, district, options) -> None:
        today = options["today"] or district_today(district)
        if not options["dry_run"]:
            self._train(district, today)
            return
        with analysis_engine(district) as engine:
            planned = training.plan(engine, today)
        self.stdout.write(
            f"As of {display.date(today)} the forecast would be trained on "
            f"{', '.join(y['name'] for y in planned.training)} and evaluated on "
            f"{(planned.held_out or planned.training[0])['name']} (nothing was trained):"
        )
        for year in training.coverage_words(planned.years):
            self.stdout.write(f"  {year['words']}")
        self.stdout.write(f"  {planned.words}")

    def evaluate(self, district, options) -> None:
        model = current_model(district)
        if model is None or options["retrain"]:
            model = self._train(district, district_today(district))
        json_path, html_path = write_report(model, options["output"])
        self.stdout.write(f"Wrote {html_path} and {json_path}")

    def scores(self, district, options) -> None:
        model = current_model(district)
        if model is None:
            raise WarningError("no forecast has been trained yet: run 'homeroom risk train'")
        output = options["output"]
        if output is not None and output.is_dir():
            raise WarningError(f"{output}: is a directory; give a file name")
        profile = load_rule_profile(district.rule_profile)
        with analysis_engine(district, as_of=options["as_of"]) as engine:
            known = known_on(engine, profile, options["as_of"])
        table = training.score(known, model.parameters)
        week, window = known.snapshot.week, known.snapshot.window
        students = dict(
            Student.objects.filter(pk__in=table.index.tolist()).values_list("pk", "local_id")
        )
        schools = dict(School.objects.filter(district=district).values_list("pk", "local_id"))
        rows = [
            {
                "student_local_id": students[student_id],
                "school_local_id": schools.get(row.school_id, ""),
                "grade": int(row.grade),
                "probability": round(float(row.probability), 4),
                "method": row.method,
                "chronic_last_year": bool(row.chronic_last_year),
                "absent_two_in_september": bool(row.absent_two_in_september),
                "projected_chronic": bool(row.projected_chronic),
                "factors": row.factors,
            }
            for student_id, row in zip(table.index, table.itertuples(), strict=True)
        ]
        rows.sort(key=lambda r: (-r["probability"], r["student_local_id"]))
        if options["format"] == "json":
            text = json.dumps(
                {
                    "as_of": window.as_of.isoformat(),
                    "school_week": week,
                    "model_version": model.version,
                    "students": rows,
                },
                indent=2,
            )
        else:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, SCORE_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                cells = row | {"factors": "; ".join(row["factors"])}
                writer.writerow({column: safe_cell(value) for column, value in cells.items()})
            text = buffer.getvalue()
        do_log_export(
            subject="risk scores",
            count=len(rows),
            district=district,
            via=CommandLine("homeroom risk scores"),
            details={"as_of": window.as_of.isoformat(), "format": options["format"]},
        )
        if output is None:
            self.stdout.write(text, ending="")
        else:
            output.write_text(text, encoding="utf-8")
            self.say(f"{len(rows):,} students written to {output}")
