"""A run's configuration: one self-validating dataclass per group, checked once, into a RunConfig.

``build_run(cfg)`` turns a composed Hydra config into a :class:`RunConfig` (values only) or raises
:class:`ConfigError` with one line naming the key, the value and what is allowed; the entry points
print that line and exit 2. The run's objects are built from it by :mod:`toymodels.training.build`.
"""

from toymodels.errors import ConfigError
from toymodels.training.config.conf import config_dir
from toymodels.training.config.fields import check_keys, number, typed, unknown_key
from toymodels.training.config.groups import (
    FULL_BATCH,
    STEP_MEANING,
    TRAIN_KEYS,
    TRAIN_SET_KEYS,
    TRAINER_EXTRAS,
    BudgetConfig,
    EvalConfig,
    OptimConfig,
    TrainConfig,
    TrainerConfig,
    listed_devices,
    trainer_keys,
)
from toymodels.training.config.run import (
    KNOWN_TOP_LEVEL,
    RunConfig,
    budget_flops,
    build_run,
    check_across,
    check_budget,
    check_sweep_strategy,
)

__all__ = [
    "ConfigError", "config_dir", "check_keys", "number", "typed", "unknown_key", "FULL_BATCH", "STEP_MEANING",
    "TRAIN_KEYS", "TRAIN_SET_KEYS", "TRAINER_EXTRAS", "BudgetConfig", "EvalConfig", "OptimConfig", "TrainConfig",
    "TrainerConfig", "listed_devices", "trainer_keys", "KNOWN_TOP_LEVEL", "RunConfig", "budget_flops", "build_run",
    "check_across", "check_budget", "check_sweep_strategy",
]
