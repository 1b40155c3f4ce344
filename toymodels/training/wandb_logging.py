"""Weights & Biases for one run: where it goes (online or offline), what it shows, and closing it.

A run logs to W&B only when ``logger=wandb``. It is **offline** unless online is asked for
(``logger.mode=online``, ``WANDB_MODE=online``, or ``mode: null`` with an API key or a ``wandb
login`` in ~/.netrc). Online never blocks a run for long and never prompts: without credentials,
with a server that does not answer the first connection, or when ``wandb.init`` does not finish
within ``logger.init_timeout`` seconds, the run logs offline and says so in one line on stderr.
Offline runs are written to ``<run_dir>/wandb/offline-run-*`` and uploaded later with ``wandb sync``.

Every eval metric (``eval/*``) and the training loss (``train/*``) use training FLOPs as their
x-axis; the run summary holds the parameter counts and, at the end, the final metrics, so W&B's
scatter and parallel-coordinates panels can draw accuracy against compute across a sweep's group.
Only the process that creates the run (rank 0) talks to W&B.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

from toymodels.errors import ConfigError, first_line
from toymodels.runs.records import atomic_write, read_run_json
from toymodels.runs.wandb_mode import (  # noqa: F401  (MODES: loggers.py reads it here)
    MODES,
    PROBE_SECONDS,
    base_url,
    has_credentials,
    probe_server,
    resolve_mode,
)
from toymodels.training.model import non_embedding_params, total_params


def _warn(message: str) -> None:
    print(f"[toymodels] warning: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _no_error_reporting():
    """Keep wandb's own error telemetry out of one init: after a failed start it would post the error to
    the same unanswering server when the process exits, and wait ~20 s for it (wandb 0.31)."""
    before = os.environ.get("WANDB_ERROR_REPORTING")
    os.environ["WANDB_ERROR_REPORTING"] = "false"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("WANDB_ERROR_REPORTING", None)
        else:
            os.environ["WANDB_ERROR_REPORTING"] = before


RUN_ID_FILE = "run_id"  # in <run_dir>/wandb/: the W&B run a resumed run goes on logging to


def _stable_id(run_dir: Path) -> str:
    """The W&B run id of this run folder: the one recorded there, else a new one (or WANDB_RUN_ID's)."""
    path = run_dir / "wandb" / RUN_ID_FILE
    try:
        recorded = path.read_text().strip()
    except OSError:
        recorded = ""
    return recorded or os.environ.get("WANDB_RUN_ID") or secrets.token_hex(4)


def _record_id(run_dir: Path, run_id: str) -> None:
    (run_dir / "wandb").mkdir(parents=True, exist_ok=True)
    atomic_write(run_dir / "wandb" / RUN_ID_FILE, run_id + "\n")


def _init_run(cfg, run_dir: Path, run_cfg):
    """Start the W&B run: online if asked for and possible in time, offline otherwise.

    The run id is kept in the run folder, so a resumed run logs to the same W&B run (``resume="allow"``)
    and ``wandb sync`` of its offline folders uploads one run, not one per attempt.
    """
    import wandb  # optional extra (toymodels[wandb])

    mode, problem = resolve_mode(cfg.mode)
    timeout = cfg.init_timeout
    # Our own lines say where the run is; WANDB_SILENT=false brings wandb's back.
    os.environ.setdefault("WANDB_SILENT", "true")
    if wandb.run is not None:  # a run left open by an earlier job of this process must not swallow this one
        wandb.run.finish()
    init = dict(
        project=cfg.project or "toymodels",
        entity=cfg.entity,
        group=cfg.group,
        name=cfg.name or run_cfg.name,
        tags=[str(t) for t in (cfg.tags or [])],
        notes=cfg.notes,
        job_type="train",
        config={**run_cfg.config, "trainer": dict(run_cfg.trainer.kwargs), "run_name": run_cfg.name},
        dir=str(run_dir),
        id=_stable_id(run_dir),
        resume="allow",
        # The members of a seed ensemble log at once, one W&B run each, from one process.
        reinit="create_new",
    )
    if mode == "online":
        url, started = base_url(), time.monotonic()
        unreachable = probe_server(url, min(PROBE_SECONDS, float(timeout)))
        if unreachable:
            problem = f"{url} not reachable ({unreachable})"
        else:
            # A known id, so the folder of a failed attempt can be found and removed: its records would
            # sync as an empty run.
            attempt_id = init["id"]
            try:
                settings = wandb.Settings(init_timeout=float(timeout))
                with _no_error_reporting():
                    run = wandb.init(mode="online", settings=settings, **init)
                _record_id(run_dir, run.id)
                print(f"[toymodels] W&B run: {run.url}", flush=True)
                return run
            except Exception as err:  # any failure to go online means: log offline, never stop the run
                problem = f"{first_line(err)} after {time.monotonic() - started:.0f} s"
                for attempt in (run_dir / "wandb").glob(f"run-*-{attempt_id}"):
                    shutil.rmtree(attempt, ignore_errors=True)
                init["id"] = secrets.token_hex(4)  # wandb keeps the failed id busy in the background
        mode = "offline"
    if problem:
        _warn(f"W&B cannot log online: {problem}; logging offline instead (upload later with `wandb sync`)")
    run = wandb.init(mode=mode, **init)
    if mode != "disabled":
        _record_id(run_dir, run.id)
    return run


def _describe(run, run_cfg) -> None:
    """Point every metric at the FLOPs axis and put what the run is into its summary."""

    # No `summary=` option: it would turn the summary's plain `flops` into {"last": ...}.
    run.define_metric("flops")
    run.define_metric("tokens", step_metric="flops")
    # step_sync: rows without a `flops` value (the training loss) get the last one written in.
    run.define_metric("eval/*", step_metric="flops", step_sync=True)
    run.define_metric("train/*", step_metric="flops", step_sync=True)
    run.summary.update(
        {
            "params": total_params(run_cfg.model),
            "non_embedding_params": non_embedding_params(run_cfg.model),
            "task": run_cfg.task.name,
            "task_label": run_cfg.task.label,
            "n_digits": getattr(run_cfg.task, "n_digits", None),  # a mixture has one per skill
            "model": run_cfg.model.name,
            "seed": run_cfg.seed,
        }
    )


def make_wandb_logger(logger_cfg, run_dir: Path, run_cfg):
    """Lightning's WandbLogger on a run started here (rank 0 only), files in ``<run_dir>/wandb/``."""
    try:
        import wandb  # noqa: F401  (optional extra: is it installed?)
    except ImportError:
        raise ConfigError("logger=wandb needs the wandb package: pip install 'toymodels[wandb]'") from None
    from lightning.pytorch.loggers import WandbLogger  # 3.3 s of Lightning start-up; the CLI loads this module
    from lightning.pytorch.utilities.rank_zero import rank_zero_only  # (same)

    run_dir = Path(run_dir)
    if os.environ.get("WANDB_MODE", None) == "":
        del os.environ["WANDB_MODE"]  # set but empty: wandb itself would fail validating it; means unset
    if rank_zero_only.rank != 0:
        # Other ranks never start a run: their WandbLogger hands out a dummy experiment and logs nothing.
        return WandbLogger(save_dir=str(run_dir), project=logger_cfg.project)
    run = _init_run(logger_cfg, run_dir, run_cfg)
    _describe(run, run_cfg)
    return WandbLogger(save_dir=str(run_dir), experiment=run, project=run.project)


def _shown(path: str) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def final_summary(record: dict) -> dict:
    """The run.json values that go into the W&B summary at the end: compute and final metrics."""
    summary = {k: record[k] for k in ("flops", "flops_6nd", "tokens", "step", "wall_seconds") if k in record}
    metrics = record.get("metrics") or {}
    summary.update({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    return summary


def finish_wandb(loggers: list) -> None:
    """Copy each run's final record into its summary, finish its W&B run and say where it is (one line each)."""

    for logger in loggers:
        run = getattr(logger, "_experiment", None) if type(logger).__name__ == "WandbLogger" else None
        if run is None or not hasattr(run, "finish"):  # other ranks
            continue
        record = read_run_json(Path(logger.save_dir)) if logger.save_dir else None
        if record:
            run.summary.update(final_summary(record))
        disabled, offline = run.settings.mode == "disabled", run.settings.mode in ("offline", "dryrun")
        where = run.settings.sync_dir if offline else run.url
        run.finish(exit_code=1 if record and record.get("status") == "failed" else 0)
        if disabled:
            continue
        if offline:
            print(f"[toymodels] W&B run saved offline; upload it with: wandb sync {_shown(where)}", flush=True)
        else:
            print(f"[toymodels] W&B run: {where}", flush=True)
