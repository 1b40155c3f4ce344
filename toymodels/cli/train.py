"""The training entry point: compose the Hydra config, build the run, fit, write the records.

``toymodels-train [overrides]`` or ``python -m toymodels.cli.train [overrides]``. Thin on purpose: the
work lives in tasks, data, model, module, metrics and recorder; here we only translate the config into
those objects, check it, and decide the run's final status.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path

from toymodels.errors import ConfigError, DivergedError
from toymodels.runs.axes import count_jobs, sweep_axes
from toymodels.runs.records import gap_text, read_run_json
from toymodels.training.config import budget_flops, build_run, check_budget, check_sweep_strategy, config_dir


def train(cfg) -> dict:
    """Train one run (or one seed ensemble) described by a composed config; returns its (first member's)
    final run.json record."""
    import contextlib

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    spec = build_run(cfg)  # validates everything before anything is written
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    in_sweep = HydraConfig.get().mode == RunMode.MULTIRUN
    if in_sweep:
        check_sweep_strategy(spec.trainer_kwargs, HydraConfig.get().launcher._target_)
    members = member_dirs(spec, run_dir)
    with contextlib.ExitStack() as locks:
        for _, member_dir in members:
            locks.enter_context(RunLock(member_dir))
        previous = check_members(spec, members)
        if all(p and p.get("status") in FINAL_STATUSES for p in previous):
            for (member, member_dir), p in zip(members, previous):
                print(f"[toymodels] {member.name}: already {p['status']} in {member_dir}, skipping", flush=True)
            return previous[0]
        return _fit_run(spec, members, in_sweep)


def member_dirs(spec, run_dir: Path) -> list[tuple]:
    """(member spec, run folder) of each member: the job's folder for the first, and siblings named
    by `run_name` with each member's seed for the others (or `<folder>-s<seed>` when the job's folder
    is not named by a run_name that depends on the seed)."""
    run_dir = Path(run_dir)
    out = [(spec.member(0), run_dir)]
    for i in range(1, spec.ensemble):
        member = spec.member(i)
        named_by_seed = run_dir.name == spec.name and member.name != spec.name
        name = member.name if named_by_seed else f"{run_dir.name}-s{member.seed}"
        out.append((member, run_dir.with_name(name)))
    return out


def check_members(spec, members: list[tuple]) -> list[dict | None]:
    """Each member folder's earlier record, after checking that the ensemble may train there (ConfigError)."""
    previous = [check_run_folder(member, member_dir) for member, member_dir in members]
    job_dir = str(members[0][1])
    final = [p is not None and p.get("status") in FINAL_STATUSES for p in previous]
    for (_, member_dir), p, done in zip(members, previous, final):
        owner = (p or {}).get("ensemble", {}).get("dir")
        if p and not done and owner and Path(owner) != Path(job_dir):
            raise ConfigError(
                f"{member_dir} is a member of the seed ensemble trained in {owner}: resume it with that "
                "command (its first seed and train.ensemble)"
            )
        if done and not all(final):
            raise ConfigError(
                f"{member_dir} already holds a {p['status']} run, but other members of this ensemble do not: "
                "an ensemble trains its members together; move that folder away or choose other seeds"
            )
    return previous


