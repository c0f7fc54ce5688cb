"""Published ImageNet-1k top-1: the anchors every accuracy signal is held against.

Users train B0-B3 on ImageNet-scale data. A signal chosen to agree with a small-data table
learned "smaller is better" and ranked the official family backwards against its published
top-1, so every signal is checked against published results here. Two tables ship as package
data: the official LowFormer variants (points of the space: the anchors) and other families'
timm models (placed at their published top-1 on the Pareto page).

The ``lowformer`` space's default signal is fitted on the anchors (:class:`CapacityModel`:
top-1 linear in the log of MACs at 224 px), so its fidelity is quoted leave-one-out only.
"""
from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable, Mapping

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

from ..arch.config import ArchConfig
from .audit_stats import FloatArray, Interval, bootstrap, kendall, spearman

DATA = Path(__file__).resolve().parents[1] / "data"
ANCHORS = DATA / "imagenet_anchors.csv"
PUBLISHED = DATA / "imagenet_published.csv"
ANCHORED = "imagenet-anchored"  # the search's name of the capacity model (--zc-score)
RESOLUTION = 224  # the anchors' training and evaluation size
N_BOOT = 2000


@dataclass(frozen=True)
class PublishedTop1:
    """One published ImageNet-1k top-1, with where it was read."""

    name: str
    top1: float
    resolution: int
    source: str
    note: str = ""
    checkpoint: str = ""


def _read(path: Path) -> tuple[PublishedTop1, ...]:
    with open(path, encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return tuple(PublishedTop1(r["name"], float(r["top1"]), int(r["resolution"]),
                                   r["source"], r.get("note") or "", r.get("checkpoint") or "")
                     for r in rows)


@functools.lru_cache(maxsize=1)
def load_anchors() -> tuple[PublishedTop1, ...]:
    """The official variants' published top-1 (registry names)."""
    return _read(ANCHORS)


@functools.lru_cache(maxsize=1)
def load_published() -> dict[str, PublishedTop1]:
    """Other families' timm models (timm names) -> published top-1."""
    return {r.name: r for r in _read(PUBLISHED)}


@dataclass(frozen=True)
class AnchorCheck:
    """How a signal's scores of the official variants rank against their published top-1."""

    n: int
    kendall: Interval
    spearman: Interval
    how: str  # "leave-one-out predictions" or "this run's scores"
    mae: float | None = None  # top-1 points, for a signal in top-1 units

    @property
    def inverted(self) -> bool:
        """The signal ranks the anchors against ImageNet (or not at all)."""
        return not self.kendall.value > 0

    def text(self) -> str:
        err = "" if self.mae is None else f", mean abs error {self.mae:.2f} top-1 points"
        return (f"anchor check: Kendall tau {self.kendall.text()} (Spearman "
                f"{self.spearman.text()}) between {self.how} and the published ImageNet-1k "
                f"top-1 of {self.n} official LowFormer variants{err}")


def anchor_check(scores: Mapping[str, float | None], how: str = "this run's scores",
                 top1_units: bool = False) -> AnchorCheck | None:
    """Rank ``scores`` (anchor name -> score) against published top-1; None below 3 anchors."""
    pairs = [(float(v), a.top1) for a in load_anchors()
             if (v := scores.get(a.name)) is not None and math.isfinite(float(v))]
    if len(pairs) < 3:
        return None
    x, y = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    mae = float(np.mean(np.abs(x - y))) if top1_units else None
    return AnchorCheck(len(pairs), bootstrap(kendall, x, y, N_BOOT),
                       bootstrap(spearman, x, y, N_BOOT), how, mae)


def ranks_by_anchors(proxy: str | None, zc_score: str | None) -> bool:
    """Whether a search ranks by the anchored signal (in top-1 points, needing no data)."""
    return proxy == "zero-cost" and zc_score == ANCHORED


MacsOf = Callable[[ArchConfig], float]  # MACs at 224 px with 1000 classes (the caller's counter)


def fit_nonneg(x: FloatArray, y: FloatArray) -> tuple[float, FloatArray]:
    """(intercept, weights) of least squares with non-negative weights (on standardised
    columns, back in raw units): more of any feature never predicts less accuracy."""
    from scipy.optimize import nnls

    mu, sd = x.mean(0), x.std(0)
    sd[sd == 0] = 1.0
    w = nnls((x - mu) / sd, y - y.mean())[0] / sd
    return float(y.mean() - mu @ w), w


def loo_fit(x: FloatArray, y: FloatArray) -> FloatArray:
    """Leave-one-out predictions of :func:`fit_nonneg` (rows of ``x``: anchors)."""
    pred = np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        a, w = fit_nonneg(x[keep], y[keep])
        pred[i] = a + x[i] @ w
    return pred


def fit_line(x: ArrayLike, y: ArrayLike) -> tuple[float, float]:
    """(intercept, slope) with the slope held >= 0: more compute of the same design is never
    predicted worse (a network never ranks below one it contains)."""
    a, w = fit_nonneg(np.asarray(x, float)[:, None], np.asarray(y, float))
    return a, float(w[0])


@dataclass(frozen=True)
class CapacityModel:
    """Predicted ImageNet-1k top-1 = intercept + slope * ln(MACs at 224 px)."""

    intercept: float
    slope: float
    anchors: tuple[str, ...]

    def predict_macs(self, macs: float) -> float:
        return self.intercept + self.slope * math.log(macs)

    def text(self) -> str:
        return (f"top-1 = {self.intercept:.2f} + {self.slope:.3f} ln(MACs at {RESOLUTION} px), "
                f"fitted on the published top-1 of {len(self.anchors)} official variants")


def _anchor_xy(macs_of: MacsOf) -> tuple[tuple[str, ...], FloatArray, FloatArray]:
    from ..arch.registry import get_arch

    anchors = load_anchors()
    return (tuple(a.name for a in anchors),
            np.array([math.log(macs_of(get_arch(a.name))) for a in anchors]),
            np.array([a.top1 for a in anchors]))


@functools.lru_cache(maxsize=2)
def capacity_model(macs_of: MacsOf) -> CapacityModel:
    """The capacity model fitted on every anchor (what a search scores with)."""
    names, x, y = _anchor_xy(macs_of)
    return CapacityModel(*fit_line(x, y), names)


@functools.lru_cache(maxsize=2)
def loo_predictions(macs_of: MacsOf) -> dict[str, float]:
    """Each anchor predicted by the model fitted on the others (never in-sample)."""
    names, x, y = _anchor_xy(macs_of)
    return dict(zip(names, loo_fit(x[:, None], y).tolist()))


@functools.lru_cache(maxsize=2)
def capacity_check(macs_of: MacsOf) -> AnchorCheck:
    """The capacity model's leave-one-out agreement with the anchors (its stated fidelity)."""
    check = anchor_check(loo_predictions(macs_of), "leave-one-out predictions",
                         top1_units=True)
    assert check is not None  # the anchor table ships with 8 rows
    return check


def score_published(name: str) -> float:
    """A timm model's published top-1 (the page places other families there)."""
    row = load_published().get(name)
    if row is None:
        raise ValueError(f"no published ImageNet-1k top-1 for {name!r} in the package's table "
                         f"(lowformer_nas/data/imagenet_published.csv)")
    return row.top1
