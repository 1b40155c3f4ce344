"""Run folders before a fit: which folder each seed of an ensemble trains in, whether a folder may be
trained in (the same run, not locked, not half of another ensemble), and the lock held while training."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from filelock import FileLock, Timeout

from toymodels.errors import ConfigError
from toymodels.runs.records import read_run_json
from toymodels.training.config import RunConfig

FINAL_STATUSES = ("completed", "diverged")
# Settings that do not change what a run computes: a run may resume with other values.
_NOT_FINGERPRINTED = {"train": ("checkpoint_every", "ensemble"), "eval": ("batch_size",)}


def member_config(run_cfg: RunConfig, i: int) -> RunConfig:
    """Member i of the ensemble as the single run with its seed (what its run folder records)."""
    if i == 0 and len(run_cfg.seeds) == 1:
        return run_cfg
    seed = run_cfg.seed + i
    return dataclasses.replace(
        run_cfg, seed=seed, seeds=(seed,), name=run_cfg.name if i == 0 else run_cfg.member_names[i - 1],
        config={**run_cfg.config, "seed": seed}, member_names=(),
    )  # its groups stay the job's (train.ensemble included): a member is read, never validated again


def member_dirs(run_cfg: RunConfig, run_dir: Path) -> list[tuple[RunConfig, Path]]:
    """(member config, run folder) of each member: the job's folder for the first, and siblings named
    by `run_name` with each member's seed for the others (or `<folder>-s<seed>` when the job's folder
    is not named by a run_name that depends on the seed)."""
    run_dir = Path(run_dir)
    out = [(member_config(run_cfg, 0), run_dir)]
    for i in range(1, len(run_cfg.seeds)):
        member = member_config(run_cfg, i)
        named_by_seed = run_dir.name == run_cfg.name and member.name != run_cfg.name
        name = member.name if named_by_seed else f"{run_dir.name}-s{member.seed}"
        out.append((member, run_dir.with_name(name)))
    return out


def check_members(members: list[tuple[RunConfig, Path]]) -> list[dict | None]:
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


def check_run_folder(run_cfg: RunConfig, run_dir: Path) -> dict | None:
    """The folder's earlier record, after checking that it belongs to this very run (ConfigError if not)."""
    previous = read_run_json(run_dir)
    if (Path(run_dir) / "run.json").exists() and previous is None:
        raise ConfigError(f"{run_dir}/run.json is corrupt; move it away to start this run again")
    if previous is not None and "config" in previous:
        then, now = fingerprint(previous["config"]), fingerprint(run_cfg.config)
        if then != now:
            raise ConfigError(
                f"{run_dir} holds a different run ({_first_difference(then, now)}); "
                "choose another hydra.run.dir (or hydra.sweep.dir)"
            )
    return previous


class RunLock:
    """An exclusive lock on a run folder (`<run_dir>/.lock`, an flock through `filelock`) while a process trains in it.

    A second process that would train into the same folder (the same command started twice) is
    refused with ConfigError, at once. The kernel releases an flock when its holder dies, even by
    kill -9, so a stale lock never blocks a resume. Only rank 0 of a multi-process run takes it.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path, self.lock = Path(run_dir) / ".lock", None

    def __enter__(self) -> RunLock:
        if (_rank() or 0) != 0:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # No soft-lock fallback: a lock file that outlives a killed holder would block its resume.
        lock = FileLock(self.path, blocking=False, preserve_lock_file=True, fallback_to_soft=False)
        try:
            lock.acquire()
        except Timeout:
            raise ConfigError(
                f"{self.path.parent} is in use by another training process (started twice?); "
                "wait for it to end, or choose another hydra.run.dir"
            ) from None
        self.lock = lock
        return self

    def __exit__(self, *exc) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def check_not_locked(run_dir: Path) -> None:
    """ConfigError if another process holds the run folder's lock (the pre-check; writes nothing).

    Taking and releasing the lock at once is the test; where there is no lock file, nobody holds it.
    """
    if (Path(run_dir) / ".lock").exists():
        with RunLock(run_dir):
            pass


def _rank() -> int:
    """This process's global rank, as Lightning's launchers set it (0 outside a multi-process run).

    Read from the environment as lightning.fabric's _get_rank does, without its 3.3 s import: the
    pre-check calls check_not_locked before --help-fast command lines are done.
    """
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0
