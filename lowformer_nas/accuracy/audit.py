"""The proxy audit: how well does each cheap accuracy signal rank the ground-truth table?

Computes, for every architecture of a ground-truth table (mean over its seeds), the value of
every proxy: size (params, MACs), predicted latency (given by the caller, which owns the
latency model), each zero-cost score, short training runs at several budgets scored by final
accuracy and by summed training loss (lower is better, so negated), and a random-forest
surrogate over the cheap ones (leave-one-out predictions). Then ranks them with
``audit_stats.agreement``. Compute only: ``audit_report`` draws the result.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ..errors import RunError
from .audit_stats import Interval, RankAgreement, agreement, bootstrap, spearman
from .audit_cache import ProxyCache, Values
from .groundtruth import GroundTruthRow, Recipe, config_hash, mean_by_config
from .zerocost import ZC_SCORES

if TYPE_CHECKING:
    from ..arch.config import ArchConfig
    from .datasets import ProxyData
    from .prior import AccuracyPrior

Budget = tuple[int, int]  # (epochs, training images)
ProxyValues = tuple[str, list[float], list[float]]  # (kind, value per config, seconds per config)


def parse_budgets(text: str) -> list[Budget]:
    """``"1x500,2x1250"`` -> [(1, 500), (2, 1250)]; ``"none"`` -> [] (no training proxies)."""
    if text.strip() == "none":
        return []
    out = []
    for part in text.split(","):
        try:
            e, n = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise RunError(f"--budgets must be EPOCHSxIMAGES items joined by commas (e.g. "
                           f"1x500,2x1250) or 'none', but got {text!r}") from None
        if e < 1 or n < 10:
            raise RunError(f"--budgets: epochs must be >= 1 and images >= 10, but got {part!r}")
        out.append((e, n))
    return out


@dataclass(frozen=True)
class ProxyScore:
    """One proxy's agreement with the ground truth and what it costs per architecture."""

    name: str
    kind: str  # size | latency | zero-cost | training | surrogate
    seconds: float  # median wall time per architecture (0: free)
    agreement: RankAgreement
    image_passes: int = 0  # training budget in images seen (training proxies)


@dataclass(frozen=True)
class AuditResult:
    """Everything the audit page and table show."""

    table: str
    recipe_id: str
    recipe: str
    n_archs: int
    n_rows: int
    noise: Interval  # seed-to-seed Spearman of the table itself (its ceiling)
    noise_pairs: int
    latency_source: str
    proxies: tuple[ProxyScore, ...]
    settings: dict[str, object] = field(default_factory=dict)


def noise_ceiling(rows: Sequence[GroundTruthRow], recipe_id: str,
                  n_boot: int = 1000) -> tuple[Interval, int]:
    """Spearman between seed 0 and seed 1 over the configs trained with both."""
    by: dict[str, dict[int, float]] = {}
    for r in rows:
        if r.recipe_id == recipe_id:
            by.setdefault(r.config_hash, {})[r.seed] = r.accuracy
    pairs = [(s[0], s[1]) for s in by.values() if 0 in s and 1 in s]
    if len(pairs) < 3:
        return Interval(float("nan"), float("nan"), float("nan")), len(pairs)
    return bootstrap(spearman, [p[0] for p in pairs], [p[1] for p in pairs], n_boot), len(pairs)


