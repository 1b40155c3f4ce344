"""From a composed Hydra config to the objects of one run, checked before anything runs.

Every check raises :class:`ConfigError` with one line naming the key, the value and what is
allowed; the entry points print that line and exit non-zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

from toymodels.errors import ConfigError
from toymodels.tasks.arithmetic import VOCAB, Task
from toymodels.tasks.mixture import MIX, Mixture, build_mixture, task_record
from toymodels.training.loggers import LoggerConfig
from toymodels.training.model import ModelConfig, inference_flops_per_problem, non_embedding_params, total_params


def _register_resolvers() -> None:
    """OmegaConf resolvers the shipped configs use: ``${train_size_tag:N}`` is "" for null, "-nN" otherwise
    (a finite training set's size in the task id, so runs of a train_size sweep get their own folders);
    ``${mod_layout:ENCODING,FORMAT}`` is the format, or "symbols" for one token per residue."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("train_size_tag"):
        OmegaConf.register_new_resolver("train_size_tag", lambda n: "" if n is None else f"-n{n}")
    if not OmegaConf.has_resolver("mod_layout"):
        OmegaConf.register_new_resolver("mod_layout", lambda enc, fmt: "symbols" if enc == "symbols" else fmt)


_register_resolvers()


def config_dir() -> Path:
    """The Hydra config folder: packaged inside the wheel, or ``conf/`` of a source checkout."""
    here = Path(__file__).resolve().parents[1]  # the package folder
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "train.yaml").exists():
            return candidate
    raise ConfigError(f"no Hydra configs found next to {here} (looked for conf/train.yaml)")


TRAINER_EXTRAS = ("threads", "matmul_precision", "compile")
# Trainer options that would change what one optimizer step means (and so the token and FLOPs
# accounting, the training stream and the resume point), or that toymodels sets itself.
_BUDGET = "the budget is train.tokens, train.flops or train.steps"
STEP_MEANING = {
    "accumulate_grad_batches": "several batches per optimizer step would under-count tokens and FLOPs",
    "max_steps": _BUDGET,
    "min_steps": _BUDGET,
    "max_epochs": _BUDGET,
    "min_epochs": _BUDGET,
    "limit_train_batches": f"the training stream is endless; {_BUDGET}",
    "overfit_batches": f"the training stream is endless; {_BUDGET}",
    "fast_dev_run": "use debug=fdr (20 steps) instead",
    "gradient_clip_val": "set train.grad_clip instead",
    "gradient_clip_algorithm": "train.grad_clip clips the gradient norm",
    "logger": "choose logger=csv|tensorboard|wandb",
    "callbacks": "toymodels sets its own callbacks",
    "default_root_dir": "set hydra.run.dir",
    "enable_checkpointing": "checkpoints are how a run resumes",
}
TRAIN_SET_KEYS = ("train_size", "train_set_seed")  # task keys of the finite training set (toymodels.tasks.trainset)
FULL_BATCH = "full"  # train.batch_size=full: the whole finite training set every step
KNOWN_TOP_LEVEL = {"task", "model", "trainer", "logger", "train", "eval", "seed", "verbose", "run_name", "sweep_name",
                   "budget"}


def _plain(node) -> dict:
    """The job's config as plain Python, resolved (Hydra's own node left out)."""
    from omegaconf import OmegaConf

    if isinstance(node, dict):
        return dict(node)
    job = OmegaConf.masked_copy(node, [k for k in node if k != "hydra"])
    return OmegaConf.to_container(job, resolve=True)


_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _build(cls, values: dict, group: str):
    """Instantiate a dataclass from a config group, turning bad keys, types and values into ConfigError."""
    known = {f.name: f.type for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"{group}.{unknown[0]} is not a known key; known keys: {', '.join(sorted(known))}")
    for key, value in values.items():
        allowed = [t.strip() for t in str(known[key]).split("|")]
        if value is None and "None" in allowed:
            continue
        types = tuple(t for name in allowed for t in _TYPES.get(name, (object,)))
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ConfigError(f"{group}.{key}={value!r} must be of type {known[key]}")
    try:
        return cls(**values)
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err)) from None


def _number(section: str, key: str, value, kind=float, positive: bool = True, allow_zero: bool = False):
    ok_types = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types) or (kind is float and not math.isfinite(value)):
        raise ConfigError(f"{section}.{key}={value!r} must be a {'whole' if kind is int else 'finite'} number")
    if positive and (value < 0 or (value == 0 and not allow_zero)):
        raise ConfigError(f"{section}.{key}={value!r} must be {'>= 0' if allow_zero else '> 0'}")
    return value


