"""Uploading a report or a forecast to Weights & Biases: one path for both, never a prompt, never a hang.

The mode is decided as for training runs (`toymodels.runs.wandb_mode.resolve_mode`): offline unless
online is asked for and credentials exist, so it never prompts; `wandb.init` gives up after 20 s.
The upload is a W&B run of the sweep's group with its own job type (`report`, `forecast`), written
under the sweep folder's `wandb/` (not a run folder, so later reports skip it). Every failure is one
line on stderr and exit code 2; the files on disk are already written by then.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from toymodels.analysis.markdown import FIGURES
from toymodels.runs.wandb_mode import resolve_mode

INIT_TIMEOUT = 20.0  # seconds wandb.init may take before the upload is given up


def upload(sweep_dir: Path, job_type: str, group: str, content: Callable[[Any], tuple[dict, dict]], project: str,
           prog: str) -> int:
    """Start a W&B run for this job, log what `content(wandb)` returns ((logged values, run summary)), finish it.

    Returns an exit code: 0, or 2 (wandb missing, init failed, upload failed) after one line on stderr.
    """
    try:
        import wandb  # here: the optional `wandb` extra, and 0.7 s to import (-X importtime)
    except ImportError:
        print(f"{prog}: error: --wandb needs the wandb package (pip install 'toymodels[wandb]')", file=sys.stderr)
        return 2
    sweep_dir = Path(sweep_dir)
    os.environ.setdefault("WANDB_SILENT", "true")  # our own line says where the run went
    mode, refused = resolve_mode(None)
    if refused:
        print(f"{prog}: warning: W&B online refused: {refused}; logging offline", file=sys.stderr)
    if wandb.run is not None:  # a run left open in this process (a training job) must not receive this one
        wandb.run.finish()
    try:
        wb_run = wandb.init(project=project, group=group, job_type=job_type, name=f"{job_type}-{group}",
                            dir=str(sweep_dir), mode=mode, settings=wandb.Settings(init_timeout=INIT_TIMEOUT))
    except Exception as err:  # say why the upload failed, in one line
        print(f"{prog}: error: wandb.init failed: {err}".splitlines()[0], file=sys.stderr)
        return 2
    try:
        logged, summary = content(wandb)
        wandb.log(logged)
        for key, value in summary.items():
            wb_run.summary[key] = value
        where = {"online": getattr(wb_run, "url", None), "offline": f"{sweep_dir / 'wandb'} (upload: wandb sync)"}
    except Exception as err:
        print(f"{prog}: error: wandb upload failed: {err}".splitlines()[0], file=sys.stderr)
        return 2
    finally:
        wandb.finish()  # always: an unfinished run would swallow the next job's logs
    print(f"W&B ({mode}): {where.get(mode) or 'nothing uploaded'}")
    return 0


def upload_report(sweep_dir: Path, summary: dict[str, Any], project: str = "toymodels",
                  prog: str = "toymodels-report") -> int:
    """The report's figures, a per-run table, and every metric's threshold in the run summary."""

    def content(wandb) -> tuple[dict, dict]:
        columns = list(summary["runs"][0]) if summary["runs"] else ["name"]
        table = wandb.Table(columns=columns, data=[[run.get(c) for c in columns] for run in summary["runs"]])
        images = {name.removesuffix(".png"): wandb.Image(str(Path(sweep_dir) / name)) for name in FIGURES}
        values = {}
        for metric, fit in summary["fits"].items():  # every metric, answer_prob included
            for key in ("threshold_flops", "threshold_ci", "breakthroughness"):
                values[f"{metric}/{key}"] = fit[key]
        for key in ("threshold_flops", "threshold_ci", "threshold_text"):
            values[f"headline/{key}"] = summary["headline"][key]
        return {**images, "runs": table}, values

    return upload(sweep_dir, "report", summary["sweep"], content, project, prog)


def upload_forecast(sweep_dir: Path, result: dict[str, Any], project: str = "toymodels",
                    prog: str = "toymodels-forecast") -> int:
    """The forecast figure, one table row per forecaster, the truth and the cutoff in the run summary."""

    def content(wandb) -> tuple[dict, dict]:
        columns = ["forecaster", "threshold_flops", "error_decades", "covered", "lead_factor", "reason"]
        rows = [[n, e["threshold_flops"], e["error_decades"], e["covered"], e["lead_factor"], e["reason"]]
                for n, e in result["forecasters"].items()]
        logged = {"forecast": wandb.Image(str(Path(sweep_dir) / "forecast.png")),
                  "forecasters": wandb.Table(columns=columns, data=rows)}
        return logged, {"truth/threshold_flops": result["truth"]["threshold_flops"],
                        "cutoff_flops": result["cutoff_flops"]}

    return upload(sweep_dir, "forecast", result["sweep"], content, project, prog)
