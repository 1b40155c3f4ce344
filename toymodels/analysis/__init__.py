"""The torch-free analysis side: read a sweep folder, fit thresholds, forecast them, write the report.

`sweep` reads run folders, `fits` holds the numerical fits (bounded sigmoid, logistic regression of
solve counts, seed bootstraps, breakthroughness), `summary` builds `summary.json`, `figures` and
`report` draw and write the report (`toymodels-report`), `forecast` and `forecast_cli` predict a
threshold from the smaller runs (`toymodels-forecast`). Nothing here imports torch or the model.
"""

from toymodels.analysis.fits import (
    GRADUAL_NOTE,
    WIDTH_10_90,
    SigmoidFit,
    bootstrap_x0,
    breakthroughness,
    fit_sigmoid,
    logistic_regression,
    replication_interval,
    seed_weights,
    sigmoid,
    wilson_interval,
)
from toymodels.analysis.summary import (
    family_table,
    fit_metric,
    metric_bounds,
    solve_threshold,
    split_half_check,
    summarize,
)
from toymodels.analysis.sweep import (
    RunRecord,
    Sweep,
    SweepError,
    expected_run_count,
    load_run,
    load_sweep,
    read_metrics_csv,
)
from toymodels.runs.records import LOWER_IS_BETTER, METRICS

__all__ = [
    "GRADUAL_NOTE",
    "LOWER_IS_BETTER",
    "METRICS",
    "WIDTH_10_90",
    "RunRecord",
    "SigmoidFit",
    "Sweep",
    "SweepError",
    "bootstrap_x0",
    "breakthroughness",
    "expected_run_count",
    "family_table",
    "fit_metric",
    "fit_sigmoid",
    "load_run",
    "load_sweep",
    "logistic_regression",
    "metric_bounds",
    "read_metrics_csv",
    "replication_interval",
    "seed_weights",
    "sigmoid",
    "solve_threshold",
    "split_half_check",
    "summarize",
    "wilson_interval",
]
