"""Checkpoints: saving them atomically, and refusing a truncated or foreign one before it is loaded."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
import torch

from toymodels.errors import ConfigError


def save_checkpoint_atomically(trainer, path: Path, weights_only: bool = False) -> None:
    """Save the trainer's state through a temporary file, so that a kill never leaves half a checkpoint.

    Every rank calls it (Lightning's save is collective); rank 0 writes and renames.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    trainer.save_checkpoint(tmp, weights_only)
    if trainer.is_global_zero:
        os.replace(tmp, path)


class AtomicCheckpoint(L.pytorch.callbacks.ModelCheckpoint):
    """Lightning's periodic `last.ckpt`, saved through `save_checkpoint_atomically`.

    A module-level class, so that ddp_spawn can pickle it into its worker processes.
    """

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        save_checkpoint_atomically(trainer, Path(filepath), self.save_weights_only)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath

    def on_train_end(self, trainer, pl_module) -> None:
        """The final step too: last.ckpt then holds the weights the run's final evaluation scored, which is
        what `toymodels.load` answers with (between checkpoints it would lag by up to checkpoint_every)."""
        super().on_train_end(trainer, pl_module)
        if self.dirpath and trainer.global_step != self._last_global_step_saved:
            last = Path(self.dirpath) / f"{self.CHECKPOINT_NAME_LAST}{self.FILE_EXTENSION}"
            self._save_checkpoint(trainer, str(last))


def check_checkpoint(path: Path, module) -> None:
    """Refuse a truncated, corrupt or foreign checkpoint before Lightning touches anything (ConfigError)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state = ckpt["state_dict"]
    except Exception as err:  # torch raises many types for a bad file
        raise ConfigError(
            f"checkpoint {path} cannot be read ({type(err).__name__}): it is truncated or corrupt; "
            "move it away to restart this run from its beginning"
        ) from None
    recorded = (ckpt.get("model_config") or {}).get("pos_embedding")
    ours = module.model.cfg.pos_embedding
    if recorded is not None and recorded != ours:
        raise ConfigError(
            f"checkpoint {path} holds a model with model.pos_embedding={recorded}, this run has {ours}; "
            "choose another hydra.run.dir"
        )
    for key, value in module.state_dict().items():
        theirs = state.get(key)
        if theirs is None or tuple(theirs.shape) != tuple(value.shape):
            shape = "missing" if theirs is None else f"shape {list(theirs.shape)}"
            raise ConfigError(
                f"checkpoint {path} holds another model ({key}: {shape}, this run needs {list(value.shape)}); "
                "choose another hydra.run.dir"
            )
