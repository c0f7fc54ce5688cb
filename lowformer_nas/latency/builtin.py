"""Built-in targets: spec-sheet roofline priors, adjusted to published latencies where any exist.

Peak figures are vendor spec sheets (fp32). Published latencies ship as package data
(``data/profiles/published_latency.csv``, copied from the LowFormer README and the iFormer
paper); the adjustment fits only the model-level scale and overhead, so three points suffice
and the leave-one-out error is reported honestly.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .profiles import Profile, make_profile

DATA = Path(__file__).resolve().parents[1] / "data" / "profiles"

# name -> (device words, roofline, published device key or None, threads, backend)
SPECS: Dict[str, Tuple[str, Dict[str, Any], Any]] = {
    "jetson-tx2": ("NVIDIA Jetson TX2 (256-core Pascal GPU, 1.3 GHz, 59.7 GB/s LPDDR4)",
                   {"peak_gflops": 665.0, "bandwidth_gbs": 59.7, "launch_us": 40.0,
                    "fused_epilogue": True}, "jetson-tx2"),
    "titan-rtx": ("NVIDIA Titan RTX desktop GPU (16.3 TFLOP/s fp32, 672 GB/s), TorchScript",
                  {"peak_gflops": 16300.0, "bandwidth_gbs": 672.0, "launch_us": 8.0,
                   "fused_epilogue": True}, "titan-rtx"),
    "a40": ("NVIDIA A40 (37.4 TFLOP/s fp32, 696 GB/s), TorchScript, batch 200 throughput",
            {"peak_gflops": 37400.0, "bandwidth_gbs": 696.0, "launch_us": 8.0,
             "fused_epilogue": True}, "a40"),
    "rpi5": ("Raspberry Pi 5 (4x Cortex-A76 2.4 GHz, NEON 16 flop/cycle, LPDDR4X ~17 GB/s), "
             "torch eager, 4 threads",
             {"peak_gflops": 153.6, "bandwidth_gbs": 12.0, "launch_us": 15.0,
              "fused_epilogue": False}, None),
}


def published_rows(device: str) -> List[Dict[str, Any]]:
    """Published (model, batch, resolution, latency_ms) rows for ``device`` (throughput rows
    become per-batch latency: batch / throughput)."""
    rows = []
    with open(DATA / "published_latency.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["device"] != device:
                continue
            batch, value = int(r["batch"]), float(r["value"])
            ms = value if r["metric"] == "latency" else 1000.0 * batch / value
            rows.append({"model": r["model"], "batch": batch, "resolution": int(r["resolution"]),
                         "latency_ms": ms, "source": r["source"]})
    return rows


def prior_params(roof: Dict[str, Any], rel_std: float = 0.5) -> Dict[str, Any]:
    return {"roofline": dict(roof), "corrections": {},
            "model": {"alpha": 1.0, "beta_ms": 0.0, "gamma_ms": 0.0}, "rel_std": rel_std}


def adjust_to_rows(params: Dict[str, Any], rows: List[Dict[str, Any]],
                   resolve: Optional[Callable[[str], Any]] = None) -> Tuple[Dict[str, Any],
                                                                            Dict[str, Any]]:
    """Fit (alpha, beta) on whole-model latencies; returns new params and the LOO error."""
    from ..arch.registry import resolve_arch

    resolve = resolve or (lambda name: resolve_arch(name)[1])
    from .kernels import config_blocks
    from .predictor import Predictor, fit_model_level

    pred = Predictor(params)
    totals = [pred.raw_totals(config_blocks(resolve(r["model"]), r["resolution"], r["batch"]))
              for r in rows]
    measured = np.array([r["latency_ms"] for r in rows])
    model, loo = fit_model_level(np.array([t[0] for t in totals]),
                                 np.array([t[1] for t in totals]),
                                 np.array([t[2] for t in totals]), measured, per_group=False,
                                 use_counts=False)
    rel = loo / measured - 1.0
    err = {"mape_pct": float(100 * np.mean(np.abs(rel))),
           "within10_pct": float(100 * np.mean(np.abs(rel) <= 0.10)), "n_models": len(rows),
           "method": "LOO"}
    out = dict(params, model=model, rel_std=float(max(0.1, np.sqrt(np.mean(rel ** 2)))))
    return out, err


def _builtin(name: str) -> Callable[[], Profile]:
    @lru_cache(maxsize=1)
    def build() -> Profile:
        device, roof, pub = SPECS[name]
        rows = published_rows(pub) if pub else []
        params = prior_params(roof)
        if rows:
            params, err = adjust_to_rows(params, rows)
            prov = (f"spec-sheet prior adjusted to {len(rows)} published latencies "
                    f"({', '.join(sorted({r['model'] for r in rows}))})")
            return make_profile(name, device, prov, "prior+published", params, error=err,
                                published=rows)
        prov = "spec-sheet prior only (run `lowformer-nas calibrate --device arm` on the board)"
        return make_profile(name, device, prov, "prior", params)

    return build


BUILTINS: Dict[str, Callable[[], Profile]] = {name: _builtin(name) for name in SPECS}
