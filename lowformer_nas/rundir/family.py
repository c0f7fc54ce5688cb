"""B0-B3: a family of four models picked along the front of feasible trials.

Rule (documented in the summary): the latency range is ``[fastest, budget]`` where
``fastest`` is the fastest feasible trial; B_k may use at most
``fastest + FRACTIONS[k] * (budget - fastest)`` (fractions 1/4, 1/2, 3/4, 1). B3 is the feasible
trial with the best proxy score within the budget; then, walking down, B_k is the best score
among trials within its limit *and* strictly faster than B_{k+1} (ties: lower latency). Every
pick is therefore on the front and latencies strictly increase B0 < ... < B3. Measuring the
fractions from the fastest trial (not from 0) keeps all four slots usable when a space cannot
get anywhere near 1/4 of the budget; a slot with no candidate stays empty.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .pareto import FloatArray

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

FRACTIONS = (0.25, 0.5, 0.75, 1.0)
NAMES = ("B0", "B1", "B2", "B3")


def _best_within(latency: FloatArray, score: FloatArray, limit: float) -> int | None:
    ok = np.flatnonzero(latency <= limit)
    if len(ok) == 0:
        return None
    order = np.lexsort((latency[ok], -score[ok]))  # best score first, then lowest latency
    return int(ok[order[0]])


def pick_family(latency: ArrayLike, score: ArrayLike, budget_ms: float,
                fractions: Sequence[float] = FRACTIONS) -> dict[str, int | None]:
    """``{"B0": index or None, ..., "B3": ...}`` over the given (feasible) points."""
    lat = np.asarray(latency, dtype=float)
    sc = np.asarray(score, dtype=float)
    picks: dict[str, int | None] = {}
    ceiling = np.inf
    fastest = float(lat.min()) if len(lat) else 0.0
    for name, frac in reversed(list(zip(NAMES, fractions))):
        limit = fastest + frac * (budget_ms - fastest)
        candidates = lat < ceiling
        idx = _best_within(np.where(candidates, lat, np.inf), sc, limit)
        picks[name] = idx
        if idx is not None:
            ceiling = lat[idx]
    return {name: picks[name] for name in NAMES}


def family_rule_text(fractions: Sequence[float] = FRACTIONS) -> str:
    """One sentence for summaries and YAML headers."""
    parts = ", ".join(f"{n} {f:g}" for n, f in zip(NAMES, fractions))
    return (f"B_k = best proxy score among feasible trials with latency <= fastest + f_k x "
            f"(budget - fastest), fastest = fastest feasible trial, f: {parts}; each pick "
            f"strictly faster than the next one up")
