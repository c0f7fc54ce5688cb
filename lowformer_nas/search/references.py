"""Reference points: the official LowFormer variants and any timm models (MobileNetV4,
EfficientViT, RepViT, FastViT, ...) on the same target, proxy and settings.

Results are cached in ``reference.json`` under a key of everything they depend on, so plots
and reports never recompute them and a changed setting never reuses stale numbers.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict
from collections.abc import Callable, Mapping, Sequence

from .._io import atomic_write_text
from ..accuracy.anchors import load_published, ranks_by_anchors
from ..arch.config import ArchConfig
from ..arch.registry import OFFICIAL_NAMES, get_arch
from ..errors import RunError
from .settings import SearchSettings, later_identity

if TYPE_CHECKING:  # annotations only
    from ..latency.targets.profiles import Profile
    from .objective import Evaluator

KEY_FIELDS = ("target", "measure", "dataset", "proxy", "epochs", "proxy_resolution", "zc_score",
              "seed", "max_train", "max_val", "space")


EXAMPLES = ("mobilenetv4_conv_small", "efficientvit_b1", "repvit_m1_1", "fastvit_t8")


class _Later(TypedDict, total=False):
    """Keys only some rows have: a published score's source; a verify refit's prediction."""

    score_source: str
    predicted_ms: float
    profile_sha: str


class ReferenceRow(_Later):
    """One reference point as ``reference.json`` caches it."""

    name: str
    family: str  # "lowformer" (official) or "timm"
    latency_ms: float | None
    latency_source: str
    feasible: bool
    score: float | None
    accuracy: float | None
    zc: dict[str, float]
    curve: list[float]
    seconds: float
    note: str


class _Cache(TypedDict, total=False):
    key: str
    rows: list[ReferenceRow]


# (run dir, scored references, settings, profile, quiet) -> Pareto data: writes the report files.
# The CLI passes ``report.finish.finish_run`` (its rows: plain dicts); search sits below report
# and never imports it.
Finisher = Callable[[Path, Sequence[Mapping[str, object]], SearchSettings, "Profile", bool],
                    dict[str, object]]


def reference_names(settings: SearchSettings) -> list[str]:
    """Official LowFormer names ('all' = every one) and timm model names, in the order given."""
    names = list(settings.references)
    if names in ([], ["none"]):
        return []
    out: list[str] = []
    for n in names:
        for name in (OFFICIAL_NAMES if n == "all" else [n]):
            if name not in OFFICIAL_NAMES and not _is_timm(name):
                raise RunError(_unknown(name))
            out += [name] if name not in out else []
    return out


def _is_timm(name: str) -> bool:
    import timm

    return not name.startswith("lowformer") and timm.is_model(name)


def _unknown(name: str) -> str:
    import difflib

    import timm

    close = difflib.get_close_matches(name, list(OFFICIAL_NAMES) + timm.list_models(), n=3)
    return (f"--references takes official names ({', '.join(OFFICIAL_NAMES)}), timm model names "
            f"(timm.list_models(), e.g. {', '.join(EXAMPLES)}), 'all' or 'none', but got "
            f"{name!r}" + (f"; close: {', '.join(close)}" if close else ""))


def cache_key(settings: SearchSettings, profile_sha: str) -> str:
    """What a reference's scores depend on (options added later enter only when not at their
    default, so earlier caches stay valid)."""
    blob = json.dumps({k: getattr(settings, k) for k in KEY_FIELDS} | later_identity(settings) |
                      {"profile": profile_sha}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def evaluate_references(evaluator: Evaluator, path: Path, profile_sha: str
                        ) -> list[ReferenceRow]:
    """Rows for each reference (latency, feasibility, zc scores, trained curve if trained)."""
    settings = evaluator.settings
    key = cache_key(settings, profile_sha)
    cached = _load(path)
    rows = {r["name"]: r for r in cached.get("rows", [])} if cached.get("key") == key else {}
    for name in reference_names(settings):
        if name not in rows:
            rows[name] = _reference_row(evaluator, name)
            atomic_write_text(path, json.dumps({"key": key, "rows": list(rows.values())},
                                               indent=1))
    return [rows[n] for n in reference_names(settings)]


FAILURES = (RuntimeError, ValueError, AssertionError)  # a timm model rejecting the input size


def _reference_row(evaluator: Evaluator, name: str) -> ReferenceRow:
    """One reference scored like a trial. A timm model that cannot run at the space's
    resolution is not placed; one the proxy cannot run is placed but not scored."""
    from .objective import Evaluation, config_key

    s, official = evaluator.settings, name in OFFICIAL_NAMES
    target: ArchConfig | str = get_arch(name) if official else name
    profile = evaluator.profile
    how = "measured here" if s.measure else \
        f"predicted (analytic) with profile {profile.name}" if official else \
        f"predicted with profile {profile.name} ({profile.other_family_basis()})"
    row: ReferenceRow = {
        "name": name, "family": "lowformer" if official else "timm", "latency_ms": None,
        "latency_source": how, "feasible": False, "score": None, "accuracy": None,
        "zc": {}, "curve": [], "seconds": 0.0, "note": ""}
    try:
        lat = evaluator.latency(target)
    except FAILURES as e:
        if official:
            raise
        row["note"] = (f"not placed: it cannot run at the space's "
                       f"{evaluator.space.resolution} px ({_why(e)})")
        return row
    stage = "zc" if s.proxy == "zero-cost" else "train"
    try:
        ev = evaluator.evaluate_config(target, stage, latency=lat, force=True)
    except FAILURES as e:
        if official:
            raise
        ev = Evaluation(config_key(target), lat[0], lat[1], feasible=lat[0] <= s.budget_ms)
        row["note"] = f"not scored: {e}" if _published(s) else (
            f"not scored: the {s.proxy} proxy cannot run it at {s.proxy_resolution} px "
            f"({_why(e)})")
    if _published(s) and not official and not row["note"]:
        row["score_source"] = _published_text(name)
    row.update({"latency_ms": ev.latency_ms, "feasible": ev.feasible, "score": ev.score,
                "accuracy": ev.accuracy, "zc": ev.zc, "curve": ev.curve, "seconds": ev.seconds})
    return row


def _published(settings: SearchSettings) -> bool:
    """Other families are placed at their published top-1 (the signal is in top-1 points)."""
    return ranks_by_anchors(settings.proxy, settings.zc_score)


def _published_text(name: str) -> str:
    r = load_published()[name]
    return (f"published top-1 ({r.source}, checkpoint {r.checkpoint}, {r.resolution} px"
            f"{'; ' + r.note if r.note else ''})")


def _why(e: BaseException) -> str:
    return f"{type(e).__name__}: {' '.join(str(e).split())[:120]}"


def _load(path: Path) -> _Cache:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a cache: unreadable means recompute
