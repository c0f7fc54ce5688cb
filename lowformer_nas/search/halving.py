"""One early-stopping rule for both backends: latency-aware successive halving.

``should_stop_early`` decides; :class:`LatencyAwareHalving` is that decision as an Optuna
``BasePruner`` and ``backends.ray_halving.LatencyAwareHalvingScheduler`` the same decision as a
Ray Tune ``TrialScheduler``, so the backends cannot prune differently (tested on shared curves).
Optuna's ``Trial.report`` refuses multi-objective studies, so the Optuna objective hands the
pruner a ``FrozenTrial`` made with the public ``optuna.trial.create_trial``.
"""
from __future__ import annotations

from collections.abc import Sequence

import optuna

History = list[tuple[float, list[float]]]  # (latency ms, per-epoch scores) of finished trials


def should_stop_early(epoch: int, acc: float, latency_ms: float, history: History,
                      epochs: int, eta: int = 3, min_peers: int = 3) -> bool:
    """Successive halving over epochs that respects the latency trade-off.

    Rungs are at ``epochs / eta**k`` (k >= 1). At a rung, a trial is stopped when at least
    ``min_peers`` earlier trials that are *at least as fast* reached the same epoch and this
    trial's score is below the top ``1/eta`` of theirs: a slower and worse model cannot
    reach the front, whereas a fast, weaker one is kept (it may become B0).
    """
    rungs = set()
    r = epochs
    while r // eta >= 1:
        r //= eta
        rungs.add(r)
    if epoch not in rungs:
        return False
    peers = [curve[epoch - 1] for lat, curve in history
             if lat <= latency_ms and len(curve) >= epoch]
    if len(peers) < min_peers:
        return False
    peers.sort(reverse=True)
    keep = max(1, len(peers) // eta)
    return acc < peers[keep - 1]


def curve_of(trial: optuna.trial.FrozenTrial, accuracy: bool = True) -> list[float]:
    """A trial's per-epoch scores: its intermediate values, else its ``score_curve``; where it
    has none (a run from before --train-score, a duplicate) its accuracy ``curve`` only when
    accuracy is the score."""
    if trial.intermediate_values:
        return [trial.intermediate_values[k] for k in sorted(trial.intermediate_values)]
    a = trial.user_attrs
    return list(a.get("score_curve") or (a.get("curve") if accuracy else None) or [])


class LatencyAwareHalving(optuna.pruners.BasePruner):
    """``should_stop_early`` over the study's finished trials (``latency_ms`` user attribute,
    per-epoch scores); the history is read once per trial, not once per epoch."""

    def __init__(self, epochs: int, accuracy: bool = True) -> None:
        self.epochs, self.accuracy = epochs, accuracy
        self._history: dict[int, History] = {}

    def history(self, study: optuna.Study, number: int) -> History:
        if number not in self._history:
            done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
            self._history = {number: [
                (t.user_attrs["latency_ms"], curve_of(t, self.accuracy))
                for t in study.get_trials(deepcopy=False, states=done)
                if "latency_ms" in t.user_attrs]}
        return self._history[number]

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        curve = curve_of(trial)
        if not curve:
            return False
        return should_stop_early(len(curve), curve[-1], trial.user_attrs["latency_ms"],
                                 self.history(study, trial.number), self.epochs)


def running_trial(number: int, latency_ms: float, scores: Sequence[float]
                  ) -> optuna.trial.FrozenTrial:
    """A running trial's state as a ``FrozenTrial`` (public ``create_trial``) for ``prune``."""
    t = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING,
                                  user_attrs={"latency_ms": latency_ms},
                                  intermediate_values=dict(enumerate(scores, start=1)))
    t.number = number
    return t