@dataclass
class RunConfig:
    """Everything one run needs, validated."""

    name: str
    seed: int
    task: Task | Mixture
    model: ModelConfig
    optim: object
    batch_size: int
    max_steps: int
    eval_size: int
    eval_seed: int
    eval_batch_size: int
    per_decade: int
    start_fraction: float
    checkpoint_every: int
    trainer_kwargs: dict
    runtime: dict  # threads, matmul_precision, compile: process settings, not Trainer arguments
    logger: LoggerConfig
    verbose: bool
    config: dict
    ensemble: int = 1  # seeds trained together as one stacked model: seed, seed + 1, ...
    member_names: tuple = ()  # run names of members 1.. (member 0 is `name`)
    _loggers: list | None = None
    train_size: int | None = None  # a finite training set of this many problems (None: the endless stream)
    train_set_seed: int = 0  # draws the finite set (independent of the run seed unless set to it)
    grokfast: tuple[float, float] | None = None  # (alpha, lambda) of the Grokfast-EMA gradient filter, None: off

    @property
    def seeds(self) -> list[int]:
        """The seeds of the ensemble's members (one for a single run)."""
        return [self.seed + i for i in range(self.ensemble)]

    def member(self, i: int) -> RunConfig:
        """Member i of the ensemble as the single run with its seed (what its run folder records)."""
        import dataclasses

        if i == 0 and self.ensemble == 1:
            return self
        seed = self.seed + i
        config = {**self.config, "seed": seed}
        return dataclasses.replace(self, seed=seed, name=self.name if i == 0 else self.member_names[i - 1],
                                   config=config, ensemble=1, member_names=(), _loggers=None)

    @property
    def cost(self):
        """Tokens and FLOPs of one optimizer step (toymodels.training.module.StepCost)."""
        from toymodels.training.module import step_cost

        return step_cost(self.model, self.task, self.batch_size)

    def make_data(self):
        from toymodels.tasks.trainset import TrainingSet
        from toymodels.training.data import ArithmeticData

        train_set = None
        if self.train_size is not None:
            train_set = TrainingSet(self.task, self.train_size, self.train_set_seed, order_seed=self.seed)
        if isinstance(self.task, Mixture):
            from toymodels.training.mixture_run import MixtureData

            return MixtureData(self.task, self.batch_size, self.seeds, self.eval_size, self.eval_seed)
        return ArithmeticData(self.task, self.batch_size, self.seeds, self.eval_size, self.eval_seed, train_set)

    def make_module(self):
        """The LightningModule, with this run's process settings (threads, TF32, compile) applied."""
        import torch

        from toymodels.training.module import ArithmeticLM

        if self.runtime.get("threads"):
            torch.set_num_threads(self.runtime["threads"])
        if self.runtime.get("matmul_precision"):
            torch.set_float32_matmul_precision(self.runtime["matmul_precision"])
        module = ArithmeticLM(self.model, self.task, self.optim, self.batch_size, self.max_steps, self.seeds)
        if self.runtime.get("compile"):
            module.model.compile()  # in place: parameter names (and checkpoints) stay the same
        return module

    def make_callbacks(self) -> list:
        """Training callbacks the config asks for besides the records: the Grokfast gradient filter."""
        from toymodels.training.gradfilter import GrokfastEMA

        return [GrokfastEMA(*self.grokfast)] if self.grokfast else []

    def make_evaluator(self, data):
        """The evaluator on the held-out set (build_run already checked that it fits)."""
        from toymodels.training.metrics import Evaluator

        if isinstance(self.task, Mixture):
            from toymodels.training.mixture_run import MixtureEvaluator

            return MixtureEvaluator(self.task, data.eval_problems, batch_size=self.eval_batch_size)
        return Evaluator(self.task, *data.eval_problems, batch_size=self.eval_batch_size)

    def make_train_evaluator(self, data):
        """The evaluator on a fixed sample of the finite training set (the train_ metrics), None without one."""
        from toymodels.training.metrics import Evaluator

        sample = data.train_sample
        return None if sample is None else Evaluator(self.task, *sample, batch_size=self.eval_batch_size)

    def info(self) -> dict:
        """The static part of run.json."""
        cost = self.cost
        return {
            "name": self.name,
            **task_record(self.task),
            "model": self.model.name,
            "d_model": self.model.d_model,
            "n_layer": self.model.n_layer,
            "n_head": self.model.n_head,
            "d_mlp": self.model.d_mlp,
            "pos_embedding": self.model.pos_embedding,
            "seed": self.seed,
            "params": total_params(self.model),
            "non_embedding_params": non_embedding_params(self.model),
            "flops_per_step": cost.flops,
            "tokens_per_step": cost.tokens,
            "max_steps": self.max_steps,
            "max_flops": cost.flops * self.max_steps,
            # Forward FLOPs of answering one problem (KV-cached greedy decoding of the whole target):
            # what the report's --x total_flops adds per evaluated problem.
            "inference_flops_per_problem": inference_flops_per_problem(self.model, self.task.seq_len),
            "warmup_steps": self.warmup_steps,
            "eval_size": self.eval_size,
            "batch_size": self.batch_size,
            "train_size": self.train_size,
            "train_set_seed": self.train_set_seed if self.train_size is not None else None,
            "config": self.config,
        }

    @property
    def planned_flops(self) -> float:
        """Training FLOPs this job is planned to spend: FLOPs per step x steps x the ensemble's members."""
        return float(self.cost.flops) * self.max_steps * self.ensemble

    @property
    def warmup_steps(self) -> int:
        """The warm-up the schedule uses: train.warmup_steps, capped at a tenth of the run."""
        from toymodels.training.module import warmup_steps

        return warmup_steps(self.optim.warmup_steps, self.max_steps)

    @property
    def world_size(self) -> int | None:
        """Processes the trainer config starts (devices x nodes), None where only the hardware knows."""
        count = listed_devices(self.trainer_kwargs.get("devices", 1))
        return None if count is None else count * (self.trainer_kwargs.get("num_nodes", 1) or 1)

    def make_loggers(self, run_dir: Path) -> list:
        from toymodels.training.loggers import make_loggers

        self._loggers = make_loggers(self.logger, run_dir, self)
        return self._loggers

    def close_loggers(self) -> None:
        from toymodels.training.loggers import close_loggers

        close_loggers(self._loggers or [])


