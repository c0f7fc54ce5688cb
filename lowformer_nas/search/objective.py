"""One evaluation, shared by both backends: latency first (hard constraint), then the proxy.

A config predicted (or, with ``--measure``, measured) over budget is *not* run through any
proxy: it is recorded as a complete trial with constraint ``latency_ms - budget_ms > 0`` and
the worst score (``-inf``), so constrained samplers learn where the feasible region ends.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from collections.abc import Callable

from ..arch.config import ArchConfig
from ..arch.yaml_io import config_to_dict
from ..rundir.rows import TrialAttrs
from ..space import SearchSpace
from ..accuracy.datasets import ProxyData
from ..accuracy.proxies import train_run
from ..accuracy.zerocost import zero_cost_scores
from ..accuracy.anchors import ANCHORED, ranks_by_anchors
from .settings import SMALL_DATA_PRIOR, SearchSettings

if TYPE_CHECKING:  # annotations only
    from ..latency.targets.profiles import Profile

WORST = float("-inf")


@dataclass
class Evaluation:
    """What one trial produced; ``score`` is the objective maximised (None when infeasible)."""

    config_key: str
    latency_ms: float
    latency_std_ms: float
    feasible: bool
    zc: dict[str, float] = field(default_factory=dict)
    curve: list[float] = field(default_factory=list)
    score: float | None = None
    seconds: float = 0.0

    @property
    def accuracy(self) -> float | None:
        return self.curve[-1] if self.curve else None

    def values(self) -> tuple[float, float]:
        """Optuna objective values: (score to maximise, latency to minimise)."""
        score = WORST if self.score is None or not math.isfinite(self.score) else self.score
        return score, self.latency_ms

    def attrs(self) -> TrialAttrs:
        return {"config_key": self.config_key, "latency_ms": self.latency_ms,
                "latency_std_ms": self.latency_std_ms, "feasible": self.feasible,
                "zc": dict(self.zc), "curve": list(self.curve), "score": self.score,
                "seconds": self.seconds, "accuracy": self.accuracy}


def config_key(cfg: ArchConfig | str) -> str:
    """Canonical text of a config: equal keys build equal networks (duplicate detection)."""
    if isinstance(cfg, str):  # a timm model name
        return json.dumps({"timm": cfg})
    return json.dumps(config_to_dict(cfg), sort_keys=True, separators=(",", ":"))


class Evaluator:
    """Latency (predict or measure) + proxy for one search's settings; no backend logic here."""

    def __init__(self, settings: SearchSettings, space: SearchSpace, profile: Profile,
                 data: ProxyData) -> None:
        from .feasibility import budget_rule, with_quantile

        settings = with_quantile(settings, profile)
        self.settings, self.space, self.profile, self.data = settings, space, profile, data
        self.rule = budget_rule(settings, profile)

    def with_profile(self, profile: Profile) -> Evaluator:
        """This evaluator, predicting and judging feasibility with ``profile`` (a verify
        refit): a new one sharing the data; the old one is left as it was."""
        import copy

        from .feasibility import budget_rule

        new = copy.copy(self)
        new.profile, new.rule = profile, budget_rule(self.settings, profile)
        return new

    def latency(self, cfg: ArchConfig | str) -> tuple[float, float]:
        """(ms, std ms) at the space's resolution, batch 1: predicted, or measured here.
        ``cfg`` may be a timm model name (a reference of another family): traced, not built
        from a config."""
        if self.settings.measure:  # a fresh worker, the protocol of `lowformer-nas measure`
            from ..latency.measurement.worker import measure_in_worker

            m = measure_in_worker([cfg], resolution=self.space.resolution, spare=True)[0]
            return float(m["latency_ms"]), float(m["p90_ms"] - m["p10_ms"]) / 2.563
        if isinstance(cfg, str):
            import timm

            p = self.profile.predict_model(timm.create_model(cfg, pretrained=False),
                                           resolution=self.space.resolution, batch=1)
        else:
            p = self.profile.predict(cfg, resolution=self.space.resolution, batch=1)
        return float(p.latency_ms), float(p.std_ms)

    def evaluate_config(self, cfg: ArchConfig | str, stage: str,
                        report: Callable[[int, float, float], None] | None = None,
                        latency: tuple[float, float] | None = None,
                        force: bool = False,
                        on_zc: Callable[[dict[str, float]], None] | None = None
                        ) -> Evaluation:
        """Latency check, then zero-cost scores; for the ``train`` stage also a training run.

        ``latency`` may be passed when the caller already has it (early stopping needs it);
        ``force`` runs the proxy even over budget (reference points are scored regardless);
        ``on_zc`` gets the zero-cost scores before training starts (Ray reports them per epoch).
        """
        start = time.perf_counter()
        lat, std = latency or self.latency(cfg)
        ev = Evaluation(config_key(cfg), lat, std, feasible=self.rule.fits(lat, std))
        if ev.feasible or force:
            s = self.settings
            assert s.proxy_resolution is not None  # SearchSettings fills it in
            if not ranks_by_anchors(s.proxy, s.zc_score):  # the anchored signal needs none
                ev.zc = zero_cost_scores(cfg, self.data, s.proxy_resolution, seed=s.seed)
            if on_zc is not None:
                on_zc(ev.zc)
            ev.score = self._score(cfg, ev, stage, report)
        ev.seconds = time.perf_counter() - start
        return ev

    def _score(self, cfg: ArchConfig | str, ev: Evaluation, stage: str,
               report: Callable[[int, float, float], None] | None) -> float:
        """The objective: trained accuracy (or loss), or the zero-cost signal of the settings."""
        s = self.settings
        # SearchSettings fills these in (the space's search_defaults, else FALLBACK)
        assert s.proxy_resolution is not None and s.epochs is not None
        assert s.train_score is not None and s.zc_score is not None
        if stage == "train":
            res = train_run(cfg, self.data, s.proxy_resolution, s.epochs, seed=s.seed,
                            score=s.train_score, report=report)
            ev.curve = list(res.curve)
            return res.score(s.train_score)
        if s.zc_score == ANCHORED:
            from .signal import anchored_score

            return anchored_score(cfg)
        if s.zc_score == SMALL_DATA_PRIOR:
            from ..accuracy.prior import load_prior

            return load_prior().score(cfg, ev.zc, self.data.num_classes)
        return ev.zc[s.zc_score]
