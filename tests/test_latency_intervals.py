"""Interval calibration: conformal quantiles, coverage, Prediction.quantile (no timing here)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lowformer_nas.errors import ProfileError
from lowformer_nas.latency.fitting.intervals import (central, conformal_quantile, coverage,
                                                     factor_at, interval_table)
from lowformer_nas.latency.targets.profiles import Prediction


def test_coverage_on_synthetic_residuals():
    rng = np.random.default_rng(0)
    pred = rng.uniform(10, 100, 4000)
    meas = pred * np.exp(rng.normal(0.0, 0.08, 4000))
    lo, hi = pred * math.exp(-1.645 * 0.08), pred * math.exp(1.645 * 0.08)
    cov = coverage(meas, pred, lo, hi, std=pred * 0.08)
    assert 88 < cov["interval_pct"] < 92           # a true 90% interval covers ~90%
    assert 65 < cov["sigma1_pct"] < 71             # +-1 sigma of a normal covers ~68%
    assert abs(cov["above_pct"] - cov["below_pct"]) < 2.5
    biased = coverage(meas * 1.3, pred, lo, hi)    # a predictor 30% too low is caught
    assert biased["interval_pct"] < 20 and biased["above_pct"] > 80


def test_conformal_table_covers_exchangeable_new_points():
    rng = np.random.default_rng(1)
    hits = []
    for _ in range(200):  # calibration residuals from a skewed distribution, then new points
        cal = rng.gamma(2.0, 0.05, 40) - 0.1
        new = rng.gamma(2.0, 0.05, 50) - 0.1
        t = interval_table(cal)
        f_lo, f_hi = factor_at(t, 0.0, 0.05), factor_at(t, 0.0, 0.95)
        hits.append(np.mean((np.exp(new) >= f_lo) & (np.exp(new) <= f_hi)))
    assert 0.88 <= float(np.mean(hits)) <= 0.97


def test_conformal_quantile_ranks_and_monotone_table():
    r = [0.0, 0.1, 0.2, 0.3, 0.4]
    assert conformal_quantile(r, 0.5) == 0.2           # ceil(6 * 0.5) = 3rd of 5
    assert conformal_quantile(r, 0.9) == 0.4           # clipped to the largest
    assert conformal_quantile(r, 0.1) == 0.0
    t = interval_table(r)
    assert t["factors"] == sorted(t["factors"]) and json.loads(json.dumps(t)) == t


def test_prediction_quantile_uses_table_or_lognormal():
    t = interval_table(np.linspace(-0.1, 0.2, 101))
    p = Prediction(10.0, 1.0, {}, "x", interval=t)
    assert p.quantile(0.5) == pytest.approx(10 * math.exp(0.05), rel=0.01)
    assert p.quantile(0.95) > p.quantile(0.9) > p.latency_ms
    lo, hi = p.central_interval(0.9)
    assert lo < p.latency_ms < hi
    bare = Prediction(10.0, 1.0, {}, "x")  # no table: log-normal with rel_std 10%
    assert bare.quantile(0.5) == pytest.approx(10.0)
    assert bare.quantile(0.841) == pytest.approx(10 * math.exp(math.log1p(0.1)), rel=0.01)
    assert set(bare.to_dict()) >= {"interval90_ms", "std_ms"}


@pytest.mark.parametrize("q", [0, 1, -0.5, 1.5, "0.9", True, float("nan")])
def test_bad_quantile_level_names_value(q):
    with pytest.raises(ProfileError, match="quantile level"):
        Prediction(10.0, 1.0, {}, "x").quantile(q)
    with pytest.raises(ProfileError):
        central(q)


def test_coverage_rejects_mismatched_lengths():
    with pytest.raises(ProfileError, match="equally long"):
        coverage([1.0], [1.0, 2.0], [0.5], [1.5])


def test_regions_follow_a_wider_spread_for_slow_models():
    """Slow models scatter more: their region gets wider quantiles and a larger std."""
    rng = np.random.default_rng(2)
    pred = rng.uniform(20, 300, 400)
    sd = np.where(pred > 230, 0.15, 0.04)  # 230 ms: the upper quarter, where the split is
    t = interval_table(rng.normal(0, sd), pred)
    assert len(t["regions"]) == 2
    for ms, want in ((50.0, 0.04), (270.0, 0.15)):
        new_pred = np.full(2000, ms)
        new = new_pred * np.exp(rng.normal(0, want, 2000))
        p = Prediction(ms, 1.0, {}, "x", interval=t)
        lo, hi = p.central_interval(0.9)
        cov = coverage(new, new_pred, np.full(2000, lo), np.full(2000, hi))
        assert 86 <= cov["interval_pct"] <= 95
    assert t["regions"][1]["rel_std"] > 2 * t["regions"][0]["rel_std"]
    few = interval_table(rng.normal(0, 0.05, 30), rng.uniform(20, 300, 30))
    assert "regions" not in few  # too few models to split


def test_committee_picks_spread_over_regimes():
    """Query by committee takes the most disputed candidate of each regime first."""
    import random

    from lowformer_nas.latency.fitting.adaptive import _regime, corner_configs, diverse_top
    from lowformer_nas.space import load_space

    items = [(c, 224) for c in corner_configs(load_space("lowformer"), random.Random(0), 60)]
    spread = np.linspace(1.0, 0.0, len(items))
    same = [it for it in items if _regime(it) == _regime(items[0])]
    picked = diverse_top(same + items, np.concatenate([np.full(len(same), 2.0), spread]), 4)
    assert picked[0] == same[0] and len({_regime(p) for p in picked}) == 4
    assert diverse_top(items[:3], spread[:3], 5) == items[:3]  # fewer than asked: all of them


def test_kernel_lookup_overrides_the_smooth_fit_for_that_kernel_only():
    from lowformer_nas.latency import get_target
    from lowformer_nas.latency.tracing.kernels import Kernel
    from lowformer_nas.latency.fitting.predictor import Predictor

    params = dict(get_target("jetson").data["params"])
    big = Kernel("conv", 1, 512, 2048, 7, 7, 3, 1, 1, True, "hardswish", True)
    near = big._replace(h=6, w=6)
    smooth = Predictor(params).kernel_ms([big, near])
    looked = Predictor(dict(params, kernel_lookup=[[list(big), 29.2]])).kernel_ms([big, near])
    assert looked[0] == 29.2 and looked[1] == smooth[1]
