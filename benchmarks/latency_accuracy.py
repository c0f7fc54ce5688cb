"""Accuracy and interval coverage of the calibrated latency predictor on held-out models.

Phases (each resumable and short, so one flock slot on the shared 2-core machine suffices):
  measure    time 32 random configs of the default space (fixed seed, never seen by any
             calibration) + the 7 official variants end to end (torch eager, 1 thread, 224) in
             round-robin rounds; appends to benchmarks/results/latency_heldout_224_<clock>.json
             and stops after --max-minutes (rerun to continue)
  calibrate  `lowformer-nas calibrate --device bench-local --budget-minutes 5` (resumes too)
  evaluate   within +-10%, MAPE, Spearman (MACs' beside it), coverage of the 90% interval and of
             +-1 sigma, for the random held-out configs and the official ones; any --profile
  crossval   the same figures by nested 5-fold cross-validation over the profile's own whole
             models (random ones, and the adaptive corner configs that stand for search picks)

The clock is ``$LOWFORMER_NAS_CLOCK`` (wall by default; ``cpu`` = process CPU time, for a
machine shared with other jobs). Run (see docs/benchmarks.md for the figures):
  export LOWFORMER_NAS_CLOCK=cpu LOWFORMER_NAS_CACHE=/tmp/lfn-bench-cache
  flock /tmp/lfn-measure.lock nice -n -10 python -m benchmarks.latency_accuracy --phase measure
  flock /tmp/lfn-measure.lock nice -n -10 python -m benchmarks.latency_accuracy --phase calibrate
  python -m benchmarks.latency_accuracy --phase evaluate
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PROFILE = RESULTS / "latency_profile_local.json"
N_RANDOM, SEED = 32, 20261124


def measured_path() -> Path:
    """Per model: round medians, on the clock of ``$LOWFORMER_NAS_CLOCK`` (wall or cpu)."""
    from lowformer_nas.latency.measurement.measure import clock_name

    return RESULTS / f"latency_heldout_224_{clock_name()}.json"


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
    from lowformer_nas.latency.measurement.measure import clock_name, prepare, time_once

    clock = clock_name()
    fn = prepare(build_model(cfg), torch.randn(1, 3, resolution, resolution))
    for _ in range(2):
        fn()
    est = statistics.median(time_once(fn, 1, lambda: None, clock) for _ in range(2))
    return [time_once(fn, 1, lambda: None, clock)
            for _ in range(max(3, min(15, int(1000 / est))))]


def phase_measure(resolution: int, rounds: int, max_minutes: float) -> None:
    """Round-robin over all models, ``rounds`` times: drift hits every model alike; the
    latency is the median of a model's round medians. Resumable after any model; stops after
    ``max_minutes`` so one flock slot stays short (rerun to continue)."""
    import statistics
    import time

    from lowformer_nas._io import atomic_write_text
    from lowformer_nas.arch.yaml_io import config_to_dict
    from lowformer_nas.latency.measurement.measure import threads_set

    from lowformer_nas.latency.measurement.measure import clock_name

    path = measured_path()
    done = json.loads(path.read_text()) if path.is_file() else {}
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
                           backend="torch", threads=1, resolution=resolution, batch=1,
                           clock=clock_name())
                atomic_write_text(path, json.dumps(done, indent=1))
            print(f"round {r + 1}/{rounds} done", flush=True)


def phase_calibrate(minutes: float) -> None:
    from lowformer_nas.cli import main

    sys.exit(main(["calibrate", "--device", "bench-local", "--budget-minutes", str(minutes),
                   "--threads", "1", "--out", str(PROFILE)]))


def accuracy_stats(names, meas, pred, std, lo, hi, macs) -> dict:
    """Within +-10%, MAPE, Spearman, and coverage of the 90% interval and of +-1 sigma."""
    import numpy as np
    from scipy.stats import spearmanr

    from lowformer_nas.latency.fitting.intervals import coverage

    rel = pred / meas - 1
    cov = coverage(meas, pred, lo, hi, std=std)
    return {"n": len(names), "within10_pct": float(100 * np.mean(np.abs(rel) <= 0.1)),
            "mape_pct": float(100 * np.mean(np.abs(rel))),
            "mean_err_pct": float(100 * np.mean(rel)),
            "spearman": float(spearmanr(pred, meas)[0]),
            "macs_spearman": float(spearmanr(macs, meas)[0]),
            "interval90_coverage_pct": cov["interval_pct"],
            "interval90_above_pct": cov["above_pct"], "sigma1_coverage_pct": cov["sigma1_pct"],
            "misses": [f"{n} {100 * e:+.1f}%" for n, e in zip(names, rel) if abs(e) > 0.1]}


def phase_evaluate(resolution: int, profile: Path, min_rounds: int) -> dict:
    """Predictions of ``profile`` against the held-out measurements (random and official)."""
    import numpy as np

    from lowformer_nas._io import atomic_write_text
    from lowformer_nas.arch.yaml_io import config_from_dict
    from lowformer_nas.latency import config_macs, load_profile

    prof = load_profile(profile)
    done = json.loads(measured_path().read_text())
    rows = []
    for name, rec in done.items():
        if len(rec["rounds"]) < min_rounds:
            continue
        cfg = config_from_dict(rec["arch"])
        p = prof.predict(cfg, resolution)
        lo, hi = p.central_interval(0.9)
        rows.append((name, rec["latency_ms"], p.latency_ms, p.std_ms, lo, hi,
                     config_macs(cfg, resolution)))
        print(f"{name:14s} measured {rows[-1][1]:8.2f}  predicted {p.latency_ms:8.2f} "
              f"[{lo:7.2f}, {hi:7.2f}]  err {100 * (p.latency_ms / rows[-1][1] - 1):+6.1f}%")
    out = {"profile": prof.describe(), "profile_file": str(profile),
           "measured_file": str(measured_path()), "min_rounds": min_rounds}
    for label, keep in (("random", lambda n: n.startswith("random")), ("all", lambda n: True),
                        ("official", lambda n: not n.startswith("random"))):
        sel = [r for r in rows if keep(r[0])]
        if len(sel) >= 3:
            cols = [np.array([r[i] for r in sel]) for i in range(1, 7)]
            out[label] = accuracy_stats([r[0] for r in sel], *cols)
    print(json.dumps(out, indent=1))
    atomic_write_text(RESULTS / f"latency_accuracy_{profile.stem}.json", json.dumps(out, indent=1))
    return out


def phase_crossval(profile: Path, folds: int = 5) -> dict:
    """Nested cross-validation on the profile's own journal: whole models of one source
    (random / adaptive) are held out fold by fold, the profile is refitted without them
    (kernels and the other models), and its predictions and intervals are scored on them."""
    import numpy as np

    from lowformer_nas._io import atomic_write_text
    from lowformer_nas.arch.yaml_io import config_from_dict
    from lowformer_nas.latency import config_macs, load_profile
    from lowformer_nas.latency.targets.calibrate import Journal, journal_header
    from lowformer_nas.latency.fitting.fit import fit_params
    from lowformer_nas.latency.targets.profiles import make_profile

    path = Path(load_profile(profile).data["journal"])
    j = Journal(path, journal_header(path))
    kernels, models = j.of_kind("kernel"), j.of_kind("model")
    out = {"journal": str(path), "kernels": len(kernels), "models": len(models)}
    for source in ("random", "adaptive"):
        idx = np.random.default_rng(0).permutation(
            [i for i, r in enumerate(models) if r.get("source", "random") == source])
        if len(idx) < 2 * folds:
            continue
        rows = []
        for fold in (idx[f::folds] for f in range(folds)):
            held = set(fold.tolist())
            params, _ = fit_params(kernels, [r for i, r in enumerate(models) if i not in held],
                                   j.header["roofline"])
            prof = make_profile("cv", "cv", "cv", "calibrated", params)
            for i in fold:
                r, cfg = models[i], config_from_dict(models[i]["arch"])
                p = prof.predict(cfg, r["resolution"])
                rows.append((f"{source}{i}", r["ms"], p.latency_ms, p.std_ms,
                             *p.central_interval(0.9), config_macs(cfg, r["resolution"])))
        cols = [np.array([r[k] for r in rows]) for k in range(1, 7)]
        out[source] = accuracy_stats([r[0] for r in rows], *cols)
    print(json.dumps(out, indent=1))
    atomic_write_text(RESULTS / f"latency_crossval_{profile.stem}.json", json.dumps(out, indent=1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", choices=("measure", "calibrate", "evaluate", "crossval"),
                    required=True)
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=5, help="measure: round-robin rounds")
    ap.add_argument("--max-minutes", type=float, default=8.0,
                    help="measure: stop after this long (resumable)")
    ap.add_argument("--profile", type=Path, default=PROFILE, help="evaluate: profile JSON")
    ap.add_argument("--min-rounds", type=int, default=3,
                    help="evaluate: only models measured in at least this many rounds")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    if args.phase == "measure":
        phase_measure(args.resolution, args.rounds, args.max_minutes)
    elif args.phase == "calibrate":
        phase_calibrate(args.minutes)
    elif args.phase == "crossval":
        phase_crossval(args.profile)
    else:
        phase_evaluate(args.resolution, args.profile, args.min_rounds)


if __name__ == "__main__":
    main()
