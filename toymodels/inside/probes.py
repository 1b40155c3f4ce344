"""Linear probes: does the residual stream hold a task's sub-results before the model writes them?

Sub-results, as labels per problem, computed from the operands (:mod:`toymodels.tasks.digits`):
- ``carry``: for add, the carry out of each column (least significant first), 0 or 1; for sub the
  borrow out of each column; for a mod task written in digits, those of the operation before reduction.
  mul (a column carries an amount, not a bit) and mod with one symbol per residue have none: ValueError.
- ``digit``: each answer digit by significance (digit of 10**i in column i), 0..9; for mod with symbols,
  the residue itself (one column, p classes).

A probe is multinomial logistic regression on standardised features (mean and spread of the training
residuals), one independent head per label column, fitted together by full-batch L-BFGS with a light
L2 penalty. Probes are fitted on residuals of *training* problems and scored on *held-out* ones, so a
probe that memorised its training rows scores no better than the stream allows.

Where it reads (:func:`probe_metrics`): the position whose output is the first answer token (``=``, or
the scratchpad's ``;``), teacher-forced on the correct row: everything the model has worked out before it
writes its first answer digit. Of the layer boundaries there, the one with the highest held-out accuracy
(averaged over the columns) is reported, with its index: a sub-result counts as present when some layer
makes it linearly readable. Choosing among n_layer + 1 candidates on the scored set inflates the
accuracy by at most a few standard errors of a held-out mean (about 0.01 for 1000 problems).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from toymodels.inside.activations import task_residuals
from toymodels.tasks.arithmetic import Task
from toymodels.tasks.digits import columns
from toymodels.training.model import Transformer

SUB_RESULTS = ("carry", "digit")


def carry_labels(task: Task, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, columns) 0/1: each column's carry (add) or borrow (sub) out, least significant column first."""
    op = task.op if task.name == "mod" else task.name
    if task.symbols or op not in ("add", "sub"):
        raise ValueError(f"{task.label} has no carry bits to probe (only add and sub written in digits carry "
                         "one bit per column)")
    width = len(str(task.p - 1)) if task.name == "mod" else task.n_digits
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    return columns(a, b, op, width)[0]


def digit_labels(task: Task, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, answer_width): the answer's digit of 10**i in column i (for mod with symbols: the residue, one column)."""
    msd_first = task.answers(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
    return msd_first if task.symbols else msd_first[:, ::-1].copy()


def labels(task: Task, what: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sub-result `what` ("carry" or "digit") of problems (a, b) as (n, columns) integer labels."""
    if what == "carry":
        return carry_labels(task, a, b)
    if what == "digit":
        return digit_labels(task, a, b)
    raise ValueError(f"sub-result {what!r} is unknown; choose one of {', '.join(SUB_RESULTS)}")


@dataclass
class LinearProbe:
    """Standardisation and one softmax head per label column: weights (columns, d, classes)."""

    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor
    bias: torch.Tensor

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(columns, n, classes) for features (n, d)."""
        z = (x.double() - self.mean) / self.scale
        return torch.einsum("nd,kdc->knc", z, self.weight) + self.bias[:, None]

    def predict(self, x: torch.Tensor) -> np.ndarray:
        """(n, columns) predicted labels."""
        return self.logits(x).argmax(-1).T.numpy()

    def accuracy(self, x: torch.Tensor, y: np.ndarray) -> np.ndarray:
        """Per column, the share of rows whose label the probe predicts."""
        return (self.predict(x) == _columns(y)).mean(0)


def _columns(y) -> np.ndarray:
    y = np.asarray(y, dtype=np.int64)
    return y[:, None] if y.ndim == 1 else y


def fit_probe(x: torch.Tensor, y, l2: float = 1e-3, max_iter: int = 50) -> LinearProbe:
    """Fit a linear probe to features x (n, d) and labels y (n,) or (n, columns): multinomial logistic
    regression on standardised features, mean cross-entropy + l2 * |W|^2 per column, full-batch L-BFGS
    (float64, at most max_iter iterations with a strong-Wolfe line search; 50 reach the held-out accuracy
    of 100 within 0.01 on the probes of a trained d32, in a fraction of the time)."""
    x = torch.as_tensor(x).detach().double().cpu()
    y = torch.from_numpy(_columns(y))
    mean, scale = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / scale
    (n, d), k, classes = z.shape, y.shape[1], max(int(y.max()) + 1, 2)
    flat_y = (y + torch.arange(k) * classes).reshape(-1)  # column j's class c is output j * classes + c
    weight = torch.zeros(d, k * classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(k * classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([weight, bias], max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-7, tolerance_change=1e-10)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logp = torch.log_softmax((z @ weight + bias).view(n, k, classes), -1).view(n, -1)
        loss = -logp.gather(1, flat_y.view(n, k)).sum() / n + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # (n, d) of a few thousand x 100 gains nothing from threads, and loses up to 15x
    try:  # to OpenMP's waiting when another process holds the cores (measured, docs/inside.md)
        opt.step(closure)
    finally:
        torch.set_num_threads(threads)
    return LinearProbe(mean, scale, weight.detach().view(d, k, classes).permute(1, 0, 2),
                       bias.detach().view(k, classes))


def probe_accuracy(model: Transformer, task: Task, layer: int, position: int, what: str,
                   train_problems: tuple[np.ndarray, np.ndarray],
                   heldout_problems: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Per label column, the held-out accuracy of a probe for sub-result `what` reading the residual stream at
    layer boundary `layer` (0 = embeddings) and token position `position`, fitted on the training problems."""
    fitted = [task_residuals(model, task, *p)[layer, :, position] for p in (train_problems, heldout_problems)]
    probe = fit_probe(fitted[0], labels(task, what, *train_problems))
    return probe.accuracy(fitted[1], labels(task, what, *heldout_problems))


def answer_start(task: Task) -> int:
    """The position whose output is the first answer token: '=' (or the scratchpad's ';')."""
    return task.prompt_len - 1 + task.scratch_len


def probe_metrics(model: Transformer, task: Task, train_problems: tuple[np.ndarray, np.ndarray],
                  heldout_problems: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    """``probe_<sub-result>_acc`` (mean held-out accuracy over its columns, at the best layer boundary) and
    ``probe_<sub-result>_layer`` for each sub-result the task has, read where the answer starts."""
    pos = answer_start(task)
    train = task_residuals(model, task, *train_problems)[:, :, pos]
    held = task_residuals(model, task, *heldout_problems)[:, :, pos]
    out: dict[str, float] = {}
    for what in SUB_RESULTS:
        try:
            y_train, y_held = labels(task, what, *train_problems), labels(task, what, *heldout_problems)
        except ValueError:
            continue  # the task has no such sub-result (mul carries, symbols)
        scores = [float(fit_probe(train[i], y_train).accuracy(held[i], y_held).mean()) for i in range(len(train))]
        best = int(np.argmax(scores))
        out[f"probe_{what}_acc"], out[f"probe_{what}_layer"] = scores[best], best
    return out
