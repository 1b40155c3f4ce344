"""The torch side of a mixture run: its training stream and its evaluator (one Evaluator per skill).

Metric names (contract, DESIGN.md): a mixture run records ``<skill>/<metric>`` for every skill
(e.g. ``add4/exact_match``, ``add4/pos_acc_0``) and the mixture's overall ``loss``: the held-out
cross-entropy per target token of the training distribution, i.e. the skills' summed target
losses weighted by their sampling weights over their weighted target tokens (what a training
batch's loss estimates, on held-out problems). Evaluation-only skills have weight 0, so they are
outside the overall loss.
"""

from __future__ import annotations

import numpy as np
import torch

from toymodels.tasks.mixture import Mixture
from toymodels.training.data import ArithmeticData
from toymodels.training.metrics import Evaluator, ProblemScores

WEIGHT_NORM = "weight_norm"  # a property of the model, not of a skill: recorded once, unprefixed


class MixtureData(ArithmeticData):
    """Training batches mixed by the skills' weights; one held-out set per skill, each from eval_seed."""

    task: Mixture

    def batch(self, step: int, rank: int = 0, size: int | None = None, seed: int | None = None) -> torch.Tensor:
        """Training batch number `step` of process `rank` in the stream of `seed`, in the mixture's layout."""
        rng = np.random.default_rng([self.seed if seed is None else seed, step, rank])
        rows, _ = self.task.sample_rows(rng, size or self.batch_size)
        return torch.from_numpy(rows)

    @property
    def eval_problems(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per skill, eval_size held-out problems (a, b) of that skill (all of them where it has fewer)."""
        if self._eval_problems is None:
            self._eval_problems = {
                s.name: s.task.heldout_problems(self.task.eval_size(s, self.eval_size), self.eval_seed)
                for s in self.task.skills
            }
        return self._eval_problems


class MixtureEvaluator:
    """Scores every skill of a mixture with its own Evaluator, in the mixture's layout; prefixes the names."""

    def __init__(self, mixture: Mixture, problems: dict[str, tuple[np.ndarray, np.ndarray]], batch_size: int = 500):
        self.task = mixture
        self.evaluators = {s.name: Evaluator(mixture.padded(s), *problems[s.name], batch_size=batch_size)
                           for s in mixture.skills}

    @property
    def metric_columns(self) -> list[str]:
        """metrics.csv's metric columns: the overall loss, every skill's metrics under its name, the weight norm."""
        per_skill = [f"{name}/{m}" for name, ev in self.evaluators.items() for m in ev.metric_columns
                     if m != WEIGHT_NORM]
        return ["loss", *per_skill, WEIGHT_NORM]

    @property
    def columns(self) -> list[str]:
        return self.metric_columns[1:]

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        return self.metrics(self.score(model))

    def score(self, model: torch.nn.Module) -> dict[str, ProblemScores]:
        return {name: ev.score(model) for name, ev in self.evaluators.items()}

    def metrics(self, scores: dict[str, ProblemScores]) -> dict[str, float]:
        """Every skill's metrics, prefixed, and the mixture's overall held-out loss."""
        out: dict[str, float] = {}
        nll = tokens = 0.0
        for skill in self.task.skills:
            s = scores[skill.name]
            out.update({f"{skill.name}/{k}": v for k, v in self.evaluators[skill.name].metrics(s).items()})
            nll += skill.weight * float(s.target_nll.mean())
            tokens += skill.weight * float(s.target_tokens.mean())
        norms = [out.pop(f"{name}/{WEIGHT_NORM}") for name in self.evaluators if f"{name}/{WEIGHT_NORM}" in out]
        return {"loss": nll / tokens, **out, **({WEIGHT_NORM: norms[0]} if norms else {})}  # one model: one norm

    def run_metrics(self, point: dict) -> dict:
        """run.json's final metrics: the overall loss and each skill's, prefixed."""
        out = {"loss": point["loss"]}
        for name, ev in self.evaluators.items():
            skill_point = {k.removeprefix(f"{name}/"): v for k, v in point.items() if k.startswith(f"{name}/")}
            out.update({f"{name}/{k}": v for k, v in ev.run_metrics(skill_point).items()})
        return out

    def progress_text(self, point: dict) -> str:
        """The evaluation line's metrics: the overall loss and each skill's exact match."""
        skills = "  ".join(f"{name} {point[f'{name}/exact_match']:.3f}" for name in self.evaluators)
        return f"loss {point['loss']:.3f}  exact_match: {skills}"

    def final_problems(self, scores: dict[str, ProblemScores]) -> dict[str, np.ndarray]:
        """final_problems.npz's arrays, per skill under '<skill>.<array>'."""
        return {f"{name}.{k}": v for name, ev in self.evaluators.items()
                for k, v in ev.final_problems(scores[name]).items()}
