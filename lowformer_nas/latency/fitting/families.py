"""Other families' level: whole models of other families timed during the calibration.

A calibrated profile predicts a model of another family (``Profile.predict_model``) from the
sum of its isolated kernel times. Whole LowFormer models alone had set the level
(``kernel_sum_scale``), and 42 timm models measured here landed 29-36 within +-15% over six
fresh calibrations, the level of other families moving against LowFormer's from one
calibration to the next (docs/benchmarks.md, "timm models of other families"). Their whole
models ran at 0.94x (VoVNet, DeiT) to 1.39x (EfficientViT-B0) their kernel sums, more the
more kernels per millisecond. So a calibration of at least
``MIN_BUDGET_S`` also times the fixed set ``FAMILY_MODELS`` (none of the benchmark's 42,
chosen before any of them was measured, about 10 s of the budget) and predicts other
families at the level they set, ``family_level``: 334 of 378 within +-15% over nine calibrations
of the 42 (2026-12-06).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol
from collections.abc import Sequence

import numpy as np

from ..tracing.kernels import kernel_from_row
from .records import FamilyLevel, FamilyRecord

if TYPE_CHECKING:
    from .predictor import Predictor

FAMILY_MODELS = ("mobilenetv1_100", "resnet10t", "hardcorenas_a", "ese_vovnet19b_slim_dw",
                 "starnet_s1", "efficientvit_b0", "deit_tiny_patch16_224",
                 "xcit_nano_12_p16_224", "mobilevit_xxs")
MIN_BUDGET_S = 60.0  # the first-use `local` minute and longer; shorter calibrations skip it
SIDE = 224  # the input side timm's models are built for


class FamilyJournal(Protocol):
    """What ``wants_families`` reads of a calibration journal (``targets.calibrate.Journal``)."""

    def of_kind(self, kind: Literal["family"]) -> list[FamilyRecord]: ...


def wants_families(journal: FamilyJournal, backend: str, budget_s: float) -> bool:
    """Whether a calibration should time the family models now: torch eager only (the other
    backends would export every model), a budget of a minute or more, not yet done."""
    return backend == "torch" and budget_s >= MIN_BUDGET_S and not journal.of_kind("family")


def measure_families(backend: str, device: str, names: Sequence[str] = FAMILY_MODELS
                     ) -> list[FamilyRecord]:
    """One journal record per model: its traced kernels and its measured latency (batch 1,
    interleaved rounds, the calibration's clock). A name this timm does not know is left
    out (the level is fitted on the rest), so a timm release that drops one cannot break a
    calibration."""
    import timm
    import torch

    from ..measurement.measure import time_whole_models
    from ..tracing.trace import trace_kernels

    shape = (1, 3, SIDE, SIDE)
    models = {n: timm.create_model(n, pretrained=False).eval() for n in names
              if timm.is_model(n)}
    kernels = {n: trace_kernels(m, shape) for n, m in models.items()}
    ms = time_whole_models([(m, torch.randn(*shape)) for m in models.values()], backend, device)
    return [{"kind": "family", "name": n, "kernels": [list(k) for k in kernels[n]],
             "resolution": SIDE, "batch": 1, "ms": t} for n, t in zip(models, ms)]


def family_level(frecs: Sequence[FamilyRecord], predictor: Predictor) -> FamilyLevel | None:
    """``{"scale", "per_kernel_ms"}``: ``measured ~ scale x kernel sum + per_kernel_ms x
    kernel count`` over the family records, non-negative least squares on relative error
    (None without at least two records). One scale alone cannot serve both: models of a few
    large convs ran at 0.94-1.07x their kernel sum, models of many small kernels and
    reshapes (XCiT, EfficientViT-B0) at 1.26-1.39x."""
    from scipy.optimize import nnls

    if len(frecs) < 2:
        return None
    sums = np.array([float(predictor.kernel_ms([kernel_from_row(k) for k in r["kernels"]]).sum())
                     for r in frecs])
    counts = np.array([float(len(r["kernels"])) for r in frecs])
    ms = np.array([float(r["ms"]) for r in frecs])
    (scale, per_kernel), _ = nnls(np.stack([sums / ms, counts / ms], 1), np.ones(len(ms)))
    # least squares on relative error favours under-prediction (an error is bounded at -100%
    # below, not above): its fits ran 2-4% under their own family models in the median.
    # Centred on them, so the level is their median, not below it.
    fitted = scale * sums + per_kernel * counts
    centre = float(np.exp(np.median(np.log(ms / np.maximum(fitted, 1e-12))))) if \
        np.all(fitted > 0) else 1.0
    return {"scale": float(scale * centre), "per_kernel_ms": float(per_kernel * centre),
            "n_models": len(frecs)}