def _fit_run(spec, members: list[tuple], in_sweep: bool) -> dict:
    """Fit a checked run (every member of the ensemble) in its locked folders and decide its final status."""
    import lightning as L

    from toymodels.training.checkpoints import check_checkpoint, save_checkpoint_atomically
    from toymodels.training.recorder import Member, RunRecorder, flops_milestones

    # Lightning's INFO lines (GPU available..., tips) would be printed twice through Hydra's logging.
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*(does not have many workers|LeafSpec|Trying to infer the).*")
    L.seed_everything(spec.seed, workers=True, verbose=False)
    run_dir = members[0][1]
    data, module = spec.make_data(), spec.make_module()
    resume = run_dir / "checkpoints" / "last.ckpt"
    if resume.exists():
        check_checkpoint(resume, module)
    max_flops = spec.cost.flops * spec.max_steps
    milestones = flops_milestones(max_flops, spec.per_decade, spec.start_fraction)
    ensemble = {"ensemble": {"seeds": spec.seeds, "dir": str(run_dir)}} if spec.ensemble > 1 else {}
    records = [Member(member_dir, {**member.info(), **ensemble}, member.make_loggers(member_dir))
               for member, member_dir in members]
    recorder = RunRecorder(spec.make_evaluator(data), records, milestones, verbose=spec.verbose,
                           train_evaluator=spec.make_train_evaluator(data))
    trainer = build_trainer(spec, run_dir, [recorder, *spec.make_callbacks()],
                            loggers=[lg for m in records for lg in m.loggers])
    who = f"{spec.name} + {spec.ensemble - 1} more seeds" if spec.ensemble > 1 else spec.name
    print(
        f"[toymodels] {who}: {spec.task.label}, model {spec.model.name} "
        f"({max_flops:.2e} FLOPs, {spec.max_steps} steps)" + (" — resuming" if resume.exists() else ""),
        flush=True,
    )
    if spec.warmup_steps < spec.optim.warmup_steps:
        print(f"[toymodels] {spec.name}: warm-up capped at {spec.warmup_steps} steps (a tenth of the run; "
              f"train.warmup_steps={spec.optim.warmup_steps})", flush=True)
    t0 = time.perf_counter()
    try:
        fit(trainer, module, data, ckpt_path=str(resume) if resume.exists() else None)
    except DivergedError as err:
        if trainer.is_global_zero:
            recorder.write_run_json("diverged", str(err), pl_module=module)
        print(f"[toymodels] {spec.name}: diverged: {err}", file=sys.stderr, flush=True)
        if not in_sweep:  # in a sweep, the other runs go on
            sys.exit(3)
        return read_run_json(run_dir) or {}
    except (KeyboardInterrupt, SystemExit) as err:
        # Ctrl-C, or SIGTERM (Lightning raises SIGTERMException, a SystemExit with code 0): keep the
        # step reached in a checkpoint, never call the run completed, and stop the whole job.
        sigterm = trainer.received_sigterm and not isinstance(err, KeyboardInterrupt)
        code = 143 if sigterm else 130
        if trainer.is_global_zero:
            try:
                resume.parent.mkdir(parents=True, exist_ok=True)
                save_checkpoint_atomically(trainer, resume)
            except Exception as err:  # after an interrupt, the trainer may be torn down: keep the last checkpoint
                print(f"[toymodels] could not save a checkpoint at interruption ({type(err).__name__}: {err})",
                      file=sys.stderr)
            recorder.write_run_json(
                "running", f"interrupted at step {trainer.global_step}; run the same command again to resume",
                pl_module=module,
            )
        print(f"[toymodels] {spec.name}: interrupted at step {trainer.global_step}; "
              "run the same command again to resume", file=sys.stderr, flush=True)
        raise SystemExit(code) from None
    except BaseException as err:
        if trainer.is_global_zero:
            recorder.write_run_json("failed", f"{type(err).__name__}: {err}".strip(), pl_module=module)
        raise
    finally:
        for member, _ in members:
            member.close_loggers()
    completed = recorder.steps_done(trainer) >= spec.max_steps  # ddp_spawn: the fit ran in worker processes
    if trainer.is_global_zero:
        recorder.write_run_json("completed" if completed else "running", pl_module=module)
    records = [read_run_json(member_dir) or {} for _, member_dir in members]
    if completed and trainer.is_global_zero:
        for record, (_, member_dir) in zip(records, members):
            m = record.get("metrics") or {}
            print(
                f"[toymodels] {record.get('name')}: {record.get('status')} in {time.perf_counter() - t0:.1f}s — "
                + (f"exact_match {m.get('exact_match', math.nan):.3f}, "
                   f"digit_accuracy {m.get('digit_accuracy', math.nan):.3f}"
                   if "exact_match" in m or "loss" not in m else recorder.evaluator.progress_text(m))  # a mixture
                + f" at {record.get('flops', 0):.2e} FLOPs → {member_dir}",
                flush=True,
            )
            if "grok_gap" in record:
                print(f"[toymodels] {record.get('name')}: grok_gap: {gap_text(record['grok_gap'])}", flush=True)
    if not in_sweep and any(r.get("status") == "diverged" for r in records):
        sys.exit(3)
    return records[0]


FINAL_STATUSES = ("completed", "diverged")
# Settings that do not change what a run computes: a run may resume with other values.
_NOT_FINGERPRINTED = {"train": ("checkpoint_every", "ensemble"), "eval": ("batch_size",)}


def fingerprint(config: dict) -> dict:
    """The part of a run's config that decides its results (to refuse resuming a different run)."""
    out = json.loads(json.dumps(config))
    for section, keys in _NOT_FINGERPRINTED.items():
        for key in keys:
            out.get(section, {}).pop(key, None)
    return out


