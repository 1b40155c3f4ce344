"""The model family as data: one shared base (`conf/model_base.yaml`) and one short entry per size.

The sizes name only their shape (d_model, heads, layers); every count a reader sees — parameters,
training FLOPs per token — is computed here from :mod:`toymodels.training.model`, never written by
hand. `scripts/family_table.py` prints the README's family table from this module, and a test checks
that the README's table is the one it prints.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from toymodels.tasks.arithmetic import Task
from toymodels.training.config import config_dir
from toymodels.training.model import ModelConfig, non_embedding_params, total_params, training_flops_per_token

BASE = "model_base"  # conf/model_base.yaml: outside conf/model/, so not a choice of model=
# The demo's task (experiment=emergence): FLOPs per token depend on the sequence length.
DEMO_TASK = dict(name="add", n_digits=2, format="reversed")


def model_dir() -> Path:
    """conf/model of this installation (packaged or a source checkout)."""
    return config_dir() / "model"


def member_config(name: str, task: Task, folder: Path | None = None) -> ModelConfig:
    """The ModelConfig of family member `name` (e.g. "d32"), with the context and vocabulary of `task`."""
    folder = folder or model_dir()
    values = OmegaConf.to_container(OmegaConf.merge(OmegaConf.load(folder.parent / f"{BASE}.yaml"),
                                                    OmegaConf.load(folder / f"{name}.yaml")))
    values.pop("defaults", None)
    values["context"] = values["context"] or task.seq_len - 1
    values["vocab_size"] = getattr(task, "vocab_size", None) or values.get("vocab_size") or 18
    return ModelConfig(**{k: v for k, v in values.items() if k in ModelConfig.__dataclass_fields__})


def family(task: Task | None = None, folder: Path | None = None) -> list[ModelConfig]:
    """Every size in conf/model, ordered by non-embedding parameters."""
    task = task or Task(**DEMO_TASK)
    folder = folder or model_dir()
    names = [p.stem for p in folder.glob("*.yaml")]
    return sorted((member_config(n, task, folder) for n in names), key=non_embedding_params)


def family_markdown(task: Task | None = None) -> str:
    """The README's family table: shape, parameter counts and training FLOPs per token on the demo task."""
    task = task or Task(**DEMO_TASK)
    rows = ["| name | d_model | layers | heads | non-embedding params | all params | training FLOPs per token* |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in family(task):
        rows.append(f"| {m.name} | {m.d_model} | {m.n_layer} | {m.n_head} | {non_embedding_params(m):,} | "
                    f"{total_params(m):,} | {training_flops_per_token(m, task.seq_len):,.0f} |")
    rows.append(f"\n*on the demo's task ({task.label}, {task.seq_len} tokens a problem); computed by "
                "`toymodels.training.family`, printed by `python scripts/family_table.py`.")
    return "\n".join(rows)
