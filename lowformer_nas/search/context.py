"""What a search runs with: its run directory and context (``run.py`` makes them, the backends
take them)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotations only; imported where they are used
    from ..latency.targets.profiles import Profile
    from ..space import SearchSpace
    from .objective import Evaluator
    from .progress import SearchProgress
    from .settings import SearchSettings
    from .verify import Verifier


@dataclass
class RunDir:
    path: Path
    lock_fd: int | None = None

    def file(self, name: str) -> Path:
        return self.path / name

    def release(self) -> None:
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None


@dataclass
class SearchContext:
    """What a search runs with, settled before it starts: the settings (quantile resolved),
    the space, the run's initial profile, the evaluator (replaced, not patched, when a
    verify round refits the profile), the run directory, the progress display."""

    settings: SearchSettings
    space: SearchSpace
    profile: Profile
    evaluator: Evaluator
    run: RunDir
    progress: SearchProgress
    verify: Verifier | None = None  # when --verify (the default) applies
