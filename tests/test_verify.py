"""Measure-and-refit on a real `local` calibration (tiny space), and the kit round trip.

Real timings throughout (no mocked numbers); nothing here asserts on speed or accuracy:
those figures live in benchmarks/verify_picks.py.
"""
from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lowformer_nas.cli import main

pytestmark = pytest.mark.slow


def _env(cache: Path) -> dict:
    return dict(os.environ, LOWFORMER_NAS_CACHE=str(cache), PYTHONUNBUFFERED="1")


def _lines(path: Path) -> list:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] \
        if path.is_file() else []


@pytest.fixture(scope="module")
def local_cache(tmp_path_factory):
    """A real `local` calibration of this machine on the tiny space (short budget)."""
    cache = tmp_path_factory.mktemp("cache")
    subprocess.run([sys.executable, "-m", "lowformer_nas", "calibrate", "--device", "local",
                    "--space", "tiny", "--budget-minutes", "0.5", "--no-progress"],
                   env=_env(cache), check=True, stdout=subprocess.DEVNULL)
    return cache


def _budget(cache: Path) -> str:
    """About the median of random tiny configs' latency as the search judges it (the default
    --budget-quantile of this profile): some picks fit, some do not."""
    from lowformer_nas.latency import get_target
    from lowformer_nas.search.feasibility import BudgetRule, default_quantile
    from lowformer_nas.space import load_space

    prof, space = get_target("local"), load_space("tiny")
    rule = BudgetRule(1.0, default_quantile(prof), prof)
    rng = random.Random(0)
    preds = [prof.predict(space.sample(rng), 32) for _ in range(40)]
    lat = sorted(rule.budget_latency(p.latency_ms, p.std_ms) for p in preds)
    return f"{lat[len(lat) // 2]:.4f}ms"


def _rows(run: Path) -> list:
    with open(run / "trials.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_loop_measures_refits_and_survives_sigkill(local_cache, tmp_path, monkeypatch):
    cache = local_cache
    monkeypatch.setenv("LOWFORMER_NAS_CACHE", str(cache))
    cal = next((cache / "calibration").glob("local-*.jsonl"))
    cal_before = len(_lines(cal))
    sha_before = json.loads((cache / "profiles" / "local.json").read_text())
    run = tmp_path / "run"
    args = ["search", "--target", "local", "--latency-budget", _budget(cache), "--space",
            "tiny", "--trials", "16", "--references", "none", "--out", str(run)]
    # default flags (progress on, --verify by default); killed once it has measured picks
    proc = subprocess.Popen([sys.executable, "-m", "lowformer_nas"] + args, env=_env(cache),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = run / "verify" / "journal.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if any(r["kind"] == "measure" for r in _lines(log)):
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    before = {r["key"]: r["ms"] for r in _lines(log) if r["kind"] == "measure"}
    assert before

    assert main(args) == 0  # the same command resumes and finishes
    recs = _lines(log)
    measures = [r for r in recs if r["kind"] == "measure"]
    keys = [r["key"] for r in measures]
    assert len(keys) == len(set(keys))  # nothing measured twice
    after = {r["key"]: r["ms"] for r in measures}
    assert all(after[k] == ms for k, ms in before.items())  # nothing measured is lost
    # every measurement is in the calibration journal, once, and the profile was refitted
    verified = [r for r in _lines(cal) if r.get("kind") == "model" and r.get("source") == "verify"]
    assert sorted(r["ms"] for r in verified) == sorted(after.values())
    assert len(_lines(cal)) == cal_before + len(after)
    refits = [r for r in recs if r["kind"] == "refit" and r["sha"] != r.get("from_sha")]
    assert refits
    now = json.loads((cache / "profiles" / "local.json").read_text())
    assert now != sha_before and now["error"]["n_models"] > sha_before["error"]["n_models"]
    assert (run / "verify" / "profile.json").read_text() == \
        (cache / "profiles" / "local.json").read_text()
    # B0-B3 come from measured latencies, shown beside the prediction and its profile
    rows = _rows(run)
    by_number = {int(r["number"]): r for r in rows}
    data = json.loads((run / "pareto.json").read_text())
    assert data["latency_basis"] == "measured"
    picks = [p for p in data["family"].values() if p]
    assert picks
    for name, p in data["family"].items():
        if p is None:
            continue
        row = by_number[p["number"]]
        assert row["measured_ms"] and float(row["latency_ms"]) == float(row["measured_ms"])
        assert float(row["measured_ms"]) <= data["budget_ms"]
        assert row["profile_sha"] == refits[-1]["sha"][:12] and row["predicted_ms"]
        head = (run / "models" / f"{name}.yaml").read_text().splitlines()[1]
        assert "measured" in head and "predicted by profile sha256" in head
    summary = (run / "summary.md").read_text()
    assert "measured (ms)" in summary and refits[-1]["sha"][:12] in summary
    assert "measured here" in (run / "pareto.html").read_text()
    # a rerun changes nothing: nothing left to measure
    assert main(args + ["--quiet"]) == 0
    assert [r for r in _lines(log) if r["kind"] == "measure"] == measures


def test_kit_runner_results_import(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("LOWFORMER_NAS_CACHE", str(cache))
    run = tmp_path / "run"
    assert main(["search", "--target", "jetson", "--latency-budget", "2ms", "--space", "tiny",
                 "--trials", "10", "--references", "none", "--out", str(run)]) == 0
    kit = run / "verify" / "kit"
    assert "verification kit" in capsys.readouterr().out
    manifest = json.loads((kit / "manifest.json").read_text())
    data = json.loads((run / "pareto.json").read_text())
    assert data["latency_basis"] == "predicted" and manifest["items"]
    assert {f"zc-{n}" for n in data["front"]} <= {i["id"] for i in manifest["items"]}
    # the standalone runner, here, writes the results the device would
    subprocess.run([sys.executable, "run_kit.py", "--runs", "6"], cwd=kit, check=True,
                   stdout=subprocess.DEVNULL)
    results = kit / "results.csv"
    bad = tmp_path / "missing.csv"
    before = (run / "summary.md").read_text()
    assert main(["verify", str(run), "--import", str(bad)]) == 2
    assert "missing.csv" in capsys.readouterr().err and (run / "summary.md").read_text() == before
    assert main(["verify", str(run), "--import", str(results)]) == 0
    data = json.loads((run / "pareto.json").read_text())
    assert data["latency_basis"] == "measured"
    got = {r["id"]: float(r["ms"]) for r in csv.DictReader(results.open())}
    by_number = {int(r["number"]): r for r in _rows(run)}
    for name, p in data["family"].items():
        if p is None:
            continue
        assert float(by_number[p["number"]]["measured_ms"]) == pytest.approx(got[f"zc-{p['number']}"])
        assert "measured" in (run / "models" / f"{name}.yaml").read_text().splitlines()[1]
    prof = json.loads((cache / "profiles" / "jetson-tx2.json").read_text())
    assert "verified search picks" in prof["provenance"]
    assert any(m.get("arch") for m in prof["measurements"])
