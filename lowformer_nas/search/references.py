"""The official LowFormer variants as reference points: same target, same proxy, same settings.

Results are cached in ``reference.json`` under a key of everything they depend on, so plots
and reports never recompute them and a changed setting never reuses stale numbers.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List

from .._io import atomic_write_text
from ..arch.registry import OFFICIAL_NAMES, get_arch
from ..errors import RunError

KEY_FIELDS = ("target", "measure", "dataset", "proxy", "epochs", "proxy_resolution", "zc_score",
              "seed", "max_train", "max_val", "space")


def reference_names(settings) -> List[str]:
    names = list(settings.references)
    if names == ["all"]:
        return list(OFFICIAL_NAMES)
    if names in ([], ["none"]):
        return []
    for n in names:
        if n not in OFFICIAL_NAMES:
            raise RunError(f"--references takes official names ({', '.join(OFFICIAL_NAMES)}), "
                           f"'all' or 'none', but got {n!r}")
    return names


def cache_key(settings, profile_sha: str) -> str:
    blob = json.dumps({k: getattr(settings, k) for k in KEY_FIELDS} | {"profile": profile_sha},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def evaluate_references(evaluator, path: Path, profile_sha: str) -> List[Dict[str, Any]]:
    """Rows for each reference (latency, feasibility, zc scores, trained curve if trained)."""
    settings = evaluator.settings
    key = cache_key(settings, profile_sha)
    cached = _load(path)
    rows = {r["name"]: r for r in cached.get("rows", [])} if cached.get("key") == key else {}
    stage = "zc" if settings.proxy == "zero-cost" else "train"
    for name in reference_names(settings):
        if name in rows:
            continue
        cfg = get_arch(name)
        lat = evaluator.latency(cfg)
        ev = evaluator.evaluate_config(cfg, stage, latency=lat, force=True)
        rows[name] = {"name": name, "latency_ms": ev.latency_ms, "feasible": ev.feasible,
                      "score": ev.score, "accuracy": ev.accuracy, "zc": ev.zc,
                      "curve": ev.curve, "seconds": ev.seconds}
        atomic_write_text(path, json.dumps({"key": key, "rows": list(rows.values())}, indent=1))
    return [rows[n] for n in reference_names(settings)]


def _load(path: Path) -> Dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # a cache: unreadable means recompute
