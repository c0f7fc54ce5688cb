"""Level checks (issue 21): a profile re-levelled by its reference set predicts exactly
``factor`` x its calibration, keeps its calibration's identity (``base_sha256``), and says so.
The timing itself is exercised on a real calibration in ``test_verify.py``."""
from __future__ import annotations

from lowformer_nas import get_arch
from lowformer_nas.latency import get_target
from lowformer_nas.latency.targets.level import TOLERANCE, LevelCheck, levelled


def _check(profile, ratio: float, sha: str | None = None) -> LevelCheck:
    return LevelCheck(sha or profile.base_sha256, "2026-12-06T12:30:00+00:00",
                      "2026-12-06T12:00:00+00:00", {"lowformer_b0": 10.0},
                      {"lowformer_b0": 10.0 * ratio}, ratio)


def test_a_moved_level_scales_every_prediction():
    prof = get_target("jetson")
    cfg = get_arch("lowformer_b1")
    moved = levelled(prof, _check(prof, 1.10))
    assert moved.predict(cfg).latency_ms == prof.predict(cfg).latency_ms * 1.10
    assert moved.predict(cfg).std_ms == prof.predict(cfg).std_ms * 1.10
    assert moved.base_sha256 == prof.base_sha256 and moved.sha256 != prof.sha256
    assert "re-levelled x1.100" in moved.describe() and "30 min before" in moved.describe()


def test_noise_is_not_a_move_and_a_foreign_check_is_ignored():
    prof = get_target("jetson")
    cfg = get_arch("lowformer_b0")
    within = levelled(prof, _check(prof, 1.0 + TOLERANCE / 2))
    assert within.predict(cfg).latency_ms == prof.predict(cfg).latency_ms
    assert "not re-levelled" in within.describe()
    other = levelled(prof, _check(prof, 1.5, sha="0" * 64))  # another calibration's check
    assert other is prof


def test_a_fresh_baseline_needs_no_check():
    from lowformer_nas.latency.targets.level import FRESH_S, needs_check, now_iso

    prof = get_target("jetson")
    assert not needs_check(prof)  # no baseline: a profile from elsewhere
    base = {"ms": {"lowformer_b0": 10.0}, "at": now_iso(), "resolution": 224}
    assert not needs_check(type(prof)(dict(prof.data, reference=base)))
    old = dict(base, at="2026-01-01T00:00:00+00:00")
    assert needs_check(type(prof)(dict(prof.data, reference=old))) and FRESH_S < 3600
