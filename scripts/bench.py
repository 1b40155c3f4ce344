"""Speed benchmark: one process, one table, measured against this machine's own matmul ceiling.

    python scripts/bench.py            # the full table (make bench), a few minutes on 2 cores
    python scripts/bench.py --smoke    # seconds: the same code paths on tiny settings (tests)
    python scripts/bench.py --trainer gpu --batch-size 4096   # on a GPU: bf16 ceiling, trainer=gpu

What it measures, in this order and in one process (so ratios compare like with like):
1. the matmul ceiling of this machine (best of a few square matmuls), in GFLOP/s: fp32 on the CPU,
   bf16 on the GPU (--trainer gpu, which also times every run with trainer=gpu: bf16-mixed, TF32);
2. per family member: training tokens/s and MFU through the real Lightning path (the Trainer,
   loggers and checkpoints of a run, no evaluation), and the ratio to a bare PyTorch loop with
   the same model, batch, optimizer, schedule and gradient clipping;
3. seed ensembles: per member of the demo family, training tokens/s per member and MFU when 1, 3
   and 8 seeds train as one stacked model (the demo's batch and task), and the ensemble's throughput
   (tokens/s of all members together) against one single run's;
4. evaluation time as a share of one demo run (experiment=emergence, the default schedule);
5. wall time until exact_match >= 0.99 on 2-digit reversed addition for the ~100K-parameter member;
6. the whole demo (toymodels-demo: training and report) against its FLOPs-limited time, i.e. its
   total training FLOPs divided by the ceiling (--demo; skip with --no-demo).
Writes the table and the machine's description as JSON too (--json).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def matmul_ceiling(sizes=(512, 1024, 2048), repeats: int = 5, device: str = "cpu", dtype=torch.float32) -> float:
    """Best matmul throughput over a few square sizes, FLOP/s (fp32 on the CPU; bf16 on a GPU)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        a @ b  # warm-up
        reps = max(2, int(repeats * (1024 / n) ** 3))
        _sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        _sync(device)
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t))
    return best


