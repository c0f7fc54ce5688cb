"""Trial listings that cost (nearly) nothing per finished trial, for both storages we use.

Optuna lists a study's trials (``ask`` looks for WAITING ones, samplers list them all) once
or twice per trial by walking, sorting or copying every trial of the study: at 10,000 trials
most of a predicted-only trial's time. Finished is final (Optuna ignores updates to a
finished trial), so the finished prefix of a study's trials (by number) is kept as a list and
only the trials after it are looked at.
"""
from __future__ import annotations

from typing import Any
from collections.abc import Callable, Container


def prefix_listing(done: list[Any], trial_at: Callable[[int], Any], count: int,
                   states: Container[Any] | None,
                   fresh: Callable[[Any], Any] = lambda t: t) -> list[Any]:
    """Trials ``0..count-1`` (``trial_at(i)``) in ``states``; ``done`` is the finished prefix,
    extended in place; ``fresh`` may replace each trial after the prefix."""
    while len(done) < count and trial_at(len(done)).state.is_finished():
        done.append(trial_at(len(done)))
    rest = [fresh(trial_at(i)) for i in range(len(done), count)]
    if states is None:
        return done + rest
    if any(s.is_finished() for s in states):  # type: ignore[attr-defined]
        return [t for t in done + rest if t.state in states]
    return [t for t in rest if t.state in states]
