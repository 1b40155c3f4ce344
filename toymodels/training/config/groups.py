"""One self-validating dataclass per config group the training side owns: train, optim, eval, trainer, budget.

Each checks its own fields (type and range) in ``__post_init__`` and nothing else; what depends on two
groups (a batch against the training set, a context against the task) is checked in
:func:`toymodels.training.config.run.check_across`. The other groups validate themselves where they
live: ``task`` (:class:`~toymodels.tasks.arithmetic.Task`, :func:`~toymodels.tasks.mixture.build_mixture`),
``model`` (:class:`~toymodels.training.model.ModelConfig`), ``logger``
(:class:`~toymodels.training.loggers.LoggerConfig`).
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field, fields

from toymodels.errors import ConfigError
from toymodels.tasks.arithmetic import Task
from toymodels.tasks.mixture import MIX, Mixture, build_mixture
from toymodels.tasks.sampling import SamplingError, check_parts
from toymodels.tasks.trainset import check_train_size
from toymodels.training.config.fields import check_keys, number, typed

FULL_BATCH = "full"  # train.batch_size=full: the whole finite training set every step
BUDGET_KEYS = ("tokens", "flops", "steps")


@dataclass
class TrainConfig:
    """The `train:` keys that say how long and on what batches (the optimizer's keys are OptimConfig's)."""

    tokens: float | None = None  # every input position trained on, prompt included
    flops: float | None = None  # training FLOPs
    steps: int | None = None  # optimizer steps
    batch_size: int | str = 128  # global rows per step, or "full" (the whole finite training set)
    checkpoint_every: int = 200
    ensemble: int = 1  # seeds trained together as one stacked model: seed, seed + 1, ...
    grokfast_lambda: float = 0.0  # > 0: the Grokfast-EMA gradient filter; 0: off
    grokfast_alpha: float = 0.98

    def __post_init__(self) -> None:
        given = {k: getattr(self, k) for k in BUDGET_KEYS if getattr(self, k) is not None}
        if len(given) != 1:
            raise ConfigError(
                "give exactly one training budget: train.tokens, train.flops or train.steps "
                f"(got {', '.join(f'train.{k}={v}' for k, v in given.items()) or 'none'}; set the others to null)"
            )
        (key, value), = given.items()
        number("train", key, value, int if key == "steps" else float)
        if self.batch_size != FULL_BATCH:
            number("train", "batch_size", self.batch_size, int)
        number("train", "checkpoint_every", self.checkpoint_every, int)
        number("train", "ensemble", self.ensemble, int)
        number("train", "grokfast_lambda", self.grokfast_lambda, allow_zero=True)
        number("train", "grokfast_alpha", self.grokfast_alpha, allow_zero=True)
        if not self.grokfast_alpha < 1:
            raise ConfigError(f"train.grokfast_alpha={self.grokfast_alpha!r} must be in [0, 1) "
                              "(the EMA's decay per step)")

    @property
    def budget(self) -> tuple[str, float]:
        """The one budget given: ("tokens" | "flops" | "steps", its value)."""
        return next((k, getattr(self, k)) for k in BUDGET_KEYS if getattr(self, k) is not None)


@dataclass
class OptimConfig:
    """Optimizer and schedule (the `train:` keys AdamW and the warm-up/cosine schedule read)."""

    lr: float = 3e-3
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.98
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    # What weight decay applies to: "matrices" (weights and embeddings; LayerNorm gains and biases stay
    # undecayed, as in nanoGPT) or "all" (every parameter: torch's AdamW default, as in the grokking papers).
    decay: str = "matrices"

    def __post_init__(self) -> None:
        number("train", "lr", self.lr)
        for key in ("weight_decay", "beta1", "beta2", "min_lr_ratio", "grad_clip"):
            number("train", key, getattr(self, key), allow_zero=True)
        for key in ("beta1", "beta2"):
            if not getattr(self, key) < 1:
                raise ConfigError(f"train.{key}={getattr(self, key)!r} must be below 1")
        if not self.min_lr_ratio <= 1:
            raise ConfigError(f"train.min_lr_ratio={self.min_lr_ratio!r} must be in [0, 1] "
                              "(the decay ends at lr * ratio)")
        number("train", "warmup_steps", self.warmup_steps, int, allow_zero=True)
        if self.decay not in ("matrices", "all"):
            raise ConfigError(f"train.decay={self.decay!r} is unknown; choose matrices or all")


TRAIN_KEYS = tuple(f.name for f in fields(TrainConfig)) + tuple(f.name for f in fields(OptimConfig))


def train_groups(values: dict) -> tuple[TrainConfig, OptimConfig]:
    """The `train:` section as its two groups: how long and on what (TrainConfig), and how (OptimConfig)."""
    check_keys("train", values, TRAIN_KEYS)
    train_keys = {f.name for f in fields(TrainConfig)}
    return (TrainConfig(**{k: v for k, v in values.items() if k in train_keys}),
            OptimConfig(**{k: v for k, v in values.items() if k not in train_keys}))


@dataclass
class EvalConfig:
    """The `eval:` group: the held-out set and when it is evaluated."""

    size: int = 2000  # held-out problems
    seed: int = 1234  # chooses them; independent of the run seed
    per_decade: int = 8  # evaluation points per decade of training FLOPs
    start_fraction: float = 0.01  # the first point, as a fraction of the run's compute
    batch_size: int = 500  # rows per evaluation forward pass

    def __post_init__(self) -> None:
        number("eval", "size", self.size, int)
        number("eval", "seed", self.seed, int, allow_zero=True)
        number("eval", "per_decade", self.per_decade, int)
        number("eval", "start_fraction", self.start_fraction)
        if self.start_fraction >= 1:
            raise ConfigError(f"eval.start_fraction={self.start_fraction} must be below 1")
        number("eval", "batch_size", self.batch_size, int)

    @classmethod
    def from_values(cls, values: dict) -> EvalConfig:
        check_keys("eval", values, (f.name for f in fields(cls)))
        return cls(**values)


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
    "enable_model_summary": "toymodels sets it",
    "num_sanity_val_steps": "toymodels evaluates on its own schedule (eval.*)",
}


@functools.cache
def trainer_keys() -> tuple[str, ...]:
    """Every key of the `trainer:` group: Lightning Trainer arguments toymodels leaves to the user, and ours."""
    import lightning as L  # 3.3 s of Lightning start-up, not needed for --help or most command lines

    arguments = [p for p in inspect.signature(L.Trainer.__init__).parameters if p != "self"]
    return tuple(sorted({*arguments, *TRAINER_EXTRAS} - set(STEP_MEANING)))


@dataclass
class TrainerConfig:
    """The `trainer:` group: Lightning Trainer arguments, and the process settings toymodels applies itself."""

    kwargs: dict = field(default_factory=dict)  # passed to lightning.Trainer as they are
    threads: int | None = None  # torch threads (None: torch's default)
    matmul_precision: str | None = None  # highest | high | medium (GPU: high enables TF32)
    compile: bool = False  # torch.compile the model

    def __post_init__(self) -> None:
        for key, why in STEP_MEANING.items():
            value = self.kwargs.get(key)
            if key in self.kwargs and not (key == "accumulate_grad_batches" and value == 1):
                raise ConfigError(f"trainer.{key}={value!r} is not allowed: {why}")
        check_keys("trainer", self.kwargs, trainer_keys())
        if self.threads is not None:
            number("trainer", "threads", self.threads, int)
        if self.matmul_precision not in (None, "highest", "high", "medium"):
            raise ConfigError(
                f"trainer.matmul_precision={self.matmul_precision!r} is unknown; choose highest, high or medium"
            )
        if not isinstance(self.compile, bool):
            raise ConfigError(f"trainer.compile={self.compile!r} must be true or false")

    @classmethod
    def from_values(cls, values: dict) -> TrainerConfig:
        kwargs = {k: v for k, v in values.items() if k not in TRAINER_EXTRAS}
        return cls(kwargs, **{k: v for k, v in values.items() if k in TRAINER_EXTRAS})

    @property
    def world_size(self) -> int | None:
        """Processes the trainer starts (devices x nodes), None where only the hardware knows."""
        count = listed_devices(self.kwargs.get("devices", 1))
        return None if count is None else count * (self.kwargs.get("num_nodes", 1) or 1)


def listed_devices(devices) -> int | None:
    """How many devices `trainer.devices` names: a count, a list, or "0,1,..."; None for -1 or "auto"."""
    if isinstance(devices, (list, tuple)):
        return len(devices)
    text = str(devices).strip()
    if "," in text:
        return len([d for d in text.split(",") if d.strip()])
    return int(text) if text.isdigit() else None


@dataclass
class BudgetConfig:
    """The `budget:` group: a cap on a whole command's training FLOPs (every job, every seed)."""

    flops: float | None = None  # None: no cap

    def __post_init__(self) -> None:
        if self.flops is not None:
            self.flops = float(number("budget", "flops", self.flops))

    @classmethod
    def from_values(cls, values) -> BudgetConfig:
        if not isinstance(values, dict):
            raise ConfigError(f"budget={values!r} must be a mapping such as {{flops: 1e12}}")
        check_keys("budget", values, (f.name for f in fields(cls)))
        return cls(**values)


TRAIN_SET_KEYS = ("train_size", "train_set_seed")  # task keys of the finite training set (toymodels.tasks.trainset)
_MIX_KEYS = ("name", "skills", "zipf_alpha", "shared")


def task_group(values: dict):
    """The `task:` group: (the Task or Mixture, task.train_size or None for the endless stream, task.train_set_seed)."""
    values = dict(values)
    train_size, train_set_seed = values.pop("train_size", None), values.pop("train_set_seed", 0)
    values.pop("id", None)  # the folder-name tag; a record, not a setting
    if values.get("name") == MIX:
        check_keys("task", values, (*_MIX_KEYS, "id", *TRAIN_SET_KEYS))
        task = build_mixture(values)
    else:
        task = typed(Task, values, "task", known=(*(f.name for f in fields(Task)), "id", *TRAIN_SET_KEYS))
        try:
            check_parts(task)
        except SamplingError as err:
            raise ConfigError(str(err)) from None
    if isinstance(task, Mixture) and train_size is not None:
        raise ConfigError("task.train_size is not available with task=mix (each skill streams its training part)")
    if train_size is not None:
        try:
            check_train_size(task, train_size)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    return task, train_size, number("task", "train_set_seed", train_set_seed, int, allow_zero=True)