def _timed(fn: Callable[[], float]) -> tuple[float, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def cheap_values(configs: Sequence[ArchConfig], data: ProxyData, zc_resolution: int, seed: int,
                 latency: Sequence[float] | None, cache: ProxyCache | None = None,
                 progress: Callable[[str], None] | None = None
                 ) -> dict[str, ProxyValues]:
    """name -> (kind, value per config, seconds per config) for size, latency, zero-cost."""
    from ..arch.stats import count_params_macs
    from .zerocost import zero_cost_scores

    cache = cache or ProxyCache(None, "")
    out: dict[str, ProxyValues] = {
        "params": ("size", [], []), "MACs": ("size", [], [])}
    out.update({n: ("zero-cost", [], []) for n in ZC_SCORES})
    for i, cfg in enumerate(configs):
        params, macs, _ = count_params_macs(cfg, resolution=zc_resolution,
                                            num_classes=data.num_classes)
        zc = cache.get(f"zero-cost@{zc_resolution}px/seed{seed}", config_hash(cfg), lambda: {
            name: _timed(lambda: zero_cost_scores(cfg, data, zc_resolution, seed=seed,
                                                  names=[name])[name]) for name in ZC_SCORES})
        for name, v in (("params", (params, 0.0)), ("MACs", (macs, 0.0)), *zc.items()):
            out[name][1].append(float(v[0]))
            out[name][2].append(v[1])
        if progress:
            progress(f"zero-cost: {i + 1}/{len(configs)}")
    if latency is not None:  # faster is not better: a proxy must predict accuracy, so +lat
        out["predicted latency"] = ("latency", [float(v) for v in latency],
                                    [0.0] * len(configs))
    return out


def training_values(configs: Sequence[ArchConfig], data: ProxyData, resolution: int,
                    budgets: Sequence[Budget], seed: int,
                    progress: Callable[[str], None] | None = None,
                    cache: ProxyCache | None = None) -> dict[str, ProxyValues]:
    """Short runs at each budget: accuracy and negated summed training loss."""
    from .proxies import train_run

    def one(cfg: ArchConfig, epochs: int, images: int) -> Values:
        res = train_run(cfg, data, resolution, epochs, seed=seed, train_images=images)
        return {"accuracy": (res.accuracy, res.seconds),
                "-loss sum": (-sum(res.loss_sums), res.seconds)}

    cache = cache or ProxyCache(None, "")
    out: dict[str, ProxyValues] = {}
    for epochs, images in budgets:
        got: dict[str, tuple[list[float], list[float]]] = {"accuracy": ([], []),
                                                           "-loss sum": ([], [])}
        for i, cfg in enumerate(configs):
            vals = cache.get(f"train {epochs}x{images}@{resolution}px/seed{seed}",
                             config_hash(cfg), lambda: one(cfg, epochs, images))
            for what, (v, sec) in vals.items():
                got[what][0].append(v)
                got[what][1].append(sec)
            if progress:
                progress(f"train {epochs}x{images}: {i + 1}/{len(configs)}")
        for what, (scores, secs) in got.items():
            out[f"train {epochs}x{images} {what}"] = ("training", scores, secs)
    return out


def surrogate_values(configs: Sequence[ArchConfig], cheap: Mapping[str, ProxyValues],
                     truth: Sequence[float], seed: int) -> list[float]:
    """Leave-one-out random-forest predictions from the config and the cheap proxies."""
    from .prior import prior_features
    from .surrogate import MIN_POINTS, Surrogate

    if len(truth) < MIN_POINTS:
        return [float("nan")] * len(truth)
    x = prior_features(configs, prior_cheap(cheap, len(configs)))
    return list(Surrogate(seed).loo_predictions(x, truth))


def prior_cheap(cheap: Mapping[str, ProxyValues], n: int) -> list[dict[str, float]]:
    """Per config, the cheap values the surrogate (and the shipped prior) learns from: size
    and zero-cost scores. Not latency: a search's target is not the audit's."""
    use = [k for k, (kind, _, _) in cheap.items() if kind in ("size", "zero-cost")]
    return [{k: float(cheap[k][1][i]) for k in use} for i in range(n)]


def audit_prior(rows: Sequence[GroundTruthRow], table: str, data: ProxyData, dataset: str,
                zc_resolution: int, seed: int = 0, recipe_id: str | None = None,
                cache: ProxyCache | None = None) -> AccuracyPrior:
    """The table as an ``AccuracyPrior``: what ``--zc-score small-data-prior`` fits its forest
    on."""
    from .prior import AccuracyPrior

    means = mean_by_config(list(rows), recipe_id)
    configs = [r.arch() for r, _ in means.values()]
    cheap = cheap_values(configs, data, zc_resolution, seed, None, cache)
    return AccuracyPrior(Path(table).name, next(iter(means.values()))[0].recipe_id, dataset,
                         zc_resolution, seed, tuple(configs),
                         tuple(prior_cheap(cheap, len(configs))),
                         tuple(acc for _, acc in means.values()))


def run_audit(rows: Sequence[GroundTruthRow], table: str, data: ProxyData, *,
              zc_resolution: int, train_resolution: int, budgets: Sequence[Budget],
              latency_fn: Callable[[ArchConfig], float] | None = None,
              latency_source: str = "none", recipe_id: str | None = None, seed: int = 0,
              n_buckets: int = 3, n_boot: int = 1000,
              progress: Callable[[str], None] | None = None,
              cache: ProxyCache | None = None) -> AuditResult:
    """Score every proxy on the table's architectures; ``latency_fn(cfg) -> ms`` if given."""
    means = mean_by_config(list(rows), recipe_id)
    if len(means) < 3:
        raise RunError(f"{table!r} holds {len(means)} architectures; the audit needs >= 3")
    first = [r for r, _ in means.values()]
    rid = first[0].recipe_id
    configs = [r.arch() for r in first]
    truth = [acc for _, acc in means.values()]
    latency = [latency_fn(c) for c in configs] if latency_fn else None
    values = cheap_values(configs, data, zc_resolution, seed, latency, cache, progress)
    cheap = dict(values)
    values.update(training_values(configs, data, train_resolution, budgets, seed, progress,
                                  cache))
    values["surrogate (LOO)"] = ("surrogate", surrogate_values(configs, cheap, truth, seed),
                                 [0.0] * len(configs))
    scores = tuple(ProxyScore(
        name, kind, statistics.median(secs) if secs else 0.0,
        agreement(vals, truth, latency if latency else None, n_buckets, n_boot=n_boot,
                  seed=seed), _passes(name, budgets))
        for name, (kind, vals, secs) in values.items())
    noise, pairs = noise_ceiling(rows, rid, n_boot)
    return AuditResult(table, rid, first[0].recipe, len(configs), len(rows), noise, pairs,
                       latency_source, scores,
                       {"zc_resolution": zc_resolution, "train_resolution": train_resolution,
                        "budgets": [f"{e}x{n}" for e, n in budgets], "seed": seed,
                        "latency_buckets": n_buckets, "bootstrap": n_boot})


def _passes(name: str, budgets: Sequence[Budget]) -> int:
    for e, n in budgets:
        if name.startswith(f"train {e}x{n} "):
            return e * n
    return 0


def recipe_of(result: AuditResult) -> Recipe:
    return Recipe.from_json(result.recipe)
