"""What the Optuna and Ray backends share, so that they cannot drift apart.

Interrupted-trial recovery, the two-stage top-k rule, the values told to the sampler and the
evaluation of one trial are written once here; each backend only adapts them to its API.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, TypeVar
from collections.abc import Callable, Iterable, Mapping

from ..objective import Evaluation

if TYPE_CHECKING:  # annotations only
    from optuna import Study
    from optuna.trial import FrozenTrial

    from ...arch.config import ArchConfig
    from ..objective import Evaluator

T = TypeVar("T")
CONSTRAINT = "latency"


def counted_trial(state: str, attrs: Mapping[str, object]) -> bool:
    """Trials that use up the trial budget: finished ones, and failures of the trial itself
    (a FAIL with an ``error``; an interrupted one is retried instead)."""
    return state in ("COMPLETE", "PRUNED") or (state == "FAIL" and "error" in attrs)


def mark_interrupted(study: Study) -> list[FrozenTrial]:
    """Trials a killed run left RUNNING: told FAIL (no ``error``: interrupted); returns them.

    Only for a study no other process is running (the run directory is locked)."""
    import optuna

    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in running:
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    return running


def trials_to_retry(study: Study) -> list[FrozenTrial]:
    """Interrupted trials (killed: RUNNING; Ctrl-C: FAIL without an ``error``), each retried
    once: the ones no later trial names in ``retry_of``."""
    import optuna

    mark_interrupted(study)
    failed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
    todo = [t for t in failed if "error" not in t.user_attrs and t.params]
    if not todo:
        return []
    retried = {t.user_attrs.get("retry_of") for t in study.get_trials(deepcopy=False)}
    return [t for t in todo if t.number not in retried]


def top_k(items: Iterable[T], k: int, key: Callable[[T], str],
          point: Callable[[T], tuple[float | None, float | None]]) -> list[T]:
    """Two-stage: the ``k`` best feasible first-stage trials by non-dominated rank of (score,
    latency), then score; one per config (its first trial); ``point`` gives (score, latency)
    and ``None`` or a non-finite score excludes an item."""
    import numpy as np

    from ...rundir.pareto import non_dominated_sort

    unique: dict[str, T] = {}
    for item in items:
        score = point(item)[0]
        if score is not None and math.isfinite(score):
            unique.setdefault(key(item), item)
    cands = list(unique.values())
    if not cands:
        return []
    pts = np.array([point(c) for c in cands], dtype=float)
    ranks = non_dominated_sort(pts, [True, False])
    order = sorted(range(len(cands)), key=lambda i: (ranks[i], -pts[i, 0]))
    return [cands[i] for i in order[:k]]


def objective_values(ev: Evaluation) -> tuple[float, float]:
    """(score, latency) told to the sampler; over budget or no score: the worst score."""
    return ev.values()


def evaluate(evaluator: Evaluator, cfg: ArchConfig | str, stage: str,
             report: Callable[[int, float, float], None] | None = None,
             latency: tuple[float, float] | None = None,
             on_zc: Callable[[dict[str, float]], None] | None = None) -> Evaluation:
    """One trial of a built config: latency gate, then the stage's proxy (``Evaluator``)."""
    return evaluator.evaluate_config(cfg, stage, report=report, latency=latency, on_zc=on_zc)