def _sync(device) -> None:
    """Wait for the GPU's queued work, so that wall-clock times measure it (no-op on the CPU)."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def compose(*overrides: str):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from toymodels.training.config import build_run, config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return build_run(hydra_compose(config_name="train", overrides=list(overrides)))


class StepTimer:
    """Lightning callback: wall time between the end of step `warmup` and the end of training."""

    def __new__(cls, warmup: int):
        import lightning as L

        class _Timer(L.Callback):
            def __init__(self):
                self.t0 = self.t1 = None

            def on_train_batch_end(self, trainer, pl_module, *args):
                if trainer.global_step in (warmup, trainer.max_steps):
                    _sync(pl_module.device)
                if trainer.global_step == warmup:
                    self.t0 = time.perf_counter()
                self.t1 = time.perf_counter()

        return _Timer()


def lightning_tokens_per_s(run_cfg, warmup: int) -> float:
    """Training tokens/s through the real Lightning path (Trainer, loggers, checkpoints)."""
    from toymodels.training import build
    from toymodels.training.loggers import close_loggers

    data, module = build.make_data(run_cfg), build.make_module(run_cfg)
    timer = StepTimer(warmup)
    with tempfile.TemporaryDirectory() as run_dir:
        loggers = build.make_loggers(run_cfg, Path(run_dir))
        trainer = build.build_trainer(run_cfg, Path(run_dir), [timer], loggers)
        trainer.fit(module, datamodule=data)
        close_loggers(loggers)
    return (run_cfg.max_steps - warmup) * module.cost.tokens / (timer.t1 - timer.t0)


def bare_tokens_per_s(run_cfg, warmup: int) -> float:
    """Training tokens/s of a plain PyTorch loop: same model, batch, AdamW, schedule, clipping."""
    import torch.nn.functional as F

    from toymodels.tasks.vocab import PAD
    from toymodels.training import build

    data, module = build.make_data(run_cfg), build.make_module(run_cfg)
    on_gpu = run_cfg.trainer.kwargs.get("accelerator") in ("gpu", "cuda")
    device = "cuda" if on_gpu else "cpu"
    bf16 = on_gpu and str(run_cfg.trainer.kwargs.get("precision", "")).startswith("bf16")
    model, start = module.model.to(device), run_cfg.task.prompt_len - 1
    conf = module.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    for step in range(run_cfg.max_steps):
        if step == warmup:
            _sync(device)
            t0 = time.perf_counter()
        batch = data.batch(step).to(device)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            logits = model(batch[:, :-1])
            loss = F.cross_entropy(logits[:, start:].reshape(-1, logits.shape[-1]),
                                   batch[:, start + 1 :].reshape(-1), ignore_index=PAD)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), run_cfg.optim.grad_clip)
        opt.step()
        sched.step()
        if not torch.isfinite(loss):
            raise RuntimeError("loss diverged")
    _sync(device)
    return (run_cfg.max_steps - warmup) * module.cost.tokens / (time.perf_counter() - t0)


def ensemble_rows(models: list[str], sizes: list[int], steps: int, warmup: int, ceiling: float, common: list[str]):
    """Tokens/s per member and MFU of seed ensembles of each size, through the real Lightning path."""
    rows = []
    for name in models:
        single = None
        for k in sizes:
            run_cfg = compose(f"model={name}", f"train.ensemble={k}", *common, f"train.steps={steps}")
            per_member = lightning_tokens_per_s(run_cfg, warmup)  # the module counts one member's tokens
            flops_per_token = run_cfg.cost.flops / run_cfg.cost.tokens
            single = single or per_member
            # Throughput: the training tokens all members process per second, against one single run's.
            rows.append({"model": name, "ensemble": k, "tokens_per_s_per_member": per_member,
                         "mfu": k * per_member * flops_per_token / ceiling,
                         "throughput_vs_single": k * per_member / single})
        print(f"  timed ensembles of {name}", flush=True)
    return rows


def demo_vs_flops_limit(ceiling: float, overrides: list[str]) -> dict:
    """Time toymodels-demo (training and report) in a fresh folder; compare with its FLOPs-limited time."""
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        sweep = Path(tmp) / "demo"
        env = dict(os.environ, WANDB_MODE="disabled")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "toymodels.cli.demo", "--sweep-dir", str(sweep), *overrides],
                              env=env, capture_output=True, text=True, cwd=tmp)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        flops = [json.loads(p.read_text())["flops"] for p in sweep.glob("*/run.json")]
    total = float(sum(flops))
    return {"demo_seconds": seconds, "demo_runs": len(flops), "demo_training_flops": total,
            "demo_flops_limited_seconds": total / ceiling, "demo_vs_flops_limit": seconds / (total / ceiling)}


def run_cli(*overrides: str) -> dict:
    """Run toymodels-train in this process's interpreter; return its run.json and metrics rows."""
    import csv
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        env = dict(os.environ, WANDB_MODE="disabled")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "toymodels.cli.train", *overrides, f"hydra.run.dir={run_dir}",
                               "logger=csv"], env=env, capture_output=True, text=True, cwd=tmp)
        process_seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        record = json.loads((run_dir / "run.json").read_text())
        with open(run_dir / "metrics.csv") as f:
            rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    return {"record": record, "rows": rows, "process_seconds": process_seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny settings, seconds: checks the script runs")
    parser.add_argument("--models", default="d16,d32,d64,d128,d256", help="family members to time")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--trainer", default="cpu", choices=["cpu", "gpu"],
                        help="trainer preset to time (gpu: bf16-mixed, TF32, MFU against a bf16 ceiling)")
    parser.add_argument("--compile", action="store_true", help="time with trainer.compile=true")
    parser.add_argument("--steps", type=int, default=60, help="timed steps per model (after warm-up)")
    parser.add_argument("--json", default="outputs/bench.json", help="where to write the results")
    parser.add_argument("--ensemble-models", default="d8,d16,d24,d32,d48,d64,d96",
                        help="family members whose seed ensembles are timed")
    parser.add_argument("--ensembles", default="1,3,8", help="ensemble sizes to time")
    parser.add_argument("--no-demo", action="store_true", help="skip timing the whole demo (minutes)")
    parser.add_argument("--only-demo", action="store_true", help="time only the whole demo (and the ceiling)")
    args = parser.parse_args(argv)
    import logging
    import warnings

    import lightning  # noqa: F401  (it sets its own log level on import; ours must come after)

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")

    models = [] if args.only_demo else ["d16"] if args.smoke else args.models.split(",")
    steps, warmup = (6, 2) if args.smoke else (args.steps + 10, 10)
    threads = torch.get_num_threads()
    gpu = args.trainer == "gpu"
    if gpu and not torch.cuda.is_available():
        print("bench: --trainer gpu needs a CUDA GPU, and torch sees none", file=sys.stderr)
        return 2
    if gpu:
        ceiling = matmul_ceiling(sizes=(4096, 8192), repeats=20, device="cuda", dtype=torch.bfloat16)
    else:
        ceiling = matmul_ceiling(sizes=(256,), repeats=2) if args.smoke else matmul_ceiling()
    # For comparison with figures quoted elsewhere: the ceiling of one thread (MFU uses all threads).
    one_thread_ceiling = None
    if not gpu and not args.smoke:
        torch.set_num_threads(1)
        one_thread_ceiling = matmul_ceiling()
        torch.set_num_threads(threads)
    device_name = torch.cuda.get_device_name() if gpu else f"{threads} threads"
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{device_name}; {'bf16' if gpu else 'fp32'} matmul ceiling {ceiling / 1e9:.1f} GFLOP/s"
          + (f" ({one_thread_ceiling / 1e9:.1f} on one thread)" if one_thread_ceiling else ""), flush=True)

    rows = []
    common = ["task=add", "task.n_digits=3", "train.tokens=null", f"train.steps={steps}",
              f"train.batch_size={args.batch_size}", "logger=csv", "train.checkpoint_every=100000",
              f"trainer={args.trainer}", f"trainer.compile={str(args.compile).lower()}"]
    for name in models:
        run_cfg = compose(f"model={name}", *common)
        from toymodels.training import build

        module = build.make_module(run_cfg)
        flops_per_token = module.cost.flops / module.cost.tokens
        bare = bare_tokens_per_s(run_cfg, warmup)
        light = lightning_tokens_per_s(run_cfg, warmup)
        from toymodels.training.model import non_embedding_params

        rows.append({
            "model": name,
            "non_embedding_params": non_embedding_params(run_cfg.model),
            "tokens_per_s": light,
            "gflops_per_s": light * flops_per_token / 1e9,
            "mfu": light * flops_per_token / ceiling,
            "bare_tokens_per_s": bare,
            "lightning_vs_bare": light / bare,
        })
        print(f"  timed {name}", flush=True)

    ens_models = [] if args.only_demo else ["d8"] if args.smoke else args.ensemble_models.split(",")
    ens_sizes = [1, 2] if args.smoke else [int(k) for k in args.ensembles.split(",")]
    ens_common = ["task=add", "task.n_digits=3", "task.format=reversed", "train.tokens=null", "train.batch_size=128",
                  "logger=csv", "train.checkpoint_every=100000", f"trainer={args.trainer}"]
    ens_steps, ens_warmup = (4, 1) if args.smoke else (args.steps // 2 + 5, 5)
    ensembles = ensemble_rows(ens_models, ens_sizes, ens_steps, ens_warmup, ceiling, ens_common)

    extra = {}
    if not args.smoke and not args.no_demo:
        extra.update(demo_vs_flops_limit(ceiling, ["trainer=gpu"] if gpu else []))
    if not args.smoke and not gpu and not args.only_demo:
        demo_run = run_cli("experiment=emergence", "model=d64", "seed=0", "train.ensemble=1", "hydra.sweep.dir=unused")
        demo = demo_run["record"]
        # Two denominators: the run's training loop (first step to last evaluation), and the whole
        # process a user waits for (start-up, building the evaluation set, writing records included).
        extra["eval_share_of_demo_run"] = demo["eval_seconds"] / demo["wall_seconds"]
        extra["demo_run_seconds"] = demo["wall_seconds"]
        extra["eval_share_of_demo_process"] = demo["eval_seconds"] / demo_run["process_seconds"]
        extra["demo_process_seconds"] = demo_run["process_seconds"]
        solve = run_cli("task=add", "task.n_digits=2", "task.format=reversed", "model=d64", "train.tokens=1.5e6")
        hit = [r for r in solve["rows"] if r["exact_match"] >= 0.99]
        extra["seconds_to_exact_match_0.99"] = hit[0]["wall_seconds"] if hit else math.inf
        extra["exact_match_0.99_at_flops"] = hit[0]["flops"] if hit else None

    result = {
        "machine": {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "torch": torch.__version__, "threads": threads, "python": platform.python_version(),
                    "device": device_name},
        "trainer": args.trainer, "compile": args.compile, "batch_size": args.batch_size,
        "task": "3-digit add (reversed)", "matmul_ceiling_gflops": ceiling / 1e9,
        "matmul_ceiling_one_thread_gflops": one_thread_ceiling / 1e9 if one_thread_ceiling else None,
        "matmul_ceiling_dtype": "bf16" if gpu else "fp32", "models": rows, "ensembles": ensembles, **extra,
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    # The table last, so that it ends the output of make bench and scripts/gpu_check.sh.
    print()
    print(f"trainer={args.trainer}{' (compiled)' if args.compile else ''}, batch {args.batch_size}, "
          f"MFU against the {'bf16' if gpu else 'fp32'} matmul ceiling of {ceiling / 1e9:,.0f} GFLOP/s")
    print(f"{'model':>6} {'non-emb':>9} {'tokens/s':>12} {'GFLOP/s':>9} {'MFU':>6} {'bare tok/s':>12} {'L/bare':>7}")
    for r in rows:
        print(f"{r['model']:>6} {r['non_embedding_params']:>9,} {r['tokens_per_s']:>12,.0f} {r['gflops_per_s']:>9.1f} "
              f"{r['mfu']:>6.1%} {r['bare_tokens_per_s']:>12,.0f} {r['lightning_vs_bare']:>7.2f}")
    print()
    print("seed ensembles (3-digit reversed add, batch 128 per member): tokens/s per member, MFU of the ensemble")
    print(f"{'model':>6} {'members':>8} {'tok/s/member':>13} {'MFU':>6} {'all members vs 1 run':>21}")
    for r in ensembles:
        print(f"{r['model']:>6} {r['ensemble']:>8} {r['tokens_per_s_per_member']:>13,.0f} {r['mfu']:>6.1%} "
              f"{r['throughput_vs_single']:>20.2f}x")
    if "demo_seconds" in extra:
        print(f"the demo (toymodels-demo, {extra['demo_runs']} runs): {extra['demo_seconds']:.0f}s, its FLOPs-limited "
              f"time {extra['demo_flops_limited_seconds']:.0f}s ({extra['demo_training_flops']:.2e} FLOPs / ceiling): "
              f"{extra['demo_vs_flops_limit']:.2f}x")
    if "eval_share_of_demo_run" in extra:
        print(f"evaluation share of a demo run (d64, emergence schedule): {extra['eval_share_of_demo_run']:.1%} "
              f"of its training loop ({extra['demo_run_seconds']:.1f}s), "
              f"{extra['eval_share_of_demo_process']:.1%} of the whole run ({extra['demo_process_seconds']:.1f}s)")
        print(f"time to exact_match >= 0.99, 2-digit reversed add, d64: "
              f"{extra['seconds_to_exact_match_0.99']:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
