"""Latency budgets as people write them (``5ms``, ``5 ms``, ``0.005s``, ``5000us``) ->
milliseconds."""
from __future__ import annotations

import math
import re
import time
from collections.abc import Callable

from ..errors import LowFormerNASError

_UNITS_MS = {"ms": 1.0, "s": 1000.0, "us": 1e-3, "µs": 1e-3}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(ms|s|us|µs)\s*$")


class BudgetError(LowFormerNASError, ValueError):
    """A latency budget that is not a positive number with a unit."""


def parse_budget(text: str) -> float:
    """The budget in milliseconds; a unit is required so that ``5`` can't mean 5 s by accident."""
    match = _PATTERN.match(str(text))
    if not match:
        raise BudgetError(f"latency budget must be a positive number with a unit (ms, s, us), "
                          f"e.g. 5ms, '5 ms', 0.005s or 5000us, but got {text!r}")
    value = float(match.group(1)) * _UNITS_MS[match.group(2)]
    if not math.isfinite(value) or value <= 0:
        raise BudgetError(f"latency budget must be > 0, but got {text!r}")
    return value


def format_budget(ms: float) -> str:
    """A short, file-name-safe spelling (``5ms``, ``0.5ms``) used in default run directories."""
    return f"{ms:g}ms"


_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h)\s*$")
_UNITS_S = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """A wall-clock limit such as ``30m``, ``90s`` or ``1.5h`` -> seconds (> 0)."""
    match = _DURATION.match(str(text))
    value = float(match.group(1)) * _UNITS_S[match.group(2)] if match else 0.0
    if not match or value <= 0:
        raise BudgetError(f"--timeout must be a positive duration with a unit (s, m, h), "
                          f"e.g. 30m, 90s or 1.5h, but got {text!r}")
    return value


def time_left(timeout_s: float | None) -> Callable[[], float | None]:
    """A clock for ``--timeout``: seconds left (never negative), or None without a limit."""
    end = None if timeout_s is None else time.monotonic() + timeout_s
    return lambda: None if end is None else max(0.0, end - time.monotonic())
