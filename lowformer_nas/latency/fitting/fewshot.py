"""Few-shot latency profiles for any torch model: fit from a handful of whole-model latencies.

A user with 1-100 measured models on a device (from ``trtexec``, the export kit, a paper)
gets a profile from them and the device's roofline prior. Each kernel costs
``a_g * roofline_g(kernel) + c_g`` (``a_g``: scale of the kernel group's roofline time, ``c_g``:
its per-kernel overhead), a model adds ``beta``; that is few parameters, all pulled towards
common values and those towards the prior (ridge in relative terms, non-negative), so 10-20
rows suffice. With 1 row only the prior's scale is fitted, with 2 rows a scale and a
per-kernel overhead; from 3 rows the strength of the pull and the runtime traits (which graph
rewrites the device's runtime applies) are chosen by leave-one-out error, which is reported.

Python API (see docs/predictor.md)::

    from lowformer_nas.latency.fitting.fewshot import fit, predict
    prof = fit([(model_a, (1, 3, 224, 224), 4.1), (model_b, (1, 3, 224, 224), 7.9), ...],
               prior={"peak_gflops": 1300, "bandwidth_gbs": 51, "launch_us": 20})
    predict(prof, model_c, (1, 3, 224, 224))   # -> Prediction(latency_ms=..., std_ms=...)
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING
from collections.abc import Mapping, Sequence

import numpy as np

from ...errors import ProfileError
from .fewshot_terms import GROUPS, kernel_terms, pieces
from .records import Correction, FewshotBlock, FitError, ProfileParams, Roofline
from ..tracing.kernels import Kernel

if TYPE_CHECKING:
    from .records import FloatArray
    from torch import nn

    from ..targets.profiles import Prediction, Profile
    from ..tracing.graph import TracedModel

    Traceable = nn.Module | TracedModel  # a model: traced once, or already

LAMBDAS = ((1e-6, 1e-4), (0.001, 1e-4), (0.01, 1e-4), (0.1, 1e-4), (1.0, 1e-4),
           (1e3, 1e-4))  # (group, prior)
# the per-group fit minimises the sum of |relative error| (reweighted least squares): phone
# timings carry outliers, and one of them must not drag the rows that agree (+10 points of
# rows within +-10% on Pixel 3 at N=20, none lost on the PyTorch-measured columns)
ROBUST_ITERS = 5
ROBUST_FLOOR = 0.05  # relative errors below this count as this (keeps the weights finite)
MIN_LAUNCH_MS = 1e-3
# two rows: how strongly the scale and overhead are held to the prior's shape (relative units).
# Fitted exactly, LowFormer E1/E3 -> E2 on a Jetson TX2 (published) missed by +17%; held at
# 0.1, by +9% (worst of the three leave-one-out predictions 11.5%, benchmarks/fewshot_published)
TWO_ROW_PULL = 0.1
MIN_SEARCH = 6  # rows from which traits, shape priors and pull strength are chosen by LOO
# another trait set must beat the simpler one's LOO error by this share to be chosen: a few
# rows cannot tell near-equal graphs apart, and choosing among 12 sets by noise costs accuracy
TRAIT_MARGIN = 0.05


def feature_matrix(kernel_lists: Sequence[Sequence[Kernel]], roof: Roofline, fused: bool,
                   shape: dict[str, Correction] | None = None) -> FloatArray:
    """Rows [roofline ms per group..., kernel count per group...], one per model; each
    distinct kernel is costed once (model families share most of their kernels)."""
    from collections import Counter

    uniq: dict[Kernel, int] = {}
    expand: dict[Kernel, list[int]] = {}
    rows_idx = []
    for ks in kernel_lists:
        idx: dict[int, int] = {}
        for kr, n in Counter(ks).items():
            got = expand.get(kr)
            if got is None:
                got = expand[kr] = [uniq.setdefault(p, len(uniq)) for p in pieces(kr, fused)]
            for u in got:
                idx[u] = idx.get(u, 0) + n
        rows_idx.append((np.fromiter(idx, int, len(idx)),
                         np.fromiter(idx.values(), float, len(idx))))
    g, ms = kernel_terms(list(uniq), roof, shape)
    G = len(GROUPS)
    out = np.zeros((len(rows_idx), 2 * G))
    for r, (cols, counts) in enumerate(rows_idx):
        out[r, :G] = np.bincount(g[cols], ms[cols] * counts, G)
        out[r, G:] = np.bincount(g[cols], counts, G)
    return out


def launch_ms(roof: Roofline) -> float:
    return max(float(roof.get("launch_us", 0.0)) * 1e-3, MIN_LAUNCH_MS)


def _nnls_ridge(A: FloatArray, b: FloatArray, pulls: list[tuple[FloatArray, float]]
                ) -> FloatArray:
    """Non-negative least squares of ``A w = b`` plus rows ``r . w = t`` (the pulls)."""
    from scipy.optimize import nnls

    if pulls:
        A = np.vstack([A] + [r[None, :] for r, _ in pulls])
        b = np.concatenate([b, [t for _, t in pulls]])
    return nnls(A, b, maxiter=50 * A.shape[1])[0]


def _pull(m: int, j: int, weight: float, target: float) -> tuple[FloatArray, float]:
    r = np.zeros(m)
    r[j] = weight
    return r, weight * target


def common_fit(X: FloatArray, y: FloatArray, c0: float, lam_p: float) -> FloatArray:
    """(A, C, beta): one roofline scale, one per-kernel overhead, a fixed overhead; pulled
    (strength ``lam_p``, relative units) towards the prior rescaled to the rows: (s, s c0, 0)
    with s the median ratio of measured to prior time, so a prior that is off by a constant
    factor is no worse than an exact one."""
    G = len(GROUPS)
    R, K = X[:, :G].sum(1), X[:, G:].sum(1)
    s = float(np.median(y / np.maximum(R + c0 * K, 1e-12)))
    A = np.column_stack([R, K, np.ones(len(y))]) / y[:, None]
    p = np.sqrt(lam_p)
    return _nnls_ridge(A, np.ones(len(y)), [_pull(3, 0, p / s, s), _pull(3, 1, p / (s * c0),
                                                                             s * c0),
                                            _pull(3, 2, p / np.median(y), 0.0)])


def solve(X: FloatArray, y: FloatArray, c0: float, lam: tuple[float, float]) -> FloatArray:
    """Weights [a_g..., c_g..., beta]: first the common fit, then per-group values pulled
    towards it in relative terms (strength lam[0]), fitted by least absolute relative error
    (``ROBUST_ITERS`` reweighted passes); lam[1] pulls the common fit to the prior."""
    G = len(GROUPS)
    A0, C0, B0 = common_fit(X, y, c0, lam[1])
    A0, C0 = max(A0, 1e-3), max(C0, 1e-3 * c0)
    m = 2 * G + 1
    h = np.sqrt(lam[0])
    pulls = [_pull(m, g, h / A0, A0) for g in range(G)]
    pulls += [_pull(m, G + g, h / C0, C0) for g in range(G)]
    pulls.append(_pull(m, m - 1, h / np.median(y), B0))
    return robust_relative_nnls(np.column_stack([X, np.ones(len(y))]) / y[:, None], pulls)


def robust_relative_nnls(A: FloatArray, pulls: Sequence[tuple[FloatArray, float]] = ()
                         ) -> FloatArray:
    """Non-negative ``w`` minimising sum |A w - 1| (rows of ``A`` in units of their measured
    latency, so residuals are relative errors) plus the ``pulls``, by ``ROBUST_ITERS``
    reweighted least-squares passes."""
    sw = np.ones(A.shape[0])
    for _ in range(ROBUST_ITERS + 1):
        w = _nnls_ridge(A * sw[:, None], sw, list(pulls))
        sw = 1.0 / np.sqrt(np.maximum(np.abs(A @ w - 1.0), ROBUST_FLOOR))
    return w


def predict_rows(X: FloatArray, w: FloatArray) -> FloatArray:
    return X @ w[:-1] + w[-1]


def loo(X: FloatArray, y: FloatArray, c0: float, lam: tuple[float, float]) -> FloatArray:
    """Leave-one-out predictions of every row."""
    out = np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        out[i] = predict_rows(X[i:i + 1], solve(X[keep], y[keep], c0, lam))[0]
    return out


def few_row_weights(X: FloatArray, y: FloatArray, c0: float) -> FloatArray:
    """1 row: the prior scaled to it. 2 rows: a scale and an overhead, per kernel (the
    prior's launch cost, rescaled) or per model, whichever matches the rows better; both
    pulled (``TWO_ROW_PULL``) towards the prior scaled by the rows' median ratio, since two
    free numbers fit two rows exactly and then extrapolate whatever noise the rows carry."""
    G = len(GROUPS)
    R, K = X[:, :G].sum(1), X[:, G:].sum(1)
    s = float(np.median(y / (R + c0 * K)))
    if len(y) == 1:
        return np.concatenate([np.full(G, s), np.full(G, s * c0), [0.0]])
    p = TWO_ROW_PULL
    best: tuple[float, FloatArray] | None = None  # (error, weights)
    for per_kernel, cols, tgt in ((True, (R, K), s * c0), (False, (R + c0 * K, np.ones(2)),
                                                          float(np.median(y)))):
        A = np.column_stack(cols) / y[:, None]
        w = _nnls_ridge(A, np.ones(2), [_pull(2, 0, p / s, s),
                                        _pull(2, 1, p / tgt, tgt if per_kernel else 0.0)])
        err = float(np.sum((A @ w - 1.0) ** 2))
        if best is None or err < best[0] - 1e-9:
            c = w[1] if per_kernel else w[0] * c0
            best = (err, np.concatenate([np.full(G, w[0]), np.full(G, c),
                                         [0.0 if per_kernel else w[1]]]))
    assert best is not None  # the first candidate always sets it
    return best[1]


def trait_sets() -> list[tuple[str, ...]]:
    """The combinations of ``traits.TRAITS`` a fit chooses from when traits are not given,
    fewest first (ties in leave-one-out keep the simpler); none holds a trait and one that
    implies it."""
    from ..tracing.traits import IMPLIED, TRAITS

    combos = [c for n in range(len(TRAITS) + 1) for c in itertools.combinations(TRAITS, n)]
    return [c for c in combos if not any(IMPLIED.get(t) in c for t in c)]


@dataclass(frozen=True)
class FitChoice:
    """What a fit chose and how well it did by leave-one-out (None below 3 rows)."""

    traits: tuple[str, ...]
    lam: tuple[float, float] | None
    shape_prior: bool
    loo_rel: FloatArray | None
    weights: FloatArray


def _traced(item: Traceable, shape: Sequence[int]) -> TracedModel:
    from ..tracing.graph import TracedModel, trace_model

    return item if isinstance(item, TracedModel) else trace_model(item, shape)


def choose(traced: Sequence[TracedModel], y: FloatArray, roof: Roofline,
           traits: Sequence[str] | None, shape: dict[str, Correction] | None) -> FitChoice:
    """Fit weights. From ``MIN_SEARCH`` rows, traits (if not given), shape-prior use and pull
    strength are picked by the smallest leave-one-out mean relative error (ties keep the
    earlier, simpler one; the reported LOO is the chosen setting's, slightly optimistic);
    below that one setting is used (the prior's traits, strong pull), so its LOO is honest."""
    c0 = launch_ms(roof)
    from ..tracing.traits import check_traits

    prior_traits = check_traits(roof.get("traits", ()))  # the incumbent: others must beat it
    cands = [tuple(traits)] if traits is not None else sorted(
        trait_sets(), key=lambda t: t != prior_traits)
    shapes = [False, True] if shape else [False]
    lams: tuple[tuple[float, float], ...] = LAMBDAS
    if len(y) < MIN_SEARCH:  # too few rows to choose by LOO without fooling ourselves
        cands = [tuple(traits) if traits is not None else prior_traits]
        shapes, lams = [False], LAMBDAS[-1:]
    if len(y) < 3:
        t = cands[0]
        X = feature_matrix([tm.kernel_list(t) for tm in traced], roof, True)
        return FitChoice(t, None, False, None, few_row_weights(X, y, c0))
    # (LOO error, traits, shape priors used, pull strengths, LOO residuals, features)
    best: tuple[float, tuple[str, ...], bool, tuple[float, float], FloatArray,
                FloatArray] | None = None
    for t in cands:
        lists = [tm.kernel_list(t) for tm in traced]
        for use in shapes:
            X = feature_matrix(lists, roof, True, shape if use else None)
            for lam in lams:
                rel = loo(X, y, c0, lam) / y - 1.0
                err = float(np.mean(np.abs(rel)))
                margin = 1e-6 if best is None or t == best[1] else TRAIT_MARGIN * best[0]
                if best is None or err < best[0] - margin:
                    best = (err, t, use, lam, rel, X)
    assert best is not None  # cands, shapes and lams are never empty
    _, t, use, lam, rel, X = best
    return FitChoice(t, lam, use, rel, solve(X, y, c0, lam))


def fit(rows: Sequence[tuple[Traceable, Sequence[int], float]],
        prior: Mapping[str, object] | None = None, traits: Sequence[str] | None = None,
        name: str = "fewshot", shape_prior: Profile | None = None) -> Profile:
    """A latency ``Profile`` from ``(model, input shape, measured ms)`` rows.

    ``model``: any ``nn.Module`` (traced once on zeros of the shape) or a ``graph.TracedModel``.
    ``prior``: the device roofline (peak_gflops, bandwidth_gbs, launch_us, optional traits);
    default: this machine's. ``traits``: runtime traits; None decides them from the rows
    (from 3 rows). ``shape_prior``: a calibrated profile (e.g. ``get_target('local')``) whose
    per-kernel-type shape corrections are tried as priors (kept if leave-one-out prefers)."""
    from ..targets.profiles import check_roofline
    from ..tracing.traits import check_traits

    if not rows:
        raise ProfileError("need at least 1 (model, input shape, latency_ms) row to fit")
    y = np.array([float(r[2]) for r in rows])
    if not np.all(np.isfinite(y) & (y > 0)):
        raise ProfileError(f"measured latencies must be finite and > 0 ms, got {y.tolist()}")
    roof = check_roofline(prior) if prior is not None else _local_prior()
    traits = check_traits(traits) if traits is not None else None
    shape = shape_prior.data["params"].get("corrections") if shape_prior is not None else None
    traced = [_traced(m, s) for m, s, _ in rows]
    ch = choose(traced, y, roof, traits, shape)
    return _profile(name, roof, ch, y, shape if ch.shape_prior else None, shape_prior, traits)


def _local_prior() -> Roofline:
    from ..measurement.host import local_roofline

    return local_roofline(1, "torch")


def _profile(name: str, roof: Roofline, ch: FitChoice, y: FloatArray,
             shape: dict[str, Correction] | None, shape_prior: Profile | None,
             given: Sequence[str] | None) -> Profile:
    """The fitted profile: the predictor's params plus a ``fewshot`` block and provenance."""
    from datetime import datetime, timezone

    from ..targets.profiles import make_profile
    from ..tracing.traits import describe_traits

    G = len(GROUPS)
    w = ch.weights
    fs: FewshotBlock = {"groups": list(GROUPS), "a": w[:G].tolist(), "c_ms": w[G:2 * G].tolist(),
          "shape": shape or {}, "lam": list(ch.lam) if ch.lam else None}
    params: ProfileParams = {"roofline": roof.copy(), "corrections": {}, "fewshot": fs,
              "model": {"alpha": 1.0, "beta_ms": float(w[-1]), "gamma_ms": 0.0},
              "traits": list(ch.traits)}
    how = {1: "scale only", 2: "scale + overhead (per kernel or per model)"}.get(
        len(y), "scale + per-kernel and per-model overheads" if len(y) < MIN_SEARCH else
        "per-group scales and overheads, pull strength by LOO")
    words = [f"few-shot fit to {len(y)} whole-model latencies ({how})",
             describe_traits(ch.traits) + (" (given)" if given is not None else
                                           " (decided by LOO)" if len(y) >= MIN_SEARCH else
                                           " (from the prior)")]
    if shape and shape_prior is not None:
        words.append(f"kernel-shape priors from profile {shape_prior.name!r} "
                     f"({', '.join(sorted(shape))})")
    elif shape_prior is not None:
        words.append(f"kernel-shape priors of {shape_prior.name!r} tried, not kept (LOO)")
    extra: dict[str, FitError] = {}
    if ch.loo_rel is not None:
        rel = ch.loo_rel
        extra["error"] = {"mape_pct": float(100 * np.mean(np.abs(rel))),
                          "within10_pct": float(100 * np.mean(np.abs(rel) <= 0.10)),
                          "n_models": len(y), "method": "LOO"}
        params["rel_std"] = float(max(0.05, np.sqrt(np.mean(rel ** 2))))
    else:
        params["rel_std"] = 0.5 if len(y) == 1 else 0.3
    return make_profile(name, name, "; ".join(words), "few-shot", params,
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        **extra)


def predict(profile: Profile, model: Traceable, input_shape: Sequence[int] = (1, 3, 224, 224)
            ) -> Prediction:
    """Predicted latency (``Prediction``) of an ``nn.Module`` or ``TracedModel`` under
    ``profile``: with a few-shot profile the kernel list is the one its runtime traits
    leave (dead code removed, constants folded, conv+BN+act fused as the profile says)."""
    from ..targets.profiles import Prediction

    tm = _traced(model, input_shape)
    params = profile.data["params"]
    kernels = tm.kernel_list(params.get("traits", ()))
    if "fewshot" in params:
        X = feature_matrix([kernels], params["roofline"], True,
                           params["fewshot"].get("shape") or None)
        w = np.concatenate([params["fewshot"]["a"], params["fewshot"]["c_ms"],
                            [params["model"]["beta_ms"]]])
        total = float(predict_rows(X, w)[0])
    else:
        total = profile.predictor.predict_kernel_list(kernels)
    rel = float(params.get("rel_std", 0.3))
    return Prediction(latency_ms=total, std_ms=total * rel, per_stage={"model": total},
                      profile=profile.name)


def predict_many(profile: Profile, models: Sequence[Traceable],
                 input_shape: Sequence[int] = (1, 3, 224, 224)) -> FloatArray:
    """Predicted ms of many models (``nn.Module`` or ``TracedModel``) under a few-shot
    profile, each distinct kernel costed once (fast for a whole search space)."""
    params = profile.data["params"]
    if "fewshot" not in params:
        return np.array([predict(profile, m, input_shape).latency_ms for m in models])
    traits = params.get("traits", ())
    lists = [_traced(m, input_shape).kernel_list(traits) for m in models]
    X = feature_matrix(lists, params["roofline"], True, params["fewshot"].get("shape") or None)
    w = np.concatenate([params["fewshot"]["a"], params["fewshot"]["c_ms"],
                        [params["model"]["beta_ms"]]])
    return predict_rows(X, w)
