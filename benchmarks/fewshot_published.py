"""Few-shot fits from published points: for each device with three published LowFormer
E-series latencies (Jetson TX2, iPhone 13, Titan RTX), fit on two from the device's
spec-sheet prior (``calibrate --from-measurements CSV --like DEVICE``) and predict the third.

    python -m benchmarks.fewshot_published

Writes ``benchmarks/results/fewshot_published.json``.
"""
from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from lowformer_nas.arch.registry import get_arch
from lowformer_nas.latency.targets.calibrate_models import calibrate_from_models
from lowformer_nas.latency.targets.devices import build_prior

PUBLISHED = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / \
    "published_latency.csv"
OUT = Path(__file__).parent / "results" / "fewshot_published.json"
DEVICES = {"jetson-tx2": "jetson-tx2", "iphone13": "apple-a15", "titan-rtx": "titan-rtx"}


def published(device: str) -> dict:
    with open(PUBLISHED, encoding="utf-8") as f:
        return {r["model"]: float(r["value"]) for r in csv.DictReader(f)
                if r["device"] == device and r["metric"] == "latency"
                and r["model"].startswith("lowformer_e")}


def leave_one_out(device: str, like: str) -> dict:
    rows = published(device)
    prior = build_prior(like)
    out = {}
    for held in rows:
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write("model,latency_ms\n" + "".join(
                f"{m},{v}\n" for m, v in rows.items() if m != held))
        prof = calibrate_from_models(device, f.name, prior=prior.roofline, traits=prior.traits)
        pred = prof.predict(get_arch(held), resolution=224, batch=1).latency_ms
        out[held] = {"published_ms": rows[held], "predicted_ms": pred,
                     "error_pct": 100 * (pred / rows[held] - 1)}
    return out


def main() -> None:
    result = {d: leave_one_out(d, like) for d, like in DEVICES.items()}
    for d, r in result.items():
        r["worst_abs_pct"] = max(abs(v["error_pct"]) for v in r.values())
    OUT.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
