"""Per-trial bookkeeping cost at scale: predicted-only trials (every config over budget).

``search --target jetson --latency-budget 1.2ms --references none --quiet`` on the default
space: no proxy runs, so the time is the sampler, the storage and our bookkeeping. Runs the
search in this process and timestamps every finished trial (``TrialBook.add``), then prints
JSON: total seconds, the seconds of trials 100-200 and of the last 100, and their ratio, in
wall time and in this process's CPU time (the fairer figure on a machine shared with other
jobs; Ray workers' CPU is not in it).

    python -m benchmarks.bookkeeping_scale --trials 10000
    python -m benchmarks.bookkeeping_scale --trials 10000 --storage sqlite:////tmp/b.db
    python -m benchmarks.bookkeeping_scale --trials 2000 --backend ray
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path


def window(marks: list[float], first: int, last: int) -> float:
    """Seconds from the finish of trial ``first`` to that of trial ``last`` (1-based)."""
    return marks[last - 1] - marks[first - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10000)
    ap.add_argument("--storage", default=None)
    ap.add_argument("--backend", default="optuna", choices=("optuna", "ray"))
    ap.add_argument("--out", default=None, help="run directory (default: a temp dir, removed)")
    args = ap.parse_args()

    from lowformer_nas.report.finish import finish_run
    from lowformer_nas.search import bookkeeping
    from lowformer_nas.search.run import run_search
    from lowformer_nas.search.settings import SearchSettings

    marks: list[float] = []
    cpu: list[float] = []
    add = bookkeeping.TrialBook.add

    def timed_add(self, row):  # instrumentation: when each trial's row is written
        add(self, row)
        marks.append(time.perf_counter())
        cpu.append(time.process_time())

    bookkeeping.TrialBook.add = timed_add
    tmp = Path(tempfile.mkdtemp(prefix="lfn-bench-"))
    out = Path(args.out) if args.out else tmp / "run"
    settings = SearchSettings(target="jetson", budget="1.2ms", trials=args.trials,
                              references=["none"], out=str(out), storage=args.storage,
                              backend=args.backend)
    start, cpu0 = time.perf_counter(), time.process_time()
    run_search(settings, quiet=True, finish=finish_run)  # as the CLI does
    total, total_cpu = time.perf_counter() - start, time.process_time() - cpu0
    n = len(marks)
    early, late = window(marks, 100, 200), window(marks, n - 100, n)
    cpu_early, cpu_late = window(cpu, 100, 200), window(cpu, n - 100, n)
    print(json.dumps({
        "trials": n, "backend": args.backend, "storage": args.storage or "journal (run dir)",
        "total_s": round(total, 1), "trials_100_200_s": round(early, 2),
        f"trials_{n - 100}_{n}_s": round(late, 2), "late_over_early": round(late / early, 2),
        "cpu_total_s": round(total_cpu, 1), "cpu_trials_100_200_s": round(cpu_early, 2),
        f"cpu_trials_{n - 100}_{n}_s": round(cpu_late, 2),
        "cpu_late_over_early": round(cpu_late / cpu_early, 2),
        "load_average": os.getloadavg(),
        "machine": f"{platform.node()} {os.cpu_count()} CPUs, {platform.platform()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
