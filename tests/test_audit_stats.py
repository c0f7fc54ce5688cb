"""The audit's statistics on synthetic data whose correlations are known in closed form."""
import math

import numpy as np
import pytest

from lowformer_nas.accuracy.audit_stats import (agreement, bootstrap, kendall, latency_buckets,
                                                spearman, top_k_overlap)


def _normal_pairs(rho: float, n: int, seed: int):
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=n)
    return z[:, 0], z[:, 1]


@pytest.mark.parametrize("rho", [-0.5, 0.0, 0.6, 0.9])
def test_spearman_and_kendall_match_the_bivariate_normal_formulas(rho):
    x, y = _normal_pairs(rho, 2000, seed=1)
    assert spearman(x, y) == pytest.approx(6 / math.pi * math.asin(rho / 2), abs=0.04)
    assert kendall(x, y) == pytest.approx(2 / math.pi * math.asin(rho), abs=0.04)


def test_bootstrap_interval_covers_the_truth_at_about_95_percent():
    rho, n = 0.6, 30
    true = 6 / math.pi * math.asin(rho / 2)
    hits, widths = 0, []
    for seed in range(60):
        iv = bootstrap(spearman, *_normal_pairs(rho, n, seed), n_boot=300, seed=seed)
        hits += iv.low <= true <= iv.high
        widths.append(iv.high - iv.low)
    assert hits >= 50  # 95% nominal; percentile bootstrap runs a little narrow at n = 30
    assert 0.35 < float(np.median(widths)) < 0.9  # the "about +-0.37 at n = 30"


def test_perfect_and_reversed_proxy():
    y = np.arange(20.0)
    a = agreement(y, y, latency=y, n_boot=50)
    assert a.spearman.value == pytest.approx(1.0) and a.kendall.value == pytest.approx(1.0)
    assert a.top_k_overlap == 1.0
    r = agreement(-y, y, n_boot=50)
    assert r.spearman.value == pytest.approx(-1.0) and r.top_k_overlap == 0.0


def test_a_size_proxy_collapses_inside_latency_buckets():
    """Truth = size + a within-size signal; latency = size. Size ranks well overall, not
    inside buckets; the signal proxy ranks inside buckets."""
    rng = np.random.default_rng(0)
    size = rng.uniform(0, 10, 300)
    signal = rng.normal(0, 1, 300)
    truth = size + signal
    by_size = agreement(size, truth, latency=size, n_buckets=5, n_boot=100)
    by_signal = agreement(signal, truth, latency=size, n_buckets=5, n_boot=100)
    assert by_size.spearman.value > 0.9
    assert by_size.bucket_mean < by_signal.bucket_mean
    assert by_signal.bucket_mean > 0.3
    assert len(by_size.bucket_spearman) == 5 and sum(by_size.bucket_sizes) == 300


def test_buckets_are_equal_count_and_ordered():
    lat = [5, 1, 4, 2, 3, 6]
    b = latency_buckets(lat, 3)
    assert list(b) == [2, 0, 1, 0, 1, 2]


def test_top_k_overlap_counts_shared_best():
    assert top_k_overlap([1, 2, 3, 4], [4, 3, 2, 1], 2) == 0.0
    assert top_k_overlap([1, 2, 3, 4], [1, 2, 4, 3], 2) == 1.0
    assert top_k_overlap([1, 2, 4, 3, 0], [1, 2, 3, 0, 4], 2) == 0.5


def test_undefined_statistics_are_nan_not_errors():
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    iv = bootstrap(spearman, [1, 2], [2, 1])
    assert math.isnan(iv.value) and iv.text() == "n/a"
