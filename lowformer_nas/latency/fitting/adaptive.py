"""Adaptive calibration: spend part of the budget where the predictor is unsure and where
searches go.

Why: a search that minimises predicted latency is drawn to wherever the predictor is too low
(the optimizer's curse): depth-0 stages, all-unfused stages at high resolution, the smallest
widths with the deepest stages, a 512-wide fused stage 4. Uniform random calibration models
rarely land there. Following nn-Meter's adaptive data sampling (Zhang et al., MobiSys 2021)
and LitePred's (Feng et al., NSDI 2024), which sample more kernels where the fitted predictor
is inaccurate, calibration here (1) adds the kernels of such *corner* configs to the kernel
pool and (2) after a first fit draws many corner candidates, predicts each with a committee of
bootstrap fits, and measures the ones the committee disagrees on most (query by committee).
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, TypeVar
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .records import KernelRecord, ModelRecord, ProfileParams, Roofline

if TYPE_CHECKING:
    from .records import FloatArray
    from ...arch.config import ArchConfig
    from ...space import ParamValue, SearchSpace

T = TypeVar("T")

CORNER_P = 0.6  # chance that a dimension sits at its first or last choice in a corner config
COMMITTEE = 6  # bootstrap fits whose disagreement ranks candidates
CANDIDATES = 240  # corner candidates scored per refit of the committee


def _extreme(choices: Sequence[T], rng: random.Random) -> T:
    return choices[0] if rng.random() < 0.5 else choices[-1]


def templates(dims: Mapping[str, Sequence[ParamValue]]) -> list[dict[str, ParamValue]]:
    """Parameter overrides of the regimes searches are known to exploit (issue 8)."""
    def each(field: str, pick: Callable[[Sequence[ParamValue]], ParamValue]
             ) -> dict[str, ParamValue]:
        return {k: pick(v) for k, v in dims.items() if k.endswith("." + field)}

    first, last = (lambda v: v[0]), (lambda v: v[-1])
    stage4: dict[str, ParamValue] = {k: (v[-1] if k.endswith((".width", ".depth")) else True)
              for k, v in dims.items() if k.startswith("stage4.")
              and k.split(".")[1] in ("width", "depth", "fused", "entry_fused")}
    return [each("depth", first),                                   # depth-0 / shallow stages
            {**each("fused", lambda v: False if False in v else v[0]),
             **each("entry_fused", lambda v: False if False in v else v[0])},  # all unfused
            {**each("width", first), **each("depth", last)},        # thin and deep
            stage4]                                                 # 512-wide fused stage 4


def corner_configs(space: SearchSpace, rng: random.Random, n: int) -> list[ArchConfig]:
    """``n`` configs of ``space`` pushed to the extremes of its dimensions, the way a search's
    picks are: each starts random, then takes a template or corner values per dimension."""
    dims = space.dimensions()
    temps = templates(dims)
    out = []
    for i in range(n):
        params = {k: rng.choice(v) for k, v in dims.items()}
        if i % 3 == 0 and temps:
            params.update(temps[(i // 3) % len(temps)])
        for k, v in dims.items():
            if rng.random() < CORNER_P / (2 if i % 3 == 0 else 1):
                params[k] = _extreme(v, rng)
        out.append(space.build(params))
    return out


def bootstrap_params(krecs: Sequence[KernelRecord], mrecs: Sequence[ModelRecord],
                     roof: Roofline, rng: np.random.Generator) -> ProfileParams:
    """One committee member: kernel corrections and model-level term fitted on bootstrap
    resamples of the kernel and whole-model measurements."""
    from .fit import fit_params

    ki = rng.integers(0, len(krecs), len(krecs))
    mi = rng.integers(0, len(mrecs), len(mrecs))
    params, _ = fit_params([krecs[i] for i in ki], [mrecs[i] for i in mi], roof, loo=False)
    return params


def disagreement(members: Sequence[ProfileParams], items: Sequence[tuple[ArchConfig, int]]
                 ) -> FloatArray:
    """Per (config, resolution): std over the committee of the log predicted latency."""
    from .predictor import Predictor

    logs = np.empty((len(members), len(items)))
    for m, params in enumerate(members):
        pred = Predictor(params)
        for i, (cfg, res) in enumerate(items):
            logs[m, i] = np.log(max(pred.predict_config(cfg, res, 1)[0], 1e-6))
    return logs.std(0)


def pick_uncertain(krecs: Sequence[KernelRecord], mrecs: Sequence[ModelRecord],
                   roof: Roofline, space: SearchSpace, resolutions: Sequence[int],
                   rng: random.Random, n: int) -> list[tuple[ArchConfig, int]]:
    """The ``n`` corner candidates (config, resolution) with the largest committee spread."""
    nrng = np.random.default_rng(rng.randrange(2 ** 32))
    members = [bootstrap_params(krecs, mrecs, roof, nrng) for _ in range(COMMITTEE)]
    res = sorted(set(resolutions))
    items = [(cfg, _extreme(res, rng) if rng.random() < CORNER_P else rng.choice(res))
             for cfg in corner_configs(space, rng, CANDIDATES)]
    spread = disagreement(members, items)
    return diverse_top(items, spread, n)


def _regime(item: tuple[ArchConfig, int]) -> tuple[object, ...]:
    """What makes two candidates the same regime: the last stage's shape and the resolution."""
    cfg, res = item
    last = cfg.stages[-1]
    return (last.width, last.fused, last.attention and last.attn_stride, res)


def diverse_top(items: Sequence[tuple[ArchConfig, int]], spread: FloatArray, n: int
                ) -> list[tuple[ArchConfig, int]]:
    """The ``n`` most disputed candidates, at most one per regime while others remain (the
    committee otherwise spends a whole group on one corner, e.g. 512-wide stage 4 at 160)."""
    order = [int(i) for i in np.argsort(-spread)]
    picked: list[int] = []
    seen = set()
    for i in order:
        if len(picked) < n and _regime(items[i]) not in seen:
            picked.append(i)
            seen.add(_regime(items[i]))
    picked += [i for i in order if i not in picked][:n - len(picked)]
    return [items[i] for i in picked]
