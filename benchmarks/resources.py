"""Peak memory (max RSS) and wall time of the default search and of a calibration.

    flock /tmp/lfnas-cpu.lock python -m benchmarks.resources [--calibrate-minutes 1]

Each command runs in a fresh child process (in a temporary directory, with its own profile
cache); the peak resident set size comes from ``getrusage(RUSAGE_CHILDREN)`` after it exits.
Prints a markdown table for the "Resources" section of docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "lowformer_nas"]


def run_child(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one child; each child is measured in a fresh
    grandparent so RUSAGE_CHILDREN sees only it."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
               "print(time.perf_counter() - t, "
               "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", wrapper] + cmd, cwd=cwd, env=env,
                         capture_output=True, text=True, check=True)
    wall, rss = out.stdout.split()
    return float(wall), float(rss)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calibrate-minutes", type=float, default=1.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    env = dict(os.environ, LOWFORMER_NAS_CACHE=str(tmp / "cache"))
    cases = [
        ("`lowformer-nas search --target jetson --latency-budget 5ms` (the bare command)",
         CLI + ["search", "--target", "jetson", "--latency-budget", "5ms", "--quiet"]),
        (f"`lowformer-nas calibrate --device bench --budget-minutes {args.calibrate_minutes:g}`",
         CLI + ["calibrate", "--device", "bench", "--budget-minutes",
                f"{args.calibrate_minutes:g}", "--out", str(tmp / "bench.json")]),
    ]
    print("| command | wall (s) | peak RSS (MiB) |\n|---|---|---|")
    for label, cmd in cases:
        wall, rss = run_child(cmd, tmp, env)
        print(f"| {label} | {wall:.0f} | {rss:.0f} |", flush=True)
    print(f"\nmachine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
