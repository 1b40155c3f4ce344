"""The model family as data: sizes named by shape only, counts computed, the README's table generated."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from toymodels.tasks.arithmetic import Task
from toymodels.training.family import BASE, DEMO_TASK, family, family_markdown, model_dir
from toymodels.training.model import ModelConfig, non_embedding_params

REPO = Path(__file__).resolve().parents[2]


def _table_script():
    spec = importlib.util.spec_from_file_location("family_table", REPO / "scripts" / "family_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_size_names_only_its_shape():
    for path in model_dir().glob("d*.yaml"):
        lines = path.read_text().splitlines()
        assert lines[0] == f"defaults: [/{BASE}@_here_]" and len(lines) <= 5, path.name
        assert not any(line.lstrip().startswith("#") for line in lines), f"{path.name}: counts are computed"


def test_family_is_ordered_by_parameters_and_spans_three_decades():
    members = family()
    sizes = [non_embedding_params(m) for m in members]
    assert sizes == sorted(sizes) and len(members) >= 7
    assert sizes[-1] / sizes[0] > 1000
    assert {m.name for m in members} == {p.stem for p in model_dir().glob("d*.yaml")}


def test_a_member_is_the_composed_config():
    d96 = next(m for m in family() if m.name == "d96")
    task = Task(**DEMO_TASK)
    assert d96 == ModelConfig(name="d96", d_model=96, n_layer=2, n_head=4, context=task.seq_len - 1, vocab_size=18)


def test_the_readme_family_table_is_the_generated_one():
    script = _table_script()
    readme = (REPO / "README.md").read_text()
    assert script.START in readme and script.END in readme, "README.md lost its family-table markers"
    assert script.with_table(readme, family_markdown()) == readme, "run: python scripts/family_table.py --write"
