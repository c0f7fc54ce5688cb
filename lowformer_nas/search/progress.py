"""Progress on stderr with rich: trials done/total, ETA, feasible count, best so far."""
from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:  # annotations only: rich is imported when a bar is shown
    from rich.progress import Progress, TaskID


class StageSummary(TypedDict):
    """A stage's running totals for the bar (``bookkeeping.StageStats``)."""

    evaluated: int
    feasible: int
    best: tuple[float, float | None] | None  # (score, latency ms) of the best feasible trial


class SearchProgress:
    """One bar per stage; ``quiet`` turns it into a no-op (library use, tests)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._done0 = 0

    def __enter__(self) -> SearchProgress:
        if not self.quiet:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(bar_width=16),
                MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), TextColumn("{task.fields[status]}"),
                console=Console(stderr=True), transient=False)
            self._progress.__enter__()
        return self

    def __getstate__(self) -> dict[str, object]:
        """A pickled copy has no display: Ray Tune snapshots its callbacks (``tuner.pkl``), and
        the live display (a terminal, locks, a refresh thread) belongs to the process drawing
        it. The original keeps drawing; Tune calls its callbacks in that same process."""
        return dict(self.__dict__, _progress=None, _task=None)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)

    def start_stage(self, stage: str, total: int, done: int) -> None:
        if self._progress is None:
            return
        label = {"zc": "zero-cost", "train": "trained"}.get(stage, stage)
        self._task = self._progress.add_task(label, total=total, completed=min(done, total),
                                             status="")

    def update(self, done: int, stats: StageSummary) -> None:
        if self._progress is None or self._task is None:
            return
        best = stats.get("best")
        text = f"feasible {stats['feasible']}/{stats['evaluated']}"
        if best:
            text += f" best {best[0]:.4g}@{best[1]:.3g}ms"
        self._progress.update(self._task, completed=done, status=text)
