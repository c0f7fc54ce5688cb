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
    cal_bytes = cal.read_bytes()
    cal_before = len(_lines(cal))
    cached = cache / "profiles" / "local.json"
    cached_bytes = cached.read_bytes()
    sha_before = json.loads(cached_bytes)
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
    # each measurement names its protocol (that of `measure`) and host
    assert all(r["protocol"].startswith("lfn-measure/1: fresh process") and r["host"]["cpu"]
               for r in measures)
    # every measurement is in the run's copy of the calibration journal, once, and the run's
    # profile was refitted; the cached profile and its journal are byte for byte as they were
    own = run / "verify" / "calibration.jsonl"
    verified = [r for r in _lines(own) if r.get("kind") == "model" and r.get("source") == "verify"]
    assert sorted(r["ms"] for r in verified) == sorted(after.values())
    assert len(_lines(own)) == cal_before + len(after)
    refits = [r for r in recs if r["kind"] == "refit" and r["sha"] != r.get("from_sha")]
    assert refits
    assert cached.read_bytes() == cached_bytes and cal.read_bytes() == cal_bytes
    mine = json.loads((run / "verify" / "profile.json").read_text())
    assert mine["error"]["n_models"] == sha_before["error"]["n_models"] + len(after)
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
    assert "latency profile local:" in summary  # just calibrated: its level is the baseline's
    assert "level as calibrated (reference set timed 20" in summary
    assert "measured here" in (run / "pareto.html").read_text()
    # a rerun changes nothing: nothing left to measure
    assert main(args + ["--quiet"]) == 0
    assert [r for r in _lines(log) if r["kind"] == "measure"] == measures
    assert cached.read_bytes() == cached_bytes
    # on request (the flag of search / verify, or calibrate --update-from), the run's
    # measurements go into the cached profile (and its journal), once
    assert main(["verify", str(run), "--quiet", "--update-profile"]) == 0
    now = json.loads(cached.read_text())
    assert now["error"]["n_models"] == mine["error"]["n_models"]
    assert len(_lines(cal)) == cal_before + len(after)
    assert main(["calibrate", "--update-from", str(run)]) == 0  # nothing new: no row twice
    assert len(_lines(cal)) == cal_before + len(after)


def test_level_check_relevels_beside_the_profile(local_cache, tmp_path, monkeypatch, capsys):
    """The calibration timed the reference set; ``calibrate --check-level`` times it again
    in a fresh worker, keeps the check beside the cached profile (whose bytes stay as they
    were), and the target then predicts at the checked level and says so."""
    import statistics

    from lowformer_nas.latency import get_target, load_profile
    from lowformer_nas.latency.targets.level import REFERENCE_SET, load_check

    monkeypatch.setenv("LOWFORMER_NAS_CACHE", str(local_cache))
    cached = local_cache / "profiles" / "local.json"
    before = cached.read_bytes()
    ref = json.loads(before)["reference"]
    assert list(ref["ms"]) == list(REFERENCE_SET) and all(v > 0 for v in ref["ms"].values())
    assert ref["protocol"].startswith("lfn-measure/1: fresh process")
    assert main(["calibrate", "--device", "local", "--check-level"]) == 0
    assert "level check" in capsys.readouterr().out
    assert cached.read_bytes() == before
    check = load_check(cached)
    assert check is not None and check.profile_sha == load_profile(cached).base_sha256
    assert check.ratio == round(statistics.median(
        check.now_ms[n] / check.baseline_ms[n] for n in REFERENCE_SET), 4)
    prof = get_target("local")
    assert prof.data["level"] == check.to_dict() and "level check" in prof.describe()
    assert prof.level_factor == (check.ratio if check.moved else 1.0)
    # a search measuring here checks the level of a baseline older than FRESH_S first, and
    # keeps the check only once its run directory is open (bad input changes nothing)
    data = json.loads(before)
    data["reference"]["at"] = "2026-01-01T00:00:00+00:00"
    cached.write_text(json.dumps(data))
    sidecar = cached.with_name("local.level.json")
    kept = sidecar.read_bytes()
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "x.txt").write_text("not a run")
    args = ["search", "--target", "local", "--latency-budget", _budget(local_cache), "--space",
            "tiny", "--trials", "4", "--references", "none"]
    assert main(args + ["--out", str(junk)]) == 2
    assert sidecar.read_bytes() == kept
    assert main(args + ["--out", str(tmp_path / "run")]) == 0
    check = load_check(cached)
    assert check is not None and check.checked_at > "2026-12" and sidecar.read_bytes() != kept
    assert check.baseline_at == "2026-01-01T00:00:00+00:00"
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "level check" in config and check.checked_at in config


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
        measured = float(by_number[p["number"]]["measured_ms"])
        assert measured == pytest.approx(got[f"zc-{p['number']}"])
        assert "measured" in (run / "models" / f"{name}.yaml").read_text().splitlines()[1]
    user = cache / "profiles" / "jetson-tx2.json"
    assert not user.exists()  # the refit is the run's until asked for
    assert "verified search picks" in json.loads(
        (run / "verify" / "profile.json").read_text())["provenance"]
    assert main(["calibrate", "--update-from", str(run)]) == 0
    prof = json.loads(user.read_text())
    assert "verified search picks" in prof["provenance"]
    assert any(m.get("arch") for m in prof["measurements"])


def test_verify_loop_and_measure_agree(tmp_path, monkeypatch):
    """The verify loop's timing (a fresh worker) and `lowformer-nas measure` of the same YAML,
    one after the other: the same protocol, and the same latency within a generous tolerance
    (a protocol check, not a speed assertion)."""
    from types import SimpleNamespace

    from lowformer_nas.arch.yaml_io import config_to_dict, save_config
    from lowformer_nas.search.verify import Verifier
    from lowformer_nas.space import load_space

    monkeypatch.setenv("LOWFORMER_NAS_CACHE", str(tmp_path / "cache"))
    cfg = load_space("tiny").sample(3)
    path = tmp_path / "tiny.yaml"
    save_config(cfg, str(path))
    key = json.dumps(config_to_dict(cfg), sort_keys=True, separators=(",", ":"))
    fake = SimpleNamespace(current=SimpleNamespace(host={"backend": "torch", "threads": 1}),
                           resolution=64)
    ratios = []
    for _ in range(3):  # a shared machine can stall one timing: up to three pairs
        loop = Verifier._measure(fake, [key])[0]
        out = subprocess.run([sys.executable, "-m", "lowformer_nas", "measure", str(path),
                              "--resolution", "64", "--json"], env=_env(tmp_path / "cache"),
                             check=True, capture_output=True, text=True).stdout
        cli = json.loads(out.strip().splitlines()[-1])
        assert loop["protocol"] == cli["protocol"] and loop["host"] == cli["host"]
        ratios.append(loop["latency_ms"] / cli["latency_ms"])
        if 1 / 1.5 < ratios[-1] < 1.5:
            break
    assert 1 / 1.5 < ratios[-1] < 1.5, ratios


def test_update_profile_bad_input(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LOWFORMER_NAS_CACHE", str(tmp_path / "cache"))
    assert main(["calibrate", "--update-from", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0] and "Traceback" not in err[0]
    assert main(["search", "--target", "local", "--latency-budget", "5ms", "--no-verify",
                 "--update-profile", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--no-verify" in err[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()
