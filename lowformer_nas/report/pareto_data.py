"""Everything the Pareto page, the summary and ``report`` show, computed from the run files.

Compute first, plot second: this module returns plain dicts (tested); ``plots`` only draws.
"""
from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, TypedDict, cast
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..accuracy.anchors import AnchorCheck, ranks_by_anchors
from ..rundir.config import ZC_SCORES, score_label
from ..rundir.family import FRACTIONS, NAMES, family_rule_text, pick_family
from ..rundir.pareto import front_indices, hypervolume_2d
from ..rundir.rows import TrialRow

if TYPE_CHECKING:
    from ..search.references import ReferenceRow  # what the search scored (reference.json)

MAXIMIZE = (True, False)  # (score, latency)
# what a verified run adds per trial (see search/verify.py): prediction at trial time, latest
# prediction and the profile sha that made it, the measurement here (or imported)
VERIFY_KEYS = ("trial_latency_ms", "predicted_ms", "profile_sha", "measured_ms")


class RunSettings(TypedDict, total=False):
    """A run's settings as reports read them (``SearchSettings.to_dict()``, or config.yaml)."""

    target: str
    budget_ms: float
    space: str
    proxy: str
    zc_score: str
    train_score: str
    dataset: str
    proxy_resolution: int
    epochs: int
    max_train: int
    measure: bool
    backend: str
    sampler: str
    seed: int
    prescreen: str | None


class PageTrial(TrialRow, total=False):
    """A trial row as the page shows it."""

    config_text: str
    on_front: bool
    family: str | None  # its B-model name, if it is one


class FamilyPick(TypedDict):
    """One of B0-B3: its trial and where its latency comes from."""

    number: int
    latency_ms: float | None  # as the trial row has them (a pick is scored and placed)
    score: float | None
    config: str
    trial_latency_ms: float | None
    predicted_ms: float | None
    profile_sha: str | None
    measured_ms: float | None


class Hypervolume(TypedDict, total=False):
    """The front's and the official variants' hypervolumes (empty: nothing scored)."""

    reference_point: list[float]  # (score, latency ms)
    front: float
    references: float
    ratio: float | None


class _PageExtras(TypedDict, total=False):
    profile_text: str  # the run's latency profile (finish)
    interim: str  # a search still running (finish)
    profile: object  # config.yaml's profile record (runinfo)


class ParetoData(_PageExtras):
    """Everything the Pareto page, the summary and ``report`` show (``compute``)."""

    target: str
    budget_ms: float
    proxy: str
    stage: str
    score_name: str
    trials: list[PageTrial]
    front: list[int]  # trial numbers
    family: dict[str, FamilyPick | None]  # B0-B3 (None: no feasible trial in its slot)
    latency_basis: str  # "measured" or "predicted"
    family_rule: str
    references: list[ReferenceRow]
    counts: dict[str, dict[str, int]]
    hypervolume: Hypervolume
    spearman: dict[str, float | None]  # "n" and one entry per zero-cost score
    proxy_fidelity: str
    anchor_check: str
    anchor_inverted: bool
    family_separation: str | None
    resolution_note: str | None


def primary_stage(proxy: str) -> str:
    """The stage whose trials form the front: trained accuracy when anything was trained."""
    return "zc" if proxy == "zero-cost" else "train"


def score_name(settings: RunSettings) -> str:
    stage = primary_stage(settings["proxy"])
    return score_label(settings, stage) + (" score" if stage == "zc" else "")


