"""The few-shot model's per-kernel terms: what each kernel costs under a few-shot profile.

Kept apart from ``fewshot`` (which fits and makes profiles) so that the predictor can price a
few-shot profile's kernels without an import cycle (predictor <- profiles -> fewshot_terms).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..tracing.kernels import Kernel
from .records import Correction, ProfileParams, Roofline

if TYPE_CHECKING:
    from .records import FloatArray

GROUPS = ("conv", "pw", "dw", "matmul", "pool", "add", "norm", "eltwise")
_GROUP_OF = {"conv": 0, "convT": 0, "pw": 1, "dw": 2, "linear": 3, "matmul": 3, "sdpa": 3,
             "pool": 4, "maxpool": 4, "avgpool": 4, "add": 5, "bn": 6, "gn": 6,
             "ln": 6}  # the rest: eltwise


def group_of(kr: Kernel) -> int:
    return _GROUP_OF.get(kr.op, len(GROUPS) - 1)


def pieces(kr: Kernel, fused: bool) -> list[Kernel]:
    """What the runtime runs for one kernel record: itself, or conv + BN + act passes."""
    from ..tracing.graph import unfuse

    return [kr] if fused else unfuse(kr)


def kernel_terms(kernels: Sequence[Kernel], roof: Roofline,
                 shape: dict[str, Correction] | None = None) -> tuple[FloatArray, FloatArray]:
    """(group index, roofline ms without launch) per kernel (epilogues are separate kernels
    already or fused). ``shape``: per-type log corrections learned by an on-device
    calibration (shape priors), applied where given."""
    from .predictor import apply_correction, design, kernel_type, raw_features, type_prior_ms

    ks = list(kernels)
    groups = np.array([group_of(k) for k in ks], dtype=int)
    ms = np.zeros(len(ks))
    launch = float(roof.get("launch_us", 0.0))
    roof = {**roof, "launch_us": 0.0, "fused_epilogue": True}
    by_type: dict[str, list[int]] = {}
    for i, k in enumerate(ks):
        by_type.setdefault(kernel_type(k), []).append(i)
    for kind, idx in by_type.items():
        op = ks[idx[0]].op
        raw = raw_features([ks[i] for i in idx])
        corr = (shape.get(kind) or shape.get(op)) if shape else None
        t0 = np.maximum(type_prior_ms(raw, op, roof, corr, launch), 1e-9)
        if corr:
            t0 = t0 * np.exp(apply_correction(corr, design(raw, np.log(t0))))
        ms[idx] = t0
    return groups, ms


def kernel_costs(kernels: Sequence[Kernel], params: ProfileParams) -> FloatArray:
    """Each kernel record's share of model latency under a few-shot profile's ``params``
    (its BN / activation passes included unless the runtime fuses them)."""
    fs = params["fewshot"]
    fused = "fuse_conv_bn_act" in params.get("traits", ())
    a, c = np.asarray(fs["a"]), np.asarray(fs["c_ms"])
    out = np.zeros(len(kernels))
    for i, kr in enumerate(kernels):
        g, ms = kernel_terms(pieces(kr, fused), params["roofline"], fs.get("shape") or None)
        out[i] = float(np.sum(a[g] * ms + c[g]))
    return out
