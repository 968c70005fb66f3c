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


def _verdict(methods: dict, chosen: str, best: str) -> str:
    """The week's choice in words: the model against the best baseline, or the fallback."""
    model, baseline = methods["model"]["roc_auc"] or 0, methods[best]["roc_auc"] or 0
    if chosen != "model":
        return (
            f"The model does not beat {METHOD_NAMES[chosen]} (ROC-AUC {model:.3f} against "
            f"{methods[chosen]['roc_auc'] or 0:.3f}). Homeroom uses that baseline this week."
        )
    if model > baseline:
        return (
            f"The model beats the best baseline ({METHOD_NAMES[best]}): ROC-AUC {model:.3f} "
            f"against {baseline:.3f}. Homeroom uses the model."
        )
    return (
        f"The model does not beat {METHOD_NAMES[best]} (ROC-AUC {model:.3f} against "
        f"{baseline:.3f}), which staff see as flags beside it; it beats every other "
        "baseline, so Homeroom uses the model."
    )


def _weeks(data: dict) -> list[dict]:
    """Per week: the methods' figures side by side, the verdict, the model's groups."""
    weeks = []
    for week, result in sorted(data["weeks"].items(), key=lambda item: int(item[0])):
        methods = result["methods"]
        best = result["best_baseline"]
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
                "verdict": _verdict(methods, chosen, best),
                "margins": [
                    {"name": METHOD_NAMES[name], **margin}
                    for name, margin in result.get("margins", {}).items()
                ],
                "ece": methods[chosen].get("ece"),
                "gap": methods[chosen].get("largest_gap"),
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
