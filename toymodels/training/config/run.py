"""RunConfig: one run's validated settings, values only; and build_run, the one place a config is checked.

``build_run(cfg)`` checks each group (its own dataclass), then what involves two groups
(:func:`check_across`), and returns a :class:`RunConfig`. The training side builds the run's objects
from it (:mod:`toymodels.training.build`); nothing here builds or holds live objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from omegaconf import DictConfig, OmegaConf

from toymodels.errors import ConfigError
from toymodels.tasks.arithmetic import Task
from toymodels.tasks.mixture import Mixture
from toymodels.tasks.positions import abacus_ids, check_mixture_abacus
from toymodels.tasks.trainset import FULL_BATCH_LIMIT_GIB, batch_memory_bytes
from toymodels.tasks.vocab import VOCAB
from toymodels.training.config.conf import job_config
from toymodels.training.config.fields import check_keys, number, typed
from toymodels.training.config.groups import (
    FULL_BATCH,
    BudgetConfig,
    EvalConfig,
    OptimConfig,
    TrainConfig,
    TrainerConfig,
    listed_devices,
    task_group,
    train_groups,
)
from toymodels.training.config.limits import check_limits
from toymodels.training.loggers import LoggerConfig
from toymodels.training.model import ModelConfig

if TYPE_CHECKING:
    from toymodels.training.module import StepCost

KNOWN_TOP_LEVEL = {"task", "model", "trainer", "logger", "train", "eval", "seed", "verbose", "run_name", "sweep_name",
                   "budget"}
_SECTIONS = ("task", "model", "train", "eval", "trainer", "logger")


@dataclass
class RunConfig:
    """Everything one run (or one seed ensemble) needs, validated: the groups, and what follows from them."""

    name: str  # the run name (member 0's, for an ensemble)
    seed: int
    seeds: tuple[int, ...]  # the ensemble's members: seed, seed + 1, ... (one for a single run)
    member_names: tuple[str, ...]  # run names of members 1.. (member 0 is `name`)
    task: Task | Mixture
    model: ModelConfig
    train: TrainConfig
    optim: OptimConfig
    eval: EvalConfig
    trainer: TrainerConfig
    logger: LoggerConfig
    budget: BudgetConfig
    batch_size: int  # rows per optimizer step (train.batch_size, with "full" resolved)
    max_steps: int  # the budget in optimizer steps
    warmup_steps: int  # train.warmup_steps, capped at a tenth of the run
    cost: StepCost  # tokens and FLOPs of one optimizer step
    train_size: int | None  # a finite training set of this many problems (None: the endless stream)
    train_set_seed: int  # draws the finite set (independent of the run seed unless set to it)
    verbose: bool
    config: dict  # the plain task/model/train/eval/seed sections, as run.json records them


def build_run(cfg) -> RunConfig:
    """Check a composed config (a DictConfig, or the same as plain dicts) and return its RunConfig (ConfigError)."""
    from toymodels.training.module import step_cost, warmup_steps  # 3.3 s of Lightning start-up (module.py)

    c = _plain(cfg)
    check_keys("", c, KNOWN_TOP_LEVEL)
    for section in _SECTIONS:
        if not isinstance(c.get(section), dict):
            raise ConfigError(f"config section '{section}' is missing")
    task, train_size, train_set_seed = task_group(c["task"])
    model = _model_group(c["model"], task)
    train, optim = train_groups(c["train"])
    eval_cfg = EvalConfig.from_values(c["eval"])
    trainer = TrainerConfig.from_values(c["trainer"])
    logger = typed(LoggerConfig, dict(c["logger"]), "logger")
    budget = BudgetConfig.from_values(c.get("budget") or {})
    seed = number("", "seed", c.get("seed"), int, allow_zero=True)
    batch_size = check_across(task, model, train, eval_cfg, trainer, train_size, seed)

    cost = step_cost(model, task, batch_size)
    key, value = train.budget
    max_steps = max(1, value if key == "steps" else math.ceil(value / getattr(cost, key)))
    return RunConfig(
        name=str(c.get("run_name") or f"{task.name}-{model.name}-s{seed}"),
        seed=seed,
        seeds=tuple(seed + i for i in range(train.ensemble)),
        member_names=_member_names(cfg, c, seed, train.ensemble),
        task=task, model=model, train=train, optim=optim, eval=eval_cfg, trainer=trainer, logger=logger,
        budget=budget,
        batch_size=batch_size,
        max_steps=max_steps,
        warmup_steps=warmup_steps(optim.warmup_steps, max_steps),
        cost=cost,
        train_size=train_size,
        train_set_seed=train_set_seed,
        verbose=bool(c.get("verbose", True)),
        config={k: c[k] for k in ("task", "model", "train", "eval", "seed") if k in c},
    )


def _model_group(values: dict, task: Task | Mixture) -> ModelConfig:
    """The `model:` group, with the task's context (where null) and vocabulary filled in."""
    values = dict(values)
    if values.get("context") is None:
        values["context"] = task.seq_len - 1
    values["vocab_size"] = getattr(task, "vocab_size", len(VOCAB))
    return typed(ModelConfig, values, "model")


