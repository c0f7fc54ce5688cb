"""Latency budgets as people write them (``5ms``, ``5 ms``, ``0.005s``, ``5000us``) -> milliseconds."""
from __future__ import annotations

import math
import re

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
