"""Loading a trained run to ask it problems: ``toymodels.load(run_dir)`` -> :class:`LoadedRun`.

A run folder holds ``run.json`` (its config and accounting) and ``checkpoints/last.ckpt`` (a Lightning
checkpoint: the module's ``state_dict``, keys ``model.*``, weights stacked over the members of a seed
ensemble). A member of an ensemble has no checkpoint of its own: its weights are member i (the index
of its seed in ``ensemble.seeds``) of the stacked checkpoint in the ensemble's folder
(``ensemble.dir``). Weights load on the CPU whatever device trained them (``map_location``), into a
one-member :class:`~toymodels.training.model.Transformer` in eval mode.

A folder that is not a run, a run without weights and a checkpoint that cannot be read or holds
another model raise :class:`LoadError` (one line naming the folder or file and what is wrong).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from toymodels.errors import ConfigError
from toymodels.inside.prompts import answer_text, answer_value, operands, pick_skill
from toymodels.inside.solve import solve_rows
from toymodels.runs.records import read_run_json
from toymodels.tasks.arithmetic import Task
from toymodels.tasks.mixture import Mixture
from toymodels.tasks.vocab import VOCAB
from toymodels.training.config.groups import task_group
from toymodels.training.model import ModelConfig, Transformer, total_params

CHECKPOINT = Path("checkpoints") / "last.ckpt"


class LoadError(ConfigError):
    """A folder that is not a run, a run without weights, or a checkpoint that cannot be loaded (one line)."""


@dataclass
class LoadedRun:
    """A trained run, ready to be asked: its one-member model (eval mode), its task and its record."""

    run_dir: Path
    record: dict  # run.json
    task: Task | Mixture
    model: Transformer
    step: int  # the optimizer step the weights are from
    skill: str | None = None  # a mixture's default skill for prompts (None: the prompt decides)

    @property
    def config(self) -> dict:
        """The run's config: its task, model, train, eval and seed sections (as run.json records them)."""
        return self.record.get("config", {})

    @property
    def flops(self) -> float:
        """Training FLOPs spent on these weights (their step times the run's FLOPs per step, per member)."""
        return float(self.step * self.record.get("flops_per_step", 0.0))

    @property
    def params(self) -> int:
        """All the model's parameters (the output layer shares the token embedding)."""
        return int(self.record.get("params") or total_params(self.model.cfg))

    def task_for(self, prompt: str, skill: str | None = None) -> Task:
        """The task that reads `prompt` (a mixture's skill laid out in the mixture's columns), or ValueError."""
        if isinstance(self.task, Mixture):
            return self.task.padded(pick_skill(self.task, prompt, skill or self.skill))
        operands(self.task, prompt)
        return self.task

    def solve(self, prompt: str, skill: str | None = None) -> tuple[str, float]:
        """(the answer greedy decoding writes, as written; its probability under the model) for one prompt."""
        return self.solve_many([prompt], skill)[0]

    def solve_many(self, prompts: list[str], skill: str | None = None) -> list[tuple[str, float]]:
        """solve() of every prompt, batched per task (every prompt is checked before any is answered)."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        tasks = [self.task_for(p, skill) for p in prompts]
        out: list[tuple[str, float] | None] = [None] * len(prompts)
        for task in dict.fromkeys(tasks):  # one batch per distinct task, in order of appearance
            where = [i for i, t in enumerate(tasks) if t == task]
            a, b = np.array([operands(task, prompts[i]) for i in where], dtype=np.int64).T
            answers, logp = solve_rows(self.model, task, a, b)
            for i, field, lp in zip(where, answers, logp):
                out[i] = (answer_text(task, field), float(np.exp(lp)))
        return out  # type: ignore[return-value]

    def value(self, answer: str, prompt: str | None = None, skill: str | None = None) -> int | None:
        """The number an answer means (a reversed answer read back to front; the prompt picks a mixture's skill)."""
        task = self.task if prompt is None or not isinstance(self.task, Mixture) else self.task_for(prompt, skill)
        if isinstance(task, Mixture):
            formats = {s.task.format for s in task.skills}
            task = task.skills[0].task if len(formats) == 1 else None
        return None if task is None else answer_value(task, answer)


def load(path, model: str | None = None, seed: int | None = None, skill: str | None = None,
         device: str | torch.device = "cpu") -> LoadedRun:
    """A run folder, or the run of a sweep folder with this model name and seed, loaded to be asked problems."""
    run_dir = find_run(Path(path), model, seed)
    record = read_run_json(run_dir)
    if record is None or not isinstance(record.get("config"), dict):
        raise LoadError(f"{run_dir} is not a run folder: run.json is missing, unreadable or has no config")
    task = _task(run_dir, record)
    if skill is not None and not (isinstance(task, Mixture) and skill in [s.name for s in task.skills]):
        names = [s.name for s in task.skills] if isinstance(task, Mixture) else []
        raise LoadError(f"{run_dir} has no skill {skill!r}" + (f"; its skills: {', '.join(names)}" if names else
                                                                " (it is not a mixture run)"))
    net, step = _weights(run_dir, record, task)
    return LoadedRun(run_dir, record, task, net.to(device).eval(), step, skill)


def find_run(path: Path, model: str | None, seed: int | None) -> Path:
    """The run folder `path` is, or the one run below it with this model and seed (LoadError otherwise)."""
    if not path.is_dir():
        raise LoadError(f"{path} is not a folder" if path.exists() else f"{path} does not exist")
    if (path / "run.json").exists():
        record = read_run_json(path) or {}
        for key, want in (("model", model), ("seed", seed)):
            if want is not None and record.get(key) != want:
                raise LoadError(f"{path} is the run of {key} {record.get(key)!r}, not {want!r}")
        return path
    runs = {p.parent: read_run_json(p.parent) or {} for p in sorted(path.rglob("run.json"))}
    if not runs:
        raise LoadError(f"{path} is not a run folder (no run.json) and holds no runs")
    chosen = [d for d, r in runs.items() if (model is None or r.get("model") == model)
              and (seed is None or r.get("seed") == seed)]
    if len(chosen) == 1:
        return chosen[0]
    models = sorted({str(r.get("model")) for r in runs.values()})
    seeds = sorted({r.get("seed") for r in runs.values() if isinstance(r.get("seed"), int)})
    given = " and ".join(f"{k}={v}" for k, v in (("model", model), ("seed", seed)) if v is not None)
    listing = f"models: {', '.join(models)}; seeds: {', '.join(map(str, seeds))}"
    if not chosen:
        raise LoadError(f"{path} holds no run with {given} ({listing})")
    hint = "give the run folder itself" if model is not None and seed is not None else "choose one by model and seed"
    raise LoadError(f"{path} holds {len(chosen)} runs{' with ' + given if given else ''}: {hint} ({listing})")


def _task(run_dir: Path, record: dict) -> Task | Mixture:
    try:
        return task_group(record["config"]["task"])[0]
    except (ConfigError, ValueError, TypeError, KeyError) as err:
        raise LoadError(f"{run_dir}/run.json: its task section cannot be read ({str(err).splitlines()[0]})") from None


def checkpoint_of(run_dir: Path, record: dict) -> tuple[Path, int]:
    """The checkpoint holding the run's weights and the member index in it (0 outside an ensemble)."""
    ensemble = record.get("ensemble")
    if not isinstance(ensemble, dict):
        return run_dir / CHECKPOINT, 0
    seeds = ensemble.get("seeds") or []
    if record.get("seed") not in seeds:
        raise LoadError(f"{run_dir}/run.json: seed {record.get('seed')} is not among its ensemble's seeds {seeds}")
    owner = Path(str(ensemble.get("dir", "")))
    if not (owner / CHECKPOINT).exists():  # a sweep moved or copied elsewhere: its first member is a sibling
        owner = run_dir.parent / owner.name
    return owner / CHECKPOINT, seeds.index(record["seed"])


def _weights(run_dir: Path, record: dict, task: Task | Mixture) -> tuple[Transformer, int]:
    """The run's one-member model with its trained weights, and the step they are from."""
    path, member = checkpoint_of(run_dir, record)
    if not path.exists():
        raise LoadError(f"{run_dir} has no weights: {path} does not exist (runs trained before checkpoints "
                        "were kept, or a copied sweep without its checkpoints)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        state = {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    except Exception as err:  # torch raises many types for a truncated or foreign file
        raise LoadError(f"checkpoint {path} cannot be read ({type(err).__name__}): it is truncated or "
                        "corrupt") from None
    cfg = _model_config(ckpt.get("model_config"), record, task)
    members = int(state["tok.weight"].shape[0]) if "tok.weight" in state else 1
    if member >= members:
        raise LoadError(f"checkpoint {path} holds {members} members, not member {member} of {run_dir}")
    net = Transformer(cfg, members)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise LoadError(f"checkpoint {path} holds another model than {run_dir}/run.json describes "
                        f"({str(err).splitlines()[-1].strip()})") from None
    return (net if members == 1 else net.member(member)).eval(), int(ckpt.get("global_step") or 0)


def _model_config(saved, record: dict, task: Task | Mixture) -> ModelConfig:
    """The model's shape: as the checkpoint records it, else from run.json's model section."""
    known = {f.name for f in fields(ModelConfig)}
    values = dict(saved) if isinstance(saved, dict) else dict(record["config"].get("model") or {})
    values = {k: v for k, v in values.items() if k in known}
    if values.get("context") is None:
        values["context"] = task.seq_len - 1
    values.setdefault("vocab_size", getattr(task, "vocab_size", len(VOCAB)))
    try:
        return ModelConfig(**values)
    except (TypeError, ValueError) as err:
        raise LoadError(f"{record.get('name', 'run')}: its model config cannot be read ({err})") from None