def check_across(task, model: ModelConfig, train: TrainConfig, eval_cfg: EvalConfig, trainer: TrainerConfig,
                 train_size: int | None, seed: int = 0) -> int:
    """The checks that involve two groups (ConfigError); returns the rows of one optimizer step."""
    if model.pos_embedding == "abacus":
        try:
            check_mixture_abacus(task.skills) if isinstance(task, Mixture) else abacus_ids(task)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    if model.context < task.seq_len - 1:
        raise ConfigError(f"model.context={model.context} is too short for {task.label}, whose sequences need "
                          f"{task.seq_len - 1} positions")
    batch_size = _rows_per_step(train.batch_size, train_size, model, task, train.ensemble)
    if not isinstance(task, Mixture) and eval_cfg.size > task.heldout_count:  # a mixture's skill takes what it has
        raise ConfigError(f"eval.size={eval_cfg.size} is larger than the {task.heldout_count} held-out problems of "
                          f"{task.label}; use eval.size<={task.heldout_count}")
    check_limits(task, model, train, eval_cfg, batch_size, seed)
    world = trainer.world_size
    if world and batch_size % world:
        raise ConfigError(
            f"train.batch_size={batch_size} is not divisible by the {world} processes of trainer.devices="
            f"{trainer.kwargs.get('devices')} x trainer.num_nodes={trainer.kwargs.get('num_nodes', 1)}"
        )
    return batch_size


def _rows_per_step(value: int | str, train_size: int | None, model: ModelConfig, task, members: int = 1) -> int:
    """train.batch_size against the training set: a number of rows, or "full" (the whole finite set every step,
    for each of the ensemble's `members`)."""
    if value == FULL_BATCH:
        if train_size is None:
            raise ConfigError("train.batch_size=full needs a finite training set: set task.train_size")
        gib = batch_memory_bytes(model.d_model, model.n_layer, model.n_head, model.d_mlp, model.vocab_size,
                                 task.seq_len, train_size) * members / 2**30
        if gib > FULL_BATCH_LIMIT_GIB:
            each = f" for each of {members} seeds" if members > 1 else ""
            raise ConfigError(
                f"train.batch_size=full: a batch of all {train_size} problems{each} needs about {gib:.1f} GiB of "
                f"activations, above the {FULL_BATCH_LIMIT_GIB:g} GiB limit; use a smaller task.train_size "
                "or a numeric train.batch_size"
            )
        return train_size
    if train_size is not None and value > train_size:
        raise ConfigError(f"train.batch_size={value} is larger than task.train_size={train_size}; "
                          "use train.batch_size=full for full-batch training")
    return value


def _plain(node) -> dict:
    """The job's config as plain Python, resolved (Hydra's own node left out)."""
    if isinstance(node, dict):
        return dict(node)
    return OmegaConf.to_container(job_config(node), resolve=True)


def _member_names(cfg, plain: dict, seed: int, members: int) -> tuple[str, ...]:
    """The run names of ensemble members 1..: run_name resolved with each member's seed.

    run_name is resolved twice (with two marker seeds); where the results differ only where the seed is
    written, every member's name is a string substitution (O(1) per member), else each is resolved.
    """
    seeds = range(seed + 1, seed + members)
    if not (isinstance(cfg, DictConfig) and "run_name" in cfg):
        name = str(plain.get("run_name") or "run")
        suffix = f"s{plain.get('seed')}"
        return tuple((name[: -len(suffix)] if name.endswith(suffix) else name + "-") + f"s{s}" for s in seeds)
    job = job_config(cfg)

    def resolved(s: int) -> str:
        return str(OmegaConf.merge(job, {"seed": s}).run_name)

    marks = (987654321, 987654322)
    first, second = resolved(marks[0]), resolved(marks[1])
    if first.replace(str(marks[0]), str(marks[1])) == second and str(marks[0]) in first:
        return tuple(first.replace(str(marks[0]), str(s)) for s in seeds)
    return tuple(resolved(s) for s in seeds)


def budget_flops(cfg) -> float | None:
    """budget.flops of a composed config: the cap on a whole command's training FLOPs, None for no cap."""
    return BudgetConfig.from_values(_plain(cfg).get("budget") or {}).flops


def check_budget(planned: list[tuple[str, float]], budget: float | None) -> None:
    """Refuse a command whose planned training FLOPs (job, FLOPs) exceed budget.flops (ConfigError)."""
    total = sum(flops for _, flops in planned)
    if budget is None or total <= budget:
        return
    name, largest = max(planned, key=lambda job: job[1])
    raise ConfigError(
        f"the command plans {total:.3g} training FLOPs in {len(planned)} job(s), over budget.flops={budget:.3g} "
        f"(largest job: {name}, {largest:.3g}); choose fewer or smaller runs"
    )


def check_sweep_strategy(trainer: dict, launcher: str) -> None:
    """Refuse, in a sweep (-m), a strategy whose extra ranks Lightning starts by running the command again.

    With strategy=ddp (or auto on several devices) Lightning starts ranks 1..N-1 as new processes of
    the same command line; inside a multirun each of them runs the whole sweep again. Only the SLURM
    launcher is safe: there SLURM starts every rank of a job itself (tasks_per_node = GPUs).
    """
    strategy = str(trainer.get("strategy", "auto"))
    devices, nodes = trainer.get("devices", 1), trainer.get("num_nodes", 1) or 1
    count = listed_devices(devices)
    if count is None and str(devices).strip() in ("-1", "auto"):
        count = torch.cuda.device_count() if trainer.get("accelerator") != "cpu" else 1
    relaunches = strategy.startswith(("ddp", "fsdp", "deepspeed")) and not any(
        word in strategy for word in ("spawn", "fork", "notebook")
    )
    relaunches |= strategy == "auto" and ((count or 1) > 1 or nodes > 1)
    if relaunches and not launcher.endswith("SlurmLauncher"):
        raise ConfigError(
            f"trainer.strategy={strategy} cannot run in a sweep (-m) with this launcher: Lightning starts each extra "
            "rank by running the command again, and each would run the whole sweep; use trainer.strategy=ddp_spawn "
            "in sweeps, or one job per run through hydra/launcher=slurm"
        )
