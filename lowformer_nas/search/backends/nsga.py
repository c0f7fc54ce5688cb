"""Optuna's NSGA-II with its per-trial generation bookkeeping made O(1) for a study that only
this process writes (the run directory's journal; the run directory is locked).

Optuna assigns each new trial a generation by scanning every COMPLETE trial, and finds the
parent population by scanning every trial, once per trial: at 10,000 trials that scan was the
part of a predicted-only trial's time that grew with the study. Here both are kept in memory:
the generation counts are read once and then updated in ``after_trial``; a generation's
parents never change once chosen, so they are kept too. The samples are the same as Optuna's.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from optuna.samplers import NSGAIISampler
from optuna.trial import FrozenTrial, TrialState


class SingleWriterNSGAII(NSGAIISampler):
    """``NSGAIISampler`` for a single-writer study (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._generations: Optional[Tuple[int, int]] = None  # (max generation, its count)
        self._parents: Dict[int, List[FrozenTrial]] = {}

    def _scan(self, study) -> Tuple[int, int]:
        """What Optuna's ``get_trial_generation`` computes: the highest generation among
        COMPLETE trials (at least 0) and how many COMPLETE trials it has."""
        key = self._get_generation_key()
        top, count = 0, 0
        for t in study._get_trials(deepcopy=False, states=[TrialState.COMPLETE],
                                   use_cache=True):
            g = t.system_attrs.get(key, -1)
            if g > top:
                top, count = g, 1
            elif g == top:
                count += 1
        return top, count

    def get_trial_generation(self, study, trial: FrozenTrial) -> int:
        key = self._get_generation_key()
        generation = trial.system_attrs.get(key, None)
        if generation is not None:
            return generation
        if self._generations is None:
            self._generations = self._scan(study)
        top, count = self._generations
        generation = top if count < self._population_size else top + 1
        study._storage.set_trial_system_attr(trial._trial_id, key, generation)
        return generation

    def get_parent_population(self, study, generation: int) -> List[FrozenTrial]:
        if generation not in self._parents:
            self._parents[generation] = super().get_parent_population(study, generation)
        return self._parents[generation]

    def after_trial(self, study, trial: FrozenTrial, state: TrialState,
                    values: Optional[Sequence[float]]) -> None:
        super().after_trial(study, trial, state, values)
        if state != TrialState.COMPLETE or self._generations is None:
            return
        g = trial.system_attrs.get(self._get_generation_key(), -1)
        top, count = self._generations
        if g > top:
            self._generations = (g, 1)
        elif g == top:
            self._generations = (top, count + 1)
