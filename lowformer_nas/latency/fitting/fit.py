"""Fitting a profile's parameters from calibration records (kernels, whole models).

Kept apart from ``calibrate.py`` (which measures) so that the adaptive sampler's bootstrap
committee and the measure-and-refit loop can fit without importing the measuring side.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from collections.abc import Sequence

import numpy as np

from ..tracing.kernels import Kernel, config_blocks, kernel_from_row
from .records import FitError, KernelRecord, KernelRow, ModelRecord, ProfileParams, Roofline

if TYPE_CHECKING:
    from .records import FloatArray
    from .predictor import Predictor


def kernel_of(rec: KernelRecord) -> Kernel:
    return kernel_from_row(rec["kernel"])


def kernel_lookup(krecs: Sequence[KernelRecord], pred: Predictor
                  ) -> list[tuple[KernelRow, float]]:
    """[kernel, measured ms] of measured kernels the smooth fit puts above ``LOOKUP_MS``:
    large kernels time stably, and one shape can leave the trend (3x3 conv 512->2048 at 7x7
    measured 29.2 ms where the per-type ridge said 19.0 ms and its 5x5/6x6 neighbours fit)."""
    from .predictor import LOOKUP_MS

    kernels = [kernel_of(r) for r in krecs]
    smooth: FloatArray | list[float] = pred.kernel_ms(kernels) if kernels else []
    return [(list(k), round(float(r["ms"]), 5)) for k, r, s in zip(kernels, krecs, smooth)
            if s >= LOOKUP_MS]


def fit_params(krecs: Sequence[KernelRecord], mrecs: Sequence[ModelRecord], roof: Roofline,
               loo: bool = True) -> tuple[ProfileParams, FitError | None]:
    """Fit corrections on kernels, then the model-level term on whole models; with ``loo``
    also the leave-one-out error (else None) and the calibrated interval table
    (``intervals.py``)."""
    from ...arch.yaml_io import config_from_dict
    from .intervals import interval_table
    from .predictor import Predictor, fit_kernels, fit_model_level

    corr = fit_kernels([kernel_of(r) for r in krecs], [r["ms"] for r in krecs], roof)
    params: ProfileParams = {"roofline": roof, "corrections": corr,
                              "model": {"alpha": 1.0, "beta_ms": 0.0, "gamma_ms": 0.0}}
    params["kernel_lookup"] = kernel_lookup(krecs, Predictor(params))
    pred = Predictor(params)
    totals = [pred.raw_totals(config_blocks(config_from_dict(r["arch"]), r["resolution"],
                                            r.get("batch", 1))) for r in mrecs]
    measured = np.array([r["ms"] for r in mrecs])
    model, pred_loo = fit_model_level(np.array([t[0] for t in totals]),
                                      np.array([t[1] for t in totals]),
                                      np.array([t[2] for t in totals]), measured,
                                      per_group=len(mrecs) >= 30, loo=loo)
    params["model"] = model
    sums = np.array([t[0].sum() for t in totals])  # isolated kernel sums, before the term
    params["kernel_sum_scale"] = float(np.exp(np.median(np.log(measured / sums))))
    if not loo:
        return params, None
    rel = pred_loo / measured - 1.0
    params.update({"rel_std": float(max(0.02, np.sqrt(np.mean(rel ** 2)))),
                   "interval": interval_table(np.log(measured / pred_loo), pred_loo)})
    err: FitError = {"mape_pct": float(100 * np.mean(np.abs(rel))),
           "within10_pct": float(100 * np.mean(np.abs(rel) <= 0.10)),
           "n_models": len(mrecs), "method": "LOO over whole models"}
    return params, err
