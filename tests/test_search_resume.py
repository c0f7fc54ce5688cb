"""Resume and failure: continuing a run, SIGKILL mid-trial, diverging trials."""
import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from clirun import sigint_as_in_a_terminal
from lowformer_nas.cli import main

SEARCH = ["search", "--target", "jetson", "--latency-budget", "2ms", "--space", "tiny",
          "--references", "none", "--quiet"]


def _rows(out):
    with open(out / "trials.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _counted(rows):
    return [r for r in rows if r["state"] in ("COMPLETE", "PRUNED")
            or (r["state"] == "FAIL" and r["error"])]


def test_same_command_continues_the_study(tmp_path):
    out = tmp_path / "run"
    args = SEARCH + ["--trials", "6", "--out", str(out)]
    assert main(args) == 0
    first = {r["number"]: r for r in _rows(out)}
    assert main(args) == 0  # nothing left to do: no new trials
    assert len(_rows(out)) == 6
    assert main(SEARCH + ["--trials", "10", "--out", str(out)]) == 0
    rows = _rows(out)
    assert len(_counted(rows)) == 10
    for r in rows:  # earlier trials untouched
        if r["number"] in first:
            assert r == first[r["number"]]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_kill_then_resume_loses_and_duplicates_nothing(tmp_path, sig):
    out = tmp_path / "run"
    args = SEARCH + ["--trials", "6", "--proxy", "train", "--epochs", "3", "--max-train", "800",
                     "--out", str(out)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "lowformer_nas"] + args, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=sigint_as_in_a_terminal)
    deadline = time.monotonic() + 90
    done = []
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "trials.csv").is_file():
            done = [r for r in _rows(out) if r["state"] == "COMPLETE"]
            if len(done) >= 2:
                break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    time.sleep(0.3)  # most likely inside the next trial's training now
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    snapshot = {r["number"]: r for r in _rows(out) if r["state"] == "COMPLETE"}
    assert len(snapshot) >= 2

    assert main(args) == 0  # the same command resumes
    rows = _rows(out)
    by_number = {r["number"]: r for r in rows}
    for number, r in snapshot.items():  # nothing finished is lost or changed
        assert by_number[number] == r
    assert len(_counted(rows)) == 6
    trained = [r["config"] for r in rows if r["state"] == "COMPLETE" and r["duplicate"] == "False"]
    assert len(trained) == len(set(trained))  # nothing finished is trained twice
    interrupted = [r for r in rows if r["state"] == "FAIL" and not r["error"]]
    print(f"interrupted trials retried: {len(interrupted)}")
    assert not [r for r in rows if r["state"] == "RUNNING"]
    for r in interrupted:  # retried with the same config
        retries = [x for x in rows if x["retry_of"] == r["number"]]
        assert retries and retries[0]["config"] == r["config"]
        assert retries[0]["state"] in ("COMPLETE", "PRUNED")


def test_diverging_trials_fail_and_the_search_goes_on(tmp_path, monkeypatch):
    from lowformer_nas.search import run as run_mod
    from lowformer_nas.accuracy.datasets import load_dataset
    from lowformer_nas.search.settings import SearchSettings

    poisoned = load_dataset("digits", max_train=200, max_val=50)
    poisoned.train_x[:] = float("nan")
    settings = SearchSettings(target="jetson", budget="2ms", space="tiny", trials=3,
                              proxy="train", epochs=1, out=str(tmp_path / "r"),
                              references=["none"])
    monkeypatch.setattr(run_mod, "_load_data", lambda s: poisoned)
    from lowformer_nas.report.finish import finish_run

    run, data = run_mod.run_search(settings, quiet=True, finish=finish_run)
    rows = _rows(tmp_path / "r")
    assert len(rows) == 3 and all(r["state"] == "FAIL" for r in rows)
    assert all("TrialDiverged" in r["error"] for r in rows)
    assert data["family"] == {n: None for n in ("B0", "B1", "B2", "B3")}
    assert (tmp_path / "r" / "summary.md").is_file()
