"""The ground-truth script: resumes after SIGKILL (and a torn last line) without repeating runs."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lowformer_nas.accuracy.groundtruth import GroundTruthTable, Recipe, read_ground_truth
from lowformer_nas.errors import RunError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--dataset", "digits", "--space", "tiny", "--profile", "jetson", "--official", "none",
        "--random", "3", "--pool", "40", "--second-seed", "1", "--resolution", "32",
        "--epochs", "2", "--train-images", "60", "--val-images", "30"]


def _script(out: Path, *extra: str) -> list:
    """The benchmark's command line, run with ``cwd=ROOT`` (where ``benchmarks`` is a package)."""
    return [sys.executable, "-m", "benchmarks.ground_truth", "--out", str(out), *TINY, *extra]


def _rows(path: Path) -> int:
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0


def test_resumes_after_sigkill_and_a_torn_line_without_duplicates(tmp_path):
    out = tmp_path / "gt.csv"
    proc = subprocess.Popen(_script(out), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while _rows(out) < 1 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    first = read_ground_truth(out)
    assert 1 <= len(first) < 4, "killed before the plan finished"
    with open(out, "a") as fh:  # what a kill in the middle of an append leaves
        fh.write("1,fake-recipe,abc")
    done = subprocess.run(_script(out), cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = read_ground_truth(out)
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys)) == 4  # 3 archs, seed 0, + 1 second seed
    assert [r.key for r in rows[:len(first)]] == [r.key for r in first]  # nothing rewritten
    assert {r.seed for r in rows} == {0, 1}
    assert all(0 <= r.accuracy <= 1 and r.cpu_s > 0 and len(r.curve) == 2 for r in rows)
    again = subprocess.run(_script(out), cwd=ROOT, capture_output=True, text=True)
    assert "0 to do" in again.stdout and len(read_ground_truth(out)) == 4


def test_recipe_id_changes_with_any_field():
    assert Recipe().recipe_id != Recipe(epochs=6).recipe_id
    assert Recipe().recipe_id == Recipe().recipe_id
    assert Recipe().recipe_id.startswith("fashion-mnist-64px-e5-n2000-")
    assert Recipe.from_json(Recipe(lr=1e-3).to_json()) == Recipe(lr=1e-3)


def test_foreign_csv_is_refused_with_the_missing_columns(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(RunError, match="not a ground-truth table: columns format_version"):
        read_ground_truth(bad)


def test_shards_fill_one_table_together_and_lock_out_others(tmp_path):
    out = tmp_path / "gt.csv"
    with GroundTruthTable(out).open(shard=(1, 2)):  # this process holds shard 1 of 2
        clash = subprocess.run(_script(out), cwd=ROOT, capture_output=True, text=True)
        same = subprocess.run(_script(out, "--shard", "1/2"), cwd=ROOT, capture_output=True,
                              text=True)
        other = subprocess.run(_script(out, "--shard", "0/2"), cwd=ROOT, capture_output=True,
                               text=True)
    assert clash.returncode == 2 and "another process" in clash.stderr, clash.stderr
    assert same.returncode == 2 and "shard 1/2" in same.stderr, same.stderr
    assert all(len(p.stderr.strip().splitlines()) == 1 for p in (clash, same))
    assert other.returncode == 0, other.stderr  # the other shard runs beside it
    assert len(read_ground_truth(out)) == 2  # half of the plan of the test above
    rest = subprocess.run(_script(out, "--shard", "1/2"), cwd=ROOT, capture_output=True,
                          text=True)
    assert rest.returncode == 0, rest.stderr
    keys = [r.key for r in read_ground_truth(out)]
    assert len(keys) == len(set(keys)) == 4
    after = subprocess.run(_script(out), cwd=ROOT, capture_output=True, text=True)
    assert after.returncode == 0 and "0 to do" in after.stdout
