"""Diagnosis: where the `local` profile goes wrong on timm models, kernel by kernel.

Every distinct kernel the tracer finds in the timm models of ``latency_timm.py`` is timed in
isolation (the calibration's own harness, ``calibrate.measure_kernels``) and predicted by a
profile, so each model's error splits into (a) what the trace leaves out (whole model measured
vs its isolated kernels summed) and (b) what the predictor gets wrong per kernel type:

    flock /tmp/lfn-measure.lock nice -n -10 python -m benchmarks.latency_timm_kernels \
        --profile PROFILE.json [--models all] [--out results/latency_timm_kernels.json]

Timings are appended per kernel (resumable); a rerun only times kernels not yet measured.
Whole-model timings come from ``results/latency_timm.json`` and ``latency_timm_heldout.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
from collections import defaultdict

from benchmarks.latency_timm import HELDOUT, MODELS

from lowformer_nas._io import atomic_write_text

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def whole_model_ms() -> dict[str, float]:
    """Whole-model medians: the per-set result files, then the latest calibration round of
    ``latency_timm_calibrations.py`` (which alone has the third held-out set)."""
    out = {}
    for name in ("latency_timm.json", "latency_timm_heldout.json", "latency_timm_heldout2.json"):
        data = json.load(open(os.path.join(RESULTS, name)))
        out.update({m: statistics.median(v) for m, v in data["rounds"].items()})
    cal = os.path.join(RESULTS, "latency_timm_calibrations_v2.json")
    if os.path.isfile(cal):
        last = json.load(open(cal))["calibrations"][-1]
        out.update({r["model"]: r["measured_ms"] for r in last["rows"]})
    return out


def traces(models) -> dict[str, list]:
    import timm

    from lowformer_nas.latency.tracing.trace import trace_kernels

    return {m: trace_kernels(timm.create_model(m, pretrained=False).eval(), (1, 3, 224, 224))
            for m in models}


def measure_missing(kernels, store: dict[str, float], out: str, chunk: int = 40) -> None:
    from lowformer_nas.latency.targets.calibrate import measure_kernels
    from lowformer_nas.latency.measurement.measure import threads_set

    todo = [k for k in dict.fromkeys(kernels) if repr(k) not in store]
    print(f"{len(todo)} kernels to time", flush=True)
    with threads_set(1):
        for i in range(0, len(todo), chunk):
            part = todo[i:i + chunk]
            for k, ms in zip(part, measure_kernels(part, "torch", "cpu")):
                store[repr(k)] = ms
            atomic_write_text(out, json.dumps({"kernels": store}, indent=0) + "\n")
            print(f"timed {min(i + chunk, len(todo))}/{len(todo)}", flush=True)


def report(tr: dict[str, list], store: dict[str, float], profile: str) -> None:
    from lowformer_nas.latency.fitting.predictor import Predictor

    params = json.load(open(profile))["params"]
    pred = Predictor(params)
    whole = whole_model_ms()
    by_op: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    print(f"{'model':24s} {'whole':>7s} {'isolated':>8s} {'pred':>7s}  trace gap  pred/isolated")
    for m, ks in tr.items():
        iso = [store.get(repr(k), float("nan")) for k in ks]  # nan: not timed yet
        pk = pred.kernel_ms(ks)
        for k, a, b in zip(ks, iso, pk):
            by_op[k.op][0] += a
            by_op[k.op][1] += float(b)
        scale = params.get("kernel_sum_scale", 1.0)
        print(f"{m:24s} {whole[m]:7.2f} {sum(iso):8.2f} {float(pk.sum()) * scale:7.2f}  "
              f"{sum(iso) / whole[m] - 1:+8.0%}  {float(pk.sum()) / sum(iso) - 1:+8.0%}")
        ops = defaultdict(lambda: [0.0, 0.0])
        for k, a, b in zip(ks, iso, pk):
            ops[k.op][0] += a
            ops[k.op][1] += float(b)
        print("    " + " ".join(f"{o}:{a:.1f}/{b:.1f}" for o, (a, b) in
                                sorted(ops.items(), key=lambda t: -t[1][0])))
    print("all models, measured/predicted ms by op:",
          {o: (round(a, 1), round(b, 1)) for o, (a, b) in by_op.items()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", required=True)
    ap.add_argument("--models", default="all", help="all, main, heldout or a comma list")
    ap.add_argument("--out", default=os.path.join(RESULTS, "latency_timm_kernels.json"))
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    models = {"all": MODELS + HELDOUT, "main": MODELS, "heldout": HELDOUT}.get(
        a.models, tuple(a.models.split(",")))
    store = json.load(open(a.out))["kernels"] if os.path.isfile(a.out) else {}
    tr = traces(models)
    if not a.report_only:
        measure_missing([k for ks in tr.values() for k in ks], store, a.out)
    report(tr, store, a.profile)


if __name__ == "__main__":
    main()
