"""Every accuracy signal ranked against published ImageNet-1k top-1 (``audit --anchors``).

Size (parameters, MACs), each zero-cost score at each proxy input size and the small-data prior
are ranked as they are; signals fitted on the anchors (the default capacity model, and the
alternatives it was chosen against) are scored leave-one-out only, never in-sample, with their
mean absolute error in top-1 points. Intervals: percentile bootstrap over the anchors.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypedDict, cast

import numpy as np

from .anchors import N_BOOT, RESOLUTION, anchor_check, load_anchors, loo_fit
from .audit_stats import Interval, IntervalRecord

if TYPE_CHECKING:
    from .datasets import ProxyData

# fitted alternatives (features -> LOO): ln MACs alone is the shipped default
FITS = (("ln MACs", ("ln MACs",)), ("ln params", ("ln params",)),
        ("ln MACs + ln params", ("ln MACs", "ln params")))


@dataclass(frozen=True)
class AnchorAuditRow:
    """One signal's agreement with the anchors."""

    signal: str
    kind: str  # "size", "zero-cost", "small-data prior", "fitted on the anchors (LOO)"
    n: int
    spearman: Interval
    kendall: Interval
    mae: float | None  # top-1 points, fitted signals only

    def cells(self) -> str:
        mae = "-" if self.mae is None else f"{self.mae:.2f}"
        return (f"| {self.signal} | {self.kind} | {self.n} | {self.spearman.text()} | "
                f"{self.kendall.text()} | {mae} |")


class AnchorAuditRecord(TypedDict):
    """An ``AnchorAuditRow`` as ``anchors.json`` holds it (``asdict``)."""

    signal: str
    kind: str
    n: int
    spearman: IntervalRecord
    kendall: IntervalRecord
    mae: float | None


def _row(signal: str, kind: str, values: Sequence[float], fitted: bool) -> AnchorAuditRow:
    names = [a.name for a in load_anchors()]
    check = anchor_check(dict(zip(names, values)), top1_units=fitted)
    assert check is not None
    return AnchorAuditRow(signal, kind, check.n, check.spearman, check.kendall, check.mae)


def anchor_features(data: ProxyData, resolutions: Sequence[int], seed: int,
                    progress: Callable[[str], None]) -> dict[str, list[float]]:
    """Per anchor: ln MACs, ln params (224 px, 1000 classes), each zero-cost score at each
    resolution and the small-data prior's score (where its resolution is among them)."""
    from ..arch.registry import get_arch
    from ..arch.stats import count_params_macs
    from .prior import load_prior
    from .zerocost import ZC_SCORES, zero_cost_scores

    prior = load_prior()
    out: dict[str, list[float]] = {}
    for a in load_anchors():
        cfg = get_arch(a.name)
        params, macs, _ = count_params_macs(cfg, resolution=RESOLUTION, num_classes=1000)
        row = {"ln MACs": math.log(macs), "ln params": math.log(params)}
        for res in resolutions:
            zc = zero_cost_scores(cfg, data, res, seed=seed)
            row.update({f"{k} @ {res} px": zc[k] for k in ZC_SCORES})
            if res == prior.resolution:
                row["small-data prior"] = prior.score(cfg, zc, data.num_classes)
        for k, v in row.items():
            out.setdefault(k, []).append(float(v))
        progress(f"anchors: {a.name} scored")
    return out


def anchor_audit(features: dict[str, list[float]]) -> list[AnchorAuditRow]:
    """Every signal of ``features`` as it is, then the fitted ones leave-one-out."""
    y = np.array([a.top1 for a in load_anchors()])
    rows = []
    for name, values in features.items():
        kind = ("size" if name.startswith("ln ") else "small-data prior"
                if name == "small-data prior" else "zero-cost")
        rows.append(_row(name, kind, values, fitted=False))
    zc64 = [k for k in features if k.endswith("@ 64 px")]
    fits = list(FITS) + [(f"ln MACs + {k}", ("ln MACs", k)) for k in zc64]
    for label, cols in fits:
        x = np.stack([np.asarray(features[c]) for c in cols], 1)
        rows.append(_row(label + (" (the default)" if label == "ln MACs" else ""),
                         "fitted on the anchors (LOO)", loo_fit(x, y).tolist(), fitted=True))
    return rows


def audit_markdown(rows: Sequence[AnchorAuditRow], settings: str) -> str:
    head = ["# Accuracy signals against published ImageNet-1k top-1", "",
            f"Anchors: {', '.join(f'{a.name} {a.top1:.1f}' for a in load_anchors())}.",
            f"Settings: {settings}. Intervals: bootstrap 95% ({N_BOOT} resamples of the "
            f"anchors); fitted signals leave-one-out only.", "",
            "| signal | kind | n | Spearman | Kendall | mean abs error (top-1 points) |",
            "|---|---|---|---|---|---|"]
    return "\n".join(head + [r.cells() for r in rows]) + "\n"


def audit_records(rows: Sequence[AnchorAuditRow]) -> list[AnchorAuditRecord]:
    return [cast(AnchorAuditRecord, asdict(r)) for r in rows]  # asdict: exactly these keys
