"""The calibration's kernel pool: which kernels a calibration may measure.

The space's own kernels (unique kernels of random configs at the resolutions it is searched
at), plus variants of some of them in shapes other families run (``FOREIGN``), so that a
profile calibrated on LowFormer also prices a timm model's kernels from measurements rather
than by extrapolation (``benchmarks/latency_timm_kernels.py`` found what was missing).
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, TypedDict
from collections.abc import Callable, Sequence

from ..tracing.kernels import Kernel, enumerate_kernels

if TYPE_CHECKING:
    from ...arch.config import ArchConfig


class NormFlags(TypedDict, total=False):
    """``Kernel`` fields a linear variant sets (``Kernel`` keywords)."""

    bn: bool
    bias: bool


class KernelFlags(NormFlags, total=False):
    """``Kernel`` fields a variant sets (``Kernel._replace`` keywords)."""

    act: str


def sample_configs(space: str, rng: random.Random, n: int) -> list[ArchConfig]:
    """``n`` random configs of the named search space."""
    from ...space import load_space

    sp = load_space(space)
    return [sp.sample(rng) for _ in range(n)]


def space_resolutions(space: str, resolutions: Sequence[int] | None) -> list[int]:
    if resolutions:
        return list(resolutions)
    from ...space import load_space

    r = int(getattr(load_space(space), "resolution", 224))
    return [r, r, max(32, (r * 7 // 8) // 16 * 16), max(32, (r * 3 // 4) // 16 * 16)]


WIDE_DW = (5, 7, 9)  # depthwise sizes of other families (MobileNetV3, MixNet, ConvNeXt, ...)


def _maybe_bare(rng: random.Random) -> KernelFlags:
    """Half of the variants without BN, activation and bias (re-parameterisable branches)."""
    return {"bn": False, "act": "", "bias": False} if rng.random() < 0.5 else {}


def _linear_norm(rng: random.Random) -> NormFlags:
    """Half of the token-wise linear layers as LeViT's: no bias, a BatchNorm1d pass after."""
    return {"bn": True, "bias": False} if rng.random() < 0.5 else {"bias": True}


def _window_pool(op: str) -> Callable[[Kernel, random.Random], Kernel]:
    """A windowed pool over a kernel's input: max (CNN stems, downsampling) or average
    (PoolFormer-style token mixers, NAS-Bench-201's 3x3 edges)."""
    def variant(kr: Kernel, rng: random.Random) -> Kernel:
        return Kernel(op, kr.n, kr.cin, kr.cin, kr.h, kr.w, rng.choice((2, 3)),
                      rng.choice((1, 2)))

    return variant


# (share of the space's kernels of one type, how each gets a variant other families use):
# the space's own kernels leave these shapes out, and a correction fitted without them was
# far off on timm models (benchmarks/latency_timm_kernels.py): 1x1 depthwise and grouped
# (channel-multiplier) convs x5-10 too fast, standalone element-wise passes (a BN after a
# concat, a ReLU after a branch sum) x5-8 too slow, token-wise linear layers x2-4 too fast,
# convs without their BN (mixed kernels), element copies (cat, .contiguous() of a permute),
# windowed max and average pools (a global average pool had stood in for them)
FOREIGN = {"dw": ((0.25, lambda kr, rng: kr._replace(k=rng.choice(WIDE_DW))),
                  (0.2, lambda kr, rng: kr._replace(k=1, s=1, **_maybe_bare(rng))),
                  (0.1, lambda kr, rng: kr._replace(op="conv", cout=2 * kr.cin,
                                                    **_maybe_bare(rng))),
                  (0.1, lambda kr, rng: kr._replace(bn=False, act=""))),
           "add": ((0.5, lambda kr, rng: Kernel("eltwise", kr.n, kr.cin, kr.cin, kr.h, kr.w)),
                   (0.25, lambda kr, rng: Kernel("copy", kr.n, 1, 1, kr.cin * kr.h * kr.w, 1)),
                   (0.1, _window_pool("maxpool")), (0.1, _window_pool("avgpool"))),
           "pw": ((0.15, lambda kr, rng: Kernel("linear", kr.n, kr.cin, kr.cout, kr.h * kr.w, 1,
                                                act=kr.act, **_linear_norm(rng))),
                  (0.04, _window_pool("maxpool")), (0.04, _window_pool("avgpool")),
                  (0.1, lambda kr, rng: kr._replace(bn=False, act="")))}


def kernel_pool(configs: Sequence[ArchConfig], resolutions: Sequence[int],
                rng: random.Random) -> dict[str, list[Kernel]]:
    """Unique kernels of ``configs`` at random resolutions, by correction type, plus variants
    of some of them in shapes other families run (``FOREIGN``), so that a profile also
    predicts timm models' kernels from measurements rather than from extrapolation."""
    from ..fitting.predictor import kernel_type

    seen: dict[Kernel, None] = {}
    for cfg in configs:
        for kr in enumerate_kernels(cfg, rng.choice(list(resolutions)), 1):
            seen.setdefault(kr, None)
    for kr in list(seen):
        for share, variant in FOREIGN.get(kr.op, ()):
            if rng.random() < share:
                seen.setdefault(variant(kr, rng), None)
    pool: dict[str, list[Kernel]] = {}
    for kr in seen:
        pool.setdefault(kernel_type(kr), []).append(kr)
    for ks in pool.values():
        rng.shuffle(ks)
    return pool
