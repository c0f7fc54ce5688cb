"""Same seed and options, zero-cost proxy, fixed target -> the same trials and the same B0-B3.

Two separate run directories, the built-in ``jetson`` profile (predicted latency, so no
timing enters; a private cache so no user profile can stand in for it). Only ``seconds``
(wall time per trial) may differ. A run with another seed must differ, so the equality
is not vacuous.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

import lowformer_nas
from lowformer_nas.cli import main

SEED = 5
SEARCH = ["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
          "--trials", "8", "--references", "none", "--quiet"]
WALL_CLOCK = ("seconds",)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("determinism")
    out = {"a": base / "a", "b": base / "b", "other": base / "other"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOWFORMER_NAS_CACHE", str(base / "cache"))
        for name, path in out.items():
            seed = SEED + 1 if name == "other" else SEED
            assert main(SEARCH + ["--seed", str(seed), "--out", str(path)]) == 0
    return out


def _trials(run: Path) -> list[dict[str, str]]:
    with open(run / "trials.csv", newline="") as fh:
        return [{k: v for k, v in r.items() if k not in WALL_CLOCK} for r in csv.DictReader(fh)]


def _family(run: Path) -> dict[str, str]:
    """B*.yaml texts with the run directory (named in the header) replaced by RUN."""
    return {p.name: p.read_text().replace(str(run), "RUN")
            for p in sorted((run / "models").glob("B*.yaml"))}


def test_same_seed_same_trials(runs):
    a, b = _trials(runs["a"]), _trials(runs["b"])
    assert len(a) == 8 and all(r["config"] and r["state"] == "COMPLETE" for r in a)
    assert any(r["score"] for r in a)  # some feasible, scored trials to compare
    assert a == b  # configs, latencies, zero-cost scores, states, order


def test_same_seed_same_family_yaml(runs):
    fam_a, fam_b = _family(runs["a"]), _family(runs["b"])
    assert fam_a and fam_a == fam_b
    for text in fam_a.values():
        assert "RUN" in text and "sha256" in text


def test_same_seed_same_pareto_data(runs):
    a, b = (json.loads((runs[k] / "pareto.json").read_text()) for k in ("a", "b"))
    assert a["front"] == b["front"] and a["family"] == b["family"]
    assert a["hypervolume"] == b["hypervolume"]


def test_another_seed_gives_other_trials(runs):
    configs = {k: [r["config"] for r in _trials(runs[k])] for k in ("a", "other")}
    assert configs["a"] != configs["other"]


def test_config_yaml_records_seeds_versions_and_profile_hash(runs):
    from lowformer_nas.latency import get_target

    docs = [yaml.safe_load((runs[k] / "config.yaml").read_text()) for k in ("a", "b")]
    for doc in docs:
        assert doc["settings"]["seed"] == SEED
        assert doc["seeds"]["seed"] == SEED
        assert {"data_split", "weight_init", "proxy_batches", "sampler"} <= set(doc["seeds"])
        versions = doc["versions"]
        assert versions["lowformer-nas"] == lowformer_nas.__version__
        for pkg in ("torch", "timm", "optuna"):
            assert versions[pkg][0].isdigit(), (pkg, versions[pkg])
        assert doc["profile"]["sha256"] == get_target("jetson").sha256
        assert doc["machine"]["torch_threads"] >= 1
    assert docs[0]["seeds"] == docs[1]["seeds"] and docs[0]["profile"] == docs[1]["profile"]
