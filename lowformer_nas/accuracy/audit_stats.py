"""Rank statistics of a proxy against ground truth, each with its uncertainty.

Spearman and Kendall with percentile-bootstrap 95% intervals (architectures resampled with
replacement), the same correlation inside latency buckets (where size is nearly fixed and
size-driven proxies collapse), and top-k overlap (does the proxy find the best ones).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Interval:
    """A statistic with its bootstrap 95% interval (NaN where undefined)."""

    value: float
    low: float
    high: float

    def text(self, fmt: str = "+.2f") -> str:
        if not math.isfinite(self.value):
            return "n/a"
        return f"{self.value:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}]"


class IntervalRecord(TypedDict):
    """An ``Interval`` as JSON holds it (``asdict``)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class RankAgreement:
    """How one proxy ranks the architectures compared with the ground truth."""

    n: int
    spearman: Interval
    kendall: Interval
    bucket_spearman: tuple[float, ...]  # one per latency bucket (NaN: too few points)
    bucket_sizes: tuple[int, ...]
    bucket_mean: float  # size-weighted mean over the buckets with a value
    top_k: int
    top_k_overlap: float  # |top-k by proxy & top-k by truth| / k


def _rank(a: FloatArray) -> FloatArray:
    from scipy.stats import rankdata

    return rankdata(a)


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(_rank(x), _rank(y))[0, 1])


def kendall(x: ArrayLike, y: ArrayLike) -> float:
    from scipy.stats import kendalltau

    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(kendalltau(x, y).statistic)


def bootstrap(stat: Callable[[FloatArray, FloatArray], float], x: ArrayLike, y: ArrayLike,
              n_boot: int = 1000, seed: int = 0) -> Interval:
    """``stat(x, y)`` with a percentile-bootstrap 95% interval over resampled pairs."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    value = stat(x, y)
    if not math.isfinite(value):
        return Interval(value, float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    resampled = [stat(x[i], y[i]) for i in (rng.integers(0, len(x), len(x))
                                            for _ in range(n_boot))]
    draws = np.asarray([d for d in resampled if math.isfinite(d)])
    if len(draws) < n_boot // 2:
        return Interval(value, float("nan"), float("nan"))
    return Interval(value, float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5)))


def latency_buckets(latency: ArrayLike, n_buckets: int) -> IntArray:
    """Bucket index per architecture: equal-count buckets of latency (quantiles)."""
    lat = np.asarray(latency, float)
    order = np.argsort(lat, kind="stable")
    idx = np.empty(len(lat), dtype=int)
    for b, part in enumerate(np.array_split(order, n_buckets)):
        idx[part] = b
    return idx


def top_k_overlap(x: ArrayLike, y: ArrayLike, k: int) -> float:
    """Share of the k best by ``y`` (truth) that are also among the k best by ``x``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    k = max(1, min(k, len(x)))
    best_x = set(np.argsort(-x, kind="stable")[:k])
    best_y = set(np.argsort(-y, kind="stable")[:k])
    return len(best_x & best_y) / k


def agreement(x: ArrayLike, y: ArrayLike, latency: ArrayLike | None = None,
              n_buckets: int = 3, top_k: int | None = None, n_boot: int = 1000,
              seed: int = 0) -> RankAgreement:
    """Every statistic of one proxy ``x`` (higher = better) against truth ``y``."""
    xa, ya = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(xa) & np.isfinite(ya)
    xf: FloatArray = xa[keep]
    yf: FloatArray = ya[keep]
    lat = np.asarray(latency, float)[keep] if latency is not None else None
    k = top_k or max(3, int(math.ceil(0.2 * len(xf))))
    per: list[float] = []
    sizes: list[int] = []
    if lat is not None and len(xf) >= 3:
        b = latency_buckets(lat, n_buckets)
        for i in range(n_buckets):
            sel = b == i
            per.append(spearman(xf[sel], yf[sel]))
            sizes.append(int(sel.sum()))
    vals = [(v, s) for v, s in zip(per, sizes) if math.isfinite(v)]
    mean = sum(v * s for v, s in vals) / sum(s for _, s in vals) if vals else float("nan")
    return RankAgreement(len(xf), bootstrap(spearman, xf, yf, n_boot, seed),
                         bootstrap(kendall, xf, yf, n_boot, seed), tuple(per), tuple(sizes),
                         mean, k, top_k_overlap(xf, yf, k) if len(xf) else float("nan"))
