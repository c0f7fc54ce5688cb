"""The CPU memory allocator's regime while latency is measured: steady by default.

Found while checking the verify loop's figures (docs/benchmarks.md, "Search picks, measured"):
with glibc's default malloc, torch eager serves every activation above the *dynamic* mmap
threshold (128 KiB at start) with a fresh ``mmap`` and returns it on free, so each inference
pays page faults on its large activations -- or not, depending on what the process allocated
before. The same network measured 30.3 ms as the first model timed in a process and 20.6 ms
after two others (1 thread, 224x224, idle machine); a fused 3x3 conv 128->128 at 56x56 took
0.94-2.6 ms in fresh processes and 0.30 ms in the steady regime. A latency that depends on
process history cannot be predicted, verified or reproduced.

``steady`` (the default) fixes the regime with ``mallopt``: allocations below 1 GiB come from
the heap and the heap is not trimmed, so after warm-up every inference reuses memory, as a
deployment runtime with an arena (onnxruntime, TensorRT, TFLite, or torch under tcmalloc /
jemalloc) does. It is set for the whole process on first use and is not undone (glibc has no
way back to the dynamic threshold); memory freed by models is kept by the process.
``$LOWFORMER_NAS_ALLOCATOR=default`` keeps glibc's default (numbers then depend on process
history, as said above). Not glibc (macOS, musl): the system's allocator, recorded as such.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

from ...errors import ConfigError

ALLOCATOR_ENV = "LOWFORMER_NAS_ALLOCATOR"
REGIMES = ("steady", "default")
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
MMAP_THRESHOLD = 1 << 30  # glibc's cap for this parameter on 64-bit is HEAP_MAX / 2
TRIM_THRESHOLD = (1 << 31) - 1  # an int: mallopt takes one

_applied: str | None = None


def regime_name() -> str:
    """``steady`` (default) or ``default``, from ``$LOWFORMER_NAS_ALLOCATOR``."""
    name = os.environ.get(ALLOCATOR_ENV, "steady") or "steady"
    if name not in REGIMES:
        raise ConfigError(f"{ALLOCATOR_ENV} must be one of {', '.join(REGIMES)}, but got "
                          f"{name!r}")
    return name


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # only glibc has it (and mallopt's numbering)
        return libc
    except (OSError, AttributeError):
        return None


def steady_allocator() -> str:
    """Put this process's allocator in the measurement regime (once); returns what it is:
    ``glibc-steady``, ``glibc-default`` or ``system`` (recorded in profiles' host facts)."""
    global _applied
    if _applied is not None:
        return _applied
    libc = _glibc()
    if libc is None:
        _applied = "system"
    elif regime_name() == "default":
        _applied = "glibc-default"
    else:
        ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
        ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
        _applied = "glibc-steady" if ok else "glibc-default"
    return _applied


def allocator_label() -> str:
    """What :func:`steady_allocator` would set, without setting it (for journal names)."""
    if _applied is not None:
        return _applied
    if _glibc() is None:
        return "system"
    return f"glibc-{regime_name()}"
