"""The LightningModule: loss on answer tokens, AdamW with warmup and cosine decay, compute counting.

Tokens and FLOPs are not accumulated step by step: every optimizer step processes the same global
batch, so both are ``global_step`` times a per-step constant computed once from the model shape
(world-size independent, since the global batch is fixed). That keeps them exact across resumes
and identical between a 1-process and an N-process run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import lightning as L
import torch
import torch.nn.functional as F

from toymodels.errors import DivergedError
from toymodels.model import ModelConfig, Transformer, flops_6nd_per_token, training_flops_per_token
from toymodels.tasks import PAD, Task


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


@dataclass
class OptimConfig:
    """Optimizer and schedule."""

    lr: float = 3e-3
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.98
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0


class ArithmeticLM(L.LightningModule):
    """Trains a Transformer to write the target after the prompt."""

    def __init__(self, model_cfg: ModelConfig, task: Task, optim: OptimConfig, batch_size: int, max_steps: int):
        super().__init__()
        self.model = Transformer(model_cfg)
        self.task, self.optim, self.max_steps = task, optim, max_steps
        self.cost = step_cost(model_cfg, task, batch_size)

    @property
    def flops(self) -> float:
        """Training FLOPs done so far."""
        return self.global_step * self.cost.flops

    @property
    def tokens(self) -> int:
        """Training tokens seen so far."""
        return self.global_step * self.cost.tokens

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        start = self.task.prompt_len - 1  # the first prediction that belongs to the target
        logits = self.model(batch[:, :-1])
        loss = F.cross_entropy(
            logits[:, start:].reshape(-1, logits.shape[-1]), batch[:, start + 1 :].reshape(-1), ignore_index=PAD
        )
        log_step = (self.global_step + 1) % self.trainer.log_every_n_steps == 0
        # Checking the loss syncs a GPU with the host: there, check only on logging steps.
        if (log_step or loss.device.type == "cpu") and not torch.isfinite(loss):
            raise DivergedError(f"training loss became {loss.item()} at step {self.global_step}")
        # Lightning's self.log costs ~1 ms a call (a third of a small model's step): log only on the
        # steps the loggers write.
        if log_step:
            self.log_dict({"train/loss": loss.detach(), "train/lr": self.lr_schedulers().get_last_lr()[0],
                           "flops": float(self.cost.flops * (self.global_step + 1)),
                           "tokens": float(self.cost.tokens * (self.global_step + 1))}, on_step=True)
        return loss

    def configure_optimizers(self):
        o = self.optim
        # Decay matrices only; LayerNorm gains and biases stay undecayed (as in nanoGPT).
        decay = [p for p in self.parameters() if p.dim() >= 2]
        rest = [p for p in self.parameters() if p.dim() < 2]
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
