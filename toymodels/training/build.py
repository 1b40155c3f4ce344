"""The objects of a run, built from its validated RunConfig: data, module, evaluators, callbacks, loggers, trainer.

The config holds values only; everything live is made here, on the training side, and owned by the fit
(:mod:`toymodels.training.fit`), which closes the loggers it was given.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from toymodels.tasks.mixture import Mixture, task_record
from toymodels.tasks.trainset import TrainingSet
from toymodels.training.checkpoints import AtomicCheckpoint
from toymodels.training.config import RunConfig
from toymodels.training.data import ArithmeticData
from toymodels.training.gradfilter import GrokfastEMA
from toymodels.training.loggers import make_loggers as loggers_for
from toymodels.training.metrics import Evaluator
from toymodels.training.mixture_run import MixtureData, MixtureEvaluator
from toymodels.training.model import inference_flops_per_problem, non_embedding_params, total_params
from toymodels.training.module import ArithmeticLM


def make_data(run_cfg: RunConfig):
    """The LightningDataModule: one training stream per seed (or the finite set), the held-out set."""
    seeds, ev = list(run_cfg.seeds), run_cfg.eval
    if isinstance(run_cfg.task, Mixture):
        return MixtureData(run_cfg.task, run_cfg.batch_size, seeds, ev.size, ev.seed)
    train_set = None
    if run_cfg.train_size is not None:
        train_set = TrainingSet(run_cfg.task, run_cfg.train_size, run_cfg.train_set_seed, order_seed=run_cfg.seed)
    return ArithmeticData(run_cfg.task, run_cfg.batch_size, seeds, ev.size, ev.seed, train_set)


def make_module(run_cfg: RunConfig):
    """The LightningModule, with the run's process settings (threads, TF32, compile) applied."""
    trainer = run_cfg.trainer
    if trainer.threads:
        torch.set_num_threads(trainer.threads)
    if trainer.matmul_precision:
        torch.set_float32_matmul_precision(trainer.matmul_precision)
    module = ArithmeticLM(run_cfg.model, run_cfg.task, run_cfg.optim, run_cfg.batch_size, run_cfg.max_steps,
                          list(run_cfg.seeds))
    if trainer.compile:
        module.model.compile()  # in place: parameter names (and checkpoints) stay the same
    return module


def make_evaluator(run_cfg: RunConfig, data):
    """The evaluator on the held-out set (one per skill for a mixture)."""
    if isinstance(run_cfg.task, Mixture):
        return MixtureEvaluator(run_cfg.task, data.eval_problems, batch_size=run_cfg.eval.batch_size)
    return Evaluator(run_cfg.task, *data.eval_problems, batch_size=run_cfg.eval.batch_size)


def make_train_evaluator(run_cfg: RunConfig, data):
    """The evaluator on a fixed sample of the finite training set (the train_ metrics), None without one."""
    sample = data.train_sample
    return None if sample is None else Evaluator(run_cfg.task, *sample, batch_size=run_cfg.eval.batch_size)


def make_callbacks(run_cfg: RunConfig) -> list:
    """Training callbacks the config asks for besides the records: the Grokfast gradient filter."""
    train = run_cfg.train
    return [GrokfastEMA(float(train.grokfast_alpha), float(train.grokfast_lambda))] if train.grokfast_lambda > 0 else []


def make_loggers(run_cfg: RunConfig, run_dir: Path) -> list:
    """The Lightning loggers `logger.kind` asks for, for one run folder (the caller closes them)."""
    return loggers_for(run_cfg.logger, Path(run_dir), run_cfg)


def build_trainer(run_cfg: RunConfig, run_dir: Path, callbacks: list, loggers: list, checkpoints: bool = True):
    """The Lightning Trainer of a run: its loggers, checkpoints every few steps, the budget.

    Gradients are clipped by the module, member by member (train.grad_clip), not by the Trainer.
    """
    callbacks = list(callbacks)
    if checkpoints:
        callbacks.append(AtomicCheckpoint(dirpath=Path(run_dir) / "checkpoints", save_last=True, save_top_k=0,
                                          every_n_train_steps=run_cfg.train.checkpoint_every))
    return L.Trainer(
        **run_cfg.trainer.kwargs,
        max_steps=run_cfg.max_steps,
        max_epochs=-1,
        logger=loggers,
        callbacks=callbacks,
        enable_checkpointing=checkpoints,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(run_dir),
    )


def run_info(run_cfg: RunConfig) -> dict:
    """The static part of run.json."""
    model, cost = run_cfg.model, run_cfg.cost
    return {
        "name": run_cfg.name,
        **task_record(run_cfg.task),
        "model": model.name,
        "d_model": model.d_model,
        "n_layer": model.n_layer,
        "n_head": model.n_head,
        "d_mlp": model.d_mlp,
        "pos_embedding": model.pos_embedding,
        "seed": run_cfg.seed,
        "params": total_params(model),
        "non_embedding_params": non_embedding_params(model),
        "flops_per_step": cost.flops,
        "tokens_per_step": cost.tokens,
        "max_steps": run_cfg.max_steps,
        "max_flops": cost.flops * run_cfg.max_steps,
        # Forward FLOPs of answering one problem (KV-cached greedy decoding of the whole target):
        # what the report's --x total_flops adds per evaluated problem.
        "inference_flops_per_problem": inference_flops_per_problem(model, run_cfg.task.seq_len),
        "warmup_steps": run_cfg.warmup_steps,
        "eval_size": run_cfg.eval.size,
        "batch_size": run_cfg.batch_size,
        "train_size": run_cfg.train_size,
        "train_set_seed": run_cfg.train_set_seed if run_cfg.train_size is not None else None,
        "config": run_cfg.config,
    }