def _ok(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def latency_key(t: PageTrial) -> float:
    """Sort key of placed trials (the front, the plot's points): their latency."""
    lat = t["latency_ms"]
    return lat if lat is not None else math.inf  # never None for a placed trial


def summarize_config(config_json: str) -> str:
    """A one-line config description for hover text and tables."""
    if not config_json:
        return ""
    d = json.loads(config_json)
    parts = []
    for i, s in enumerate(d["stages"]):
        extra = ""
        if s.get("attention"):
            extra += f" attn/{s.get('attn_stride', 1)}"
        if s.get("mlp"):
            extra += " mlp"
        kind = "F" if s.get("fused", True) else "U"
        parts.append(f"s{i}:{s['width']}x{s['depth']}{kind}{extra}")
    return "  ".join(parts) + f"  head {d['head_widths'][0]}/{d['head_widths'][1]}"


def counts(rows: Sequence[TrialRow]) -> dict[str, dict[str, int]]:
    """Per stage: trials by state, plus feasible / infeasible among completed ones."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        c = out.setdefault(r["stage"], {"total": 0})
        c["total"] += 1
        c[r["state"]] = c.get(r["state"], 0) + 1
        if r["state"] == "COMPLETE":
            key = "feasible" if r["feasible"] else "infeasible"
            c[key] = c.get(key, 0) + 1
    return out


def _front_and_family(points: list[PageTrial], budget: float
                      ) -> tuple[list[int], dict[str, PageTrial | None]]:
    if not points:
        return [], {n: None for n in NAMES}
    arr = np.array([[p["score"], p["latency_ms"]] for p in points])
    front = [points[i]["number"] for i in front_indices(arr, MAXIMIZE, sort_col=1)]
    picks = pick_family(arr[:, 1], arr[:, 0], budget)
    return front, {n: (points[i] if i is not None else None) for n, i in picks.items()}


def _points(rows: Iterable[PageTrial | ReferenceRow]) -> list[tuple[float, float]]:
    """(score, latency ms) of each row (scored rows: both are numbers)."""
    return [(score, lat) for r in rows
            if (score := r.get("score")) is not None and (lat := r.get("latency_ms")) is not None]


def _hypervolumes(front_pts: list[PageTrial], refs: list[ReferenceRow], budget: float,
                  accuracy: bool) -> Hypervolume:
    scored = _points(r for r in refs if _ok(r.get("score"))  # official variants only: timm
                     and r.get("family", "lowformer") == "lowformer")  # models are not a baseline
    front = _points(front_pts)
    all_scores = [score for score, _ in front + scored]
    if not all_scores:
        return {}
    ref_score = 0.0 if accuracy else min(all_scores)
    ref_lat = max([budget] + [lat for _, lat in scored])
    point = [ref_score, ref_lat]
    hv_f = hypervolume_2d(np.array(front).reshape(-1, 2), point, MAXIMIZE)
    hv_r = hypervolume_2d(np.array(scored).reshape(-1, 2), point, MAXIMIZE)
    return {"reference_point": point, "front": hv_f, "references": hv_r,
            "ratio": hv_f / hv_r if hv_r > 0 else None}


def _zc(row: TrialRow, name: str) -> float | None:
    """A zero-cost score column by name (``ZC_SCORES``: float columns of ``TrialRow``)."""
    return cast("Mapping[str, float | None]", row).get(name)


def spearman(rows: Sequence[TrialRow]) -> dict[str, float | None]:
    """Spearman rank correlation of each zero-cost score with trained accuracy."""
    from scipy.stats import spearmanr

    trained = [r for r in rows if r["stage"] == "train" and _ok(r.get("accuracy"))
               and r["state"] == "COMPLETE" and not r.get("duplicate")]
    out: dict[str, float | None] = {"n": len(trained)}
    for name in ZC_SCORES:
        pairs = [(_zc(r, name), r["accuracy"]) for r in trained if _ok(_zc(r, name))]
        if len(pairs) >= 3 and len({p[0] for p in pairs}) > 1 and len({p[1] for p in pairs}) > 1:
            rho = spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic
            out[name] = float(rho)
        else:
            out[name] = None
    return out


class AnchorFields(TypedDict):
    anchor_check: str
    anchor_inverted: bool


def anchor_fields(check: AnchorCheck | None, scored: bool) -> AnchorFields:
    """The anchor check's line and whether it warns (the signal inverts the anchors)."""
    if check is None:
        why = ("the official variants come with the references when the search ends" if
               not scored else "fewer than 3 official variants scored (--references all)")
        return {"anchor_check": f"anchor check: n/a ({why})", "anchor_inverted": False}
    text = check.text()
    if check.inverted:
        text = ("WARNING: this accuracy signal does not rank the official LowFormer variants "
                "like ImageNet (Kendall tau <= 0); its B0-B3 may point away from what "
                "ImageNet training rewards. " + text)
    return {"anchor_check": text, "anchor_inverted": check.inverted}


def family_separation(family: Mapping[str, PageTrial | None],
                      error: float | None) -> str | None:
    """Whether neighbouring B-models differ by more than the signal's stated error (a signal
    in top-1 points: its leave-one-out mean absolute error on the anchors)."""
    scores = [(n, score) for n, p in family.items()
              if p is not None and (score := p["score"]) is not None]
    if error is None or len(scores) < 2:
        return None
    gaps = [(a, b, sb - sa) for (a, sa), (b, sb) in zip(scores, scores[1:])]
    ordered = all(g > 0 for _, _, g in gaps)
    text = ", ".join(f"{a}->{b} {g:+.2f}" for a, b, g in gaps)
    above = sum(g > error for _, _, g in gaps)
    order = "strictly increasing" if ordered else "NOT strictly increasing"
    return (f"predicted top-1 steps {text} points ({order}); {above} of {len(gaps)} steps "
            f"exceed the signal's stated error ({error:.2f} points, leave-one-out on the "
            f"anchors)" + _outside_anchors(family))


def _outside_anchors(family: Mapping[str, PageTrial | None]) -> str:
    """The picks whose MACs lie outside the anchors' range: their top-1 is extrapolated."""
    from ..arch.yaml_io import config_from_dict
    from ..search.signal import anchor_macs_range, macs_224

    low, high = anchor_macs_range()
    macs = [(n, macs_224(config_from_dict(json.loads(p["config"]))))
            for n, p in family.items() if p is not None]
    out = [f"{n} {m / 1e9:.2f}" for n, m in macs if not low <= m <= high]
    return "" if not out else (
        f"; extrapolated beyond the anchors' {low / 1e9:.2f}-{high / 1e9:.2f} GMACs: "
        f"{', '.join(out)} GMACs")


def _pick(p: PageTrial) -> FamilyPick:
    return FamilyPick(trial_latency_ms=p.get("trial_latency_ms"),  # VERIFY_KEYS first
                      predicted_ms=p.get("predicted_ms"), profile_sha=p.get("profile_sha"),
                      measured_ms=p.get("measured_ms"), number=p["number"],
                      latency_ms=p["latency_ms"], score=p["score"], config=p["config"])


def compute(rows: Sequence[TrialRow], references: Sequence[ReferenceRow],
            settings: RunSettings) -> ParetoData:
    """The Pareto page data: trials, front, family, references, counts, hypervolume, Spearman."""
    stage = primary_stage(settings["proxy"])
    budget = float(settings["budget_ms"])
    trials: list[PageTrial] = [{**r, "config_text": summarize_config(r.get("config", ""))}
                               for r in rows if r["stage"] == stage]
    feasible = [t for t in trials if t["state"] == "COMPLETE" and t["feasible"]
                and _ok(t["score"]) and not t.get("duplicate")]
    front, family = _front_and_family(feasible, budget)
    measured = [t for t in feasible if _ok(t.get("measured_ms"))]
    if measured:  # verified run: B0-B3 come from measured latencies only
        _, family = _front_and_family(measured, budget)
    names = {p["number"]: n for n, p in family.items() if p is not None}
    for t in trials:
        t["on_front"] = t["number"] in front
        t["family"] = names.get(t["number"])
    front_pts = [t for t in feasible if t["on_front"]]
    from ..accuracy.evidence import fidelity_line, resolution_note
    from ..search.signal import anchored_error, fidelity_text, run_anchor_check

    anchored = ranks_by_anchors(settings["proxy"], settings["zc_score"])

    return {
        "target": settings["target"], "budget_ms": budget, "proxy": settings["proxy"],
        "stage": stage, "score_name": score_name(settings), "trials": trials, "front": front,
        "family": {n: (_pick(p) if p else None) for n, p in family.items()},
        "latency_basis": "measured" if measured else "predicted",
        "family_rule": family_rule_text(FRACTIONS), "references": list(references),
        "counts": counts(rows),
        "hypervolume": _hypervolumes(front_pts, list(references), budget,
                                     score_name(settings) == "accuracy"),
        "spearman": spearman(rows),
        "proxy_fidelity": fidelity_text() if anchored else fidelity_line(settings),
        **anchor_fields(run_anchor_check(settings, references), bool(references)),
        "family_separation": family_separation(family, anchored_error() if anchored else None),
        "resolution_note": None if anchored else resolution_note(
            int(settings["proxy_resolution"])),
    }
