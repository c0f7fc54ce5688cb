"""Crash safety: every file goes through an atomic write or a torn-tail-tolerant journal.

SIGKILL during ``search`` is covered in ``test_search_resume.py``; here: SIGKILL during
``calibrate`` (plus a torn last journal line, as power loss leaves it), the journals' torn
tails, and a source audit so that a new plain ``open(..., "w")`` cannot slip in.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lowformer_nas._io import truncate_torn_tail
from lowformer_nas.cli import main

PACKAGE = Path(__file__).resolve().parents[1] / "lowformer_nas"
# raw ways to write a file; each hit must be listed in ALLOWED with the reason it is safe
RAW_WRITE = re.compile(r"""open\([^)]*["'][wax]b?\+?["']|\.write_(text|bytes)\(|\bonnx\.save\(|"""
                       r"""torch\.(jit\.)?save\([^,]*,\s*(str\(|path|out)|\.to_csv\(|"""
                       r"""\.write_html\(|json\.dump\([^)]*,\s*(fh|f)\b""")
ALLOWED = {
    ("_io.py", "os.fdopen"),  # the atomic writer itself
    ("_io.py", 'open(path, "rb+")'),  # truncate_torn_tail
    ("latency/targets/calibrate.py", 'open(self.path, "a"'),  # the fsynced calibration journal
    ("latency/targets/registry.py", '".local.lock", "w"'),  # a lock file, never read
    ("latency/targets/export_kit.py", 'open(args.out, "a"'),  # the kit runner's fsynced results.csv
    ("latency/targets/export_kit.py", 'open(args.out, "rb+")'),  # its torn-row repair
    ("accuracy/groundtruth.py", 'open(self.path, "a") as lock'),  # flock only, writes nothing
    ("accuracy/groundtruth.py", 'open(side, "a") as mine'),  # a shard's lock file, empty
}


def test_audit_no_raw_writes_in_the_package():
    """Profiles, journals, trials.csv, YAML, HTML, Markdown, exports: atomic or journaled."""
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if RAW_WRITE.search(line) and not any(rel == f and s in line for f, s in ALLOWED):
                hits.append(f"{rel}:{n}: {line.strip()}")
    assert not hits, "write through lowformer_nas._io.atomic_write_*:\n" + "\n".join(hits)


def test_audit_catches_a_raw_write():
    for line in ('with open(out, "w") as fh:', 'p.write_text("x")', "onnx.save(m, str(p))"):
        assert RAW_WRITE.search(line), line


@pytest.mark.parametrize("content, kept", [
    (b"", b""), (b"a\nb\n", b"a\nb\n"), (b"a\nb\n{\"torn", b"a\nb\n"), (b"{\"torn", b""),
])
def test_truncate_torn_tail(tmp_path, content, kept):
    path = tmp_path / "j.jsonl"
    path.write_bytes(content)
    assert truncate_torn_tail(path) == len(content) - len(kept)
    assert path.read_bytes() == kept
    assert truncate_torn_tail(tmp_path / "missing") == 0


def test_calibration_journal_survives_a_torn_last_line(tmp_path):
    from lowformer_nas.latency.targets.calibrate import Journal

    header = {"device": "d", "backend": "torch", "threads": 1, "space": "tiny", "roofline": {}}
    path = tmp_path / "j.jsonl"
    j = Journal(path, header)
    j.append({"kind": "kernel", "kernel": [1], "ms": 1.0, "cost_s": 0.1})
    with open(path, "a") as fh:
        fh.write('{"kind": "kernel", "kernel": [2], "ms"')  # power loss mid-write
    j = Journal(path, header)
    assert len(j.of_kind("kernel")) == 1  # the torn record is not a measurement
    j.append({"kind": "kernel", "kernel": [3], "ms": 3.0, "cost_s": 0.1})
    lines = path.read_text().splitlines()
    assert [json.loads(x).get("kernel") for x in lines] == [None, [1], [3]]


def test_kit_results_torn_row_is_dropped(tmp_path):
    from lowformer_nas.latency.targets.export_kit import read_results

    path = tmp_path / "results.csv"
    path.write_text('id,kind,spec,resolution,ms,threads\nk0,kernel,"[1, 2]",0,0.5,1\nk1,ker')
    rows = read_results(str(path))
    assert [r["spec"] for r in rows] == [[1, 2]]


