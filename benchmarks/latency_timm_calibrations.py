"""Robustness of the `local` profile on other families: K fresh first-use calibrations, each
followed by its own interleaved measurement of all timm models of ``latency_timm.py`` (42:
the 12 of the first figures and three held-out sets), evaluated against that calibration.

One calibration's figure says little: the level a calibration lands on moves every foreign
prediction together. Each finished calibration is appended to the output (resumable; a killed
run loses at most the calibration in progress). Run it on a quiet machine:

    flock /tmp/lfn-measure.lock nice -n -10 python -m benchmarks.latency_timm_calibrations \
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

from benchmarks.latency_timm import SETS, evaluated_row, prediction_row, time_models, timm_model

from lowformer_nas._io import atomic_write_text

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                   "latency_timm_calibrations_v2.json")


HELD = tuple(k for k in SETS if k != "all")  # the sets, each model in one of them
# LowFormer variants timed in the same rounds as the timm models: the calibration's own family,
# so their error is the level the machine is at when the timm models are measured, against the
# level it was at during the calibration (not fitted to any timm model)
REFERENCES = ("lowformer_b0", "lowformer_b1", "lowformer_e1", "lowformer_e2")


def reference_rows(prof, measured: dict) -> list:
    from lowformer_nas.arch.registry import resolve_arch

    return [prediction_row(m, measured[m], prof.predict(resolve_arch(m)[1], 224, 1))
            for m in REFERENCES]


def one_calibration(rounds: int, keep: str = "", budget: float = 0.0) -> dict:
    """A first-use `local` profile (or ``budget`` minutes of `calibrate --device local`) in a
    fresh cache, then 2 x ``rounds`` interleaved rounds of every model, evaluated with it."""
    from lowformer_nas.latency import get_target
    from lowformer_nas.latency.targets.calibrate import calibrate_device

    cache = tempfile.mkdtemp(prefix="lfn-cal-")
    os.environ["LOWFORMER_NAS_CACHE"] = cache
    try:
        prof = (calibrate_device(device="local", budget_minutes=budget, progress=False)
                if budget else get_target("local"))
        if keep:  # the profile and its journal, for offline refits
            shutil.copytree(cache, os.path.join(keep, os.path.basename(cache)))
        from lowformer_nas.arch.builder import build_model
        from lowformer_nas.arch.registry import resolve_arch

        modules = {m: timm_model(m) for m in SETS["all"]}
        refs = {m: build_model(resolve_arch(m)[1]).eval() for m in REFERENCES}
        per = [time_models({**modules, **refs}, rounds) for _ in range(2)]
        rows = [dict(evaluated_row(prof, m, statistics.median(t[m] for t in per), mod),
                     set=next(k for k in HELD if m in SETS[k]), rounds_ms=[t[m] for t in per])
                for m, mod in modules.items()]
        ref = reference_rows(prof, {m: statistics.median(t[m] for t in per) for m in refs})
        return {"profile": prof.describe(), "references": ref, "budget_minutes": budget or None,
                "kernel_sum_scale": prof.data["params"].get("kernel_sum_scale"),
                "family_level": prof.data["params"].get("family_level"),
                "rows": rows}
    finally:
        os.environ.pop("LOWFORMER_NAS_CACHE", None)
        shutil.rmtree(cache, ignore_errors=True)


def summary(rec: dict) -> str:
    parts = []
    for k in HELD:
        rows = [r for r in rec["rows"] if r["set"] == k]
        parts.append(f"{k} {sum(abs(r['err']) <= 0.15 for r in rows)}/{len(rows)}")
    hits = sum(abs(r["err"]) <= 0.15 for r in rec["rows"])
    cov = sum(r["interval90_ms"][0] <= r["measured_ms"] <= r["interval90_ms"][1]
              for r in rec["rows"])
    out = (f"within +-15%: {hits}/{len(rec['rows'])} ({', '.join(parts)}); 90% interval "
           f"covers {cov}; kernel_sum_scale {rec['kernel_sum_scale']:.3f}"
           + (", family level {scale:.3f} x sum + {per_kernel_ms:.4f} ms x kernels".format(
               **rec["family_level"]) if rec.get("family_level") else ""))
    if rec.get("references"):  # the machine's level now vs during the calibration
        lvl = statistics.median(1.0 + r["err"] for r in rec["references"])
        matched = sum(abs((1.0 + r["err"]) / lvl - 1.0) <= 0.15 for r in rec["rows"])
        out += (f"; LowFormer references {100 * (lvl - 1):+.1f}% (median), timm within +-15% "
                f"once divided by it: {matched}/{len(rec['rows'])}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrations", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--keep", default="", help="copy each calibration's cache here")
    ap.add_argument("--budget-minutes", type=float, default=0.0,
                    help="calibrate for this long instead of the first-use `local` minute")
    args = ap.parse_args()
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    for _ in range(args.calibrations):
        rec = one_calibration(args.rounds, args.keep, args.budget_minutes)
        rec.update(code=rev, date=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        data = json.load(open(args.out)) if os.path.isfile(args.out) else {"calibrations": []}
        data["calibrations"].append(rec)
        atomic_write_text(args.out, json.dumps(data, indent=1) + "\n")
        print(summary(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
