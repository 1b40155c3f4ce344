"""Specification of the report on a mixture sweep (hand-built: known thresholds per skill)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from toymodels import analysis
from toymodels.analysis import abilities
from toymodels.cli import report

SIZES = {"d8": 1e10, "d16": 3e10, "d24": 1e11, "d32": 3e11, "d48": 1e12, "d64": 3e12, "d96": 1e13}
SEEDS = (0, 1, 2)
# skill: (weight, log10 FLOPs of its jump or None = never learned); rank by weight
SKILLS = {"add2": (0.5, 10.75), "sub2": (0.25, 11.75), "add3": (0.15, 12.75), "mul2": (0.1, None), "add4": (0.0, None)}
WIDTH = 2  # answer digits per skill, for position_accuracy


def _skill_records() -> list[dict]:
    ranks = {n: i + 1 for i, n in enumerate(n for n, (w, _) in SKILLS.items() if w > 0)}
    return [{"name": n, "task": n[:3], "label": f"{n[-1]}-digit {n[:3]}", "weight": w, "eval_only": w == 0,
             "zipf_rank": ranks.get(n), "heldout_count": 2500, "chance": {"exact_match": 1e-3, "digit_accuracy": 0.1}}
            for n, (w, _) in SKILLS.items()]


def _metrics(x: float, rng: np.random.Generator, shifts: dict | None = None) -> dict:
    out = {"loss": 2.0 * 10 ** (-0.25 * (x - 10)) + 0.01 * rng.normal()}  # smooth power law
    for name, (_, x0) in SKILLS.items():
        x0 = None if x0 is None else x0 + (shifts or {}).get(name, 0.0)
        em = 0.0 if x0 is None else float(np.clip(analysis.sigmoid(x, 0.0, 1.0, x0, 0.05) + 0.01 * rng.normal(), 0, 1))
        out.update({f"{name}/exact_match": em, f"{name}/digit_accuracy": 0.1 + 0.9 * em ** 0.5,
                    f"{name}/edit_distance": 2 * (1 - em), f"{name}/answer_logprob": math.log(em + 1e-4),
                    f"{name}/answer_prob": em * 0.9, f"{name}/token_accuracy": 0.2 + 0.8 * em,
                    f"{name}/loss": 2.3 * (1 - em) + 0.05, f"{name}/position_accuracy": [em] * WIDTH})
    return out


def build_mixture_sweep(root: Path, seeds: tuple = SEEDS, shifts: dict | None = None) -> Path:
    """Runs of every size and seed; `shifts[seed][skill]` moves that seed's jump (decades)."""
    rng = np.random.default_rng(0)
    for model, flops in SIZES.items():
        for seed in seeds:
            run_dir = root / f"mix-{model}-s{seed}"
            run_dir.mkdir(parents=True)
            x = math.log10(flops) + 0.01 * seed
            final = _metrics(x, rng, (shifts or {}).get(seed))
            info = {"status": "completed", "task": "mix", "task_label": "mixture: add2 0.50, ...", "model": model,
                    "seed": seed, "flops": 10**x, "non_embedding_params": int(flops / 1e6), "eval_size": 500,
                    "skills": _skill_records(), "metrics": final}
            (run_dir / "run.json").write_text(json.dumps(info))
            cols = ["step", "flops", "loss", *(f"{n}/exact_match" for n in SKILLS)]
            rows = [[k, 10 ** (x - 2 + k / 2), final["loss"] * (1 + (4 - k) / 4)] + [0.0] * len(SKILLS)
                    for k in range(5)]
            rows[-1][3:] = [final[f"{n}/exact_match"] for n in SKILLS]
            (run_dir / "metrics.csv").write_text("\n".join([",".join(cols), *(",".join(map(str, r)) for r in rows)]))
    return root


@pytest.fixture(scope="module")
def mixture_report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = build_mixture_sweep(tmp_path_factory.mktemp("mix"))
    code = report.main([str(root), "--mirage", "sub2"])
    return {"root": root, "code": code, "summary": json.loads((root / "summary.json").read_text())}


