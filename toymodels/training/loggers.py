"""Lightning loggers for a run: TensorBoard or Weights & Biases when chosen, checked before the run.

A run's own records (metrics.csv, train_curve.csv, run.json) are always written by the recorder;
`logger=csv` (the default) adds nothing to them, `tensorboard` and `wandb` add a logger each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from toymodels.errors import ConfigError
from toymodels.training.wandb_logging import MODES as WANDB_MODES
from toymodels.training.wandb_logging import finish_wandb, make_wandb_logger

KINDS = ("csv", "tensorboard", "wandb")


@dataclass
class LoggerConfig:
    """The `logger:` config group, validated (the W&B keys matter only for kind=wandb)."""

    kind: str = "csv"
    project: str | None = "toymodels"
    entity: str | None = None
    group: str | None = None
    name: str | None = None
    tags: list = field(default_factory=list)
    notes: str | None = None
    mode: str | None = None  # null: online exactly when credentials exist; or online | offline | disabled
    init_timeout: float = 15.0  # seconds before an unreachable W&B server means offline

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"logger.kind={self.kind!r} is unknown; choose {', '.join(KINDS)}")
        if self.mode is not None and self.mode not in WANDB_MODES:
            raise ConfigError(f"logger.mode={self.mode!r} is unknown; choose online, offline, disabled or null")
        timeout = self.init_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
            raise ConfigError(f"logger.init_timeout={timeout!r} must be a number of seconds > 0")


def make_loggers(cfg: LoggerConfig, run_dir: Path, run_cfg) -> list:
    """The Lightning loggers that `logger.kind` asks for (none for csv: the records are ours)."""
    if cfg.kind == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger  # optional extra (tensorboard); 3.3 s of Lightning

        return [TensorBoardLogger(save_dir=str(run_dir), name="tensorboard", version="")]
    if cfg.kind == "wandb":
        return [make_wandb_logger(cfg, run_dir, run_cfg)]
    return []


def close_loggers(loggers: list) -> None:
    """Finish every logger, so that no W&B run outlives its job (multirun shares the process)."""
    for logger in loggers:
        finalize = getattr(logger, "finalize", None)
        if finalize is not None:
            finalize("success")
    if any(type(lg).__name__ == "WandbLogger" for lg in loggers):
        finish_wandb(loggers)
