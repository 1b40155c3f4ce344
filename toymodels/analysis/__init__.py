"""The torch-free analysis side: read a sweep folder, fit thresholds, forecast them, write the reports.

For notebooks: `load_sweep(path)` gives a `Sweep` (its runs' `run.json` records), `Sweep.to_frame()`
every evaluation point as a tidy pandas DataFrame, `load_summary(path)` a report's summary.json; the
fits and the summary functions below work on those. Nothing here imports torch, Lightning or the
training side (a layering contract checks it); `toymodels.cli` holds only the command lines.

The modules, by layer:

- reading: `sweep` (run folders, metrics.csv, multirun.yaml), `frame` (pandas views), `arm_axes`
  (which runs form which arm);
- numbers: `fits` (bounded sigmoid, logistic regression of solve counts, seed bootstraps,
  breakthroughness), `summary` (summary.json of a family), `arms` (thresholds shifted between arms,
  crossovers), `abilities` (a mixture's skills), `datascale` (thresholds in training-set size),
  `training_time` (grok gaps), `resolution` (small vs whole test sets), `forecast` (the forecasters);
- text and figures: `markdown` (numbers as text, summary.md), `plots` (shared drawing helpers),
  `figures`, `arm_figures`, `abilities_figure`, and each report kind's own plot function;
- writing: `report` (`write_report`: picks the report kind and writes it; the family report),
  `mixture_report` (mixture sweeps, with or without arms), `forecast_report` (`write_forecast`),
  `wandb_upload` (the one W&B upload path of both).
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
from toymodels.analysis.frame import load_summary, sweep_frame
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
    "load_summary",
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
    "sweep_frame",
    "wilson_interval",
]
