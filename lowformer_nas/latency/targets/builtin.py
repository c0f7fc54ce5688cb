"""Built-in targets: spec-sheet roofline priors, adjusted to published latencies where any exist.

Peak figures are vendor spec sheets (fp32), read from the device table (``devices.py``).
Published latencies ship as package data (``data/profiles/published_latency.csv``, copied
from the LowFormer README and the iFormer paper); the adjustment fits only the model-level
scale and overhead, so three points suffice and the leave-one-out error is reported honestly.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable, Sequence

import numpy as np

from ..fitting.records import FitError, LatencyRow, ProfileParams, Roofline
from .devices import get_device_spec
from .profiles import Profile, make_profile

if TYPE_CHECKING:
    from ...arch.config import ArchConfig

DATA = Path(__file__).resolve().parents[2] / "data" / "profiles"

BUILTIN_NAMES = ("jetson-tx2", "titan-rtx", "a40", "rpi5")  # rows of data/devices.yaml

# name -> (device words, roofline prior, published-latency device key): from the device table
SPECS: dict[str, tuple[str, Roofline, str]] = {
    name: (get_device_spec(name).title, get_device_spec(name).roofline(), name)
    for name in BUILTIN_NAMES}


def published_rows(device: str) -> list[LatencyRow]:
    """Published (model, batch, resolution, latency_ms) rows for ``device`` (throughput rows
    become per-batch latency: batch / throughput)."""
    rows: list[LatencyRow] = []
    with open(DATA / "published_latency.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["device"] != device:
                continue
            batch, value = int(r["batch"]), float(r["value"])
            ms = value if r["metric"] == "latency" else 1000.0 * batch / value
            rows.append({"model": r["model"], "batch": batch, "resolution": int(r["resolution"]),
                         "latency_ms": ms, "source": r["source"]})
    return rows


def prior_params(roof: Roofline, rel_std: float = 0.5) -> ProfileParams:
    return {"roofline": roof.copy(), "corrections": {},
            "model": {"alpha": 1.0, "beta_ms": 0.0, "gamma_ms": 0.0}, "rel_std": rel_std}


def adjust_to_rows(params: ProfileParams, rows: Sequence[LatencyRow],
                   resolve: Callable[[str], ArchConfig] | None = None
                   ) -> tuple[ProfileParams, FitError]:
    """Fit (alpha, beta) on whole-model latencies; returns new params and the LOO error."""
    from ...arch.registry import resolve_arch

    resolve = resolve or (lambda name: resolve_arch(name)[1])
    from ..tracing.kernels import config_blocks
    from ..fitting.predictor import Predictor, fit_model_level

    pred = Predictor(params)
    totals = [pred.raw_totals(config_blocks(resolve(r["model"]), r["resolution"], r["batch"]))
              for r in rows]
    measured = np.array([r["latency_ms"] for r in rows])
    model, loo = fit_model_level(np.array([t[0] for t in totals]),
                                 np.array([t[1] for t in totals]),
                                 np.array([t[2] for t in totals]), measured, per_group=False,
                                 use_counts=False)
    rel = loo / measured - 1.0
    err: FitError = {"mape_pct": float(100 * np.mean(np.abs(rel))),
           "within10_pct": float(100 * np.mean(np.abs(rel) <= 0.10)), "n_models": len(rows),
           "method": "LOO"}
    out: ProfileParams = {**params, "model": model,
                          "rel_std": float(max(0.1, np.sqrt(np.mean(rel ** 2))))}
    return out, err


def _builtin(name: str) -> Callable[[], Profile]:
    @lru_cache(maxsize=1)
    def build() -> Profile:
        device, roof, pub = SPECS[name]
        rows = published_rows(pub) if pub else []
        params = prior_params(roof)
        note = f"not measured: spec-sheet prior ({get_device_spec(name).source})"
        if rows:
            params, err = adjust_to_rows(params, rows)
            prov = (f"spec-sheet prior adjusted to {len(rows)} published latencies "
                    f"({', '.join(sorted({r['model'] for r in rows}))})")
            note += "; published latencies from " + "; ".join(sorted({r["source"] for r in rows}))
            return make_profile(name, device, prov, "prior+published", params, error=err,
                                published=rows, host={"measured_here": False, "note": note})
        prov = "spec-sheet prior only (run `lowformer-nas calibrate --device arm` on the board)"
        return make_profile(name, device, prov, "prior", params,
                            host={"measured_here": False, "note": note})

    return build


BUILTINS: dict[str, Callable[[], Profile]] = {name: _builtin(name) for name in SPECS}
