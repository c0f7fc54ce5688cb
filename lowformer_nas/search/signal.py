"""The ImageNet-anchored accuracy signal of a search: the capacity model of
``accuracy.anchors`` with MACs from the analytic kernel list (milliseconds, not the seconds of
building a network and running torch's counter), and other families at their published top-1.
"""
from __future__ import annotations

import functools
from typing import Any
from collections.abc import Mapping, Sequence

from ..accuracy.anchors import (ANCHORED, RESOLUTION, AnchorCheck, CapacityModel, anchor_check,
                                capacity_check, capacity_model, ranks_by_anchors,
                                score_published)
from ..arch.config import ArchConfig


@functools.lru_cache(maxsize=4096)
def macs_224(cfg: ArchConfig) -> float:
    """MACs at 224 px with 1000 classes (equal to torch's counter on the built network)."""
    from ..latency.tracing.counts import analytic_counts

    return float(analytic_counts(cfg, RESOLUTION)[1])


def model() -> CapacityModel:
    return capacity_model(macs_224)


def anchored_score(cfg: ArchConfig | str) -> float:
    """Predicted ImageNet-1k top-1 of a config; a timm model's published top-1 (a
    ``ValueError`` when the package has none: the reference is placed but not scored)."""
    if isinstance(cfg, str):
        return score_published(cfg)
    return model().predict_macs(macs_224(cfg))


def anchored_check() -> AnchorCheck:
    """The signal's leave-one-out agreement with the anchors (its stated fidelity)."""
    return capacity_check(macs_224)


def anchor_macs_range() -> tuple[float, float]:
    """The anchors' MACs at 224 px: the range the signal has evidence for."""
    from ..accuracy.anchors import load_anchors
    from ..arch.registry import get_arch

    macs = [macs_224(get_arch(a.name)) for a in load_anchors()]
    return min(macs), max(macs)


def anchored_error() -> float:
    """The signal's stated error: leave-one-out mean absolute error on the anchors (points)."""
    mae = anchored_check().mae
    assert mae is not None
    return mae


def fidelity_text() -> str:
    """The signal's proxy-fidelity line: what it is, its leave-one-out figures and its limit."""
    c = anchored_check()
    return (f"proxy fidelity ({ANCHORED}): predicted ImageNet-1k top-1, {model().text()}; "
            f"leave-one-out on them: Kendall {c.kendall.text()}, Spearman "
            f"{c.spearman.text()}, mean abs error {c.mae:.2f} top-1 points. It reads more "
            f"compute in LowFormer's design as more accuracy; designs of equal MACs tie")


def run_anchor_check(settings: Mapping[str, Any],
                     references: Sequence[Mapping[str, Any]]) -> AnchorCheck | None:
    """The anchor check of a run's own signal: the anchored signal's leave-one-out figure
    (never in-sample), else the run's scores of the official variants (zero-cost or trained)."""
    if ranks_by_anchors(settings["proxy"], settings["zc_score"]):
        return anchored_check()
    return anchor_check({r["name"]: r.get("score") for r in references
                         if r.get("family", "lowformer") == "lowformer"})