def build_run(cfg) -> RunConfig:
    """Check a composed config and turn it into a RunConfig (raises ConfigError)."""
    from toymodels.training.module import OptimConfig

    c = _plain(cfg)
    unknown = sorted(set(c) - KNOWN_TOP_LEVEL)
    if unknown:
        raise ConfigError(f"{unknown[0]} is not a known key; known keys: {', '.join(sorted(KNOWN_TOP_LEVEL))}")
    for section in ("task", "model", "train", "eval", "trainer", "logger"):
        if not isinstance(c.get(section), dict):
            raise ConfigError(f"config section '{section}' is missing")
    task_values = {k: v for k, v in c["task"].items() if k not in ("id", *TRAIN_SET_KEYS)}
    task = build_mixture(task_values) if task_values.get("name") == MIX else _build(Task, task_values, "task")
    train_size, train_set_seed = c["task"].get("train_size"), c["task"].get("train_set_seed", 0)
    if isinstance(task, Mixture) and train_size is not None:
        raise ConfigError("task.train_size is not available with task=mix (each skill streams its training part)")
    if train_size is not None:
        from toymodels.tasks.trainset import check_train_size

        try:
            check_train_size(task, train_size)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    train_set_seed = _number("task", "train_set_seed", train_set_seed, int, allow_zero=True)

    model_values = dict(c["model"])
    model_values.setdefault("context", None)
    if model_values["context"] is None:
        model_values["context"] = task.seq_len - 1
    model_values["vocab_size"] = getattr(task, "vocab_size", len(VOCAB))
    model = _build(ModelConfig, model_values, "model")
    if model.pos_embedding == "abacus":
        from toymodels.tasks.positions import abacus_ids, check_mixture_abacus

        try:
            check_mixture_abacus(task.skills) if isinstance(task, Mixture) else abacus_ids(task)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    if model.context < task.seq_len - 1:
        raise ConfigError(
            f"model.context={model.context} is too short for {task.label}, whose sequences need "
            f"{task.seq_len - 1} positions"
        )

    t = dict(c["train"])
    seed = _number("", "seed", c.get("seed"), int, allow_zero=True)
    batch_size = _batch_size(t.pop("batch_size", None), train_size, model, task)
    checkpoint_every = _number("train", "checkpoint_every", t.pop("checkpoint_every", 200), int)
    ensemble = _number("train", "ensemble", t.pop("ensemble", 1), int)
    if ensemble > 1 and train_size is not None:
        raise ConfigError(f"train.ensemble={ensemble} with task.train_size is not supported yet: "
                          "run the seeds of a finite training set as separate runs")
    budgets = {k: t.pop(k, None) for k in ("tokens", "flops", "steps")}
    given = {k: v for k, v in budgets.items() if v is not None}
    if len(given) != 1:
        raise ConfigError(
            "give exactly one training budget: train.tokens, train.flops or train.steps "
            f"(got {', '.join(f'train.{k}={v}' for k, v in given.items()) or 'none'}; set the others to null)"
        )
    (budget_key, budget), = given.items()
    _number("train", budget_key, budget, int if budget_key == "steps" else float)
    for key in ("lr", "weight_decay", "beta1", "beta2", "min_lr_ratio", "grad_clip"):
        if key in t:
            _number("train", key, t[key], allow_zero=key != "lr")
    for key in ("beta1", "beta2"):
        if key in t and not t[key] < 1:
            raise ConfigError(f"train.{key}={t[key]!r} must be below 1")
    if "min_lr_ratio" in t and not t["min_lr_ratio"] <= 1:
        raise ConfigError(f"train.min_lr_ratio={t['min_lr_ratio']!r} must be in [0, 1] (the decay ends at lr * ratio)")
    if "warmup_steps" in t:
        _number("train", "warmup_steps", t["warmup_steps"], int, allow_zero=True)
    grokfast = _grokfast(t.pop("grokfast_alpha", 0.98), t.pop("grokfast_lambda", 0.0))
    optim = _build(OptimConfig, t, "train")

    from toymodels.training.module import step_cost

    cost = step_cost(model, task, batch_size)
    max_steps = budget if budget_key == "steps" else math.ceil(budget / getattr(cost, budget_key))

    e = dict(c["eval"])
    known_eval = {"size", "seed", "per_decade", "start_fraction", "batch_size"}
    if set(e) - known_eval:
        unknown = sorted(set(e) - known_eval)[0]
        raise ConfigError(f"eval.{unknown} is not a known key; known keys: {', '.join(sorted(known_eval))}")
    eval_size = _number("eval", "size", e.get("size"), int)
    if not isinstance(task, Mixture) and eval_size > task.heldout_count:  # a mixture's skill takes what it has
        raise ConfigError(
            f"eval.size={eval_size} is larger than the {task.heldout_count} held-out problems of {task.label}; "
            f"use eval.size<={task.heldout_count}"
        )
    per_decade = _number("eval", "per_decade", e.get("per_decade"), int)
    start_fraction = _number("eval", "start_fraction", e.get("start_fraction"))
    if start_fraction >= 1:
        raise ConfigError(f"eval.start_fraction={start_fraction} must be below 1")

    trainer_kwargs = dict(c["trainer"])
    runtime = {k: trainer_kwargs.pop(k, None) for k in TRAINER_EXTRAS}
    if runtime["threads"] is not None:
        _number("trainer", "threads", runtime["threads"], int)
    if runtime["matmul_precision"] not in (None, "highest", "high", "medium"):
        raise ConfigError(
            f"trainer.matmul_precision={runtime['matmul_precision']!r} is unknown; choose highest, high or medium"
        )
    for key, why in STEP_MEANING.items():
        value = trainer_kwargs.get(key)
        if key in trainer_kwargs and not (key == "accumulate_grad_batches" and value == 1):
            raise ConfigError(f"trainer.{key}={value!r} is not allowed: {why}")
    logger = _build(LoggerConfig, dict(c["logger"]), "logger")

    spec = RunConfig(
        name=str(c.get("run_name") or f"{task.name}-{model.name}-s{seed}"),
        seed=seed,
        task=task,
        model=model,
        optim=optim,
        batch_size=batch_size,
        max_steps=max(1, max_steps),
        eval_size=eval_size,
        eval_seed=_number("eval", "seed", e.get("seed"), int, allow_zero=True),
        eval_batch_size=_number("eval", "batch_size", e.get("batch_size", 500), int),
        per_decade=per_decade,
        start_fraction=start_fraction,
        checkpoint_every=checkpoint_every,
        trainer_kwargs=trainer_kwargs,
        runtime=runtime,
        logger=logger,
        verbose=bool(c.get("verbose", True)),
        config={k: c[k] for k in ("task", "model", "train", "eval", "seed") if k in c},
        ensemble=ensemble,
        member_names=tuple(_member_name(cfg, c, seed + i) for i in range(1, ensemble)),
        train_size=train_size,
        train_set_seed=train_set_seed,
        grokfast=grokfast,
    )
    world = spec.world_size
    if world and batch_size % world:
        raise ConfigError(
            f"train.batch_size={batch_size} is not divisible by the {world} processes of trainer.devices="
            f"{trainer_kwargs.get('devices')} x trainer.num_nodes={trainer_kwargs.get('num_nodes', 1)}"
        )
    return spec


