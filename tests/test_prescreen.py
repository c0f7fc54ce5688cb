"""Surrogate pre-screen: ranks candidates by what it learned, and drives a two-stage search."""
import json

from lowformer_nas.cli import main
from lowformer_nas.rundir.rows import read_trials_csv
from lowformer_nas.search.prescreen import surrogate_order
from lowformer_nas.space import load_space


def test_surrogate_ranks_by_the_feature_that_predicted_accuracy():
    """Accuracy = zico score in the trained points (one config, so only the scores vary):
    the best-zico candidate goes first, the worst last."""
    cfgs = [load_space("tiny").sample(0)] * 12
    feats = [{"latency_ms": 1.0, "zico": float(i % 6), "naswot": 5.0} for i in range(12)]
    trained = [(cfgs[i], feats[i], 0.5 + 0.05 * feats[i]["zico"]) for i in range(6)]
    cands = [(cfgs[i], dict(feats[i], zico=z)) for i, z in zip(range(6, 12), [1, 4, 0, 5, 2, 3])]
    order = surrogate_order(cands, trained, seed=0)
    assert order[0] == 3 and order[-1] == 2  # zico 5 first, zico 0 last
    assert surrogate_order(cands, trained[:3], seed=0) is None  # too few trained points


def test_two_stage_with_surrogate_prescreen_on_the_tiny_space(tmp_path):
    out = tmp_path / "run"
    code = main(["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
                 "--proxy", "two-stage", "--prescreen", "surrogate", "--trials", "16",
                 "--top-k", "6", "--epochs", "1", "--max-train", "60", "--max-val", "30",
                 "--references", "none", "--out", str(out)])
    assert code == 0
    rows = [r for r in read_trials_csv(out / "trials.csv") if r["stage"] == "train"]
    assert len(rows) == 6 and len({r["config"] for r in rows}) == 6
    fid = json.loads((out / "surrogate.json").read_text())
    assert fid["n"] >= 4 and "leave-one-out Spearman" in fid["text"]
    assert "Surrogate pre-screen" in (out / "summary.md").read_text()


def test_random_sampler_runs(tmp_path):
    out = tmp_path / "rand"
    assert main(["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
                 "--sampler", "random", "--trials", "6", "--references", "none",
                 "--out", str(out)]) == 0
    assert len(read_trials_csv(out / "trials.csv")) == 6


def test_surrogate_prescreen_outside_two_stage_is_refused(tmp_path, capsys):
    out = tmp_path / "bad"
    assert main(["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
                 "--prescreen", "surrogate", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--prescreen surrogate" in err and "two-stage" in err and len(err.splitlines()) == 1
    assert not out.exists()
