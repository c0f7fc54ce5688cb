"""What the proxy audit measured about each accuracy proxy, shown wherever a run relies on one.

B0-B3 are ranked by a proxy; a user must see how well that proxy ranked architectures
against trained ground truth, with its interval, and whether it was checked at the setting
the run used. ``lowformer-nas audit TABLE --evidence FILE`` writes the audit's figures as a
small JSON file; the package ships the project's own (``data/proxy_evidence.json``, from
``benchmarks/results/ground_truth_v1.csv``), and :func:`fidelity_line` turns it into the one
line that ``summary.md``, the Pareto page and each ``B*.yaml`` header carry.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, cast
from collections.abc import Mapping, Sequence

from .audit_stats import Interval, IntervalRecord

if TYPE_CHECKING:
    from .audit import AuditResult

EVIDENCE = Path(__file__).resolve().parents[1] / "data" / "proxy_evidence.json"
FORMAT = 1


class EvidenceRecord(TypedDict):
    """One ``ProxyEvidence`` as the evidence file holds it (``asdict``)."""

    proxy: str
    dataset: str
    resolution: int
    n_archs: int
    spearman: IntervalRecord
    bucket_mean: float
    params_spearman: IntervalRecord
    table: str
    recipe_id: str


@dataclass(frozen=True)
class ProxyEvidence:
    """One proxy's agreement with one ground-truth table."""

    proxy: str  # the audit's name: "naswot", "train 1x500 accuracy", ...
    dataset: str
    resolution: int
    n_archs: int
    spearman: Interval
    bucket_mean: float  # Spearman inside latency buckets (size-weighted mean)
    params_spearman: Interval  # the size baseline every proxy must beat
    table: str
    recipe_id: str

    def text(self) -> str:
        inside = "n/a" if math.isnan(self.bucket_mean) else f"{self.bucket_mean:+.2f}"
        return (f"Spearman {self.spearman.text()} with trained accuracy over {self.n_archs} "
                f"architectures of {self.table} (inside latency buckets {inside}; parameter "
                f"count alone {self.params_spearman.text()})")


def evidence_records(result: AuditResult, dataset: str, train_resolution: int,
                     zc_resolution: int) -> list[EvidenceRecord]:
    """The evidence file's records from an ``AuditResult`` (every proxy it scored)."""
    params = next(p for p in result.proxies if p.name == "params").agreement.spearman
    out: list[EvidenceRecord] = []
    for p in result.proxies:
        res = train_resolution if p.kind == "training" else zc_resolution
        out.append(cast(EvidenceRecord, asdict(ProxyEvidence(  # asdict: exactly these keys
            p.name, dataset, res, p.agreement.n, p.agreement.spearman,
            p.agreement.bucket_mean, params, Path(result.table).name, result.recipe_id))))
    return out


def _setting(r: Mapping[str, object]) -> tuple[object, object, object]:
    return r["proxy"], r["dataset"], r["resolution"]


def write_evidence(path: os.PathLike[str], records: Sequence[EvidenceRecord]) -> None:
    """Write ``records`` into the evidence file at ``path``. Records already there for other
    settings (proxy, proxy dataset, resolution) are kept, so audits of the same table on
    several proxy datasets (e.g. Fashion-MNIST and the bare command's digits) add up."""
    from .._io import atomic_write_text

    new = {_setting(r) for r in records}
    p = Path(path)
    old = json.loads(p.read_text(encoding="utf-8"))["records"] if p.is_file() else []
    kept = [r for r in old if _setting(r) not in new]
    atomic_write_text(path, json.dumps({"format": FORMAT, "records": kept + list(records)},
                                       indent=1, default=str) + "\n")


def load_evidence(path: os.PathLike[str] | None = None) -> list[ProxyEvidence]:
    """Records of an evidence file (the shipped one by default; none if it is missing)."""
    p = Path(path) if path is not None else EVIDENCE
    if not p.is_file():
        return []
    out = []
    for r in json.loads(p.read_text(encoding="utf-8"))["records"]:
        r = dict(r, spearman=Interval(**r["spearman"]),
                 params_spearman=Interval(**r["params_spearman"]))
        out.append(ProxyEvidence(**r))
    return out


def audit_name(settings: Mapping[str, object]) -> str:
    """The audit's name for the proxy a search ranks its picks by."""
    if settings["proxy"] == "zero-cost":  # the prior's held-out figure is the audit's LOO
        return "surrogate (LOO)" if settings["zc_score"] == "prior" else str(settings["zc_score"])
    score = "accuracy" if settings.get("train_score", "accuracy") == "accuracy" else "-loss sum"
    return f"train {settings['epochs']}x{settings['max_train']} {score}"


def fidelity_line(settings: Mapping[str, object],
                  records: list[ProxyEvidence] | None = None) -> str:
    """How well the run's proxy is known to rank architectures, and at which setting."""
    records = load_evidence() if records is None else records
    name, data, res = audit_name(settings), settings["dataset"], settings["proxy_resolution"]
    same = [r for r in records if r.proxy == name]
    exact = [r for r in same if r.dataset == data and r.resolution == res]
    if exact:
        return f"proxy fidelity ({name}, {data}, {res} px): {exact[0].text()}"
    if same:
        r = same[0]
        return (f"proxy fidelity ({name}): not audited at this run's setting ({data}, {res} "
                f"px); at {r.dataset}, {r.resolution} px: {r.text()}")
    return (f"proxy fidelity ({name}): not audited against a ground-truth table (see "
            f"`lowformer-nas audit`)")


def resolution_note(resolution: int) -> str | None:
    """LowFormer's stages 3 and 4 (where its attention is) see resolution/16 and /32 maps;
    below 4x4 the attention and its downsampling factor can change little or nothing."""
    s3, s4 = max(1, resolution // 16), max(1, resolution // 32)
    if s4 >= 4:
        return None
    return (f"at {resolution} px stages 3 and 4 see {s3}x{s3} and {s4}x{s4} maps: the "
            f"proxy can hardly tell the attention choices (downsampling factor) apart; "
            f"{32 * 4} px gives 4x4 at stage 4")
