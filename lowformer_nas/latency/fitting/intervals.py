"""Prediction intervals that mean what they say: split-conformal quantiles of log residuals.

Why: a Gaussian ``+- std`` fitted in-sample was seven of its own sigmas off on search picks.
Here the spread comes from *cross-validated* (leave-one-out) residuals of the whole models the
profile was fitted on, ``r = log(measured / predicted)``. For exchangeable new configs the
``ceil((n + 1) q) / n`` empirical quantile of those residuals covers a fraction >= q of them
(split-conformal guarantee), so ``prediction x exp(r_q)`` is an honest q-quantile of the
latency. The spread is not uniform: on the development machine the slowest quarter of models
(big dense convs streaming hundreds of MB of weights) scatter about 2.5x more than the rest, so
with enough models the table is split by predicted latency into two regions, each with its own
quantiles and relative std (a simple form of locally adaptive conformal prediction). Profiles
without residuals (spec-sheet priors, published numbers) fall back to a log-normal with their
``rel_std``. Coverage is computed by :func:`coverage`, which the
benchmark applies to held-out measurements.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING, TypedDict
from collections.abc import Sequence

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt
    from numpy.typing import ArrayLike

from ...errors import ProfileError

# quantile levels stored in a profile (a prediction interpolates between them)
LEVELS = (0.01, 0.025, 0.05, 0.1, 0.159, 0.25, 0.5, 0.75, 0.841, 0.9, 0.95, 0.975, 0.99)
METHOD = "split-conformal quantiles of leave-one-out log residuals over whole models"
SPLIT_AT = 0.75  # region edge: this quantile of the calibration models' predicted latency
MIN_REGION = 20  # fewest models a region needs (else one table for all)


class Factors(TypedDict, total=False):
    """Quantile factors of a set of residuals (all models, or one region of them)."""

    n: int
    factors: list[float]  # per level of ``LEVELS``, monotone
    rel_std: float


class Region(Factors, total=False):
    below_ms: float | None  # the region holds predictions below this (None: the rest)


class IntervalTable(Factors, total=False):
    """What a profile stores as ``params.interval`` (``interval_table``)."""

    method: str
    levels: list[float]
    regions: list[Region]


def check_level(q: float) -> float:
    """A quantile level must lie strictly between 0 and 1."""
    if not isinstance(q, (int, float)) or isinstance(q, bool) or not 0.0 < float(q) < 1.0:
        raise ProfileError(f"quantile level must be a number in (0, 1), but got {q!r}")
    return float(q)


def conformal_quantile(residuals: ArrayLike, q: float) -> float:
    """Finite-sample-valid q-quantile of ``residuals`` (rank ``ceil((n + 1) q)`` of n)."""
    r = np.sort(np.asarray(residuals, dtype=float))
    n = len(r)
    if n == 0:
        raise ProfileError("no residuals to take a quantile of")
    if q >= 0.5:
        k = min(n, math.ceil((n + 1) * q))
    else:  # mirror: the lower tail gets the same finite-sample margin
        k = max(1, math.floor((n + 1) * q))
    return float(r[k - 1])


def _factors(r: npt.NDArray[np.float64]) -> Factors:
    factors = np.maximum.accumulate([math.exp(conformal_quantile(r, q)) for q in LEVELS])
    return {"n": len(r), "factors": [round(float(f), 5) for f in factors],  # monotone in q
            "rel_std": round(float(np.sqrt(np.mean(np.expm1(-r) ** 2))), 5)}


def interval_table(log_residuals: ArrayLike,
                   predicted_ms: ArrayLike | None = None) -> IntervalTable:
    """What a profile stores: per level in ``LEVELS``, the factor ``exp(r_q)`` on the mean,
    overall and (given the models' predicted latencies, with enough of them) per region."""
    r = np.asarray(log_residuals, dtype=float)
    table: IntervalTable = {"method": METHOD, "levels": list(LEVELS), **_factors(r)}
    if predicted_ms is not None:
        p = np.asarray(predicted_ms, dtype=float)
        edge = float(np.quantile(p, SPLIT_AT))
        low = p < edge
        if min(low.sum(), (~low).sum()) >= MIN_REGION:
            table["regions"] = [{**_factors(r[low]), "below_ms": round(edge, 4)},
                                {**_factors(r[~low]), "below_ms": None}]
    return table


def region(table: IntervalTable | None, latency_ms: float | None) -> Factors:
    """The part of ``table`` that applies to a prediction of ``latency_ms``."""
    if not table:
        return {}
    if latency_ms is not None:
        for reg in table.get("regions", []):
            below = reg["below_ms"]
            if below is None or latency_ms < below:
                return reg
    return table


def factor_at(table: IntervalTable | None, rel_std: float, q: float,
              latency_ms: float | None = None) -> float:
    """Multiplier of the predicted mean giving its q-quantile (interpolated in the table of
    the region of ``latency_ms``; log-normal with ``rel_std`` without a table)."""
    q = check_level(q)
    reg = region(table, latency_ms)
    if reg.get("factors") and table:
        lv, fs = table["levels"], reg["factors"]
        if lv[0] <= q <= lv[-1]:
            return float(math.exp(np.interp(q, lv, np.log(fs))))
    return math.exp(NormalDist().inv_cdf(q) * math.log1p(max(rel_std, 0.0)))


def coverage(measured: Sequence[float], predicted: Sequence[float],
             lower: Sequence[float], upper: Sequence[float],
             std: Sequence[float] | None = None) -> dict[str, float]:
    """Share of measurements inside ``[lower, upper]`` and, given ``std``, inside
    ``predicted +- std`` (both in percent), plus how often the truth is above the interval."""
    m, p = np.asarray(measured, float), np.asarray(predicted, float)
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    if not (len(m) == len(p) == len(lo) == len(hi)) or len(m) == 0:
        raise ProfileError(f"coverage needs equally long, non-empty sequences, got "
                           f"{len(m)}, {len(p)}, {len(lo)}, {len(hi)}")
    out = {"n": float(len(m)), "interval_pct": float(100 * np.mean((m >= lo) & (m <= hi))),
           "above_pct": float(100 * np.mean(m > hi)), "below_pct": float(100 * np.mean(m < lo))}
    if std is not None:
        s = np.asarray(std, float)
        out["sigma1_pct"] = float(100 * np.mean(np.abs(m - p) <= s))
    return out


def central(q: float) -> tuple[float, float]:
    """Lower and upper levels of the central interval of probability ``q`` (0.9 -> 5%/95%)."""
    q = check_level(q)
    return (1 - q) / 2, 1 - (1 - q) / 2
