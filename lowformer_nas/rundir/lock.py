"""A run directory has one writer at a time: the search that runs in it, or ``verify RUN``."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import RunError

LOCK_NAME = ".lock"


def lock_run_dir(path: Path) -> int:
    """Take the run directory's lock without waiting; returns its file descriptor (closing it
    releases the lock, as does the process's end). RunError when another process holds it."""
    fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RunError(f"another lowformer-nas search or verify is running in "
                       f"{str(path)!r}") from None
    return fd
