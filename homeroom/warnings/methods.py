"""The forecast's methods in words: the model and the baselines it must beat.

A module of its own, without the forecast's imports, so that a page can name the method of
a stored score without loading scikit-learn and pandas into the web process.
"""

METHOD_NAMES = {
    "model": "Forecast model",
    "chronic_last_year": "Baseline: chronic last year",
    "september": "Baseline: 2+ absences in September",
    "projection": "Baseline: current-rate projection",
    "rate_sum": "Baseline: absence rate so far plus last year's",
    "district_flags": "Baseline: the district's early-warning flags",
}


def method_name(method: str) -> str:
    """The forecast method of a score in words: the model, or the baseline it fell back on."""
    return METHOD_NAMES.get(method, method)
