"""A real two-node Ray cluster on this machine: ``ray start --head`` and ``ray start --address``
(each its own temp dir, free ports, one CPU), then ``search --backend ray --address`` as a user
runs it (default flags, progress on). Trials must run on both nodes.

Which node ran a trial: Ray Tune records each trial's worker ``pid`` in its ``result.json``,
and each node's raylet names its worker logs ``worker-*-<pid>.out`` in that node's own temp
dir. The nodes are stopped by signalling their own process groups (never ``ray stop``, which
would stop other tests' Ray instances on this machine).
"""
import csv
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _servers import processes_mentioning, ray_node

TRIALS = 6


def _worker_pids(node_root: Path) -> set:
    """PIDs of the Ray workers a node started (from its worker log names)."""
    logs = node_root.glob("tmp/session_*/logs/worker-*.out")
    return {int(m.group(1)) for p in logs if (m := re.search(r"-(\d+)\.out$", p.name))}


def _trial_pids(run: Path) -> list:
    results = list((run / "ray").glob("*/*/result.json"))
    assert results, f"no Ray Tune result.json under {run / 'ray'}"
    pids = []
    for path in results:
        lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        pids += [r["pid"] for r in lines]
    return pids


def test_search_spreads_trials_over_two_ray_nodes(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="lfnas-ray-"))  # short: Ray's socket paths must fit
    # Ray 2.60 turns token authentication on: every node and the driver share one token
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
               RAY_USAGE_STATS_ENABLED="0")
    run = tmp_path / "run"
    try:
        with ray_node(None, 1, '{"lfnas_head": 1}', root / "head", env) as address, \
                ray_node(address, 1, '{"lfnas_second": 1}', root / "second", env):
            cmd = [sys.executable, "-m", "lowformer_nas", "search", "--target", "jetson",
                   "--latency-budget", "5ms", "--space", "tiny", "--trials", str(TRIALS),
                   "--references", "none", "--backend", "ray", "--address", address,
                   "--out", str(run)]
            start = time.monotonic()
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
            seconds = time.monotonic() - start
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
            nodes = {name: _worker_pids(root / name) for name in ("head", "second")}
        assert not processes_mentioning(str(root)), "a Ray process of these nodes is left"
    finally:
        shutil.rmtree(root, ignore_errors=True)

    for name in ("config.yaml", "trials.csv", "ray_trials.jsonl", "pareto.json", "pareto.html",
                 "summary.md"):
        assert (run / name).is_file(), name
    assert list((run / "models").glob("B?.yaml"))
    with open(run / "trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == TRIALS and {r["state"] for r in rows} == {"COMPLETE"}
    assert sorted(int(r["number"]) for r in rows) == list(range(TRIALS))

    pids = _trial_pids(run)
    assert len(pids) == TRIALS
    per_node = {name: sum(pid in owned for pid in pids) for name, owned in nodes.items()}
    (tmp_path / "nodes.json").write_text(json.dumps(  # for the docs' numbers, and debugging
        {"search_seconds": round(seconds, 1), "trials_per_node": per_node}))
    ran_on = {name for name, n in per_node.items() if n}
    assert ran_on == {"head", "second"}, (pids, nodes)  # both nodes ran trials
    assert "zero-cost" in proc.stderr  # the progress display was on
