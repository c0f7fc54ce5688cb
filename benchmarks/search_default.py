"""The bare search end to end: ``lowformer-nas search --target jetson --latency-budget 5ms``.

    flock /tmp/lfnas-cpu.lock python -m benchmarks.search_default [--out DIR]

Times the command in a fresh process (embedded defaults: space ``lowformer`` and its
``search_defaults``: the accuracy prior over zero-cost scores on digits at 64 px; Optuna
NSGA-II), checks every run file exists, and derives zero-cost throughput
(feasible candidates scored per minute, from each trial's own ``seconds``) and end-to-end
trials per minute. Target: <= 10 minutes on the 2-core machine. Writes
``benchmarks/results/search_default.json`` and prints the figures.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ["config.yaml", "trials.csv", "pareto.html", "pareto.json", "summary.md",
         "reference.json", "models/B3.yaml"]


def run(out: Path) -> dict:
    cmd = [sys.executable, "-m", "lowformer_nas", "search", "--target", "jetson",
           "--latency-budget", "5ms", "--out", str(out)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    with open(out / "trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    scored = [float(r["seconds"]) for r in rows if r["feasible"] == "True"
              and r["duplicate"] == "False"]
    family = json.loads((out / "pareto.json").read_text())["family"]
    return {
        "command": "lowformer-nas search --target jetson --latency-budget 5ms",
        "wall_s": round(wall, 1), "trials": len(rows),
        "feasible": sum(r["feasible"] == "True" for r in rows),
        "zero_cost_median_s": round(statistics.median(scored), 3),
        "zero_cost_candidates_per_min": round(60 / statistics.median(scored), 1),
        "trials_per_min_end_to_end": round(len(rows) / wall * 60, 1),
        "files_missing": [f for f in FILES if not (out / f).is_file()],
        "proxy": summary_proxy(out),
        "family": {k: (None if v is None else {"latency_ms": round(v["latency_ms"], 3),
                                               "score": round(v["score"], 2)})
                   for k, v in family.items()},
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"{__import__('os').cpu_count()} cores, Python {platform.python_version()}",
        "date": datetime.date.today().isoformat(),
    }


def summary_proxy(out: Path) -> list:
    """The summary's proxy and proxy-fidelity lines (what the run says it ranked by)."""
    lines = (out / "summary.md").read_text().splitlines()
    return [ln[2:] for ln in lines if ln.startswith(("- proxy ", "- proxy fidelity"))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="run directory (default: a fresh temp dir)")
    args = ap.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="lfnas-bench-")) / "run"
    result = run(out)
    path = ROOT / "benchmarks" / "results" / "search_default.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0 if not result["files_missing"] and result["wall_s"] <= 600 else 1


if __name__ == "__main__":
    sys.exit(main())
