"""A real PostgreSQL study: a throwaway server, three ``search --storage postgresql://`` workers
as a user starts them (default flags, progress on), one of them SIGKILLed mid-trial.

Checks that the killed worker's trial is failed by heartbeat and retried by another worker,
and that the study records every trial exactly once. Never skipped: ``.ci/run`` installs the
server binaries where they are missing.
"""
import csv
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import optuna
import psycopg
import pytest
from _servers import postgres_server

HEARTBEAT_S = 1  # grace = 4 s: a dead worker's trial is retried within seconds
TRIALS = 6
FILES = ("config.yaml", "trials.csv", "pareto.json", "pareto.html", "summary.md")


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


def _command(url: str, out: Path) -> list:
    # 5 ms: every tiny net is feasible, so each trial runs the zero-cost proxy (~0.5 s)
    return [sys.executable, "-m", "lowformer_nas", "search", "--target", "jetson",
            "--latency-budget", "5ms", "--space", "tiny", "--trials", str(TRIALS), "--seed", "7",
            "--references", "none", "--storage", url, "--heartbeat", str(HEARTBEAT_S),
            "--out", str(out)]


def _start(url: str, out: Path) -> subprocess.Popen:
    log = open(f"{out}.log", "w")  # a file, not a pipe: the progress display never blocks
    return subprocess.Popen(_command(url, out), stdout=log, stderr=subprocess.STDOUT)


def _log(out: Path, tail: int = 3000) -> str:
    return Path(f"{out}.log").read_text(errors="replace")[-tail:]


def _running_with_heartbeat(url: str) -> list:
    """Numbers of RUNNING trials that have sent a heartbeat (only those can go stale) and are
    being evaluated (their params and latency are written: the retry must redo them)."""
    try:
        with psycopg.connect(url) as con:
            return [n for (n,) in con.execute(
                "SELECT t.number FROM trials t JOIN trial_heartbeats h "
                "ON h.trial_id = t.trial_id JOIN trial_user_attributes a "
                "ON a.trial_id = t.trial_id AND a.key = 'feasible' WHERE t.state = 'RUNNING'")]
    except psycopg.errors.UndefinedTable:  # the first worker has not created the schema yet
        return []


def _kill_mid_trial(proc: subprocess.Popen, url: str, out: Path, timeout_s: float = 240) -> int:
    """Freeze the worker while the database shows its trial running, then SIGKILL it: the
    trial is cut off for certain. Returns the killed trial's number."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"worker ended before it could be killed:\n{_log(out)}"
        if _running_with_heartbeat(url):
            os.kill(proc.pid, signal.SIGSTOP)
            running = _running_with_heartbeat(url)
            if running:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return running[0]
            os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"no running trial seen in {timeout_s} s:\n{_log(out)}")


def _rows(out: Path) -> list:
    with open(out / "trials.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _study(url: str):
    from lowformer_nas.search.backends.storage import engine_url

    summaries = optuna.get_all_study_summaries(engine_url(url))
    assert len(summaries) == 1, [s.study_name for s in summaries]
    return optuna.load_study(study_name=summaries[0].study_name, storage=engine_url(url))


def test_two_workers_and_a_killed_one_share_one_postgres_study(pg_url, tmp_path):
    t0 = time.monotonic()
    victim = _start(pg_url, tmp_path / "w3")
    killed = _kill_mid_trial(victim, pg_url, tmp_path / "w3")
    killed_at = time.monotonic()
    assert killed in _running_with_heartbeat(pg_url)  # left RUNNING by the dead worker
    time.sleep(max(0.0, killed_at + 4 * HEARTBEAT_S + 1 - time.monotonic()))  # now stale

    workers = [_start(pg_url, tmp_path / w) for w in ("w1", "w2")]
    try:
        for w, p in zip(("w1", "w2"), workers):
            assert p.wait(timeout=900) == 0, _log(tmp_path / w)  # a loaded machine is slow
    finally:
        for p in workers:
            if p.poll() is None:
                p.kill()
    workers_done = time.monotonic()
    full = subprocess.run(_command(pg_url, tmp_path / "all"), capture_output=True, text=True,
                          timeout=900)  # no trial left to run: writes the whole study
    assert full.returncode == 0, full.stderr[-3000:]

    (tmp_path / "timings.json").write_text(json.dumps({  # for the docs, and debugging
        "until_kill_s": round(killed_at - t0, 1), "workers_s": round(workers_done - killed_at, 1),
        "full_view_s": round(time.monotonic() - workers_done, 1)}))
    rows = _rows(tmp_path / "all")
    numbers = sorted(int(r["number"]) for r in rows)
    assert numbers == list(range(len(rows)))  # every trial exactly once, none missing
    assert {r["state"] for r in rows} <= {"COMPLETE", "FAIL"}, "a trial left RUNNING/WAITING"
    dead = next(r for r in rows if int(r["number"]) == killed)
    assert dead["state"] == "FAIL" and not dead["error"]  # failed by heartbeat: not counted
    assert sum(r["state"] == "COMPLETE" for r in rows) >= TRIALS

    study = _study(pg_url)
    assert len(study.trials) == len(rows)
    cb = optuna.storages.RetryHeartbeatStaleTrialCallback
    with warnings.catch_warnings():  # "experimental" in Optuna 5: known, used
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retries = [t for t in study.trials if cb.retried_trial_number(t) == killed]
    assert len(retries) == 1, "the killed trial is retried exactly once"
    retry = retries[0]
    assert retry.state.name == "COMPLETE" and retry.params == study.trials[killed].params
    assert rows[retry.number]["retry_of"] == str(killed)  # trials.csv says so too

    for w in ("w1", "w2", "all"):
        missing = [f for f in FILES if not (tmp_path / w / f).is_file()]
        assert not missing, (w, missing)
        assert list((tmp_path / w / "models").glob("B?.yaml")), w  # a slot may stay empty
        assert not (tmp_path / w / "study.journal").exists()  # the database holds the study
        own = _rows(tmp_path / w)
        assert len({r["number"] for r in own}) == len(own)
        for r in own:  # what a worker saw finished is what the study holds
            if r["state"] == "COMPLETE":
                assert rows[int(r["number"])]["config"] == r["config"]
    logs = _log(tmp_path / "w1", 10**6) + _log(tmp_path / "w2", 10**6)
    assert "zero-cost" in logs  # the progress display was on
    assert "Warning" not in logs and "Traceback" not in logs, logs
