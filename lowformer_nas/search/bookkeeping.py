"""trials.csv and the progress line at a flat cost per finished trial.

A finished trial's row is appended to ``trials.csv`` (one write); the whole file is rewritten
atomically from the study (order, states of other workers' trials, torn tail gone) when a
stage starts, every ``REWRITE_S`` seconds and at the end. Counts and the best trial for the
progress line are kept as running totals, and rows are built once per trial (cached by state).
The pages (``pages``: pareto.html, summary.md) are rewritten from trials.csv every ``PAGES_S``
seconds while the search runs, so a long search shows its front before it ends.
"""
from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING
from collections.abc import Callable, Iterable, Mapping

from ..rundir.rows import TrialAttrs, TrialRow, TrialsFile, counted_row, make_row
from .progress import SearchProgress, StageSummary

if TYPE_CHECKING:
    from ..space import ParamValue

REWRITE_S = 30.0  # full rewrite of trials.csv at most this often during a stage
PAGES_S = 60.0  # interim pages at most this often
Key = tuple[str, int]


class StageStats:
    """Running totals of one stage: counted trials, evaluated, feasible, best (score, ms)."""

    def __init__(self) -> None:
        self.done = self.evaluated = self.feasible = 0
        self.best: tuple[float, float | None] | None = None

    def add(self, row: TrialRow, sign: int = 1) -> None:
        self.done += sign * counted_row(row)
        if row["state"] != "COMPLETE":
            return
        self.evaluated += sign
        score = row["score"]
        if row["feasible"] and score is not None and math.isfinite(score):
            self.feasible += sign
            if sign > 0 and (self.best is None or score > self.best[0]):
                self.best = (score, row["latency_ms"])

    def as_dict(self) -> StageSummary:
        return {"evaluated": self.evaluated, "feasible": self.feasible, "best": self.best}


class TrialBook:
    """Every known row of a search, trials.csv on disk, and the progress bar."""

    def __init__(self, file: TrialsFile, progress: SearchProgress) -> None:
        self.file, self.progress = file, progress
        # after each added trial; True asks for a whole rewrite (verify refitted the profile)
        self.after_trial: Callable[[TrialBook, str], bool] | None = None
        self._rewrite_now = False
        self.pages: Callable[[], None] | None = None  # interim pages from trials.csv
        self._paged = time.monotonic()
        self.rows: dict[Key, TrialRow] = {}
        self.stats: dict[str, StageStats] = {}
        self._rewritten = -math.inf
        self._cache: dict[Key, TrialRow] = {}  # finished rows, built once

    def row(self, stage: str, number: int, state: str, params: Mapping[str, ParamValue],
            attrs: TrialAttrs) -> TrialRow:
        """The row of a trial; a finished trial's row is built once and then reused."""
        cached = self._cache.get((stage, number))
        if cached is not None and cached["state"] == state:
            return cached
        row = make_row(stage, number, state, params, attrs, self.file.space)
        if state in ("COMPLETE", "PRUNED", "FAIL"):
            self._cache[(stage, number)] = row
        return row

    def reset(self, rows: Iterable[TrialRow]) -> None:
        """All rows as the storage has them now: trials.csv rewritten, totals recounted."""
        self.rows = {(r["stage"], r["number"]): r for r in rows}
        self.stats = {}
        for r in self.rows.values():
            self._stage(r["stage"]).add(r)
        self.file.rewrite(list(self.rows.values()))
        self._rewritten, self._rewrite_now = time.monotonic(), False

    def add(self, row: TrialRow) -> None:
        """A trial this process finished: appended (or, if listed before, rewritten)."""
        key = (row["stage"], row["number"])
        old = self.rows.get(key)
        if old is not None:
            self._stage(row["stage"]).add(old, -1)
        self.rows[key] = row
        self._stage(row["stage"]).add(row)
        if old is None and self.file.path.is_file():
            self.file.append([row])
        else:
            self.file.rewrite(list(self.rows.values()))
        if self.after_trial is not None and self.after_trial(self, row["stage"]):
            self._rewrite_now = True
        if self.pages is not None and time.monotonic() - self._paged >= PAGES_S:
            self.pages()
            self._paged = time.monotonic()

    def rewrite_due(self) -> bool:
        return self._rewrite_now or time.monotonic() - self._rewritten >= REWRITE_S

    def show(self, stage: str) -> None:
        """Move the progress bar of ``stage``."""
        st = self._stage(stage)
        self.progress.update(st.done, st.as_dict())

    def done(self, stage: str) -> int:
        return self._stage(stage).done

    def _stage(self, stage: str) -> StageStats:
        return self.stats.setdefault(stage, StageStats())
