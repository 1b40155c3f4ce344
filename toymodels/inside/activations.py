"""The residual stream of a one-member model at every layer boundary, read with forward hooks.

The residual stream is the running sum every block adds to: boundary 0 is the embeddings (token plus
position), boundary i the output of block i. It is where a linear probe looks for sub-results the
model computes before it writes them (:mod:`toymodels.inside.probes`). The final LayerNorm is not
applied (a probe standardises its features anyway). Hooks read the model's own modules, so this
stays true to whatever ``Transformer.forward`` does.
"""

from __future__ import annotations

import numpy as np
import torch

from toymodels.inside.solve import positions_for
from toymodels.tasks.arithmetic import Task
from toymodels.training.model import Transformer


def _one_member(model: Transformer) -> None:
    if model.members != 1:
        raise ValueError(f"a {model.members}-member model: take one member first (model.member(i))")


@torch.inference_mode()
def residual_stream(model: Transformer, rows: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
    """(n_layer + 1, batch, time, d_model): the residual stream before block 0 and after every block, for token
    rows (batch, time); ``positions`` are an abacus model's ids of those tokens."""
    _one_member(model)
    captured: list[torch.Tensor] = []
    hooks = [model.blocks[0].register_forward_pre_hook(lambda _m, args: captured.append(args[0][0]))]
    hooks += [block.register_forward_hook(lambda _m, _args, out: captured.append(out[0])) for block in model.blocks]
    try:
        model(rows.to(model.tok.weight.device), positions=positions)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(captured)


def task_residuals(model: Transformer, task: Task, a: np.ndarray, b: np.ndarray,
                   batch_size: int = 2000) -> torch.Tensor:
    """The residual stream (n_layer + 1, n, seq_len - 1, d_model) of problems (a, b), teacher-forced on their
    correct rows (position t holds what the model has read up to token t; it never sees later tokens)."""
    rows = torch.from_numpy(task.encode_rows(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)))[:, :-1]
    ids = positions_for(model, task)
    ids = None if ids is None else ids[: rows.shape[1]]
    return torch.cat([residual_stream(model, chunk, ids) for chunk in rows.split(batch_size)], dim=1)
