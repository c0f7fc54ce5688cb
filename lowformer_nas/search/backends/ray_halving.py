"""``search.halving``'s decision as a Ray Tune ``TrialScheduler``: the same latency-aware
successive halving the Optuna backend's pruner applies (``import ray`` happens here only)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from ..halving import History, should_stop_early

if TYPE_CHECKING:  # annotations only
    from ray.tune.execution.tune_controller import TuneController
    from ray.tune.experiment import Trial


class LatencyAwareHalvingScheduler(FIFOScheduler):
    """Stops a training trial at a rung when ``should_stop_early`` says so; the history is
    the finished trials (complete or stopped), each as (latency, per-epoch scores)."""

    def __init__(self, epochs: int, score_key: str = "score", time_attr: str = "epoch") -> None:
        super().__init__()
        self.epochs, self.score_key, self.time_attr = epochs, score_key, time_attr
        self.history: History = []
        self._curves: dict[str, tuple[float, list[float]]] = {}

    def on_trial_result(self, tune_controller: TuneController, trial: Trial,
                        result: dict[str, Any]) -> str:  # result: what the trial reported
        if not result.get("feasible") or self.score_key not in result:
            return TrialScheduler.CONTINUE  # over budget: one report, nothing to halve
        lat, curve = self._curves.setdefault(trial.trial_id, (result["latency_ms"], []))
        curve.append(float(result[self.score_key]))
        if should_stop_early(int(result[self.time_attr]), curve[-1], lat, self.history,
                             self.epochs):
            self._finish(trial)
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: TuneController, trial: Trial,
                          result: dict[str, Any]) -> None:
        self._finish(trial)

    def on_trial_remove(self, tune_controller: TuneController, trial: Trial) -> None:
        self._finish(trial)

    def _finish(self, trial: Trial) -> None:
        got = self._curves.pop(trial.trial_id, None)
        if got is not None:
            self.history.append(got)
