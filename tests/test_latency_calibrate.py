"""Real measurements (no mocked timings) on tiny configs: measure, calibrate, resume, kit.

No timing thresholds here: accuracy targets live in benchmarks/latency_accuracy.py.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clirun import sigint_as_in_a_terminal
from lowformer_nas.cli import main
from lowformer_nas.latency import get_target, load_profile, measure_latency
from lowformer_nas.latency.measurement.host import architecture, cpu_model

pytestmark = pytest.mark.slow
CAL = ["calibrate", "--device", "testdev", "--space", "tiny", "--resolution", "64",
       "--no-progress"]


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWFORMER_NAS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize("backend", ["torch", "torchscript", "onnxruntime"])
def test_measure_backends(backend):
    m = measure_latency("lowformer_test", resolution=64, backend=backend, threads=1, min_time_s=0.2)
    assert m.p10_ms <= m.latency_ms <= m.p90_ms and m.n >= 15 and m.backend == backend


def test_measure_cli_json(capsys):
    assert main(["measure", "lowformer_test", "--resolution", "64", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["latency_ms"] > 0 and {"p10_ms", "p90_ms", "n", "threads"} <= set(data)


def _journal_lines(cache: Path) -> int:
    files = list((cache / "calibration").glob("testdev-*.jsonl"))
    return sum(1 for _ in files[0].open()) if files else 0


def test_calibrate_interrupt_resume_and_profile(cache, tmp_path, capsys):
    # 1) a calibration interrupted by Ctrl-C keeps what it measured
    env = dict(os.environ, LOWFORMER_NAS_CACHE=str(cache))
    proc = subprocess.Popen([sys.executable, "-m", "lowformer_nas"] + CAL +
                            ["--budget-minutes", "1"], env=env, stderr=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            preexec_fn=sigint_as_in_a_terminal)
    deadline = time.time() + 60
    while _journal_lines(cache) < 40 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    kept = _journal_lines(cache)
    assert proc.returncode == 130 and "rerun to continue" in err and kept >= 40
    # 2) rerunning continues from the journal and writes a complete profile; as the user
    # runs it (progress on), with the minute that also times other families' whole models
    out = tmp_path / "testdev.json"
    as_users_run = [a for a in CAL if a != "--no-progress"]
    assert main(as_users_run + ["--budget-minutes", "1", "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "testdev" in shown and f"host: {cpu_model()} ({architecture()}" in shown
    grown = _journal_lines(cache)
    assert grown > kept
    prof = load_profile(out)
    data = prof.data
    assert data["status"] == "calibrated" and data["error"]["n_models"] >= 4
    assert {"cpu", "machine", "cores", "torch", "backend", "threads"} <= set(data["host"])
    assert data["host"]["measured_here"] is True and data["host"]["machine"] == architecture()
    assert data["created"] and data["params"]["corrections"]
    sides = {r["resolution"] for r in map(json.loads, Path(data["journal"]).read_text()
                                           .splitlines()) if r.get("kind") == "model"}
    assert data["resolutions"] == [min(sides), max(sides)]
    _check_family_level(data, capsys)
    # 3) the user profile is now the target of that name; predictions come with uncertainty
    from lowformer_nas.arch.registry import get_arch

    p = get_target("testdev").predict(get_arch("lowformer_test"), resolution=64)
    assert p.latency_ms > 0 and p.std_ms > 0
    # 4) a rerun with the budget already spent only refits (nothing timed again)
    assert main(CAL + ["--budget-minutes", "1"]) == 0
    assert _journal_lines(cache) == grown


def _check_family_level(data, capsys):
    """The calibration timed the family models once and a timm model is predicted at the
    level they set, saying so."""
    import timm

    from lowformer_nas.latency.fitting.families import FAMILY_MODELS

    known = [n for n in FAMILY_MODELS if timm.is_model(n)]
    fams = [r for r in map(json.loads, Path(data["journal"]).read_text().splitlines())
            if r.get("kind") == "family"]
    assert [r["name"] for r in fams] == known and all(r["ms"] > 0 for r in fams)
    level = data["params"]["family_level"]
    assert level["n_models"] == len(known) and level["scale"] > 0
    assert f"{len(known)} of other families for their level" in data["provenance"]
    assert main(["predict", "resnet10t", "--target", "testdev", "--resolution", "64"]) == 0
    shown = capsys.readouterr().out
    assert f"basis: traced; isolated kernel times x {level['scale']:.2f} + " in shown
    assert f"the level of {len(known)} whole timm models of other families" in shown


def test_export_kit_runner_and_import(cache, tmp_path, capsys):
    from lowformer_nas.latency import write_kit

    kit = write_kit(str(tmp_path / "kit"), space="tiny", resolutions=[64], n_kernels=30,
                     n_models=5)
    assert (kit / "run_kit.py").is_file() and list((kit / "onnx").glob("*.onnx"))
    results = tmp_path / "results.csv"
    subprocess.run([sys.executable, str(kit / "run_kit.py"), "--out", str(results),
                    "--runs", "3"], check=True, capture_output=True)
    out = tmp_path / "board.json"
    assert main(["calibrate", "--device", "arm", "--import-measurements", str(results),
                 "--out", str(out)]) == 0
    prof = load_profile(out)
    assert prof.name == "rpi5" and prof.data["status"] == "calibrated"
    # the kit's runner wrote its host facts into results.csv; the profile records them
    assert prof.host["cpu"] == cpu_model() and prof.host["measured_here"] is False
    assert prof.host["onnxruntime"] and prof.host["machine"] and prof.host["cores"]
    assert "rows from results.csv" in prof.describe_host()
    # a results.csv resumed from an older runner (no host columns) keeps its columns
    old = tmp_path / "old.csv"
    old.write_text(",".join(results.read_text().splitlines()[0].split(",")[:6]) + "\n")
    subprocess.run([sys.executable, str(kit / "run_kit.py"), "--out", str(old), "--runs", "1"],
                   check=True, capture_output=True)
    assert main(["calibrate", "--device", "old-board", "--import-measurements", str(old)]) == 0
    assert "cpu" not in get_target("old-board").host
    assert "calibrated" in get_target("arm").describe()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,kind\n1,kernel\n")
    capsys.readouterr()
    assert main(["calibrate", "--device", "arm", "--import-measurements", str(bad)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_refit_with_measured_models_grows_journal_and_changes_fit(cache, tmp_path):
    """What the search's verify loop does: whole models measured here join the journal."""
    from lowformer_nas.arch.registry import get_arch
    from lowformer_nas.errors import ProfileError
    from lowformer_nas.latency.targets.calibrate import refit_with_models

    out = tmp_path / "refit.json"
    assert main(CAL + ["--device", "refitdev", "--budget-minutes", "0.3", "--out",
                       str(out)]) == 0
    prof = load_profile(out)
    sources = {r.get("source") for r in map(json.loads, open(prof.data["journal"]))
               if r.get("kind") == "model"}
    assert "random" in sources  # adaptive ones follow once there are >= 4 to fit on
    assert prof.data["params"]["interval"]["n"] == prof.data["error"]["n_models"]
    cfg = get_arch("lowformer_test")
    m = measure_latency(cfg, resolution=64, threads=1, min_time_s=0.2)
    lines = sum(1 for _ in open(prof.data["journal"]))
    with pytest.raises(ProfileError, match="must be > 0"):
        refit_with_models(prof, [{"arch": cfg, "ms": -1.0, "resolution": 64}])
    assert sum(1 for _ in open(prof.data["journal"])) == lines  # a bad row appends nothing
    new = refit_with_models(prof, [{"arch": cfg, "ms": m.latency_ms, "resolution": 64}])
    assert sum(1 for _ in open(prof.data["journal"])) == lines + 1
    assert new.data["error"]["n_models"] == prof.data["error"]["n_models"] + 1
    assert new.sha256 != prof.sha256 and "1 verify" in new.data["provenance"]
    p = new.predict(cfg, resolution=64)
    assert p.quantile(0.05) < p.latency_ms < p.quantile(0.95)
    with pytest.raises(ProfileError, match="no calibration journal"):
        refit_with_models(get_target("jetson"), [{"arch": cfg, "ms": 1.0}])


def test_cpu_clock_measures_and_is_checked(monkeypatch):
    """$LOWFORMER_NAS_CLOCK=cpu times process CPU time (shared machines); wrong uses fail."""
    from lowformer_nas.errors import ConfigError

    monkeypatch.setenv("LOWFORMER_NAS_CLOCK", "cpu")
    m = measure_latency("lowformer_test", resolution=64, threads=1, min_time_s=0.2)
    assert 0 < m.p10_ms <= m.latency_ms <= m.p90_ms
    with pytest.raises(ConfigError, match="one CPU thread"):
        measure_latency("lowformer_test", resolution=64, threads=2, min_time_s=0.2)
    monkeypatch.setenv("LOWFORMER_NAS_CLOCK", "sundial")
    with pytest.raises(ConfigError, match="'sundial'"):
        measure_latency("lowformer_test", resolution=64, threads=1, min_time_s=0.2)
