"""A small surrogate of trained accuracy: a random forest over cheap features of a config.

Features are the config encoding (per-stage width, depth, block kinds, expansions, attention
choices, head widths) plus whatever cheap numbers the caller has for every candidate (params,
MACs, predicted latency, zero-cost scores). A forest needs no scaling, copes with a dozen
points, and its leave-one-out predictions give an honest held-out fidelity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike
    from sklearn.ensemble import RandomForestRegressor

from ..arch.config import ArchConfig
from .audit_stats import FloatArray

_STAGE_FIELDS = ("width", "depth", "fused", "expand", "entry_fused", "entry_expand",
                 "attention", "attn_stride", "mlp", "mlp_ratio")
MIN_POINTS = 4  # below this the surrogate does not rank (too few trained trials)


def encode_config(cfg: ArchConfig) -> list[float]:
    """Numbers describing ``cfg`` (same length for every config)."""
    out: list[float] = []
    for s in cfg.stages:
        out += [float(getattr(s, f)) for f in _STAGE_FIELDS]
    return out + [float(w) for w in cfg.head_widths]


def feature_matrix(configs: Sequence[ArchConfig],
                   extra: Sequence[Mapping[str, float]] | None = None) -> FloatArray:
    """One row per config: its encoding, then the ``extra`` numbers in sorted-name order.

    Non-finite extras (a score that overflowed) become the column's finite minimum.
    """
    rows = [encode_config(c) for c in configs]
    if extra:
        names = sorted(extra[0])
        cols = np.array([[float(e.get(n, np.nan)) for n in names] for e in extra], dtype=float)
        for j in range(cols.shape[1]):
            bad = ~np.isfinite(cols[:, j])
            good = cols[~bad, j]
            cols[bad, j] = good.min() if len(good) else 0.0
        return np.hstack([np.asarray(rows, float), cols])
    return np.asarray(rows, float)


@dataclass(frozen=True)
class Fidelity:
    """Leave-one-out Spearman of the surrogate's predictions with the observed values."""

    n: int
    spearman: float

    def text(self) -> str:
        if not math.isfinite(self.spearman):
            return f"n/a ({self.n} trained points, needs >= {MIN_POINTS})"
        return f"leave-one-out Spearman {self.spearman:+.2f} over {self.n} trained points"


class Surrogate:
    """Random forest regressor, refitted from scratch on every ``fit`` (deterministic)."""

    def __init__(self, seed: int = 0, n_estimators: int = 100) -> None:
        self.seed, self.n_estimators = seed, n_estimators
        self._model: RandomForestRegressor | None = None

    def _new(self) -> RandomForestRegressor:
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(n_estimators=self.n_estimators, random_state=self.seed,
                                     min_samples_leaf=1, n_jobs=1)

    def fit(self, x: FloatArray, y: ArrayLike) -> Surrogate:
        self._model = self._new().fit(np.asarray(x, float), np.asarray(y, float))
        return self

    @property
    def fitted(self) -> bool:
        return self._model is not None

    def predict(self, x: FloatArray) -> FloatArray:
        assert self._model is not None, "predict() before fit()"
        return self._model.predict(np.asarray(x, float))

    def loo_predictions(self, x: FloatArray, y: ArrayLike) -> FloatArray:
        """Prediction for each point from a forest fitted on all the others."""
        x, y = np.asarray(x, float), np.asarray(y, float)
        out = np.empty(len(y))
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            out[i] = self._new().fit(x[keep], y[keep]).predict(x[i:i + 1])[0]
        return out

    def fidelity(self, x: FloatArray, y: ArrayLike) -> Fidelity:
        from .audit_stats import spearman

        y = np.asarray(y, float)
        if len(y) < MIN_POINTS:
            return Fidelity(len(y), float("nan"))
        return Fidelity(len(y), spearman(self.loo_predictions(x, y), y))


def rank_candidates(surrogate: Surrogate, x: FloatArray) -> list[int]:
    """Candidate indices, best predicted first (ties keep the given order)."""
    pred = surrogate.predict(x)
    return [int(i) for i in np.argsort(-pred, kind="stable")]