def budget_flops(cfg) -> float | None:
    """budget.flops of a composed config: the cap on a whole command's training FLOPs, None for no cap."""
    c = _plain(cfg)
    budget = c.get("budget") or {}
    if not isinstance(budget, dict) or set(budget) - {"flops"}:
        unknown = sorted(set(budget) - {"flops"}) if isinstance(budget, dict) else ["(not a mapping)"]
        raise ConfigError(f"budget.{unknown[0]} is not a known key; known keys: flops")
    value = budget.get("flops")
    return None if value is None else float(_number("budget", "flops", value))


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


def _member_name(cfg, plain: dict, seed: int) -> str:
    """The run name of the ensemble member with `seed`: run_name resolved with that seed."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig) and "run_name" in cfg:
        job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
        return str(OmegaConf.merge(job, {"seed": seed}).run_name)
    name = str(plain.get("run_name") or "run")
    suffix = f"s{plain.get('seed')}"
    return (name[: -len(suffix)] if name.endswith(suffix) else name + "-") + f"s{seed}"


def _grokfast(alpha, lamb) -> tuple[float, float] | None:
    """train.grokfast_alpha/lambda: the filter's (alpha, lambda), None when lambda is 0 (off)."""
    _number("train", "grokfast_lambda", lamb, allow_zero=True)
    _number("train", "grokfast_alpha", alpha, allow_zero=True)
    if not alpha < 1:
        raise ConfigError(f"train.grokfast_alpha={alpha!r} must be in [0, 1) (the EMA's decay per step)")
    return (float(alpha), float(lamb)) if lamb > 0 else None


