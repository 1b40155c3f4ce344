"""Every shipped config composes and builds a run; bad values give one-line errors."""

import re

import pytest

from tests.helpers import compose_train
from toymodels.errors import ConfigError
from toymodels.training import build
from toymodels.training.config import build_run, config_dir

CONF = config_dir()
GROUPS = ["task", "model", "trainer", "logger", "experiment", "debug"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml"))]



def test_configs_are_found_from_the_package():
    assert (CONF / "train.yaml").exists()
    assert len(OPTIONS) >= 20


@pytest.mark.parametrize("group, option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_config_file_composes_and_builds(group, option):
    cfg = compose_train(f"{group}={option}")
    run_cfg = build_run(cfg)
    module = build.make_module(run_cfg)
    data = build.make_data(run_cfg)
    evaluator = build.make_evaluator(run_cfg, data)
    assert module.cost.flops > 0 and run_cfg.max_steps >= 1
    evaluators = getattr(evaluator, "evaluators", {"": evaluator}).values()  # a mixture: one per skill
    assert all(len(ev.rows) == min(run_cfg.eval.size, ev.task.heldout_count) for ev in evaluators)
    assert data.batch(0).shape == (run_cfg.batch_size, run_cfg.task.seq_len)


def test_model_family_is_ordered_and_spans_two_decades():
    from toymodels.training.model import non_embedding_params

    sizes = []
    for path in sorted((CONF / "model").glob("*.yaml")):
        run_cfg = build_run(compose_train(f"model={path.stem}"))
        sizes.append(non_embedding_params(run_cfg.model))
    assert len(sizes) >= 7
    assert min(sizes) <= 3500 and max(sizes) >= 1_000_000


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.n_head=5", "model.d_model=64 is not divisible by model.n_head=5"),
        ("task.n_digits=0", "task.n_digits=0 must be"),
        ("task.name=div", "task.name='div' is unknown"),
        ("train.steps=100", "give exactly one training budget"),  # composed configs: the CLI's rewrite is not here
        ("train.tokens=null", "give exactly one training budget"),
        ("train.min_lr_ratio=1.5", "train.min_lr_ratio=1.5 must be in [0, 1]"),
        ("logger.kind=foo", "logger.kind='foo' is unknown"),
        ("+trainer.accumulate_grad_batches=4", "trainer.accumulate_grad_batches=4 is not allowed"),
        ("train.lr=-1", "train.lr=-1"),
        ("train.batch_size=0", "train.batch_size=0 must be > 0"),
        ("model.context=8", "model.context=8 is too short"),
    ],
)
def test_bad_values_raise_one_line_config_errors(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        build_run(compose_train(override))
    assert "\n" not in str(err.value)


def test_budget_in_tokens_flops_or_steps_gives_the_same_horizon():
    by_steps = build_run(compose_train("train.tokens=null", "train.steps=300"))
    tokens = 300 * by_steps.batch_size * (by_steps.task.seq_len - 1)
    by_tokens = build_run(compose_train(f"train.tokens={tokens}"))
    flops = build.make_module(by_tokens).cost.flops * 300
    by_flops = build_run(compose_train("train.tokens=null", f"train.flops={flops}"))
    assert by_steps.max_steps == by_tokens.max_steps == by_flops.max_steps == 300



def test_a_budget_typed_on_the_command_line_replaces_the_configured_one():
    from toymodels.cli.train import with_one_budget

    assert with_one_budget(["train.steps=100"]) == ["train.steps=100", "train.tokens=null", "train.flops=null"]
    assert with_one_budget(["-m", "train.flops=1e9,2e9", "experiment=emergence"])[-2:] == [
        "train.tokens=null", "train.steps=null"]
    assert with_one_budget(["train.steps=10", "train.tokens=1e5"]) == ["train.steps=10", "train.tokens=1e5",
                                                                      "train.flops=null"]  # two: refused later
    assert with_one_budget(["model=d16"]) == ["model=d16"]
    run_cfg = build_run(compose_train(*with_one_budget(["train.steps=100"])))
    assert run_cfg.max_steps == 100


def test_declared_minimum_versions_have_the_features_the_code_uses():
    # trainer.fit(weights_only=...) arrived in Lightning 2.6; a fused AdamW on CPUs in torch 2.4.
    import inspect
    import re

    import lightning

    declared = (CONF.parent / "pyproject.toml").read_text() if (CONF.parent / "pyproject.toml").exists() else ""
    if declared:  # a source checkout: the bounds we declare are the ones these features need
        assert re.search(r'"lightning>=2\.6', declared) and re.search(r'"torch>=2\.4', declared)
    assert "weights_only" in inspect.signature(lightning.Trainer.fit).parameters
    from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

    assert "cpu" in _get_fused_kernels_supported_devices()


def test_symbols_encoding_sizes_the_vocabulary_and_names_the_run():
    cfg = compose_train("task=mod", "task.p=13", "task.format=plain", "task.encoding=symbols", "eval.size=50")
    assert cfg.task.id == "mod13add-symbols"
    run_cfg = build_run(cfg)
    assert run_cfg.model.vocab_size == 18 + 13
    assert run_cfg.model.context == run_cfg.task.seq_len - 1 == 5
    with pytest.raises(ConfigError, match="abacus cannot index"):
        build_run(compose_train("task=mod", "task.p=13", "task.format=plain", "task.encoding=symbols",
                                "eval.size=50", "model.pos_embedding=abacus"))


@pytest.mark.parametrize("decay, undecayed", [("matrices", True), ("all", False)])
def test_weight_decay_applies_to_matrices_or_to_every_parameter(decay, undecayed):
    from toymodels.training.module import ArithmeticLM

    run_cfg = build_run(compose_train("model=d8", "train.weight_decay=0.5", f"train.decay={decay}"))
    module = ArithmeticLM(run_cfg.model, run_cfg.task, run_cfg.optim, run_cfg.batch_size, run_cfg.max_steps,
                          list(run_cfg.seeds))
    groups = module.configure_optimizers()["optimizer"].param_groups
    decayed = {id(p) for g in groups if g["weight_decay"] == 0.5 for p in g["params"]}
    norms = [p for n, p in module.model.named_parameters() if "ln" in n or n.endswith(".bias")]
    assert norms and all((id(p) not in decayed) == undecayed for p in norms)
    assert all(id(p) in decayed for p in module.model.parameters() if p.dim() >= 3)


def test_unknown_decay_scope_is_one_line():
    with pytest.raises(ConfigError, match="train.decay='some' is unknown"):
        build_run(compose_train("train.decay=some"))


def test_the_abilities_experiment_is_the_family_the_issue_asks_for():
    """experiment=abilities: >= 4 trained skills, >= 1 evaluation-only, >= 6 sizes x >= 3 seeds, in one sweep."""
    from omegaconf import OmegaConf

    raw = OmegaConf.load(CONF / "experiment" / "abilities.yaml")
    weights = [s["weight"] for s in raw.task.skills]
    assert sum(w > 0 for w in weights) >= 4 and sum(w == 0 for w in weights) >= 1
    models = str(raw.hydra.sweeper.params.model).split(",")
    assert len(models) >= 6 and all((CONF / "model" / f"{m}.yaml").is_file() for m in models)
    assert raw.train.ensemble >= 3 and "seed" not in raw.hydra.sweeper.params  # seeds as one stacked model
    run_cfg = build_run(compose_train("experiment=abilities", f"model={models[0]}"))
    assert run_cfg.train.ensemble == raw.train.ensemble
