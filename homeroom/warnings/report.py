"""The forecast's evaluation report, as JSON for machines and as a self-contained HTML page."""

import json
from pathlib import Path

from django.template.loader import render_to_string

from homeroom.warnings.methods import METHOD_NAMES
from homeroom.warnings.models import RiskModel

SUMMARY_FIGURES = ("roc_auc", "pr_auc", "brier", "precision_at_capacity", "recall_at_capacity")


def report_data(model: RiskModel) -> dict:
    """Everything the report says, as one JSON-ready dictionary."""
    return {
        "district": model.district.name,
        "model_version": model.version,
        "estimator": model.estimator,
        "rule_profile": model.rule_profile,
        "trained_years": model.trained_years,
        "evaluated_year": model.evaluated_year,
        "trained_at": model.created_at.isoformat(),
        "methods": METHOD_NAMES,
        **model.evaluation,
    }


def _weeks(data: dict) -> list[dict]:
    """Per week: the methods' figures side by side, the verdict, the model's groups."""
    weeks = []
    for week, result in sorted(data["weeks"].items(), key=lambda item: int(item[0])):
        methods = result["methods"]
        best = result["best_baseline"]
        model, baseline = methods["model"]["roc_auc"], methods[best]["roc_auc"]
        chosen = result["chosen"]
        weeks.append(
            {
                "week": int(week),
                "as_of": result["as_of"],
                "trained_on": result["trained_on"],
                "rows": [
                    {"name": METHOD_NAMES[name], "used": name == chosen, **figures}
                    for name, figures in methods.items()
                ],
                "verdict": (
                    f"The model beats the best baseline ({METHOD_NAMES[best]}): ROC-AUC "
                    f"{model:.3f} against {baseline:.3f}. Homeroom uses the model."
                    if chosen == "model"
                    else f"The model does not beat {METHOD_NAMES[best]} (ROC-AUC "
                    f"{model or 0:.3f} against {baseline or 0:.3f}). Homeroom uses the "
                    "baseline for this week."
                ),
                "calibration": methods[chosen]["calibration"],
                "chosen_name": METHOD_NAMES[chosen],
                "groups": methods[chosen]["groups"],
            }
        )
    return weeks


def write_report(model: RiskModel, directory: Path) -> tuple[Path, Path]:
    """Write `forecast-report.json` and `forecast-report.html` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    data = report_data(model)
    json_path = directory / "forecast-report.json"
    json_path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    html_path = directory / "forecast-report.html"
    html_path.write_text(
        render_to_string("warnings/report.html", {"data": data, "weeks": _weeks(data)}),
        encoding="utf-8",
    )
    return json_path, html_path
