"""The LightningModule: loss on answer tokens, AdamW with warmup and cosine decay, compute counting.

It trains a seed ensemble: one model per seed, stacked (``toymodels.training.model.Transformer`` with
``members``), each on its own training stream, as one batched computation and one optimizer step.
Nothing mixes members: each member's loss is its own mean over its answer tokens, its gradient is
clipped by its own norm, and AdamW is element-wise, so member i follows the trajectory of a
one-member run with the same seed (up to float rounding: batched and unbatched kernels sum in
different orders). A member whose loss stops being finite is marked dead and no longer updated;
the others go on; when none is left, DivergedError ends the fit. A single run is a one-member
ensemble.

Tokens and FLOPs are not accumulated step by step: every optimizer step processes the same global
batch, so both are ``global_step`` times a per-step constant computed once from the model shape
(world-size independent, since the global batch is fixed). That keeps them exact across resumes
and identical between a 1-process and an N-process run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from toymodels.errors import DivergedError
from toymodels.tasks.arithmetic import Task
from toymodels.tasks.positions import abacus_ids, row_abacus_ids, training_positions
from toymodels.tasks.vocab import PAD
from toymodels.training.config.groups import OptimConfig  # the optim group: validated with the run's config
from toymodels.training.model import ModelConfig, Transformer, flops_6nd_per_token, training_flops_per_token


@dataclass(frozen=True)
class StepCost:
    """What one optimizer step of the global batch costs: tokens, training FLOPs, and 6·N·D beside them."""

    tokens: int
    flops: float
    flops_6nd: float


def step_cost(model_cfg: ModelConfig, task: Task, batch_size: int) -> StepCost:
    """The per-step constants of a run. Tokens are every input position of every row, prompt included
    (the model computes them all, though only target positions get a loss)."""
    tokens = batch_size * (task.seq_len - 1)
    return StepCost(tokens, tokens * training_flops_per_token(model_cfg, task.seq_len - 1),
                    tokens * flops_6nd_per_token(model_cfg))


def warmup_steps(requested: int, max_steps: int) -> int:
    """The linear warm-up a run uses: the requested steps, capped at a tenth of the run (at least 1)."""
    return min(requested, max(1, max_steps // 10))


class ArithmeticLM(L.LightningModule):
    """Trains an ensemble of Transformers (one per seed) to write the target after the prompt."""

    def __init__(self, model_cfg: ModelConfig, task: Task, optim: OptimConfig, batch_size: int, max_steps: int,
                 seeds: list[int] | None = None):
        super().__init__()
        self.seeds = [0] if seeds is None else [int(s) for s in seeds]
        self.model = Transformer(model_cfg, len(self.seeds), self.seeds)
        self.task, self.optim, self.max_steps = task, optim, max_steps
        self.cost = step_cost(model_cfg, task, batch_size)  # per member
        # Which members still train (saved in checkpoints); the loss of each at the last step.
        self.register_buffer("alive", torch.ones(len(self.seeds), dtype=torch.bool))
        self.last_losses = torch.zeros(len(self.seeds))
        self.died: list[tuple[int, str]] = []  # (member, why) for members that diverged since last asked
        self.all_alive = True  # kept on the host, so that no step syncs a GPU to ask
        # Abacus: one layout of ids for a task; a mixture's rows have their skill's layout, read off the tokens.
        self.abacus = model_cfg.pos_embedding == "abacus"
        self.layout = abacus_ids(task) if self.abacus and not hasattr(task, "skills") else None

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Checkpoints record the model's shape and position encoding (checked before a resume)."""
        checkpoint["model_config"] = dataclasses.asdict(self.model.cfg)

    def positions(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """Abacus position ids of a training batch's inputs (members, rows, seq), each row's digits shifted by
        a random offset in [0, abacus_offset] drawn from (member seed, step, rank): reproducible and resumable."""
        if not self.abacus:
            return None
        trainer = self._trainer
        rank = trainer.global_rank if trainer is not None else 0
        top = self.model.cfg.abacus_offset
        members, rows, seq = inputs.shape
        offsets = np.stack([np.random.default_rng([seed, self.global_step, rank, 7]).integers(0, top + 1, size=rows)
                            for seed in self.seeds])
        if self.layout is not None:  # one layout for every row
            base = torch.from_numpy(self.layout[:seq]).to(inputs.device)
        else:  # a mixture: each row's own layout, read off its tokens
            base = row_abacus_ids(inputs, self.task.skills[0].task.format == "reversed")
        return training_positions(base, torch.from_numpy(offsets).to(inputs.device))

    def on_train_start(self) -> None:
        self.all_alive = bool(self.alive.all())  # after a resume, the checkpoint's members

    @property
    def flops(self) -> float:
        """Training FLOPs done so far by each member."""
        return self.global_step * self.cost.flops

    @property
    def tokens(self) -> int:
        """Training tokens seen so far by each member."""
        return self.global_step * self.cost.tokens

    def member_losses(self, batch: torch.Tensor) -> torch.Tensor:
        """Each member's mean cross-entropy over its answer tokens, (members,), for a batch (members, rows, seq)."""
        if batch.dim() == 2:
            batch = batch[None]
        start = self.task.prompt_len - 1  # the first prediction that belongs to the target
        logits = self.model(batch[..., :-1], positions=self.positions(batch[..., :-1]))[:, :, start:]
        targets = batch[..., start + 1 :]
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD,
                              reduction="none").view(targets.shape[0], -1)
        return nll.sum(1) / (targets != PAD).reshape(targets.shape[0], -1).sum(1)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        losses = self.member_losses(batch)
        log_step = (self.global_step + 1) % self.trainer.log_every_n_steps == 0
        # Checking the loss syncs a GPU with the host: there, check only on logging steps.
        if log_step or losses.device.type == "cpu":
            detached = losses.detach()
            self.last_losses = detached.cpu()
            bad = self.alive & ~torch.isfinite(detached)
            for i in bad.nonzero().flatten().tolist():
                self.died.append((i, f"training loss became {detached[i].item()} at step {self.global_step}"))
            if bad.any():
                self.alive &= ~bad
                self.all_alive = False
                if not self.alive.any():
                    raise DivergedError(self.died[-1][1])
        # Dead members get no loss: their slices of the weights no longer move.
        return losses.sum() if self.all_alive else losses[self.alive].sum()

    def on_before_optimizer_step(self, optimizer) -> None:
        """Clip each member's gradient by its own norm (torch's clip_grad_norm_, per member)."""
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        if not grads:
            return
        if not self.all_alive:
            for g in grads:
                g[~self.alive] = 0.0
        if not self.optim.grad_clip:
            return
        norms = torch.stack([g.reshape(g.shape[0], -1).norm(dim=1) for g in grads]).norm(dim=0)  # (members,)
        scale = (self.optim.grad_clip / (norms + 1e-6)).clamp(max=1.0)
        torch._foreach_mul_(grads, [scale.view(-1, *([1] * (g.dim() - 1))) for g in grads])

    def configure_optimizers(self):
        o = self.optim
        # Decay matrices only (train.decay=matrices); LayerNorm gains and biases stay undecayed (as in
        # nanoGPT), unless train.decay=all. Weights carry a leading member axis.
        every = o.decay == "all"
        decay = [p for p in self.parameters() if p.dim() >= 3 or every]
        rest = [p for p in self.parameters() if p.dim() < 3 and not every]
        opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": o.weight_decay}, {"params": rest, "weight_decay": 0.0}],
            lr=o.lr,
            betas=(o.beta1, o.beta2),
            fused=True,  # torch >= 2.4 has a fused AdamW on CPUs too
        )
        warmup = warmup_steps(o.warmup_steps, self.max_steps)

        def lr_factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, self.max_steps - warmup))
            return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
