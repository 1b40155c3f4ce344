"""Lightning loggers for a run: CSV always, plus TensorBoard or Weights & Biases when chosen."""

from __future__ import annotations

from pathlib import Path


def make_loggers(logger_cfg: dict, run_dir: Path, spec) -> list:
    """The loggers that `logger.kind` (csv, tensorboard, wandb or none) asks for."""
    from lightning.pytorch.loggers import CSVLogger

    kind = logger_cfg.get("kind", "csv")
    if kind == "none":
        return []
    loggers = [CSVLogger(save_dir=str(run_dir), name="csv", version="")]
    if kind == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version=""))
    elif kind == "wandb":
        from toymodels.wandb_logging import make_wandb_logger

        loggers.append(make_wandb_logger(logger_cfg, run_dir, spec))
    elif kind != "csv":
        from toymodels.config import ConfigError

        raise ConfigError(f"logger.kind={kind!r} is unknown; choose csv, tensorboard, wandb or none")
    return loggers


def close_loggers(loggers: list) -> None:
    """Finish every logger, so that no W&B run outlives its job (multirun shares the process)."""
    for logger in loggers:
        finalize = getattr(logger, "finalize", None)
        if finalize is not None:
            finalize("success")
    if any(type(lg).__name__ == "WandbLogger" for lg in loggers):
        from toymodels.wandb_logging import finish_wandb

        finish_wandb(loggers)
