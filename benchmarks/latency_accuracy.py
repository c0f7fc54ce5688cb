"""Accuracy of the calibrated latency predictor against end-to-end measurements.

Phases (each stays under ~5 minutes so a shared 2-core machine is not monopolised):
  measure    time >= 30 random configs of the default space + the 7 official variants end to
             end (torch eager, 1 thread, 224), resumable, cached in benchmarks/results/
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
MEASURED = RESULTS / "latency_models_224.json"
PROFILE = RESULTS / "latency_profile_local.json"
N_RANDOM, SEED = 32, 20261124


def configs():
    from lowformer_nas.arch.registry import OFFICIAL_NAMES, get_arch
    from lowformer_nas.space import load_space

    space, rng = load_space("lowformer"), random.Random(SEED)
    out = [(f"random{i:02d}", space.sample(rng)) for i in range(N_RANDOM)]
    return out + [(n, get_arch(n)) for n in OFFICIAL_NAMES]


def phase_measure(resolution: int) -> None:
    from lowformer_nas._io import atomic_write_text
    from lowformer_nas.arch.yaml_io import config_to_dict
    from lowformer_nas.latency import measure

    done = json.loads(MEASURED.read_text()) if MEASURED.is_file() else {}
    for name, cfg in configs():
        if name in done:
            continue
        m = measure(cfg, resolution=resolution, backend="torch", threads=1, min_time_s=2.0)
        done[name] = dict(m.to_dict(), arch=config_to_dict(cfg))
        atomic_write_text(MEASURED, json.dumps(done, indent=1))
        print(f"{name:14s} {m.latency_ms:8.2f} ms  (p10 {m.p10_ms:.2f}, p90 {m.p90_ms:.2f})",
              flush=True)


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
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.phase == "measure":
        phase_measure(args.resolution)
    elif args.phase == "calibrate":
        phase_calibrate(args.minutes)
    else:
        phase_evaluate(args.resolution)


if __name__ == "__main__":
    main()
