"""Robustness of the `local` profile on other families: K fresh first-use calibrations, each
followed by its own interleaved measurement of all timm models of ``latency_timm.py`` (42:
the 12 of the first figures and three held-out sets), evaluated against that calibration.

One calibration's figure says little: the level a calibration lands on moves every foreign
prediction together. Each finished calibration is appended to the output (resumable; a killed
run loses at most the calibration in progress). Run it on a quiet machine:

    flock /tmp/lfn-measure.lock nice -n -10 python benchmarks/latency_timm_calibrations.py \
        [--calibrations 3] [--rounds 5] [--out results/latency_timm_calibrations_v2.json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from latency_timm import SETS, _model  # noqa: E402

from lowformer_nas._io import atomic_write_text  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                   "latency_timm_calibrations_v2.json")


def one_calibration(rounds: int, keep: str = "") -> dict:
    """A first-use `local` profile in a fresh cache, then 2 x ``rounds`` interleaved rounds of
    every model, evaluated with that profile."""
    import torch

    from lowformer_nas.latency import get_target
    from lowformer_nas.latency.measure import prepare, summarize, threads_set, time_interleaved

    cache = tempfile.mkdtemp(prefix="lfn-cal-")
    os.environ["LOWFORMER_NAS_CACHE"] = cache
    try:
        prof = get_target("local")
        if keep:  # the profile and its journal, for offline refits
            shutil.copytree(cache, os.path.join(keep, os.path.basename(cache)))
        models = SETS["all"]
        per: dict = {m: [] for m in models}
        with threads_set(1):
            fns = [prepare(_model(m), torch.randn(1, 3, 224, 224), "torch", 1, "cpu")
                   for m in models]
            for _ in range(2):
                for m, t in zip(models, time_interleaved(fns, rounds=rounds, runs=5)):
                    per[m].append(summarize(t)["latency_ms"])
        rows = []
        for m in models:
            measured = statistics.median(per[m])
            p = prof.predict_model(_model(m), 224, 1)
            lo, hi = p.central_interval(0.9)
            rows.append({"model": m, "set": next(k for k in ("main", "heldout", "heldout2",
                                                               "heldout3") if m in SETS[k]),
                         "measured_ms": measured, "rounds_ms": per[m],
                         "predicted_ms": p.latency_ms, "err": p.latency_ms / measured - 1.0,
                         "interval90_ms": [lo, hi]})
        return {"profile": prof.describe(),
                "kernel_sum_scale": prof.data["params"].get("kernel_sum_scale"),
                "rows": rows}
    finally:
        os.environ.pop("LOWFORMER_NAS_CACHE", None)
        shutil.rmtree(cache, ignore_errors=True)


def summary(rec: dict) -> str:
    parts = []
    for k in ("main", "heldout", "heldout2", "heldout3"):
        rows = [r for r in rec["rows"] if r["set"] == k]
        parts.append(f"{k} {sum(abs(r['err']) <= 0.15 for r in rows)}/{len(rows)}")
    hits = sum(abs(r["err"]) <= 0.15 for r in rec["rows"])
    cov = sum(r["interval90_ms"][0] <= r["measured_ms"] <= r["interval90_ms"][1]
              for r in rec["rows"])
    return (f"within +-15%: {hits}/{len(rec['rows'])} ({', '.join(parts)}); 90% interval "
            f"covers {cov}; kernel_sum_scale {rec['kernel_sum_scale']:.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrations", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--keep", default="", help="copy each calibration's cache here")
    args = ap.parse_args()
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    for _ in range(args.calibrations):
        rec = one_calibration(args.rounds, args.keep)
        rec.update(code=rev, date=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        data = json.load(open(args.out)) if os.path.isfile(args.out) else {"calibrations": []}
        data["calibrations"].append(rec)
        atomic_write_text(args.out, json.dumps(data, indent=1) + "\n")
        print(summary(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
