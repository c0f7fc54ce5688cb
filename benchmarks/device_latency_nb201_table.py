"""All columns x several N of ``device_latency_nb201.py`` in one process (traces loaded once);
writes ``results/device_latency_nb201.json`` and prints the markdown table for
docs/benchmarks.md (medians over seeds).

    python -m benchmarks.device_latency_nb201_table --csv nb201_latency.csv \
        [--train 10,20,50,100] [--seeds 5] [--like pixel3_ms=snapdragon-845,...]
        [--runtime pixel3_ms=tflite,...]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone

from benchmarks import device_latency_nb201 as b
from lowformer_nas._io import atomic_write_text

COLUMNS = ("pixel3_ms", "essential_ph_1_ms", "gold_6226_ms", "titan_rtx_1_ms", "1080ti_1_ms")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                   "device_latency_nb201.json")


def main() -> int:
    from lowformer_nas.latency.tracing.traits import runtime_traits
    from benchmarks.nb201_traces import DEFAULT_CACHE, read_archs, trace_all

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--train", default="10,20,50,100")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--like", default="", help="COLUMN=DEVICE pairs, comma separated")
    ap.add_argument("--runtime", default="", help="COLUMN=RUNTIME pairs (traits given, not "
                                                  "decided by leave-one-out)")
    ap.add_argument("--trace-cache", default=DEFAULT_CACHE)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    likes = dict(p.split("=", 1) for p in args.like.split(",") if p)
    runtimes = dict(p.split("=", 1) for p in args.runtime.split(",") if p)
    sizes = [int(n) for n in args.train.split(",")]
    results = json.load(open(args.out)) if os.path.isfile(args.out) else {}
    traces = trace_all(read_archs(args.csv), args.trace_cache, progress=False)
    for n in sizes:
        for col in [c for c in COLUMNS if not runtimes or c in runtimes]:
            data = b.read_column(args.csv, col)
            prior, words = b.prior_for(likes.get(col))
            rt = runtimes.get(col)
            key = f"{col}|{n}|{likes.get(col) or '-'}" + (f"|{rt}" if rt else "")
            if key in results:
                continue  # resumable: finished cells are kept
            t0 = time.perf_counter()
            traits = runtime_traits(rt) if rt else None
            runs = [b.run_once(data, traces, n, s, prior, traits) for s in range(args.seeds)]
            res = b.summarize(runs)
            res.update(device=col, like=likes.get(col), runtime=rt, prior=words,
                       seconds=round(time.perf_counter() - t0, 1),
                       date=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            results[key] = res
            atomic_write_text(args.out, json.dumps(results, indent=1) + "\n")
            print(f"| {col} | {likes.get(col) or '-'} | {rt or '-'} | {n} | {100 * res['within10']:.1f}% | "
                  f"{100 * res['mape']:.1f}% | {res['spearman']:.3f} | {res['kendall']:.3f} | "
                  f"{res['flops_spearman']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
