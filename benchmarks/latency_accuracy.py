"""Accuracy of the calibrated latency predictor against end-to-end measurements.

Phases (each stays under ~5 minutes so a shared 2-core machine is not monopolised):
  measure    time >= 30 random configs of the default space + the 7 official variants end to
             end (torch eager, 1 thread, 224) in round-robin rounds, resumable, cached in
             benchmarks/results/ (run it twice with --rounds 3 / 6 to stay under 5 minutes)
  calibrate  `lowformer-nas calibrate --budget-minutes 5` for this machine
  evaluate   % within +-10%, MAPE, Spearman, and MACs' Spearman beside it

Run: flock /tmp/lfnas-cpu.lock python benchmarks/latency_accuracy.py --phase measure
     flock /tmp/lfnas-cpu.lock python benchmarks/latency_accuracy.py --phase calibrate
     python benchmarks/latency_accuracy.py --phase evaluate
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MEASURED = RESULTS / "latency_heldout_224.json"  # per model: round medians
PROFILE = RESULTS / "latency_profile_local.json"
N_RANDOM, SEED = 64, 20261124


def configs(n_random: int = N_RANDOM):
    """``n_random`` random configs of the default space (fixed seed), then the official ones."""
    from lowformer_nas.arch.registry import OFFICIAL_NAMES, get_arch
    from lowformer_nas.space import load_space

    space, rng = load_space("lowformer"), random.Random(SEED)
    out = [(f"random{i:02d}", space.sample(rng)) for i in range(n_random)]
    return out + [(n, get_arch(n)) for n in OFFICIAL_NAMES]


def _time_model(cfg, resolution: int) -> list:
    """One round for one model: build, warm up, ~1 s of timed runs (ms each)."""
    import statistics

    import torch

    from lowformer_nas.arch.builder import build_model
    from lowformer_nas.latency.measure import _time_once, prepare

    fn = prepare(build_model(cfg), torch.randn(1, 3, resolution, resolution))
    for _ in range(2):
        fn()
    est = statistics.median(_time_once(fn, 1, lambda: None) for _ in range(2))
    return [_time_once(fn, 1, lambda: None) for _ in range(max(3, min(15, int(1000 / est))))]


def phase_measure(resolution: int, rounds: int, max_minutes: float) -> None:
    """Round-robin over all models, ``rounds`` times: drift hits every model alike; the
    latency is the median of a model's round medians. Resumable after any model; stops after
    ``max_minutes`` so one flock slot stays short (rerun to continue)."""
    import statistics
    import time

    from lowformer_nas._io import atomic_write_text
    from lowformer_nas.arch.yaml_io import config_to_dict
    from lowformer_nas.latency.measure import threads_set

    done = json.loads(MEASURED.read_text()) if MEASURED.is_file() else {}
    stop = time.monotonic() + 60 * max_minutes
    with threads_set(1):
        for r in range(rounds):
            for name, cfg in configs():
                rec = done.setdefault(name, {"arch": config_to_dict(cfg), "rounds": []})
                if len(rec["rounds"]) > r:
                    continue
                if time.monotonic() > stop:
                    print(f"stopped after {max_minutes:g} min in round {r + 1}; rerun to "
                          f"continue", flush=True)
                    return
                rec["rounds"].append(_time_model(cfg, resolution))
                meds = [statistics.median(x) for x in rec["rounds"]]
                runs = sorted(t for x in rec["rounds"] for t in x)
                rec.update(latency_ms=statistics.median(meds), p10_ms=runs[len(runs) // 10],
                           p90_ms=runs[(9 * len(runs)) // 10], n=len(runs),
                           backend="torch", threads=1, resolution=resolution, batch=1)
                atomic_write_text(MEASURED, json.dumps(done, indent=1))
            print(f"round {r + 1}/{rounds} done", flush=True)


def phase_calibrate(minutes: float) -> None:
    from lowformer_nas.cli import main

    sys.exit(main(["calibrate", "--device", "bench-local", "--budget-minutes", str(minutes),
                   "--threads", "1", "--out", str(PROFILE)]))


def phase_evaluate(resolution: int) -> dict:
    import numpy as np
    from scipy.stats import spearmanr

    from lowformer_nas.arch.yaml_io import config_from_dict
    from lowformer_nas.latency import config_macs, load_profile

    prof = load_profile(PROFILE)
    done = json.loads(MEASURED.read_text())
    rows = []
    for name, rec in done.items():
        cfg = config_from_dict(rec["arch"])
        rows.append((name, rec["latency_ms"], prof.predict(cfg, resolution).latency_ms,
                     config_macs(cfg, resolution)))
    meas, pred, macs = (np.array([r[i] for r in rows]) for i in (1, 2, 3))
    rel = pred / meas - 1
    for (name, m, p, _), e in zip(rows, rel):
        print(f"{name:14s} measured {m:8.2f}  predicted {p:8.2f}  err {100 * e:+6.1f}%")
    stats = {"n": len(rows), "within10_pct": float(100 * np.mean(np.abs(rel) <= 0.1)),
             "mape_pct": float(100 * np.mean(np.abs(rel))),
             "spearman": float(spearmanr(pred, meas)[0]),
             "macs_spearman": float(spearmanr(macs, meas)[0]),
             "official_mape_pct": float(100 * np.mean(np.abs(rel[-7:]))),
             "profile": prof.describe()}
    print(json.dumps(stats, indent=1))
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", choices=("measure", "calibrate", "evaluate"), required=True)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=5, help="measure: round-robin rounds")
    ap.add_argument("--max-minutes", type=float, default=8.0,
                    help="measure: stop after this long (resumable)")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.phase == "measure":
        phase_measure(args.resolution, args.rounds, args.max_minutes)
    elif args.phase == "calibrate":
        phase_calibrate(args.minutes)
    else:
        phase_evaluate(args.resolution)


if __name__ == "__main__":
    main()
