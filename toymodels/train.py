"""The training entry point: compose the Hydra config, build the run, fit, write the records.

``toymodels-train [overrides]`` or ``python -m toymodels.train [overrides]``. Thin on purpose: the
work lives in tasks, data, model, module and evaluation; here we only translate the config into
those objects, check it, and decide the run's final status.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path

from toymodels.config import ConfigError, build_run, config_dir


def train(cfg) -> dict:
    """Train one run described by a composed config; returns its final run.json record."""
    import lightning as L
    from hydra.core.hydra_config import HydraConfig

    from toymodels.evaluation import RunRecorder, flops_milestones
    from toymodels.module import DivergedError
    from toymodels.runs import read_run_json

    spec = build_run(cfg)  # validates everything before anything is written
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    previous = read_run_json(run_dir)
    if previous and previous.get("status") == "completed":
        print(f"[toymodels] {spec.name}: already completed in {run_dir}, skipping", flush=True)
        return previous

    # Lightning's INFO lines (GPU available..., tips) would be printed twice through Hydra's logging.
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(does not have many workers|LeafSpec|Trying to infer the).*")
    L.seed_everything(spec.seed, workers=True, verbose=False)
    data, module = spec.make_data(), spec.make_module()
    milestones = flops_milestones(module.flops_per_step * spec.max_steps, spec.per_decade, spec.start_fraction)
    recorder = RunRecorder(spec.make_evaluator(data), run_dir, spec.info(module), milestones, verbose=spec.verbose)
    trainer = build_trainer(spec, run_dir, [recorder])
    ckpt_dir = run_dir / "checkpoints"
    resume = ckpt_dir / "last.ckpt"
    print(
        f"[toymodels] {spec.name}: {spec.task.label}, model {spec.model.name} "
        f"({module.flops_per_step * spec.max_steps:.2e} FLOPs, {spec.max_steps} steps)"
        + (" — resuming" if resume.exists() else ""),
        flush=True,
    )
    t0 = time.perf_counter()
    try:
        trainer.fit(module, datamodule=data, ckpt_path=str(resume) if resume.exists() else None)
    except DivergedError as err:
        if trainer.is_global_zero:
            recorder.write_run_json("diverged", str(err), pl_module=module)
        print(f"[toymodels] {spec.name}: diverged: {err}", file=sys.stderr, flush=True)
        return read_run_json(run_dir) or {}
    except BaseException as err:
        if trainer.is_global_zero:
            recorder.write_run_json("failed", f"{type(err).__name__}: {err}".strip(), pl_module=module)
        raise
    finally:
        spec.close_loggers()
    # Lightning returns normally after SIGTERM or Ctrl-C: only a run that reached its budget is done.
    completed = trainer.global_step >= spec.max_steps and not trainer.interrupted
    if trainer.is_global_zero:
        recorder.write_run_json("completed" if completed else "running", pl_module=module)
    record = read_run_json(run_dir) or {}
    if completed and trainer.is_global_zero:
        m = record.get("metrics") or {}
        print(
            f"[toymodels] {spec.name}: completed in {time.perf_counter() - t0:.1f}s — "
            f"exact_match {m.get('exact_match', math.nan):.3f}, digit_accuracy "
            f"{m.get('digit_accuracy', math.nan):.3f} at {record.get('flops', 0):.2e} FLOPs → {run_dir}",
            flush=True,
        )
    return record


def build_trainer(spec, run_dir: Path, callbacks: list, checkpoints: bool = True):
    """The Lightning Trainer of a run: its loggers, checkpoints every few steps, the budget."""
    import lightning as L

    callbacks = list(callbacks)
    if checkpoints:
        callbacks.append(
            L.pytorch.callbacks.ModelCheckpoint(
                dirpath=Path(run_dir) / "checkpoints", save_last=True, save_top_k=0,
                every_n_train_steps=spec.checkpoint_every,
            )
        )
    return L.Trainer(
        **spec.trainer_kwargs,
        max_steps=spec.max_steps,
        max_epochs=-1,
        gradient_clip_val=spec.optim.grad_clip or None,
        logger=spec.make_loggers(Path(run_dir)),
        callbacks=callbacks,
        enable_checkpointing=checkpoints,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(run_dir),
    )


def _hydra_entry():
    import hydra

    @hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
    def _main(cfg) -> None:
        try:
            train(cfg)
        except ConfigError as err:
            print(f"toymodels-train: error: {err}", file=sys.stderr, flush=True)
            sys.exit(2)

    return _main


def main() -> None:
    """Console entry point."""
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    _hydra_entry()()


if __name__ == "__main__":
    main()