def _batch_size(value, train_size: int | None, model: ModelConfig, task: Task) -> int:
    """train.batch_size: a number of rows, or "full" (the whole finite training set every step)."""
    from toymodels.tasks.trainset import FULL_BATCH_LIMIT_GIB, batch_memory_bytes

    if value == FULL_BATCH:
        if train_size is None:
            raise ConfigError("train.batch_size=full needs a finite training set: set task.train_size")
        gib = batch_memory_bytes(model.d_model, model.n_layer, model.n_head, model.d_mlp, model.vocab_size,
                                 task.seq_len, train_size) / 2**30
        if gib > FULL_BATCH_LIMIT_GIB:
            raise ConfigError(
                f"train.batch_size=full: a batch of all {train_size} problems needs about {gib:.1f} GiB of "
                f"activations, above the {FULL_BATCH_LIMIT_GIB:g} GiB limit; use a smaller task.train_size "
                "or a numeric train.batch_size"
            )
        return train_size
    batch_size = _number("train", "batch_size", value, int)
    if train_size is not None and batch_size > train_size:
        raise ConfigError(
            f"train.batch_size={batch_size} is larger than task.train_size={train_size}; "
            "use train.batch_size=full for full-batch training"
        )
    return batch_size


def listed_devices(devices) -> int | None:
    """How many devices `trainer.devices` names: a count, a list, or "0,1,..."; None for -1 or "auto"."""
    if isinstance(devices, (list, tuple)):
        return len(devices)
    text = str(devices).strip()
    if "," in text:
        return len([d for d in text.split(",") if d.strip()])
    return int(text) if text.isdigit() else None


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
        import torch

        count = torch.cuda.device_count() if trainer.get("accelerator") != "cpu" else 1
    relaunches = strategy.startswith(("ddp", "fsdp", "deepspeed")) and not any(
        word in strategy for word in ("spawn", "fork", "notebook")
    )
    relaunches |= strategy == "auto" and ((count or 1) > 1 or nodes > 1)
    if relaunches and not launcher.endswith("SlurmLauncher"):
        raise ConfigError(
            f"trainer.strategy={strategy} cannot run in a sweep (-m) with this launcher: Lightning starts each extra "
            "rank by running the command again, and each would run the whole sweep; use trainer.strategy=ddp_spawn "
            "in sweeps, or one job per run through a launcher such as hydra/launcher=slurm"
        )
