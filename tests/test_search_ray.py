"""The Ray Tune backend on a real local Ray instance: same run directory layout as Optuna."""
import csv

import pytest

from lowformer_nas.cli import main

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_two_stage_with_asha(tmp_path, local_ray):
    out = tmp_path / "ray-run"
    args = ["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
            "--backend", "ray", "--proxy", "two-stage", "--trials", "10", "--top-k", "4",
            "--epochs", "3", "--max-train", "400", "--references", "none", "--quiet",
            "--out", str(out)]
    assert main(args) == 0
    for name in ("config.yaml", "trials.csv", "pareto.html", "pareto.json", "summary.md",
                 "study.journal"):
        assert (out / name).is_file(), name
    with open(out / "trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    zc = [r for r in rows if r["stage"] == "zc"]
    train = [r for r in rows if r["stage"] == "train"]
    assert len(zc) == 10 and len(train) == 4
    for r in zc:
        assert r["feasible"] == str(float(r["latency_ms"]) <= 1.0)
    assert {r["state"] for r in train} <= {"COMPLETE", "PRUNED"}
    assert all(r["feasible"] == "True" for r in train)  # only feasible configs are trained
    assert "Spearman" in (out / "summary.md").read_text()
    assert main(args) == 0  # rerun: nothing left, nothing duplicated
    with open(out / "trials.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 14
