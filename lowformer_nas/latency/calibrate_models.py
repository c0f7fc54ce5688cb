"""Model-level calibration from whole-model latencies (published numbers, a colleague's board).

Starts from the device's spec-sheet prior (a built-in target's, else this machine's roofline)
and fits only the model-level scale and overhead, so a handful of rows is enough; the
leave-one-out error says how much to trust it.
"""
from __future__ import annotations

import csv
import math
import os
from datetime import datetime, timezone
from typing import Any, Dict, List

from ..errors import LowFormerNASError, ProfileError
from .profiles import Profile, make_profile

REQUIRED = ("model", "latency_ms")


def _positive(row: Dict[str, str], key: str, where: str, default: Any, kind: type) -> Any:
    text = (row.get(key) or "").strip()
    if not text:
        if default is None:
            raise ProfileError(f"{where}: {key} is empty")
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ProfileError(f"{where}: {key} must be a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ProfileError(f"{where}: {key} must be > 0, got {text!r}")
    return value


def read_model_csv(path: str) -> List[Dict[str, Any]]:
    """Validated rows {model, cfg, latency_ms, batch, resolution} of a model-latency CSV."""
    from ..arch.registry import resolve_arch

    if not os.path.isfile(path):
        raise ProfileError(f"measurement file {path!r} does not exist")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise ProfileError(f"{path}: missing column(s) {', '.join(missing)}; need "
                               f"{', '.join(REQUIRED)} (optional: batch, resolution), "
                               f"got {', '.join(cols) or 'no header'}")
        rows = []
        for i, raw in enumerate(reader, start=2):
            raw = {(k or "").strip(): v for k, v in raw.items()}
            where = f"{path} line {i}"
            try:
                name, cfg = resolve_arch((raw.get("model") or "").strip())
            except LowFormerNASError as e:
                raise ProfileError(f"{where}: {e}") from None
            rows.append({"model": name, "cfg": cfg,
                         "latency_ms": _positive(raw, "latency_ms", where, None, float),
                         "batch": _positive(raw, "batch", where, 1, int),
                         "resolution": _positive(raw, "resolution", where, 224, int)})
    if len(rows) < 3:
        raise ProfileError(f"{path}: need at least 3 model rows to fit and cross-validate, "
                           f"got {len(rows)}")
    return rows


def calibrate_from_models(device: str, path: str) -> Profile:
    """Fit ``device``'s model-level coefficients from a CSV of whole-model latencies."""
    from .builtin import SPECS, local_roofline, prior_params

    rows = read_model_csv(path)
    if device in SPECS:
        roof, prior = SPECS[device][1], f"{device} spec-sheet prior"
        words = SPECS[device][0]
    else:
        roof, prior = local_roofline(1, "torch"), "this machine's roofline as prior"
        words = device
    fit_rows = [{"model": r["model"], "batch": r["batch"], "resolution": r["resolution"],
                 "latency_ms": r["latency_ms"]} for r in rows]
    params, err = _adjust(prior_params(roof), fit_rows, rows)
    prov = f"{prior} adjusted to {len(rows)} whole-model latencies from {os.path.basename(path)}"
    return make_profile(device, words, prov, "model-level", params, error=err,
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        measurements=fit_rows)


def _adjust(params: Dict[str, Any], fit_rows: List[Dict[str, Any]],
            rows: List[Dict[str, Any]]) -> Any:
    """``adjust_to_rows`` over already resolved configs (YAML paths included)."""
    from .builtin import adjust_to_rows

    cfgs = {r["model"]: r["cfg"] for r in rows}
    return adjust_to_rows(params, fit_rows, resolve=lambda name: cfgs[name])