def test_kit_runner_remeasures_a_torn_row(tmp_path):
    """The standalone runner resumes after a kill mid-row: the row is measured again."""
    from lowformer_nas.latency.targets.export_kit import read_results, write_kit

    kit = write_kit(str(tmp_path / "kit"), space="tiny", resolutions=[32], n_kernels=8,
                     n_models=1)
    results = tmp_path / "results.csv"
    results.write_text("id,kind,spec,resolution,ms,threads\nk00000,ker")
    subprocess.run([sys.executable, str(kit / "run_kit.py"), "--out", str(results),
                    "--runs", "3"], check=True, capture_output=True, timeout=300)
    manifest = json.loads((kit / "manifest.json").read_text())
    ids = [r.split(",", 1)[0] for r in results.read_text().splitlines()[1:]]
    assert sorted(ids) == sorted(i["id"] for i in manifest["items"])  # each once, none torn
    assert len(read_results(str(results))) == len(ids)


SEARCH = ["search", "--target", "jetson", "--latency-budget", "2ms", "--space", "tiny",
          "--references", "none", "--quiet"]


def test_search_resumes_after_a_torn_study_journal_line(tmp_path):
    """Power loss mid-append leaves half an Optuna journal record; the rerun still works."""
    import csv

    out = tmp_path / "run"
    assert main(SEARCH + ["--trials", "4", "--out", str(out)]) == 0
    before = (out / "trials.csv").read_text().splitlines()
    with open(out / "study.journal", "ab") as fh:
        fh.write(b'{"op_code":4,"worker_id":"x","trial_id":')
    assert main(SEARCH + ["--trials", "7", "--out", str(out)]) == 0
    after = (out / "trials.csv").read_text().splitlines()
    assert after[:len(before)] == before  # finished trials unchanged
    rows = list(csv.DictReader(open(out / "trials.csv", newline="")))
    assert [r["state"] for r in rows] == ["COMPLETE"] * 7
    assert main(["report", str(out)]) == 0


CAL = ["calibrate", "--device", "killdev", "--space", "tiny", "--resolution", "64",
       "--no-progress", "--budget-minutes", "0.3"]


def _journal(cache: Path) -> Path:
    files = list((cache / "calibration").glob("killdev-*.jsonl"))
    return files[0] if files else cache / "none"


@pytest.mark.slow
def test_sigkill_during_calibrate_then_rerun(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv("LOWFORMER_NAS_CACHE", str(cache))
    env = dict(os.environ, LOWFORMER_NAS_CACHE=str(cache))
    proc = subprocess.Popen([sys.executable, "-m", "lowformer_nas"] + CAL, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        path = _journal(cache)
        if path.is_file() and path.read_bytes().count(b"\n") >= 1 + 16:  # header + a group
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    path = _journal(cache)
    raw = path.read_bytes()
    finished = raw[:raw.rfind(b"\n") + 1]  # every line that was completely written
    kept = [json.loads(x) for x in finished.splitlines()]
    assert sum(r.get("kind") == "kernel" for r in kept) >= 16
    with open(path, "ab") as fh:  # and as if the power had failed mid-record
        fh.write(b'{"kind": "kernel", "kernel": ["conv", 3')

    out = tmp_path / "killdev.json"
    assert main(CAL + ["--out", str(out)]) == 0
    after = path.read_bytes()
    assert after.startswith(finished)  # every finished measurement still there, unchanged
    records = [json.loads(x) for x in after.splitlines()]  # no torn or glued line left
    kernels = [json.dumps(r["kernel"]) for r in records if r.get("kind") == "kernel"]
    assert len(kernels) == len(set(kernels)) and len(records) > len(kept)  # none measured twice
    assert sum(r.get("kind") == "header" for r in records) == 1
    from lowformer_nas.latency import load_profile

    prof = load_profile(out)
    assert prof.data["status"] == "calibrated" and prof.data["error"]["n_models"] >= 4
    assert (cache / "profiles" / "killdev.json").is_file()
    assert "killdev" in capsys.readouterr().out
