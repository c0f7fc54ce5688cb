"""Pareto maths in pure numpy: non-dominated sorting, the front, 2-D hypervolume.

Every function takes an ``(n, k)`` array and a ``maximize`` flag per column, so the same code
serves "max accuracy, min latency" and anything else; nothing here knows about trials.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _as_minimisation(points: npt.ArrayLike, maximize: Sequence[bool]) -> FloatArray:
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != len(maximize):
        raise ValueError(f"points must have shape (n, {len(maximize)}), got {pts.shape}")
    sign = np.where(np.asarray(maximize, dtype=bool), -1.0, 1.0)
    return pts * sign


def non_dominated_sort(points: npt.ArrayLike, maximize: Sequence[bool]
                       ) -> npt.NDArray[np.int_]:
    """Rank per point: 0 for the front, 1 for the front once 0 is removed, and so on."""
    pts = _as_minimisation(points, maximize)
    n = len(pts)
    le = np.all(pts[:, None, :] <= pts[None, :, :], axis=2)
    lt = np.any(pts[:, None, :] < pts[None, :, :], axis=2)
    dom = le & lt  # dom[i, j]: i dominates j
    ranks = np.full(n, -1, dtype=int)
    remaining = np.ones(n, dtype=bool)
    rank = 0
    while remaining.any():
        dominated = np.any(dom[remaining][:, remaining], axis=0)
        current = np.flatnonzero(remaining)[~dominated]
        ranks[current] = rank
        remaining[current] = False
        rank += 1
    return ranks


def pareto_mask(points: npt.ArrayLike, maximize: Sequence[bool]) -> npt.NDArray[np.bool_]:
    """Boolean mask of the non-dominated points (duplicates of a front point are all kept)."""
    pts = np.asarray(points, dtype=float)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    return non_dominated_sort(pts, maximize) == 0


def front_indices(points: npt.ArrayLike, maximize: Sequence[bool], sort_col: int = 0
                  ) -> list[int]:
    """Indices of the front, sorted by column ``sort_col`` (ascending)."""
    idx = np.flatnonzero(pareto_mask(points, maximize))
    return [int(i) for i in idx[np.argsort(np.asarray(points, float)[idx, sort_col],
                                           kind="stable")]]


def hypervolume_2d(points: npt.ArrayLike, reference: Sequence[float],
                   maximize: Sequence[bool]) -> float:
    """Area dominated by ``points`` and bounded by ``reference`` (2 objectives).

    Points that do not strictly improve on the reference in both objectives add nothing.
    """
    pts = _as_minimisation(points, maximize)
    ref = _as_minimisation(np.asarray([reference], dtype=float), maximize)[0]
    if pts.shape[1] != 2:
        raise ValueError("hypervolume_2d needs exactly two objectives")
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]  # by first objective, then second
    area, best_y = 0.0, ref[1]
    for x, y in pts:
        if y < best_y:
            area += (ref[0] - x) * (best_y - y)
            best_y = y
    return float(area)