def test_mixture_report_writes_the_abilities_figure_and_a_mirage_on_request(mixture_report):
    root = mixture_report["root"]
    assert mixture_report["code"] == 0
    for name in ("abilities.png", "mirage_sub2.png", "summary.json", "summary.md"):
        assert (root / name).is_file() and (root / name).stat().st_size > 0
    assert (root / "abilities.png").read_bytes()[:4] == b"\x89PNG"
    assert not (root / "emergence.png").exists() and not (root / "mirage_add2.png").exists()


def test_summary_json_has_skills_with_fits_by_metric_and_zipf_ranks(mixture_report):
    summary = mixture_report["summary"]
    assert list(summary["skills"]) == list(SKILLS)
    for name, skill in summary["skills"].items():
        assert set(analysis.METRICS) <= set(skill["fits"])
        assert {"threshold_flops", "threshold_ci", "floor", "ceiling", "breakthroughness"} <= set(
            skill["fits"]["exact_match"])
        assert skill["weight"] == SKILLS[name][0]
    assert [summary["skills"][n]["zipf_rank"] for n in SKILLS] == [1, 2, 3, 4, None]
    assert set(summary["fits"]) == {"loss"}  # the mixture's overall loss


def test_thresholds_per_skill_land_near_the_truth_in_order_and_separated(mixture_report):
    summary = mixture_report["summary"]
    skills = summary["skills"]
    for name in ("add2", "sub2", "add3"):
        head = skills[name]["headline"]
        assert abs(math.log10(head["threshold_flops"]) - SKILLS[name][1]) < 0.3, name
        low, high = head["threshold_ci"]  # open above (None) where only the largest size solves
        assert low < head["threshold_flops"] < (high or math.inf)
    assert skills["mul2"]["headline"]["side"] == "above"  # never learned: above the swept range, no number
    assert skills["add4"]["headline"]["side"] == "above"
    assert summary["threshold_order"][:3] == ["add2", "sub2", "add3"]
    assert summary["separated"] == ["add2", "sub2", "add3"]  # a decade apart: more than their intervals


def test_summary_md_tables_skills_in_threshold_order_with_intervals(mixture_report):
    text = (mixture_report["root"] / "summary.md").read_text()
    table = [line for line in text.splitlines() if line.startswith("| ") and "FLOPs" not in line]
    rows = [line.split(" | ")[0].strip("| ") for line in table if line.split(" | ")[0].strip("| ") in SKILLS]
    assert rows[:5] == ["add2", "sub2", "add3", "mul2", "add4"]
    assert "0 (evaluation only)" in text and "separated by more than their intervals:** 3" in text
    assert "![abilities.png](abilities.png)" in text


def test_a_skill_view_reads_the_prefixed_metrics_under_bare_names(mixture_report):
    sweep = analysis.load_sweep(mixture_report["root"])
    assert abilities.is_mixture(sweep)
    skill = abilities.skills_of(sweep)[1]
    view = abilities.skill_view(sweep.runs[0], skill)
    assert view.metric("exact_match") == sweep.runs[0].info["metrics"]["sub2/exact_match"]
    assert view.answer_length == WIDTH and view.eval_size == 500


