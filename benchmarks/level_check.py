"""A calibration 30 minutes old, re-levelled by its reference set, against a fresh calibration.

    python -m benchmarks.level_check --phase start   # calibrate `local` (cache A), time configs
    python -m benchmarks.level_check --phase later   # >= 30 min on: check A's level, time the
                                                     # configs again, calibrate afresh (cache B)

``start`` runs the first-use calibration (``lowformer-nas calibrate --device local
--budget-minutes 1``) in a fresh cache and times ``--configs`` random configs of the default
space with a user's own timing loop (``benchmarks.user_timing``: PyTorch's Timer in fresh
processes, nothing of ``lowformer_nas.latency``). ``later`` runs ``calibrate --check-level``
on that cache, times the same configs again, calibrates a second fresh cache, and reports
the share of configs each profile predicts within +-10%: A as calibrated, A re-levelled, B
fresh (the goal: A re-levelled within 5 points of B). Results: ``results/level_check.json``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "level_check.json"
WORK = Path(os.environ.get("LFN_BENCH_LEVEL", "/tmp/lfn-bench-level"))
AGE_S = 1800.0


def _calibrate(cache: Path, *extra: str) -> str:
    env = dict(os.environ, LOWFORMER_NAS_CACHE=str(cache))
    done = subprocess.run([sys.executable, "-m", "lowformer_nas", "calibrate", "--device",
                           "local", "--budget-minutes", "1", "--no-progress", *extra],
                          env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _configs(n: int) -> list[dict[str, Any]]:
    from lowformer_nas.arch.yaml_io import config_to_dict
    from lowformer_nas.space import load_space

    space = load_space("lowformer")
    return [config_to_dict(space.sample(1000 + i)) for i in range(n)]


def _predict(profile: Any, configs: list[dict[str, Any]]) -> list[float]:
    from lowformer_nas.arch.yaml_io import config_from_dict

    return [profile.predict(config_from_dict(c), 224).latency_ms for c in configs]


def _within10(pred: list[float], truth: list[float]) -> float:
    return round(100.0 * sum(abs(p / t - 1) <= 0.10 for p, t in zip(pred, truth)) / len(truth), 1)


def start(n: int) -> dict[str, Any]:
    from lowformer_nas.latency import load_profile

    from .user_timing import time_models

    cache = WORK / "A"
    subprocess.run(["rm", "-rf", str(WORK)], check=True)
    _calibrate(cache)
    prof = load_profile(cache / "profiles" / "local.json")
    configs = _configs(n)
    truth = time_models([(c, 224) for c in configs], rounds=3, min_time_s=0.5)
    pred = _predict(prof, configs)
    return {"started": time.time(), "date": datetime.datetime.now(datetime.timezone.utc)
            .isoformat(timespec="seconds"), "configs": configs, "truth_t0_ms": truth,
            "pred_a_ms": pred, "a_within10_t0": _within10(pred, truth),
            "reference": prof.data["reference"]}


def later(res: dict[str, Any], force: bool) -> dict[str, Any]:
    from lowformer_nas.latency import load_profile
    from lowformer_nas.latency.targets.level import levelled, load_check

    from .user_timing import time_models

    age = time.time() - res["started"]
    if age < AGE_S and not force:
        raise SystemExit(f"the calibration is {age / 60:.0f} min old; wait until 30 (or --force)")
    path = WORK / "A" / "profiles" / "local.json"
    said = _calibrate(WORK / "A", "--check-level")
    check = load_check(path)
    stale = load_profile(path)
    configs = res["configs"]
    truth = time_models([(c, 224) for c in configs], rounds=3, min_time_s=0.5)
    _calibrate(WORK / "B")
    fresh = load_profile(WORK / "B" / "profiles" / "local.json")
    shares = {"a_as_calibrated": _within10(_predict(stale, configs), truth),
              "a_relevelled": _within10(_predict(levelled(stale, check), configs), truth),
              "b_fresh": _within10(_predict(fresh, configs), truth)}
    return {"age_min": round(age / 60, 1), "check": said, "truth_t_ms": truth,
            "within10_pct": shares,
            "goal_met": abs(shares["a_relevelled"] - shares["b_fresh"]) <= 5.0,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, load "
                       f"{os.getloadavg()[0]:.2f}"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", choices=("start", "later"), required=True)
    ap.add_argument("--configs", type=int, default=27)
    ap.add_argument("--force", action="store_true", help="run `later` before 30 minutes")
    args = ap.parse_args()
    res = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    if args.phase == "start":
        res = {"start": start(args.configs)}
    else:
        res["later"] = later(res["start"], args.force)
    RESULTS.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: v for k, v in res.get(args.phase, {}).items()
                      if k not in ("configs", "truth_t0_ms", "pred_a_ms", "truth_t_ms")},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
