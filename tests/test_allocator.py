"""The measurement allocator regime (lowformer_nas.latency.measurement.allocator): in the
steady regime a warmed-up inference reuses its memory (no page faults), under glibc's default
it does not."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys

import pytest

from lowformer_nas.errors import ConfigError
from lowformer_nas.latency.measurement import allocator

# 30 timed forward passes of a conv whose activations (64x112x112 floats, 3.2 MB) are far above
# glibc's initial mmap threshold; prints the regime and the minor page faults of each pass
PROBE = """
import resource, torch
from lowformer_nas.latency.measurement.measure import prepare
conv = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(),
                           torch.nn.Conv2d(64, 64, 3, padding=1))
fn = prepare(conv, torch.randn(1, 3, 112, 112))
for _ in range(3):
    fn()
per_pass = []
for _ in range(30):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn()
    per_pass.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
from lowformer_nas.latency.measurement.allocator import allocator_label
print(allocator_label(), *per_pass)
"""


def _probe(regime: str):
    env = dict(os.environ, LOWFORMER_NAS_ALLOCATOR=regime, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    return out[0], [int(v) for v in out[1:]]


@pytest.mark.skipif(allocator._glibc() is None, reason="mallopt regimes are glibc's")
def test_steady_regime_stops_page_faults_per_inference():
    """The median pass is what the allocator does: the kernel's own memory management (page
    migration, reclaim scans) adds a burst of faults now and then that no allocator setting
    controls (one pass of 1,568 faults in 30, seen here and in CI), while under glibc's
    default every pass faults on its fresh mmaps (750-3,900 a pass seen)."""
    label, steady = _probe("steady")
    assert label == "glibc-steady" and len(steady) == 30
    assert statistics.median(steady) < 50, steady  # memory reused after warm-up
    label, default = _probe("default")
    assert label == "glibc-default"
    assert statistics.median(default) > 500, default  # the effect the regime fixes


def test_bad_regime_names_the_rule(monkeypatch):
    monkeypatch.setenv(allocator.ALLOCATOR_ENV, "jemalloc")
    with pytest.raises(ConfigError, match="must be one of steady, default, but got 'jemalloc'"):
        allocator.regime_name()


def test_journal_names_keep_regimes_apart(monkeypatch):
    from lowformer_nas.latency.targets.calibrate import journal_path

    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.setenv(allocator.ALLOCATOR_ENV, "default")
    old = journal_path("local", "torch", 1, "lowformer")
    monkeypatch.setenv(allocator.ALLOCATOR_ENV, "steady")
    new = journal_path("local", "torch", 1, "lowformer")
    assert old.name == "local-lowformer-torch-t1.jsonl" and new != old


@pytest.mark.parametrize("argv", [["measure", "lowformer_b0"],
                                  ["calibrate", "--device", "dev1", "--budget-minutes", "0.05"]])
def test_bad_regime_from_the_cli_is_one_line_and_writes_nothing(tmp_path, argv):
    env = dict(os.environ, LOWFORMER_NAS_ALLOCATOR="jemalloc",
               LOWFORMER_NAS_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "lowformer_nas", *argv], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("lowformer-nas: error: LOWFORMER_NAS_ALLOCATOR must be one of "
                           "steady, default, but got 'jemalloc'\n")
    assert not any(tmp_path.rglob("*"))  # nothing written, not even the cache directory