def test_unknown_mirage_skill_is_one_line_exit_2(mixture_report, capsys):
    assert report.main([str(mixture_report["root"]), "--mirage", "div9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "div9" in err[0] and "add2" in err[0]


def build_arms_sweep(root: Path, seeds: tuple = SEEDS) -> Path:
    """Two arms of model.pos_embedding on one mixture: abacus learns add3 a decade earlier and the
    evaluation-only add4 at all."""
    rng = np.random.default_rng(1)
    jumps = {"learned": {"add3": 12.75, "add4": None}, "abacus": {"add3": 11.75, "add4": 12.25}}
    for arm, moved in jumps.items():
        for model, flops in SIZES.items():
            for seed in seeds:
                run_dir = root / f"mix-{model}-{arm}-s{seed}"
                run_dir.mkdir()
                x = math.log10(flops) + 0.01 * seed
                final = _metrics(x, rng)
                for name, x0 in moved.items():
                    final[f"{name}/exact_match"] = 0.0 if x0 is None else float(analysis.sigmoid(x, 0.0, 1.0, x0, 0.05))
                info = {"status": "completed", "task": "mix", "task_label": "mixture", "model": model, "seed": seed,
                        "flops": 10**x, "non_embedding_params": int(flops / 1e6), "eval_size": 500,
                        "skills": _skill_records(), "metrics": final,
                        "config": {"model": {"name": model, "pos_embedding": arm}, "seed": seed}}
                (run_dir / "run.json").write_text(json.dumps(info))
                (run_dir / "metrics.csv").write_text(f"step,flops,loss\n1,{10 ** (x - 1)},{final['loss']}\n")
    return root


def test_a_mixture_sweep_with_arms_compares_the_arms_per_skill(tmp_path, capsys):
    """The report gives each arm its abilities and each skill its arms; --split-seeds checks each arm's skills."""
    build_arms_sweep(tmp_path, seeds=(0, 1, 2, 3))
    assert report.main([str(tmp_path), "--split-seeds"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["arm_axis"] == "model.pos_embedding"
    assert sorted(summary["labels"]) == ["model.pos_embedding=abacus", "model.pos_embedding=learned"]
    for name in ("abilities_1.png", "abilities_2.png", "arms_add3.png", "arms_add4.png", "summary.md"):
        assert (tmp_path / name).is_file(), name
    learned, abacus = (summary["arms"][f"model.pos_embedding={arm}"]["skills"] for arm in ("learned", "abacus"))
    assert abs(math.log10(learned["add3"]["headline"]["threshold_flops"]) - 12.75) < 0.3
    assert abs(math.log10(abacus["add3"]["headline"]["threshold_flops"]) - 11.75) < 0.3
    assert learned["add4"]["headline"]["threshold_flops"] is None  # never learned in that arm
    shift = next(s for s in summary["skill_arms"]["add3"]["shifts"] if s["metric"] == "exact_match")
    sign = 1 if shift["from"].endswith("learned") else -1  # the shift is from the first arm to the second
    assert -1.3 < sign * shift["shift_decades"] < -0.7
    add2 = next(s for s in summary["skill_arms"]["add2"]["shifts"] if s["metric"] == "exact_match")
    assert abs(add2["shift_decades"]) < 0.3  # an unmoved skill does not shift
    for arm in summary["arms"].values():  # --split-seeds: every skill of every arm, on halves of the 4 seeds
        checks = {name: skill["split_half"] for name, skill in arm["skills"].items()}
        assert set(checks) == set(SKILLS) and all(c["n_seeds"] == 4 and len(c["splits"]) == 3 for c in checks.values())
        assert checks["add2"]["fraction_mutually_covered"] == 1.0  # every seed jumps at the same compute
    assert "split-half model.pos_embedding=abacus add3: 3 of 3 splits" in capsys.readouterr().out
    assert "split-half:" in (tmp_path / "summary.md").read_text()


def test_split_seeds_checks_each_skill_on_disjoint_halves_of_the_seeds(tmp_path, capsys):
    # Seeds 2 and 3 learn sub2 1.5 decades later than seeds 0 and 1; add2 jumps where it does for every seed.
    late = {"sub2": 1.5}
    root = build_mixture_sweep(tmp_path, seeds=(0, 1, 2, 3), shifts={2: late, 3: late})
    assert report.main([str(root), "--split-seeds"]) == 0
    skills = json.loads((root / "summary.json").read_text())["skills"]
    add2, sub2 = skills["add2"]["split_half"], skills["sub2"]["split_half"]
    assert add2["n_seeds"] == 4 and len(add2["splits"]) == 3  # {0,1}|{2,3}, {0,2}|{1,3}, {0,3}|{1,2}
    assert add2["fraction_mutually_covered"] == 1.0
    apart = next(s for s in sub2["splits"] if s["seeds_a"] == [0, 1])
    assert not (apart["a_in_b"] and apart["b_in_a"])  # the halves disagree: the check says so
    assert sub2["fraction_mutually_covered"] < 1.0
    out = capsys.readouterr().out
    assert "split-half add2: 3 of 3 splits" in out and "split-half sub2:" in out
    assert "## Split-half check per skill" in (root / "summary.md").read_text()


def test_without_split_seeds_a_mixture_summary_has_no_split_half(mixture_report):
    assert not any("split_half" in s for s in mixture_report["summary"]["skills"].values())

