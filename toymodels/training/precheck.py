"""The command line checked before Hydra writes anything: every job's config, run folders, locks, budget.

``check_command_line(args)`` composes the config of every run a command asks for and validates it as the
run itself will (``build_run``), so a typo costs one line (ConfigError) and leaves no folder behind.
Hydra's own errors are folded into one line here, an unknown key with the did-you-mean that
``build_run`` gives, reading the group's keys from the composed config.
"""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from toymodels.errors import ConfigError
from toymodels.runs.axes import count_jobs, sweep_axes
from toymodels.training.config import (
    budget_flops,
    build_run,
    check_budget,
    check_sweep_strategy,
    config_dir,
    trainer_keys,
    unknown_key,
)
from toymodels.training.config.conf import job_config
from toymodels.training.config.limits import check_accelerator
from toymodels.training.rundir import check_members, check_not_locked, member_dirs

FLAGS_WITH_VALUE = ("--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun")
MAX_CHECKED_JOBS = 500
BUDGETS = ("train.tokens", "train.flops", "train.steps")


def with_one_budget(args: list[str]) -> list[str]:
    """The command line with the budget the user typed replacing the configured one.

    `train.steps=100` on the command line means "100 steps", whatever budget the config or an
    experiment set: the budget keys the user did not mention are set to null. Two budgets typed
    are left for build_run to refuse.
    """
    typed = {a.split("=", 1)[0].lstrip("+") for a in args if "=" in a and not a.startswith("-")}
    given = [a for a in args if "=" in a and a.split("=", 1)[0].lstrip("+") in BUDGETS
             and a.split("=", 1)[1].strip() not in ("null", "None", "")]
    if not given:
        return args
    return args + [f"{key}=null" for key in BUDGETS if key not in typed]


def overrides_of(args: list[str]) -> list[str]:
    """The overrides of a command line (its flags, and the values of flags that take one, left out)."""
    overrides, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in FLAGS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            overrides.append(arg)
    return overrides


def check_command_line(args: list[str]) -> list[tuple[str, Path]]:
    """Compose and check the config of every run the command line asks for, before Hydra writes anything.

    Raises ConfigError. Bad overrides, unknown keys or options, impossible values, and run
    folders that hold a different run, are locked, or hold a bad checkpoint are all caught here.
    Returns the plan: each job's overrides and its run folder (what a dry run lists).
    """
    overrides = overrides_of(args)
    multirun, first = "-m" in args or "--multirun" in args, list(overrides)
    try:
        # Delete overrides (~key) have no value and sweep nothing: they go to every job as they are.
        deletes = [o.input_line for o in OverridesParser.create().parse_overrides(overrides) if o.is_delete()]
        axes = sweep_axes(overrides)
        first = deletes + [v[0] for v in axes.values()]
        with _own_hydra(), initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("train", overrides=first, return_hydra_config=True)
            multirun = multirun or str(cfg.hydra.mode) == "RunMode.MULTIRUN"
            if multirun:  # with the sweep an experiment declares, unless the command line sets those keys
                params = cfg.hydra.sweeper.get("params")
                axes = sweep_axes(overrides, OmegaConf.to_container(params) if params else None)
            elif count_jobs(axes) > 1:
                swept = next(key for key, values in axes.items() if len(values) > 1)
                raise ConfigError(f"{swept} lists several values: add -m to sweep over them")
            budget = budget_flops(cfg)
            if budget is not None and count_jobs(axes) > MAX_CHECKED_JOBS:
                raise ConfigError(f"budget.flops is checked over at most {MAX_CHECKED_JOBS} jobs; this sweep has "
                                  f"{count_jobs(axes)}")
            trained_by: dict[Path, tuple[str, int]] = {}  # member folder -> (the job that trains it, its seed)
            planned = [_check_job(compose("train", overrides=deletes + list(job), return_hydra_config=True),
                                  " ".join(job), multirun, trained_by)
                       for job in itertools.islice(itertools.product(*axes.values()), MAX_CHECKED_JOBS)]
            check_budget([(name, flops) for name, flops, _ in planned], budget)
            return [(" ".join(job), run_dir) for job, (_, _, run_dir) in zip(
                itertools.product(*axes.values()), planned)]
    except ConfigError:
        raise
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        raise ConfigError(hydra_message(err, first)) from None


@contextlib.contextmanager
def _own_hydra():
    """Hydra's global state set aside while the pre-check composes (a caller, e.g. a notebook or a test, may
    hold its own), and given back after."""
    if not GlobalHydra.instance().is_initialized():
        yield
        return
    backup = get_gh_backup()
    GlobalHydra.instance().clear()
    try:
        yield
    finally:
        restore_gh_from_backup(backup)


