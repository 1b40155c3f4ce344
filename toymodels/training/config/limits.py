"""Bounds that protect the machine (issue 26): each refuses, before anything is written, a run that could
not fit in memory or would not finish its set-up, and says the figure it was held to.

- Memory: a run holds, per ensemble member, its parameters with their gradients and AdamW's two moments
  (16 bytes a parameter, fp32) and one training batch's activations (``batch_memory_bytes``), plus one
  evaluation batch's forward activations. That total must stay under ``MEMORY_SHARE`` of this machine's
  physical memory. It bounds model.d_model, model.n_layer, model.d_mlp, model.context and
  model.abacus_offset (the position table), train.batch_size, eval.batch_size and train.ensemble together.
- train.ensemble <= ``MAX_ENSEMBLE``: each member draws its own batch every step (~0.1 ms each) and is
  evaluated one after another; 1024 members of the smallest model already spend ~0.1 s a step on data.
- eval.size <= ``MAX_EVAL_SIZE``: a held-out set of a large space is de-duplicated in a Python set
  (~200 bytes a problem: 200 MB at the bound) and scored at every evaluation point.
- Evaluation points (eval.per_decade x the decades from eval.start_fraction to the end) <= ``MAX_EVAL_POINTS``.
- seed + train.ensemble - 1 <= 2**32 - 1: the seeds NumPy and Lightning accept.
- Rejection sampling: a training batch (or a held-out set of a large space) must be findable within
  ``toymodels.tasks.sampling.MAX_DRAWS`` random draws.
"""

from __future__ import annotations

import math
import os

import torch

from toymodels.errors import ConfigError
from toymodels.tasks.arithmetic import ENUMERATE_LIMIT
from toymodels.tasks.mixture import Mixture
from toymodels.tasks.sampling import SamplingError, check_draws
from toymodels.tasks.trainset import batch_memory_bytes
from toymodels.training.config.groups import listed_devices
from toymodels.training.model import position_rows, total_params

BYTES_PER_PARAM = 16  # fp32 weight, gradient, and AdamW's two moments
MEMORY_SHARE = 0.8  # of the machine's physical memory a run's estimate may take
MAX_ENSEMBLE = 1024
MAX_EVAL_SIZE = 1_000_000
MAX_EVAL_POINTS = 10_000
MAX_SEED = 2**32 - 1


def physical_memory() -> int:
    """This machine's physical memory in bytes (64 GiB where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 64 * 2**30


def run_memory_bytes(model, seq_len: int, members: int, batch_size: int, eval_batch: int) -> float:
    """The estimated peak memory of a run: members x (parameters x 16 B + a batch's activations) + an eval batch."""
    act = batch_memory_bytes(model.d_model, model.n_layer, model.n_head, model.d_mlp, model.vocab_size, seq_len, 1)
    return members * (BYTES_PER_PARAM * total_params(model) + act * batch_size) + act / 2 * eval_batch


def check_limits(task, model, train, eval_cfg, batch_size: int, seed: int) -> None:
    """ConfigError (one line, with the bound and why) for a run beyond what this machine can hold or set up."""
    members = train.ensemble
    if members > MAX_ENSEMBLE:
        raise ConfigError(f"train.ensemble={members} is above {MAX_ENSEMBLE}: every member draws its own batch "
                          "each step and is evaluated in turn; run more jobs (seed=0,1024,...) instead")
    if seed + members - 1 > MAX_SEED:
        raise ConfigError(f"seed={seed} with train.ensemble={members} goes past {MAX_SEED}, the largest seed "
                          "NumPy and Lightning accept")
    if eval_cfg.size > MAX_EVAL_SIZE:
        raise ConfigError(f"eval.size={eval_cfg.size} is above {MAX_EVAL_SIZE} (the held-out set is built and "
                          "scored at every evaluation point); use a smaller eval.size")
    decades = math.log10(1 / eval_cfg.start_fraction)
    points = eval_cfg.per_decade * decades
    if points > MAX_EVAL_POINTS:
        raise ConfigError(f"eval.per_decade={eval_cfg.per_decade} over the {decades:.3g} decades from "
                          f"eval.start_fraction={eval_cfg.start_fraction} makes ~{points:.3g} evaluation points, "
                          f"above {MAX_EVAL_POINTS}; use fewer per decade or a larger start_fraction")
    need = run_memory_bytes(model, task.seq_len, members, batch_size, eval_cfg.batch_size)
    have = MEMORY_SHARE * physical_memory()
    if need > have:
        raise ConfigError(
            f"this run needs about {need / 2**30:.3g} GiB ({members} member(s) x {total_params(model):.3g} "
            f"parameters x {BYTES_PER_PARAM} B, plus activations of train.batch_size={batch_size} and "
            f"eval.batch_size={eval_cfg.batch_size}; d_model={model.d_model}, n_layer={model.n_layer}, "
            f"{position_rows(model)} position rows from model.context and model.abacus_offset), above "
            f"{MEMORY_SHARE:g} of this machine's {physical_memory() / 2**30:.3g} GiB; choose a smaller model, "
            "batch or ensemble"
        )
    _check_sampling(task, batch_size, eval_cfg.size)


def _check_sampling(task, batch_size: int, eval_size: int) -> None:
    """The training batches and held-out sets can be drawn within the sampling bound (SamplingError -> ConfigError)."""
    tasks = [(s.task, not s.eval_only) for s in task.skills] if isinstance(task, Mixture) else [(task, True)]
    try:
        for t, trained in tasks:
            if trained:
                check_draws(t, batch_size, False, "train.batch_size")
            if t.space_size > ENUMERATE_LIMIT:  # enumerable spaces are listed, not sampled
                check_draws(t, min(eval_size, t.heldout_count), True, "eval.size")
    except SamplingError as err:
        raise ConfigError(str(err)) from None


def check_accelerator(trainer_kwargs: dict) -> None:
    """ConfigError when trainer.accelerator asks for hardware this machine does not have (or too few of it)."""
    accelerator = str(trainer_kwargs.get("accelerator", "auto")).lower()
    devices = listed_devices(trainer_kwargs.get("devices", "auto"))
    if accelerator in ("gpu", "cuda"):
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not found:
            raise ConfigError(f"trainer.accelerator={accelerator} needs a CUDA GPU; torch.cuda.is_available() is "
                              "False on this machine; use trainer=cpu")
        if devices is not None and devices > found:
            raise ConfigError(f"trainer.devices={trainer_kwargs.get('devices')} asks for {devices} GPUs; this "
                              f"machine has {found}; use trainer.devices<={found}")
    if accelerator == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("trainer.accelerator=mps needs Apple's Metal (MPS); torch.backends.mps.is_available() "
                          "is False on this machine; use trainer=cpu")
