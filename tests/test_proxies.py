"""Proxies on tiny networks: zero-cost scores, the short training run, early stopping."""
import pytest

from lowformer_nas.arch.registry import get_arch
from lowformer_nas.accuracy.datasets import load_dataset
from lowformer_nas.search.halving import should_stop_early
from lowformer_nas.accuracy.proxies import TrialDiverged, train_proxy, train_run


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", max_train=300, max_val=100)


def test_train_proxy_curve(digits):
    cfg = get_arch("lowformer_test")
    seen = []
    curve = train_proxy(cfg, digits, resolution=32, epochs=2, batch_size=64,
                        report=lambda e, a: seen.append((e, a)))
    assert len(curve) == 2 and all(0.0 <= a <= 1.0 for a in curve)
    assert seen == [(1, curve[0]), (2, curve[1])]


@pytest.mark.parametrize("kind", ["accuracy", "loss"])
def test_train_run_reports_its_score_each_epoch(digits, kind):
    """``--train-score loss`` ranks by the summed training loss, negated (higher is better, as
    for accuracy); every epoch reports accuracy and that score, the loss so far scaled to the
    whole run (a run stopped early must not look better than a finished one)."""
    seen = []
    res = train_run(get_arch("lowformer_test"), digits, resolution=32, epochs=2, batch_size=50,
                    train_images=100, score=kind, report=lambda *a: seen.append(a))
    a, s = res.curve, res.loss_sums
    want = [a[0], a[1]] if kind == "accuracy" else [-2 * s[0], -(s[0] + s[1])]
    assert seen == [(1, a[0], want[0]), (2, a[1], want[1])]
    assert res.score(kind) == want[1]


def test_train_run_reports_loss_sums_and_uses_an_image_subset(digits):
    cfg = get_arch("lowformer_test")
    res = train_run(cfg, digits, resolution=32, epochs=2, batch_size=50, train_images=100)
    assert len(res.curve) == len(res.loss_sums) == 2 and res.seconds > 0
    # summed over 100 images (not 300): a per-image loss of at most ln(10) + smoothing
    assert all(0 < s < 100 * 3.0 for s in res.loss_sums)
    assert res.accuracy == res.curve[-1]


def test_train_proxy_nan_loss_is_a_diverged_trial(digits):
    import copy

    bad = copy.copy(digits)
    bad.train_x = digits.train_x.clone()
    bad.train_x[:] = float("nan")
    with pytest.raises(TrialDiverged, match="loss"):
        train_proxy(get_arch("lowformer_test"), bad, resolution=32, epochs=1, batch_size=64)


def test_early_stop_only_against_faster_peers():
    # epochs 9, eta 3 -> rungs at 3 and 1
    slow_good = [(5.0, [0.9, 0.9, 0.9])] * 4
    assert should_stop_early(1, 0.5, 6.0, slow_good, epochs=9)  # slower and worse: stop
    assert not should_stop_early(1, 0.5, 4.0, slow_good, epochs=9)  # faster: keep (maybe B0)
    assert not should_stop_early(2, 0.5, 6.0, slow_good, epochs=9)  # not a rung
    assert not should_stop_early(1, 0.95, 6.0, slow_good, epochs=9)  # better: keep
    assert not should_stop_early(1, 0.5, 6.0, slow_good[:2], epochs=9)  # too few peers


def test_out_of_memory_is_a_trial_failure_other_errors_are_bugs():
    from lowformer_nas.accuracy.proxies import TrialOutOfMemory, as_trial_failure

    assert isinstance(as_trial_failure(MemoryError()), TrialOutOfMemory)
    cpu_oom = RuntimeError("[enforce fail at alloc_cpu.cpp] DefaultCPUAllocator: not enough "
                           "memory: you tried to allocate 1099511627776 bytes.")
    assert isinstance(as_trial_failure(cpu_oom), TrialOutOfMemory)
    assert as_trial_failure(RuntimeError("shape mismatch")) is None
    assert isinstance(as_trial_failure(TrialDiverged("nan")), TrialDiverged)
