"""Optuna's NSGA-II sampler, made picklable on every Optuna 5.x.

Ray Tune pickles its search algorithm, and with it this sampler (``tuner.pkl`` when a
``Tuner`` is made, the searcher's checkpoints while it runs). Optuna 5.1's GA samplers hold a
``threading.Lock`` (their generation cache) and define no pickling, so a pickled copy leaves
its locks out and makes fresh, unheld ones. Sampling is Optuna's own, untouched.
"""
from __future__ import annotations

import threading
from typing import cast

from optuna.samplers import NSGAIISampler

LOCK_TYPES = {type(threading.Lock()): "Lock", type(threading.RLock()): "RLock"}
LOCKS_KEY = "__lowformer_nas_locks__"  # in a pickled state: attribute name -> "Lock"/"RLock"


class PicklableNSGAII(NSGAIISampler):
    """``NSGAIISampler`` that pickles without its locks."""

    def __getstate__(self) -> dict[str, object]:
        """The state without its locks (a lock cannot be pickled): their names are kept."""
        parent = getattr(super(), "__getstate__", None)  # object's (3.11+) or Optuna's
        state = dict(parent() if parent is not None else self.__dict__)
        locks = {k: LOCK_TYPES[type(v)] for k, v in state.items() if type(v) in LOCK_TYPES}
        for name in locks:
            del state[name]
        state[LOCKS_KEY] = locks
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        state = dict(state)
        locks = cast("dict[str, str]", state.pop(LOCKS_KEY, {}))  # as __getstate__ wrote it
        parent = getattr(super(), "__setstate__", None)
        if parent is not None:
            parent(state)
        else:
            self.__dict__.update(state)
        for name, kind in locks.items():
            setattr(self, name, getattr(threading, kind)())
