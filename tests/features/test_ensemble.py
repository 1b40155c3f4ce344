"""Seed ensembles: several seeds trained as one stacked model, each member exactly the single run of its seed."""

import json
import signal

import pytest
import torch

from tests.helpers import SMALL_RUN, compose_train, read_metrics, run_cli
from toymodels.training import build
from toymodels.training.config import build_run
from toymodels.training.fit import fit_run
from toymodels.training.model import ModelConfig, Transformer
from toymodels.training.rundir import member_dirs

ENS = (*SMALL_RUN, "model=d8", "train.tokens=null", "train.steps=80", "train.checkpoint_every=30", "verbose=false")
MEMBERS = ("run", "run-s1", "run-s2")


def _record(run_dir):
    return json.loads((run_dir / "run.json").read_text())


def test_a_member_starts_and_computes_as_the_one_member_model_of_its_seed():
    cfg = ModelConfig(d_model=16, n_layer=2, n_head=2, context=12)
    ensemble, single = Transformer(cfg, 3, seeds=[5, 6, 7]), Transformer(cfg, 1, seeds=[6])
    for ours, theirs in zip(ensemble.parameters(), single.parameters()):
        assert torch.equal(ours[1:2], theirs)  # the same initialisation, bit for bit
    idx = torch.randint(0, cfg.vocab_size, (3, 8, 12))
    assert torch.allclose(ensemble(idx)[1], single(idx[1]), atol=1e-5)
    # Members do not mix: changing member 0's input leaves member 1's output alone.
    other = idx.clone()
    other[0] = torch.randint(0, cfg.vocab_size, (8, 12))
    assert torch.equal(ensemble(other)[1], ensemble(idx)[1])
    assert torch.equal(ensemble.member(1)(idx[1]), single(idx[1]))


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    """Three seeds (0, 1, 2) trained as one ensemble; the run folders of its members."""
    root = tmp_path_factory.mktemp("ensemble")
    proc = run_cli("toymodels.cli.train", *ENS, "train.ensemble=3", f"hydra.run.dir={root / 'run'}", cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [root / name for name in MEMBERS]


@pytest.mark.slow
def test_each_member_writes_the_single_run_of_its_seed(tmp_path, ensemble):
    assert [_record(d)["status"] for d in ensemble] == ["completed"] * 3
    assert [_record(d)["seed"] for d in ensemble] == [0, 1, 2]
    assert (ensemble[0] / "checkpoints" / "last.ckpt").exists()  # one checkpoint holds the whole ensemble
    single_dir = tmp_path / "single"
    proc = run_cli("toymodels.cli.train", *ENS, "seed=2", f"hydra.run.dir={single_dir}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    member, single = _record(ensemble[2]), _record(single_dir)
    for key in ("flops", "tokens", "flops_6nd", "step", "params", "max_flops", "chance"):
        assert member[key] == single[key], key  # a member's compute is its own, not the ensemble's
    points, reference = read_metrics(ensemble[2]), read_metrics(single_dir)
    assert [p["step"] for p in points] == [p["step"] for p in reference]
    # Batched and one-member kernels add in different orders: float32 rounding (~1e-7 a product)
    # compounds over 80 AdamW steps to ~1e-6 relative in the weights. Teacher-forced metrics agree to
    # 1e-4; a greedy answer may flip on a near-tie, so exact match may differ by 2 of the 500 problems.
    for a, b in zip(points, reference):
        for key in ("loss", "answer_logprob", "answer_prob", "token_accuracy"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), (a["step"], key)
        for key in ("exact_match", "digit_accuracy"):
            assert a[key] == pytest.approx(b[key], abs=2 / 500), (a["step"], key)


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [("KILL", -signal.SIGKILL), ("TERM", 143)])
def test_an_interrupted_ensemble_resumes_every_member_to_the_same_result(tmp_path, ensemble, sig, code):
    run_dir = tmp_path / "run"
    stopped = run_cli("tests.interrupt", "--after-points", "9", "--signal", sig, "--", *ENS, "train.ensemble=3",
                      f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert stopped.returncode == code, stopped.stderr[-2000:]
    members = [tmp_path / name for name in MEMBERS]
    assert [_record(d)["status"] for d in members] == ["running"] * 3
    # A member cannot be resumed on its own: the ensemble's checkpoint holds it.
    alone = run_cli("toymodels.cli.train", *ENS, "seed=1", f"hydra.run.dir={members[1]}", cwd=tmp_path)
    assert alone.returncode == 2 and "member of the seed ensemble" in alone.stderr, alone.stderr[-2000:]
    again = run_cli("toymodels.cli.train", *ENS, "train.ensemble=3", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    for resumed, reference in zip(members, ensemble):
        assert _record(resumed)["status"] == "completed"
        a, b = read_metrics(resumed), read_metrics(reference)
        assert [p["step"] for p in a] == [p["step"] for p in b]  # none missing or doubled
        for p, q in zip(a, b):  # the same computation as the uninterrupted ensemble
            for key in ("exact_match", "answer_logprob", "loss"):
                assert p[key] == pytest.approx(q[key], abs=1e-6), (p["step"], key)


@pytest.mark.slow
def test_a_diverging_member_is_recorded_as_diverged_and_the_others_go_on(tmp_path, monkeypatch):
    make_module = build.make_module

    def poisoned(run_cfg):
        module = make_module(run_cfg)
        with torch.no_grad():
            module.model.blocks[0].attn.qkv.weight[1] = float("inf")  # member 1's loss is nan at once
        return module

    monkeypatch.setattr(build, "make_module", poisoned)
    run_cfg = build_run(compose_train(*ENS, "train.steps=30", "train.ensemble=3"))
    members = member_dirs(run_cfg, tmp_path / "run")
    for _, member_dir in members:  # train_run() makes them while taking their locks
        member_dir.mkdir()
    fit_run(run_cfg, members, in_sweep=True)
    records = [_record(d) for _, d in members]
    assert [r["status"] for r in records] == ["completed", "diverged", "completed"]
    assert "training loss became nan at step 0" in records[1]["message"]
    assert records[0]["step"] == records[2]["step"] == 30 and read_metrics(members[2][1])[-1]["step"] == 30


@pytest.mark.slow
def test_ensemble_refusals_are_one_line_and_write_nothing(tmp_path):
    bad = run_cli("toymodels.cli.train", *ENS, "train.ensemble=0", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert bad.returncode == 2 and "train.ensemble=0 must be > 0" in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()
    # Seed 1 was trained on its own already: an ensemble over seeds 0-1 would train it again.
    done = run_cli("toymodels.cli.train", *ENS, "train.steps=5", "seed=1", f"hydra.run.dir={tmp_path / 'run-s1'}",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    again = run_cli("toymodels.cli.train", *ENS, "train.steps=5", "train.ensemble=2",
                    f"hydra.run.dir={tmp_path / 'run'}",
                    cwd=tmp_path)
    assert again.returncode == 2 and "already holds a completed run" in again.stderr, again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_sweep_whose_ensembles_overlap_is_refused_before_anything_runs(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("toymodels.cli.train", "-m", *ENS, "seed=0,1", "train.ensemble=2", f"hydra.sweep.dir={sweep}",
                   cwd=tmp_path)
    assert proc.returncode == 2 and "two jobs would train seed 1" in proc.stderr, proc.stderr
    assert "seed=0,2" in proc.stderr and not sweep.exists()


def test_a_sweep_whose_run_names_collide_is_refused_with_the_fix(tmp_path):
    sweep = tmp_path / "sweep"
    proc = run_cli("toymodels.cli.train", "-m", *ENS, "model.n_head=2,4", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 2 and "does not tell them apart" in proc.stderr, proc.stderr
    assert not sweep.exists()
