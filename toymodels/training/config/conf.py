"""Where the Hydra configs are (``conf/`` of a checkout, or packaged in the wheel), and their resolvers."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from toymodels.errors import ConfigError


def _register_resolvers() -> None:
    """OmegaConf resolvers the shipped configs use: ``${train_size_tag:N}`` is "" for null, "-nN" otherwise
    (a finite training set's size in the task id, so runs of a train_size sweep get their own folders);
    ``${mod_layout:ENCODING,FORMAT}`` is the format, or "symbols" for one token per residue."""
    if not OmegaConf.has_resolver("train_size_tag"):
        OmegaConf.register_new_resolver("train_size_tag", lambda n: "" if n is None else f"-n{n}")
    if not OmegaConf.has_resolver("mod_layout"):
        OmegaConf.register_new_resolver("mod_layout", lambda enc, fmt: "symbols" if enc == "symbols" else fmt)


_register_resolvers()


def config_dir() -> Path:
    """The Hydra config folder: packaged inside the wheel, or ``conf/`` of a source checkout."""
    here = Path(__file__).resolve().parents[2]  # the package folder
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "train.yaml").exists():
            return candidate
    raise ConfigError(f"no Hydra configs found next to {here} (looked for conf/train.yaml)")


def job_config(cfg):
    """A composed config without Hydra's own node (what a job's keys resolve against)."""
    return OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
