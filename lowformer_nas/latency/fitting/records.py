"""The records a latency profile is made of, typed: its ``params`` and the calibration's.

A profile's JSON ``params`` (roofline prior, per-kernel-type corrections, model-level term,
few-shot block, interval table, ...) is written by the fits in ``fitting/`` and read by the
``Predictor``, ``profiles.Profile`` and the built-in targets; the calibration journal's
kernel / whole-model / family records are written by ``targets/calibrate.py`` and read by
the fits. Kept in a module of their own (a leaf: it imports only ``measurement.host``'s
``Roofline``) so that all of them can name these types without an import cycle
(``profiles`` imports the predictor).
Keys a fit always writes are required; the ``total=False`` ones are optional in a file.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from ..measurement.host import Roofline

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy as np
    import numpy.typing as npt

    from .intervals import IntervalTable

    FloatArray: TypeAlias = npt.NDArray[np.float64]  # features, timings, weights

__all__ = ["Roofline"]  # defined with the host's roofline, which measurement/ may not import

KernelRow = list[str | int]  # a ``Kernel`` as JSON stores it: its fields in order


class PerChannel(TypedDict, total=False):
    """A correction's cost per channel on top of the roofline (``predictor.type_prior_ms``)."""

    per_channel: float


class _CorrectionKeys(TypedDict):
    intercept: float
    coef: list[float]


class Correction(_CorrectionKeys, PerChannel, total=False):
    """One kernel type's log-space correction (``predictor.ridge`` / ``fit_type``)."""

    mean: list[float]
    scale: list[float]
    lo: list[float]
    hi: list[float]
    cv_rmse: float
    n: int
    lam: float


class _ModelTermKeys(TypedDict):
    alpha: float | dict[str, float]  # one scale, or one per ``predictor.GROUPS`` entry
    beta_ms: float
    gamma_ms: float


class ModelTerm(_ModelTermKeys, total=False):
    """The model-level term (``predictor.fit_model_level``)."""

    delta_ms_per_mb: float


class FewshotBlock(TypedDict):
    """A few-shot profile's per-group scales and overheads (``fewshot._profile``)."""

    groups: list[str]
    a: list[float]
    c_ms: list[float]
    shape: dict[str, Correction]
    lam: list[float] | None


class _FamilyLevelKeys(TypedDict):
    scale: float
    per_kernel_ms: float


class FamilyLevel(_FamilyLevelKeys, total=False):
    """Other families' level (``families.family_level``)."""

    n_models: int


class FitError(TypedDict):
    """How far off a fit is (a profile's ``error``)."""

    mape_pct: float
    within10_pct: float
    n_models: int
    method: str


class _ParamsKeys(TypedDict):
    roofline: Roofline


class ProfileParams(_ParamsKeys, total=False):
    """A profile's ``params``: what the ``Predictor`` evaluates."""

    corrections: dict[str, Correction]
    model: ModelTerm
    kernel_lookup: list[tuple[KernelRow, float]]  # measured big kernels (JSON: 2-lists)
    kernel_sum_scale: float
    rel_std: float
    interval: IntervalTable
    fewshot: FewshotBlock
    traits: list[str]
    family_level: FamilyLevel


class _RowKeys(TypedDict):
    model: str
    batch: int
    resolution: int
    latency_ms: float


class LatencyRow(_RowKeys, total=False):
    """A whole model's latency a profile was adjusted to (``published``, ``measurements``)."""

    source: str
    arch: dict[str, object]  # ``arch.yaml_io.config_to_dict`` (a search pick's)


class _RecordKeys(TypedDict):
    kind: str
    ms: float


class KernelRecord(_RecordKeys, total=False):
    """A calibration journal's timed kernel (``kind: kernel``)."""

    kernel: KernelRow
    cost_s: float


class ModelRecord(_RecordKeys, total=False):
    """A calibration journal's timed whole model (``kind: model``)."""

    arch: dict[str, object]  # ``arch.yaml_io.config_to_dict``
    resolution: int
    batch: int
    cost_s: float
    source: str


class FamilyRecord(_RecordKeys, total=False):
    """A calibration journal's timed model of another family (``kind: family``)."""

    name: str
    kernels: list[KernelRow]
    resolution: int
    batch: int
    cost_s: float
