"""Two-stage pre-screen: which zero-cost-scored candidate is trained next.

``zc`` (the default) trains the top-k of the zero-cost stage by non-dominated rank, all queued
at once. ``surrogate`` queues one candidate at a time: a random forest over the config
encoding, predicted latency and the zero-cost scores is refitted on every trained trial and
the untrained candidate it ranks highest is trained next (zero-cost order until it has
``MIN_POINTS`` trained trials). Its leave-one-out fidelity is written to ``surrogate.json``
after each refit, and ``summary.md`` quotes it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Collection, Mapping, Sequence

from .._io import atomic_write_text
from ..accuracy.surrogate import MIN_POINTS, Surrogate, feature_matrix
from ..rundir.config import SURROGATE_FILE, ZC_SCORES

if TYPE_CHECKING:  # annotations only
    from optuna import Study
    from optuna.trial import FrozenTrial

    from ..arch.config import ArchConfig
    from .context import SearchContext

PRESCREENS = ("zc", "surrogate")
# (config, cheap features, trained score) of a trained trial
Trained = tuple["ArchConfig", Mapping[str, float], float]


def features(attrs: Mapping[str, Any]) -> dict[str, float]:  # Optuna's user attributes
    """Cheap numbers known for every scored candidate: latency and the zero-cost scores."""
    zc = attrs.get("zc") or {}
    out = {"latency_ms": float(attrs.get("latency_ms", math.nan))}
    out.update({n: float(zc.get(n, math.nan)) for n in ZC_SCORES})
    return out


def surrogate_order(candidates: Sequence[tuple[ArchConfig, Mapping[str, float]]],
                    trained: Sequence[Trained],
                    seed: int) -> list[int] | None:
    """Candidate indices, best predicted first; None while too few trials are trained."""
    if len(trained) < MIN_POINTS or not candidates:
        return None
    cfgs = [c for c, _ in candidates] + [c for c, _, _ in trained]
    feats = [f for _, f in candidates] + [f for _, f, _ in trained]
    x = feature_matrix(cfgs, feats)
    n = len(candidates)
    model = Surrogate(seed).fit(x[n:], [a for _, _, a in trained])
    pred = model.predict(x[:n])
    return sorted(range(n), key=lambda i: -pred[i])


def record_fidelity(run_dir: Path, trained: Sequence[Trained], seed: int) -> None:
    """Leave-one-out Spearman of the surrogate over the trained trials, kept in the run dir."""
    if len(trained) < MIN_POINTS:
        return
    x = feature_matrix([c for c, _, _ in trained], [f for _, f, _ in trained])
    fid = Surrogate(seed).fidelity(x, [a for _, _, a in trained])
    atomic_write_text(Path(run_dir) / SURROGATE_FILE, json.dumps(
        {"n": fid.n, "loo_spearman": fid.spearman, "text": fid.text()}, indent=1) + "\n")


def trained_rows(ctx: SearchContext, study: Study) -> list[Trained]:
    """(config, cheap features, trained score) of every completed, feasible trained trial."""
    return [(ctx.space.build(t.params), features(t.user_attrs), t.user_attrs["score"])
            for t in study.get_trials(deepcopy=False)
            if t.state.name == "COMPLETE" and t.user_attrs.get("curve")
            and not t.user_attrs.get("duplicate")]


def enqueue_next(ctx: SearchContext, zc_study: Study, study: Study,
                 trained: Sequence[Trained]) -> bool:
    """Queue the untrained zero-cost candidate the surrogate ranks highest (zc order before)."""
    seen = {t.user_attrs.get("config_key") for t in study.get_trials(deepcopy=False)}
    cands = zc_order(zc_study, seen)
    if not cands:
        return False
    order = surrogate_order([(ctx.space.build(t.params), features(t.user_attrs))
                             for t in cands], trained, ctx.settings.seed)
    best = cands[order[0] if order else 0]
    study.enqueue_trial(ctx.space.to_params(ctx.space.build(best.params)),
                        user_attrs={"zc_trial": best.number})
    return True


def zc_order(zc_study: Study, seen: Collection[object]) -> list[FrozenTrial]:
    """Feasible, untrained, unique zero-cost trials by non-dominated rank, then score."""
    import numpy as np

    from ..rundir.pareto import non_dominated_sort

    unique: dict[str, FrozenTrial] = {}
    for t in zc_study.get_trials(deepcopy=False):
        if t.state.name == "COMPLETE" and t.user_attrs.get("feasible") \
                and math.isfinite(t.values[0]) and t.user_attrs.get("config_key") not in seen:
            unique.setdefault(t.user_attrs["config_key"], t)
    cands = list(unique.values())
    if not cands:
        return []
    ranks = non_dominated_sort(np.array([t.values for t in cands]), [True, False])
    return [cands[i] for i in sorted(range(len(cands)),
                                     key=lambda i: (ranks[i], -cands[i].values[0]))]
