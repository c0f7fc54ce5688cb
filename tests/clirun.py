"""Run ``lowformer-nas`` as a user does: a fresh process, as in a terminal (a pty) or as under CI
(pipes, ``CI=true``), with the default flags (progress display on).

Tests that go through ``main([...])`` in-process with ``--quiet`` skip the display and
everything it touches (found 2 of issue 11 hid there), so the user-path tests use this.
"""
from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from collections.abc import Sequence

REPO = Path(__file__).resolve().parents[1]


def sigint_as_in_a_terminal() -> None:
    """``preexec_fn`` for a child that a test Ctrl-C's: a shell's background job (``cmd &``, as
    CI runners may start the suite) ignores SIGINT, the child inherits that and Python then never
    raises KeyboardInterrupt, so the interrupt test would pass or fail by accident."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _env(tty: bool, extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in env.get(
        "PYTHONPATH", "").split(os.pathsep) if p])
    for key in ("CI", "NO_COLOR", "TERM", "COLUMNS"):
        env.pop(key, None)
    if tty:
        env.update(TERM="xterm-256color", COLUMNS="120")
    else:
        env["CI"] = "true"
    env.update(extra or {})
    return env


def run_cli(args: Sequence[str], tty: bool, cwd: Path | None = None, timeout: float = 600,
            env: dict[str, str] | None = None) -> tuple[int, str]:
    """(exit code, everything written to stdout and stderr) of ``python -m lowformer_nas ARGS``."""
    cmd = [sys.executable, "-m", "lowformer_nas", *args]
    if not tty:
        p = subprocess.run(cmd, cwd=cwd, env=_env(False, env), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(cmd, cwd=cwd, env=_env(True, env), stdin=slave, stdout=slave,
                             stderr=slave, close_fds=True)
    finally:
        os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal (it exited)
                    break
                if not data:
                    break
                chunks.append(data)
            elif p.poll() is not None:
                break
        else:
            p.kill()
            raise subprocess.TimeoutExpired(cmd, timeout)
        code = p.wait(timeout=60)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")
