"""Latency model: per-kernel roofline prior x learned log-space correction, summed, then a
model-level term (scale, fixed overhead, per-kernel overhead) learned from whole models.

Why this shape: the roofline (FLOPs / peak, bytes / bandwidth, launch cost) already separates
compute-bound dense convs from memory-bound depthwise convs and element-wise passes, which is
what MACs miss; the per-type ridge correction in log space learns each kernel family's real
efficiency as a smooth function of its shape; the model-level term absorbs what isolated
kernel timings cannot see (cold caches, framework overhead between ops).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ..tracing.kernels import (Block, Kernel, block_kernels, config_blocks, kernel_bytes,
                               kernel_flops, kernel_from_row, kernel_weight_mb)
from .records import (Correction, FamilyLevel, ModelTerm, PerChannel, ProfileParams,
                      Roofline)

if TYPE_CHECKING:
    import numpy.typing as npt

    from .records import FloatArray
    from ...arch.config import ArchConfig

# a few-shot profile's per-kernel ms (``fewshot_terms.kernel_costs``)
KernelCosts: TypeAlias = "Callable[[Sequence[Kernel], ProfileParams], FloatArray]"

# roofline efficiency by kernel type (fraction of peak FLOP/s a good library reaches)
DEFAULT_EFF = {"conv": 0.5, "pw": 0.5, "dw": 0.1, "convT": 0.25, "sdpa": 0.25, "linear": 0.4,
               "matmul": 0.4, "copy": 0.1, "gn": 0.1, "ln": 0.1, "add": 0.1, "pool": 0.1,
               "softmax": 0.1, "eltwise": 0.1, "maxpool": 0.05, "avgpool": 0.05}
FEATURES = ("lF", "lB", "lE", "lci", "lco", "lhw", "lF2", "lB2", "lci_hw", "lco_hw", "k", "s",
            "lt0")
MIN_FIT = 12  # samples of a type below which only its scale (intercept) is learned
LOOKUP_MS = 1.0  # measured kernels predicted slower than this keep their own measurement
CLIP = 2.5  # largest |log correction|: no more than ~12x away from the roofline


def kernel_type(kr: Kernel) -> str:
    """The correction a kernel is fitted and predicted with: its op, except two types of
    their own that torch runs on a per-group path here (3-16 us per channel, growing with the
    map), which no smooth function of the 3x3..9x9 depthwise shapes predicts: a 1x1
    depthwise conv at stride 1 (512 channels at 14x14: 1.8 ms, the 3x3 one 0.22 ms;
    MobileOne and RepViT branches) and a conv with one input channel per group and more
    outputs (FastViT's channel-multiplier convs). Other grouped convs (RegNet's) stay convs.
    Element copies (``ecopy``) are apart from LowFormer's head-merge copies, so that those
    keep a correction of their own."""
    if kr.op == "dw" and kr.k == 1 and kr.s == 1:
        return "dw1"
    if kr.op == "copy" and kr.cin == kr.cout == 1:
        return "ecopy"  # an element copy (cat, .contiguous()), not attention's head merge
    return "gconv" if kr.op == "conv" and 1 < kr.g == kr.cin else kr.op


def raw_features(kernels: Sequence[Kernel]) -> FloatArray:
    """Rows of [flops, main bytes, epilogue bytes, cin, cout, n*h*w, k, s] per kernel."""
    rows = []
    for kr in kernels:
        main, epi = kernel_bytes(kr)
        rows.append((kernel_flops(kr), main, epi, kr.cin, kr.cout, kr.n * kr.h * kr.w, kr.k,
                     kr.s))
    return np.asarray(rows, dtype=float).reshape(-1, 8)


def roofline_ms(raw: FloatArray, op: str, roof: Roofline) -> FloatArray:
    """Prior time (ms): launch + max(compute, memory) + separate epilogue passes."""
    eff = roof.get("eff", {}).get(op, DEFAULT_EFF.get(op, 0.1))
    compute = raw[:, 0] / (roof["peak_gflops"] * 1e9 * eff)
    memory = raw[:, 1] / (roof["bandwidth_gbs"] * 1e9)
    epi = 0.0 if roof.get("fused_epilogue") else raw[:, 2] / (roof["bandwidth_gbs"] * 1e9)
    return roof["launch_us"] * 1e-3 + 1e3 * (np.maximum(compute, memory) + epi)


# a 1x1 depthwise conv at stride 1 costs a fixed time per channel on torch's per-group path,
# plus its memory pass: 3-15 us per channel here (growing with the map; 2026-12-06) where the
# launch cost is 5 us. Priced as the roofline alone (proportional to channels x map), RepViT's
# 1x1 depthwise branches came out 46% under their isolated timings (cv error 0.75 in log).
DW1_GROUP_LAUNCH = 0.65  # per-channel cost of a `dw1` kernel's prior, in launch costs
PER_CHANNEL = {"dw1": DW1_GROUP_LAUNCH}  # kernel types whose corrections are fitted so


def type_prior_ms(raw: FloatArray, op: str, roof: Roofline, corr: PerChannel | None = None,
                  group_launch_us: float | None = None) -> FloatArray:
    """The prior time a correction multiplies: the roofline, plus a cost per channel where
    the correction was fitted on top of one (``per_channel``, in units of ``group_launch_us``,
    default the roofline's launch cost). Corrections of older fits have none."""
    t0 = roofline_ms(raw, op, roof)
    share = float(corr.get("per_channel", 0.0)) if corr else 0.0
    if share:
        launch = roof["launch_us"] if group_launch_us is None else group_launch_us
        t0 = t0 + raw[:, 3] * launch * 1e-3 * share
    return t0


def design(raw: FloatArray, lt0: FloatArray) -> FloatArray:
    """Log-space shape features of the correction model (see ``FEATURES``)."""
    lF, lB, lE = np.log1p(raw[:, 0]), np.log(raw[:, 1] + 1.0), np.log1p(raw[:, 2])
    lci, lco, lhw = np.log(raw[:, 3]), np.log(raw[:, 4]), np.log(raw[:, 5])
    return np.column_stack([lF, lB, lE, lci, lco, lhw, lF ** 2 / 10, lB ** 2 / 10, lci * lhw / 10,
                            lco * lhw / 10, raw[:, 6], raw[:, 7], lt0])


def ridge(X: FloatArray, y: FloatArray, lam: float) -> Correction:
    """Ridge on standardised columns with an unpenalised intercept; ``lo``/``hi`` keep the
    range of each column seen in the fit (see :func:`apply_correction`)."""
    mean, scale = X.mean(0), X.std(0)
    scale[scale < 1e-9] = 1.0
    Z = (X - mean) / scale
    coef = np.linalg.solve(Z.T @ Z + lam * np.eye(Z.shape[1]), Z.T @ (y - y.mean()))
    return {"intercept": float(y.mean()), "mean": mean.tolist(), "scale": scale.tolist(),
            "coef": coef.tolist(), "lo": X.min(0).tolist(), "hi": X.max(0).tolist()}


def apply_correction(corr: Correction, X: FloatArray) -> FloatArray:
    """The log correction of each row of ``X``. Features are clamped to the range the fit saw:
    its quadratic log terms must not extrapolate (a 7x7 depthwise conv, which LowFormer's
    kernels never have, was predicted 7.5 ms from 3x3 samples and measures 0.36 ms); outside
    that range the roofline prior carries the scaling, with the correction of the nearest
    fitted shape."""
    out = np.full(X.shape[0], corr["intercept"])
    if corr.get("coef"):
        if "lo" in corr:
            X = np.clip(X, np.asarray(corr["lo"]), np.asarray(corr["hi"]))
        Z = (X - np.asarray(corr["mean"])) / np.asarray(corr["scale"])
        out = out + Z @ np.asarray(corr["coef"])
    return np.clip(out, -CLIP, CLIP)


def _cv_folds(n: int, k: int = 5) -> list[npt.NDArray[np.intp]]:
    idx = np.random.default_rng(0).permutation(n)
    return [idx[i::k] for i in range(k)]


def fit_type(X: FloatArray, y: FloatArray) -> Correction:
    """Fit one kernel type's correction; pick the ridge strength by 5-fold CV (log RMSE)."""
    if len(y) < MIN_FIT:
        return {"intercept": float(np.median(y)), "coef": [], "cv_rmse": 0.3, "n": len(y)}
    best: tuple[float, float] | None = None  # (cv rmse, lambda)
    for lam in (0.3, 3.0, 30.0):
        err = []
        for fold in _cv_folds(len(y)):
            train = np.setdiff1d(np.arange(len(y)), fold)
            c = ridge(X[train], y[train], lam)
            err.append(apply_correction(c, X[fold]) - y[fold])
        rmse = float(np.sqrt(np.mean(np.concatenate(err) ** 2)))
        if best is None or rmse < best[0]:
            best = (rmse, lam)
    assert best is not None  # the loop above runs at least once
    corr = ridge(X, y, best[1])
    corr.update({"cv_rmse": best[0], "n": len(y), "lam": best[1]})
    return corr


def fit_kernels(kernels: Sequence[Kernel], times_ms: Sequence[float],
                roof: Roofline) -> dict[str, Correction]:
    """Per-type corrections from isolated kernel timings."""
    by_type: dict[str, list[int]] = {}
    for i, kr in enumerate(kernels):
        by_type.setdefault(kernel_type(kr), []).append(i)
    t = np.asarray(times_ms, dtype=float)
    out: dict[str, Correction] = {}
    for op, idx in by_type.items():
        ks = [kernels[i] for i in idx]
        raw = raw_features(ks)
        prior: PerChannel | None = {"per_channel": PER_CHANNEL[op]} if op in PER_CHANNEL \
            else None
        lt0 = np.log(type_prior_ms(raw, ks[0].op, roof, prior))
        out[op] = fit_type(design(raw, lt0), np.log(t[idx]) - lt0)
        if prior:
            out[op]["per_channel"] = prior["per_channel"]
    return out


GROUPS = ("conv", "pw", "dw", "attn", "other")
_GROUP_OF = {"conv": 0, "pw": 1, "dw": 2, "sdpa": 3, "copy": 3, "convT": 3, "matmul": 3,
             "softmax": 3}
PRIOR_WEIGHT = 2.0  # pull of each per-group scale towards the common scale (rows' worth)


def fit_model_level(groups: FloatArray, counts: npt.NDArray[np.int64], weights_mb: FloatArray,
                    measured: FloatArray, per_group: bool = True, use_counts: bool = True,
                    loo: bool = True) -> tuple[ModelTerm, FloatArray]:
    """Non-negative model-level term, fitted on relative error:
    T = sum_g alpha_g * S_g + beta + gamma * K + delta * W
    (S_g: isolated-kernel time of group g of ``GROUPS``; K: kernel count; W: weight MB,
    cold in a whole model). Per-group scales are pulled towards one common scale.
    Returns the params and leave-one-out predictions of every model (in-sample predictions
    when ``loo`` is False: committee members skip the n refits)."""
    from scipy.optimize import nnls

    total = groups.sum(1)
    k = len(GROUPS) if per_group else 1
    cols = [groups[:, g] for g in range(groups.shape[1])] if per_group else [total]
    extra = [np.ones_like(total)] + ([counts, weights_mb] if use_counts else [])
    A = np.column_stack(cols + extra) / measured[:, None]
    b = np.ones_like(measured)

    def solve(rows: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> FloatArray:
        if not per_group:
            return nnls(A[rows], b[rows])[0]
        common = nnls(np.column_stack([A[rows][:, :k].sum(1, keepdims=True), A[rows][:, k:]]),
                      b[rows])[0][0]
        reg = np.zeros((k, A.shape[1]))
        reg[:, :k] = np.eye(k) * np.sqrt(PRIOR_WEIGHT)
        return nnls(np.vstack([A[rows], reg]),
                    np.concatenate([b[rows], np.full(k, common * np.sqrt(PRIOR_WEIGHT))]))[0]

    n = len(measured)
    p = solve(np.arange(n))
    out = (A @ p) * measured
    for i in range(n if loo else 0):
        rows = np.arange(n) != i
        out[i] = float(np.dot(solve(rows) if rows.sum() >= 2 else p, A[i])) * measured[i]
    alpha: float | dict[str, float] = dict(zip(GROUPS, map(float, p[:k]))) if per_group \
        else float(p[0])
    params: ModelTerm = {"alpha": alpha, "beta_ms": float(p[k]),
              "gamma_ms": float(p[k + 1]) if use_counts else 0.0,
              "delta_ms_per_mb": float(p[k + 2]) if use_counts else 0.0}
    return params, out


class Predictor:
    """Evaluates a profile's parameters; caches per kernel and per block (the search's speed)."""

    def __init__(self, params: ProfileParams, kernel_costs: KernelCosts | None = None) -> None:
        """``kernel_costs(kernels, params)``: per-kernel ms of a few-shot profile
        (``fewshot_terms.kernel_costs``; passed in so this module does not import it)."""
        self.roof = params["roofline"]
        self.kernel_costs = kernel_costs
        self.corr = params.get("corrections", {})
        self.model: ModelTerm = params["model"] if "model" in params else {
            "alpha": 1.0, "beta_ms": 0.0, "gamma_ms": 0.0}
        a = self.model["alpha"]
        self.alpha = np.array([a[g] for g in GROUPS] if isinstance(a, dict)
                              else [float(a)] * len(GROUPS))
        self.rel_std = float(params.get("rel_std", 0.3))
        self.fewshot = params if "fewshot" in params else None
        self.fallback = float(np.median([c["intercept"] for c in self.corr.values()])) \
            if self.corr else 0.0
        self._kernel_ms: dict[Kernel, float] = {}
        self.lookup = {kernel_from_row(k): float(ms) for k, ms in params.get("kernel_lookup", [])}
        self.delta = float(self.model.get("delta_ms_per_mb", 0.0))
        self.kernel_sum_scale = float(params.get("kernel_sum_scale", 1.0))
        self.family: FamilyLevel = params.get("family_level") or {"scale": self.kernel_sum_scale,
                                                     "per_kernel_ms": 0.0}
        self._block_raw: dict[Block, tuple[FloatArray, int, float]] = {}
        self._block_ms: dict[Block, float] = {}

    def kernel_ms(self, kernels: Sequence[Kernel]) -> FloatArray:
        """Predicted isolated time of each kernel (before the model-level term)."""
        missing = [k for k in dict.fromkeys(kernels) if k not in self._kernel_ms]
        by_type: dict[str, list[Kernel]] = {}
        for kr in missing:
            by_type.setdefault(kernel_type(kr), []).append(kr)
        if self.fewshot is not None and missing:  # few-shot profile: its own kernel costs
            assert self.kernel_costs is not None, "a few-shot profile needs its kernel_costs"
            costs = self.kernel_costs(missing, self.fewshot)
            self._kernel_ms.update(zip(missing, costs.tolist()))
            by_type = {}
        for op, ks in by_type.items():
            raw = raw_features(ks)
            corr: Correction = self.corr.get(op) or self.corr.get(ks[0].op) or {
                "intercept": self.fallback, "coef": []}
            lt0 = np.log(type_prior_ms(raw, ks[0].op, self.roof, corr))
            ms = np.exp(lt0 + apply_correction(corr, design(raw, lt0)))
            self._kernel_ms.update(zip(ks, ms.tolist()))
        for kr in missing:  # nn-Meter-style lookup: a measured big kernel is its measurement
            if kr in self.lookup:
                self._kernel_ms[kr] = self.lookup[kr]
        return np.array([self._kernel_ms[k] for k in kernels])

    def group_sums(self, kernels: Sequence[Kernel]) -> FloatArray:
        """Isolated kernel time per group of ``GROUPS``."""
        out = np.zeros(len(GROUPS))
        for kr, ms in zip(kernels, self.kernel_ms(kernels)):
            out[_GROUP_OF.get(kr.op, 4)] += ms
        return out

    def block_raw(self, block: Block) -> tuple[FloatArray, int, float]:
        """(isolated time per group, kernel count, weight MB) of one block."""
        got = self._block_raw.get(block)
        if got is None:
            ks = block_kernels(block)
            got = (self.group_sums(ks), len(ks), sum(kernel_weight_mb(k) for k in ks))
            self._block_raw[block] = got
        return got

    def block_ms(self, block: Block) -> float:
        """A block's share of model latency: scaled kernel times + per-kernel overhead."""
        got = self._block_ms.get(block)
        if got is None:
            raw, k, mb = self.block_raw(block)
            got = float(self.alpha @ raw) + self.model["gamma_ms"] * k + self.delta * mb
            self._block_ms[block] = got
        return got

    def raw_totals(self, blocks: Iterable[tuple[str, Block, int]]
                   ) -> tuple[FloatArray, int, float]:
        """(isolated time per group, kernel count, weight MB) of a block list (for fitting)."""
        vec, k, mb = np.zeros(len(GROUPS)), 0, 0.0
        for _, block, count in blocks:
            raw, n, w = self.block_raw(block)
            vec, k, mb = vec + count * raw, k + count * n, mb + count * w
        return vec, k, mb

    def predict_blocks(self, blocks: Iterable[tuple[str, Block, int]]) -> tuple[float,
                                                                                dict[str, float]]:
        """(latency ms, per-stage ms incl. an ``overhead`` entry) for a block list."""
        per: dict[str, float] = {}
        for stage, block, count in blocks:
            per[stage] = per.get(stage, 0.0) + count * self.block_ms(block)
        per["overhead"] = self.model["beta_ms"]
        return sum(per.values()), per

    def predict_config(self, cfg: ArchConfig, resolution: int, batch: int) -> tuple[float,
                                                                             dict[str, float]]:
        return self.predict_blocks(config_blocks(cfg, resolution, batch))

    def predict_kernel_list(self, kernels: Sequence[Kernel], family_term: bool = True) -> float:
        """Latency of an arbitrary kernel list (traced timm models); without ``family_term``
        the sum of the isolated kernel times at other families' level (``family_level``
        where the calibration timed some, else LowFormer's: see ``Profile.predict_model``)."""
        if not family_term:
            return self.family["scale"] * float(self.kernel_ms(kernels).sum()) + \
                self.family["per_kernel_ms"] * len(kernels)
        m = self.model
        return float(self.alpha @ self.group_sums(kernels)) + m["beta_ms"] + \
            m["gamma_ms"] * len(kernels) + self.delta * sum(kernel_weight_mb(k) for k in kernels)
