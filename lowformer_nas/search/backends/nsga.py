"""Optuna's NSGA-II with its per-trial generation bookkeeping made incremental.

Optuna assigns each new trial a generation by scanning every COMPLETE trial, and finds the
parent population by scanning every trial, once per trial: at 10,000 trials those scans were
the part of a predicted-only trial's time that grew with the study. Finished trials are
final, so here each COMPLETE trial is counted once, when a listing first shows it finished
(whoever finished it: the run directory's single writer, or any worker of a shared
``--storage`` study), and a generation's parents, which never change once chosen, are kept in
memory. The samples are the same as Optuna's (``tests/test_nsga.py``).

The sampler pickles on every Optuna 5.x: Ray Tune pickles its search algorithm, and with it
this sampler (``tuner.pkl`` when a ``Tuner`` is made, the searcher's checkpoints while it
runs). Optuna 5.1's GA samplers hold a ``threading.Lock`` (their generation cache) and define
no pickling, so a pickled copy leaves its locks out and makes fresh ones.
"""
from __future__ import annotations

import threading
from typing import Any

from optuna.samplers import NSGAIISampler
from optuna.trial import FrozenTrial, TrialState

_LOCKS = {type(threading.Lock()): "Lock", type(threading.RLock()): "RLock"}
_LOCKS_KEY = "__lowformer_nas_locks__"  # in a pickled state: attribute name -> "Lock"/"RLock"


class IncrementalNSGAII(NSGAIISampler):
    """``NSGAIISampler`` whose generation counts and parents are kept, not rescanned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._top, self._count = 0, 0  # highest generation among COMPLETE trials, its size
        self._prefix = 0  # trials[:_prefix] are finished and counted
        self._ahead: set[int] = set()  # numbers past the prefix already counted
        self._parents: dict[int, list[FrozenTrial]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """The state without its locks (a lock cannot be pickled): their names are kept."""
        parent = getattr(super(), "__getstate__", None)  # object's (3.11+) or Optuna's
        state = dict(parent() if parent is not None else self.__dict__)
        locks = {k: _LOCKS[type(v)] for k, v in state.items() if type(v) in _LOCKS}
        for name in locks:
            del state[name]
        state[_LOCKS_KEY] = locks
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        locks = state.pop(_LOCKS_KEY, {})
        parent = getattr(super(), "__setstate__", None)
        if parent is not None:
            parent(state)
        else:
            self.__dict__.update(state)
        for name, kind in locks.items():  # unheld, as a new sampler's
            setattr(self, name, getattr(threading, kind)())

    def _count_complete(self, study) -> None:
        trials = study._get_trials(deepcopy=False, use_cache=True)
        while self._prefix < len(trials) and trials[self._prefix].state.is_finished():
            t = trials[self._prefix]
            if t.number in self._ahead:
                self._ahead.discard(t.number)
            else:
                self._take(t)
            self._prefix += 1
        for t in trials[self._prefix:]:
            if t.state.is_finished() and t.number not in self._ahead:
                self._ahead.add(t.number)
                self._take(t)

    def _take(self, t: FrozenTrial) -> None:
        if t.state != TrialState.COMPLETE:
            return
        g = t.system_attrs.get(self._get_generation_key(), -1)
        if g > self._top:
            self._top, self._count = g, 1
        elif g == self._top:
            self._count += 1

    def get_trial_generation(self, study, trial: FrozenTrial) -> int:
        key = self._get_generation_key()
        generation = trial.system_attrs.get(key, None)
        if generation is not None:
            return generation
        self._count_complete(study)
        assert self._population_size is not None, "Population size must be set."  # as Optuna's
        generation = self._top if self._count < self._population_size else self._top + 1
        study._storage.set_trial_system_attr(trial._trial_id, key, generation)
        return generation

    def get_parent_population(self, study, generation: int) -> list[FrozenTrial]:
        """As Optuna's: the first call's order is the selection's, later calls list the
        parents (cached by id in the study) by trial number."""
        if generation in self._parents:
            return self._parents[generation]
        parents = super().get_parent_population(study, generation)
        self._parents[generation] = sorted(parents, key=lambda t: t.number)
        return parents