def _first_difference(a, b, prefix: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
    return f"{prefix.rstrip('.')}: {a!r} there, {b!r} now"


def check_run_folder(spec, run_dir: Path) -> dict | None:
    """The folder's earlier record, after checking that it belongs to this very run (ConfigError if not)."""
    previous = read_run_json(run_dir)
    if (Path(run_dir) / "run.json").exists() and previous is None:
        raise ConfigError(f"{run_dir}/run.json is corrupt; move it away to start this run again")
    if previous is not None and "config" in previous:
        then, now = fingerprint(previous["config"]), fingerprint(spec.config)
        if then != now:
            raise ConfigError(
                f"{run_dir} holds a different run ({_first_difference(then, now)}); "
                "choose another hydra.run.dir (or hydra.sweep.dir)"
            )
    return previous


class RunLock:
    """An exclusive lock on a run folder (flock on `<run_dir>/.lock`) for as long as a process trains in it.

    A second process that would train into the same folder (the same command started twice) is
    refused with ConfigError. The kernel releases an flock when its holder dies, even by kill -9,
    so a stale lock never blocks a resume. Only rank 0 of a multi-process run takes it.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path, self.handle = Path(run_dir) / ".lock", None

    def __enter__(self) -> RunLock:
        import fcntl

        from lightning.fabric.utilities.rank_zero import _get_rank

        if (_get_rank() or 0) != 0:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.close()
            self.handle = None
            raise ConfigError(
                f"{self.path.parent} is in use by another training process (started twice?); "
                "wait for it to end, or choose another hydra.run.dir"
            ) from None
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()  # closing releases the flock
            self.handle = None


def check_not_locked(run_dir: Path) -> None:
    """ConfigError if another process holds the run folder's lock (the pre-check; writes nothing).

    Taking and releasing the lock at once is the test; where there is no lock file, nobody holds it.
    """
    if (Path(run_dir) / ".lock").exists():
        with RunLock(run_dir):
            pass


def fit(trainer, module, data, ckpt_path: str | None) -> None:
    """trainer.fit; a ddp_spawn worker's DivergedError, which reaches this process only as text, is raised again."""
    try:
        trainer.fit(module, datamodule=data, ckpt_path=ckpt_path, weights_only=True)
    except Exception as err:
        last = (str(err).strip().splitlines() or [""])[-1]
        prefix = f"{DivergedError.__module__}.{DivergedError.__name__}: "
        if type(err).__name__ == "ProcessRaisedException" and last.startswith(prefix):
            raise DivergedError(last[len(prefix):]) from None
        raise


def build_trainer(spec, run_dir: Path, callbacks: list, checkpoints: bool = True, loggers: list | None = None):
    """The Lightning Trainer of a run: its loggers, checkpoints every few steps, the budget.

    Gradients are clipped by the module, member by member (train.grad_clip), not by the Trainer.
    """
    import lightning as L

    from toymodels.training.checkpoints import AtomicCheckpoint

    callbacks = list(callbacks)
    if checkpoints:
        callbacks.append(
            AtomicCheckpoint(
                dirpath=Path(run_dir) / "checkpoints", save_last=True, save_top_k=0,
                every_n_train_steps=spec.checkpoint_every,
            )
        )
    return L.Trainer(
        **spec.trainer_kwargs,
        max_steps=spec.max_steps,
        max_epochs=-1,
        logger=spec.make_loggers(Path(run_dir)) if loggers is None else loggers,
        callbacks=callbacks,
        enable_checkpointing=checkpoints,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(run_dir),
    )


def _hydra_entry():
    import hydra

    @hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
    def _main(cfg) -> None:
        try:
            train(cfg)
        except ConfigError as err:
            print(f"toymodels-train: error: {err}", file=sys.stderr, flush=True)
            sys.exit(2)

    return _main


_INFO_FLAGS = ("--help", "-h", "--hydra-help", "--version", "--cfg", "-c", "--info", "-i", "--shell-completion", "-sc")
_FLAGS_WITH_VALUE = ("--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd", "--experimental-rerun")
MAX_CHECKED_JOBS = 500


def _hydra_message(err: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line messages, folded into one line for the user."""
    skip = ("Config search path", "\t")
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip() and not ln.startswith(skip)]
    options = getattr(err, "options", None)
    text = lines[0] if lines else type(err).__name__
    if "Key '" in str(err) and "is not in struct" in str(err):
        key = str(err).split("full_key:")[-1].split()[0] if "full_key:" in str(err) else text
        return f"{key} is not a known key (to add a new key on purpose, write +{key}=...)"
    if options:
        text = text.replace("In 'train': ", "")
        return f"{text}; choose one of {', '.join(options)}"
    return " ".join(lines[:2]) if len(lines) > 1 and lines[0].endswith(".") else text


def check_command_line(args: list[str]) -> None:
    """Compose and check the config of every run the command line asks for, before Hydra writes anything.

    Raises ConfigError. Bad overrides, unknown keys or options, impossible values, and run
    folders that hold a different run or a bad checkpoint are all caught here, so a typo costs one
    line and leaves no run folder behind.
    """
    import itertools

    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from toymodels.training.checkpoints import check_checkpoint

    overrides, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in _FLAGS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            overrides.append(arg)
    multirun = "-m" in args or "--multirun" in args
    try:
        # Delete overrides (~key) have no value and sweep nothing: they go to every job as they are.
        deletes = [o.input_line for o in OverridesParser.create().parse_overrides(overrides) if o.is_delete()]
        axes = sweep_axes(overrides)
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            first = compose("train", overrides=deletes + [v[0] for v in axes.values()], return_hydra_config=True)
            multirun = multirun or str(first.hydra.mode) == "RunMode.MULTIRUN"
            if multirun:  # with the sweep an experiment declares, unless the command line sets those keys
                params = first.hydra.sweeper.get("params")
                axes = sweep_axes(overrides, OmegaConf.to_container(params) if params else None)
            elif count_jobs(axes) > 1:
                swept = next(key for key, values in axes.items() if len(values) > 1)
                raise ConfigError(f"{swept} lists several values: add -m to sweep over them")
            trained_by: dict[Path, tuple[str, int]] = {}  # member folder -> (the job that trains it, its seed)
            budget, planned = budget_flops(first), []
            if budget is not None and count_jobs(axes) > MAX_CHECKED_JOBS:
                raise ConfigError(f"budget.flops is checked over at most {MAX_CHECKED_JOBS} jobs; this sweep has "
                                  f"{count_jobs(axes)}")
            for job in itertools.islice(itertools.product(*axes.values()), MAX_CHECKED_JOBS):
                cfg = compose("train", overrides=deletes + list(job), return_hydra_config=True)
                spec = build_run(cfg)
                more = spec.ensemble - 1
                planned.append((spec.name + (f" (+{more} seed{'s' * (more > 1)})" if more else ""), spec.planned_flops))
                hydra_dirs = OmegaConf.to_container(cfg.hydra, resolve=False)
                if multirun:
                    check_sweep_strategy(spec.trainer_kwargs, cfg.hydra.launcher._target_)
                    run_dir = _resolve_dir(cfg, hydra_dirs["sweep"]["dir"], hydra_dirs["sweep"]["subdir"])
                else:
                    run_dir = _resolve_dir(cfg, hydra_dirs["run"]["dir"])
                members = member_dirs(spec, run_dir)
                for member, member_dir in members:
                    other, other_seed = trained_by.setdefault(member_dir.resolve(), (" ".join(job), spec.seed))
                    if other != " ".join(job):
                        why = (f"with train.ensemble={spec.ensemble}, sweep seeds {spec.ensemble} apart "
                               f"(seed=0,{spec.ensemble},...)" if other_seed != spec.seed else
                               "the run folder's name (run_name) does not tell them apart; add the swept key "
                               "to it, e.g. 'run_name=${task.id}-${model.name}-<key>${...}-s${seed}'")
                        raise ConfigError(
                            f"two jobs would train seed {member.seed} into {member_dir} ({other!r} and "
                            f"{' '.join(job)!r}): {why}"
                        )
                    check_not_locked(member_dir)
                check_members(spec, members)
                ckpt = run_dir / "checkpoints" / "last.ckpt"
                if ckpt.exists():
                    check_checkpoint(ckpt, spec.make_module())
            check_budget(planned, budget)
    except ConfigError:
        raise
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        raise ConfigError(_hydra_message(err)) from None


def _resolve_dir(cfg, *parts) -> Path:
    """A Hydra output folder expression (run or sweep) resolved against the job's config."""
    from omegaconf import OmegaConf

    job = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    node = OmegaConf.merge(job, {"_dir_": "/".join(str(p) for p in parts)})
    return Path(node._dir_)


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


def main() -> None:
    """Console entry point."""
    os.environ.setdefault("HYDRA_FULL_ERROR", "0")
    sys.argv[1:] = with_one_budget(sys.argv[1:])
    args = sys.argv[1:]
    if not any(a in _INFO_FLAGS or a.startswith("--info") for a in args):
        try:
            check_command_line(args)
        except ConfigError as err:
            print(f"toymodels-train: error: {err}", file=sys.stderr, flush=True)
            sys.exit(2)
    _hydra_entry()()


if __name__ == "__main__":
    main()
