"""Sweep progress for Hydra multiruns: run k of n, elapsed time, and an estimate of the time left.

A Hydra callback (configured in conf/train.yaml), so it works for any sweep and launcher that
runs jobs in this process. The estimate uses the mean duration of each model size seen so far:
sizes differ in cost by 30x, and sweeps go seed by seed, so after the first seed it is close.
"""

from __future__ import annotations

import time
from collections import defaultdict

from hydra.experimental.callback import Callback

from toymodels.runs.axes import count_jobs, sweep_axes


def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class SweepProgress(Callback):
    """Prints one line as each job of a multirun starts and ends."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.total: int | None = None
        self.models: dict[str, int] = {}
        self.durations: dict[str, list[float]] = defaultdict(list)
        self.done = 0
        self.job_t0 = 0.0
        self.multirun = False  # Hydra calls the job hooks for single runs too: stay quiet there

    def on_multirun_start(self, config, **kwargs) -> None:
        self.multirun = True
        self.t0 = time.perf_counter()
        try:
            axes = sweep_axes(config.hydra.overrides.task, config.hydra.sweeper.get("params"))
        except Exception:  # an axis we cannot enumerate: say "?" rather than guess
            axes = None
        self.total = count_jobs(axes) if axes is not None else None
        if axes:
            others = count_jobs({k: v for k, v in axes.items() if k != "model"})
            self.models = {m.partition("=")[2]: others for m in axes.get("model", [])}
        ensemble = int((config.get("train") or {}).get("ensemble") or 1)
        runs = f" ({self.total * ensemble} runs: {ensemble} seeds a job, trained together)" if self.total else ""
        what = "runs" if ensemble == 1 else f"jobs{runs}"
        print(f"[sweep] {self.total or '?'} {what} into {config.hydra.sweep.dir}", flush=True)

    def on_job_start(self, config, **kwargs) -> None:
        self.job_t0 = time.perf_counter()
        if not self.multirun:
            return
        print(f"[sweep] job {self.done + 1} of {self.total or '?'}: {config.get('run_name', '')}", flush=True)

    def on_job_end(self, config, job_return, **kwargs) -> None:
        if not self.multirun:
            return
        model = str(config.model.name)
        self.durations[model].append(time.perf_counter() - self.job_t0)
        self.done += 1
        elapsed = time.perf_counter() - self.t0
        line = f"[sweep] {self.done} of {self.total or '?'} done, elapsed {_fmt_time(elapsed)}"
        left = self.time_left()
        if left is not None:
            line += f", about {_fmt_time(left)} left"
        print(line, flush=True)

    def time_left(self) -> float | None:
        """Seconds left: each remaining run costs the mean of its size so far (or of all runs)."""
        if self.total is None or not self.durations:
            return None
        all_runs = [d for ds in self.durations.values() for d in ds]
        mean_all = sum(all_runs) / len(all_runs)
        if not self.models:
            return (self.total - self.done) * mean_all
        left = 0.0
        for model, count in self.models.items():
            seen = self.durations.get(model, [])
            left += max(0, count - len(seen)) * (sum(seen) / len(seen) if seen else mean_all)
        return left
