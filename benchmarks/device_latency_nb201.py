"""Few-shot latency fits checked on public on-device measurements (NAS-Bench-201 space).

Fits a profile from N randomly chosen measured architectures of one latency column, with
only what a user has (whole-model latencies, an optional device prior and runtime name) and
the public API (``lowformer_nas.latency.fitting.fewshot.fit`` / ``predict_many``), then predicts
every other architecture of the CSV and prints one JSON object.

    python -m benchmarks.device_latency_nb201 --csv nb201_latency.csv --device pixel3_ms \
        --train 20 --seed 0 --json [--like snapdragon-845] [--runtime tflite] [--repeat 5]

Networks are traced once and cached (``--trace-cache``, resumable; ``nb201_traces.py``).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import sys
from typing import Any

import numpy as np

from lowformer_nas.errors import LowFormerNASError

INPUT = (1, 3, 32, 32)


class BadInput(Exception):
    """One line for stderr, exit 2."""


def read_column(path: str, column: str) -> list[tuple[str, float]]:
    """(arch_str, latency ms) rows with a positive value in ``column``."""
    if not os.path.isfile(path):
        raise BadInput(f"--csv {path!r} does not exist")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        if "arch_str" not in cols:
            raise BadInput(f"--csv {path!r} has no arch_str column (columns: {', '.join(cols)})")
        lat = [c for c in cols if c not in ("arch_str", "nb201_index")]
        if column not in lat:
            raise BadInput(f"--device {column!r} is not a latency column of {path}; "
                           f"known: {', '.join(lat)}")
        out = []
        for r in reader:
            try:
                v = float(r[column])
            except (TypeError, ValueError):
                continue
            if v > 0 and np.isfinite(v):
                out.append((r["arch_str"], v))
    return out


def prior_for(like: str | None) -> tuple[dict[str, Any] | None, str]:
    """Roofline of a named device (the device table, else a built-in target), or None."""
    if like is None:
        return None, "this machine's roofline (no --like)"
    try:
        from lowformer_nas.latency.targets.devices import get_device_spec

        return dict(get_device_spec(like).roofline()), f"device table entry {like!r}"
    except ImportError:
        from lowformer_nas.latency.targets.builtin import SPECS

        if like not in SPECS:
            raise BadInput(f"--like {like!r} unknown; known: {', '.join(SPECS)}") from None
        return dict(SPECS[like][1]), f"built-in target {like!r}"


def flops(tm: Any) -> float:
    from lowformer_nas.latency.tracing.kernels import kernel_flops

    return float(sum(kernel_flops(k) for k in tm.kernels))


def spearman_kendall(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    return float(spearmanr(a, b)[0]), float(kendalltau(a, b)[0])


def run_once(data: list[tuple[str, float]], traces: dict[str, Any], n: int, seed: int,
             prior: dict[str, Any] | None, traits: tuple[str, ...] | None) -> dict[str, Any]:
    from lowformer_nas.latency.fitting.fewshot import fit, predict_many

    idx = random.Random(seed).sample(range(len(data)), n)
    chosen = set(idx)
    train = [(traces[data[i][0]], INPUT, data[i][1]) for i in idx]
    prof = fit(train, prior=prior, traits=traits, name="nb201-device")
    test = [data[i] for i in range(len(data)) if i not in chosen]
    y = np.array([v for _, v in test])
    pred = predict_many(prof, [traces[a] for a, _ in test], INPUT)
    rel = pred / y - 1.0
    sp, kt = spearman_kendall(pred, y)
    fsp, _ = spearman_kendall(np.array([flops(traces[a]) for a, _ in test]), y)
    err = prof.data.get("error", {})
    return {"within10": float(np.mean(np.abs(rel) <= 0.10)), "mape": float(np.mean(np.abs(rel))),
            "spearman": sp, "kendall": kt, "flops_spearman": fsp, "n_train": n,
            "n_test": len(test), "seed": seed, "traits": prof.data["params"]["traits"],
            "loo_mape": err.get("mape_pct"), "provenance": prof.data["provenance"]}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One seed: its result; several: medians of the metrics, seeds listed."""
    if len(runs) == 1:
        return runs[0]
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs)
                           for k in ("within10", "mape", "spearman", "kendall", "flops_spearman")}
    out.update(n_train=runs[0]["n_train"], n_test=runs[0]["n_test"],
               seeds=[r["seed"] for r in runs], traits_per_seed=[r["traits"] for r in runs],
               per_seed={k: [r[k] for r in runs] for k in ("within10", "spearman")},
               aggregate="median over seeds")
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from benchmarks.nb201_traces import DEFAULT_CACHE

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--device", required=True, help="latency column of the CSV")
    ap.add_argument("--train", type=int, required=True, help="measured architectures to fit on")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=1, help="seeds seed..seed+K-1, medians")
    ap.add_argument("--json", action="store_true", help="print one JSON object (default: also)")
    ap.add_argument("--like", default=None, help="device prior (device table name)")
    ap.add_argument("--runtime", default=None, help="runtime name fixing the traits (tflite...)")
    ap.add_argument("--trace-cache", default=DEFAULT_CACHE)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        from lowformer_nas.latency.tracing.traits import runtime_traits
        from benchmarks.nb201_traces import trace_all

        data = read_column(args.csv, args.device)
        if not 1 <= args.train < len(data):
            raise BadInput(f"--train must be between 1 and {len(data) - 1}, got {args.train}")
        if args.repeat < 1:
            raise BadInput(f"--repeat must be >= 1, got {args.repeat}")
        traits = runtime_traits(args.runtime) if args.runtime else None
        prior, _ = prior_for(args.like)
        traces = trace_all([a for a, _ in data], args.trace_cache, progress=True)
        runs = [run_once(data, traces, args.train, args.seed + k, prior, traits)
                for k in range(args.repeat)]
    except (BadInput, LowFormerNASError) as e:
        sys.stderr.write(f"device_latency_nb201: error: {e}\n")
        return 2
    out = summarize(runs)
    out.update(device=args.device, like=args.like, runtime=args.runtime)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
