"""Grokfast-EMA (Lee et al. 2024): amplify the slow component of the gradient to speed up grokking.

Optional (``train.grokfast_lambda > 0``). After every backward pass each parameter's gradient g is
replaced by ``g + lambda * ema``, where ``ema`` is an exponential moving average of past gradients
(``ema <- alpha * ema + (1 - alpha) * g``, started at the first gradient). The averages travel in
the checkpoint (the callback's state), so a resumed run continues exactly. It changes the optimizer's
input only: tokens and FLOPs are counted as before (the filter's element-wise work is no matmul).
"""

from __future__ import annotations

import lightning as L
import torch


class GrokfastEMA(L.Callback):
    """Adds lambda times an EMA of past gradients to every gradient, before clipping and the step."""

    def __init__(self, alpha: float, lamb: float) -> None:
        self.alpha, self.lamb = alpha, lamb
        self.ema: list[torch.Tensor] | None = None

    @torch.no_grad()
    def on_after_backward(self, trainer, pl_module) -> None:
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if self.ema is None:
            self.ema = [g.detach().clone() for g in grads]
        else:
            torch._foreach_lerp_(self.ema, grads, 1.0 - self.alpha)  # ema = alpha * ema + (1 - alpha) * g
        torch._foreach_add_(grads, self.ema, alpha=self.lamb)

    def state_dict(self) -> dict:
        return {"ema": None if self.ema is None else [e.cpu() for e in self.ema]}

    def load_state_dict(self, state_dict: dict) -> None:
        ema = state_dict.get("ema")
        self.ema = None if ema is None else list(ema)

    def on_train_start(self, trainer, pl_module) -> None:
        if self.ema is not None:  # restored from a checkpoint on the CPU: follow the parameters' device
            device = next(pl_module.parameters()).device
            self.ema = [e.to(device) for e in self.ema]
