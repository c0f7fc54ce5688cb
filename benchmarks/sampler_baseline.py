"""Does the sampler beat random search? Hypervolume of each sampler's front, 3 seeds each.

    nice -n 5 python -m benchmarks.sampler_baseline              # resumable: one run at a time
    python -m benchmarks.sampler_baseline --evaluate              # the table from what is done
    python -m benchmarks.sampler_baseline --results benchmarks/results/sampler_baseline_prior.json

Each run is the bare command with one sampler and seed, ``lowformer-nas search --target
jetson --latency-budget 5ms --sampler S --seed K --references none`` (default proxy and trial
budget), in a fresh process. The front of a run is its feasible, finished zero-cost trials;
every run is scored with one reference point (the lowest feasible score of all runs, the
budget), so the hypervolumes compare across samplers. Finished runs are appended to
``benchmarks/results/sampler_baseline.json`` (issue 10), so a cut job resumes.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "sampler_baseline.json"
RUNS = Path(os.environ.get("LFN_BENCH_RUNS", "/tmp/lfn-bench-sampler-runs"))
SAMPLERS, SEEDS = ("nsga2", "tpe", "random"), (0, 1, 2)


def _load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": {}}


def _points(run: Path) -> list:
    """(score, latency) of the run's feasible finished trials, duplicates left out."""
    with open(run / "trials.csv", newline="") as fh:
        return [(float(r["score"]), float(r["latency_ms"])) for r in csv.DictReader(fh)
                if r["state"] == "COMPLETE" and r["feasible"] == "True"
                and r["duplicate"] != "True" and r["score"] not in ("", "-inf")
                and math.isfinite(float(r["score"]))]


def run_one(sampler: str, seed: int) -> dict:
    out = RUNS / f"{sampler}-{seed}"
    cmd = [sys.executable, "-m", "lowformer_nas", "search", "--target", "jetson",
           "--latency-budget", "5ms", "--sampler", sampler, "--seed", str(seed),
           "--references", "none", "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return {"command": " ".join(["lowformer-nas"] + cmd[3:]), "wall_s":
            round(time.perf_counter() - start, 1), "points": _points(out),
            "date": datetime.date.today().isoformat()}


def evaluate(res: dict) -> dict:
    """Hypervolume per run against one common reference point, median per sampler."""
    import numpy as np

    from lowformer_nas.rundir.pareto import hypervolume_2d

    runs = res["runs"]
    scores = [p[0] for r in runs.values() for p in r["points"]]
    if not scores:
        return {}
    ref = [min(scores), 5.0]
    table = {}
    for sampler in SAMPLERS:
        hvs = [hypervolume_2d(np.array(r["points"]).reshape(-1, 2), ref, (True, False))
               for key, r in sorted(runs.items()) if key.startswith(sampler + "-")]
        if hvs:
            table[sampler] = {"runs": len(hvs), "hypervolumes": [round(h, 4) for h in hvs],
                              "median": round(statistics.median(hvs), 4)}
    return {"reference_point": ref, "by_sampler": table}


def main() -> int:
    global RESULTS, RUNS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evaluate", action="store_true", help="print the table, run nothing")
    ap.add_argument("--results", default=str(RESULTS),
                    help="results file (one per default proxy: the runs compare within it)")
    args = ap.parse_args()
    RESULTS = Path(args.results)
    RUNS = RUNS / RESULTS.stem
    res = _load()
    if not args.evaluate:
        for seed in SEEDS:  # interleaved: one of each sampler per seed, so drift hits all
            for sampler in SAMPLERS:
                key = f"{sampler}-{seed}"
                if key in res["runs"]:
                    continue
                res["runs"][key] = run_one(sampler, seed)
                RESULTS.parent.mkdir(parents=True, exist_ok=True)
                tmp = RESULTS.with_suffix(".tmp")
                tmp.write_text(json.dumps(res, indent=1))
                os.replace(tmp, RESULTS)
                print(key, res["runs"][key]["wall_s"], "s", flush=True)
    res["evaluation"] = evaluate(res)
    RESULTS.write_text(json.dumps(res, indent=1))
    print(json.dumps(res["evaluation"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