def _check_job(cfg, job: str, multirun: bool, trained_by: dict) -> tuple[str, float, Path]:
    """Check one job of the command (its config, its run folders); its (name, planned training FLOPs, run folder)."""
    run_cfg = build_run(cfg)
    if multirun:  # a property of the command, so it is named before this machine's hardware
        check_sweep_strategy(run_cfg.trainer.kwargs, cfg.hydra.launcher._target_)
    check_accelerator(run_cfg.trainer.kwargs)  # this machine's hardware: the pre-check's, not the config's
    ensemble = len(run_cfg.seeds)
    hydra_dirs = OmegaConf.to_container(cfg.hydra, resolve=False)
    if multirun:
        # The sweep folder is resolved once for the whole sweep, as Hydra does (${now:...} must not differ per job).
        sweep_dir = trained_by.setdefault("sweep dir", resolve_dir(cfg, hydra_dirs["sweep"]["dir"]))
        run_dir = sweep_dir / resolve_dir(cfg, hydra_dirs["sweep"]["subdir"])
    else:
        run_dir = resolve_dir(cfg, hydra_dirs["run"]["dir"])
    members = member_dirs(run_cfg, run_dir)
    for member, member_dir in members:
        other, other_seed = trained_by.setdefault(member_dir.resolve(), (job, run_cfg.seed))
        if other != job:
            why = (f"with train.ensemble={ensemble}, sweep seeds {ensemble} apart (seed=0,{ensemble},...)"
                   if other_seed != run_cfg.seed else
                   "the run folder's name (run_name) does not tell them apart; add the swept key "
                   "to it, e.g. 'run_name=${task.id}-${model.name}-<key>${...}-s${seed}'")
            raise ConfigError(f"two jobs would train seed {member.seed} into {member_dir} ({other!r} and "
                              f"{job!r}): {why}")
        check_not_locked(member_dir)
    check_members(members)
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    if ckpt.exists():
        from toymodels.training.build import make_module  # 3.3 s of Lightning start-up, only with a checkpoint
        from toymodels.training.checkpoints import check_checkpoint  # (same)

        check_checkpoint(ckpt, make_module(run_cfg))
    more = ensemble - 1
    name = run_cfg.name + (f" (+{more} seed{'s' * (more > 1)})" if more else "")
    return name, float(run_cfg.cost.flops) * run_cfg.max_steps * ensemble, run_dir


def resolve_dir(cfg, *parts) -> Path:
    """A Hydra output folder expression (run or sweep) resolved against the job's config."""
    node = OmegaConf.merge(job_config(cfg), {"_dir_": "/".join(str(p) for p in parts)})
    return Path(node._dir_)


def hydra_message(err: BaseException, overrides: list[str] = ()) -> str:
    """Hydra's and OmegaConf's multi-line messages, folded into one line for the user; an override of a
    key the config does not have gets the did-you-mean line of build_run (`overrides`: those composed)."""
    full_key = _missing_key(err)
    if full_key:
        return _unknown_override(full_key, overrides)
    skip = ("Config search path", "\t")
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip() and not ln.startswith(skip)]
    text = lines[0] if lines else type(err).__name__
    options = getattr(err, "options", None)
    if options:
        text = text.replace("In 'train': ", "")
        return f"{text}; choose one of {', '.join(options)}"
    return " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(".") else text


def _missing_key(err: BaseException) -> str | None:
    """The full key (e.g. "train.tokns") when the error is an override of a key not in the config."""
    for e in (err, err.__cause__, err.__context__):
        if e is not None and "is not in struct" in str(e):
            key = getattr(e, "full_key", None)
            if not key and "full_key:" in str(e):
                key = str(e).split("full_key:")[-1].split()[0]
            return key or None
    return None


def _unknown_override(full_key: str, overrides: list[str]) -> str:
    """The one line for an override of a key the composed config lacks: did-you-mean and the group's keys."""
    group, _, key = full_key.rpartition(".")
    node = _composed_without(full_key, overrides)
    if group:
        node = _select(node, group)
    known = sorted(k for k in node if group or k != "hydra") if isinstance(node, dict) else []
    if not known:
        return f"unknown key {full_key} (to add a new key on purpose, write +{full_key}=...)"
    if group == "trainer" and key in trainer_keys():  # a Lightning Trainer argument the configs leave unset
        return (f"trainer.{key} is not set by the trainer configs; to pass it to the Lightning Trainer, "
                f"write +trainer.{key}=...")
    return str(unknown_key(group, key, known))


def _composed_without(full_key: str, overrides: list[str]) -> dict:
    """The job's config (plain, unresolved) composed without the overrides of `full_key` (or the defaults)."""
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != full_key]
    groups_only = [o for o in kept if "." not in o.split("=", 1)[0]]
    for attempt in (kept, groups_only, []):
        try:
            with _own_hydra(), initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
                cfg = compose("train", overrides=attempt)
            return OmegaConf.to_container(cfg, resolve=False)
        except Exception:  # another bad override: fewer of them
            continue
    return {}


def _select(node, dotted: str):
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node
