"""Why a latency timed inside the search process reads slower than ``lowformer-nas measure``.

    nice -n 5 python -m benchmarks.measure_protocol [--rounds 3] [--zc 40] [--builds 150]
    nice -n 5 python -m benchmarks.measure_protocol --ab 4 [--zc 3]
    nice -n 5 python -m benchmarks.measure_protocol --picks RUN [--rounds 3]

Each condition runs in its own fresh process (this file with ``--condition C``): it first does
what the search process does before its verify loop times the picks, then times the same
three networks with the verify loop's harness (``prepare`` + ``time_interleaved``, 1 thread,
5 rounds x 3 runs, median of round medians):

- ``fresh``: nothing first (what ``lowformer-nas measure`` and the measurement worker see);
- ``builds``: ``--builds`` random configs of the default space built and dropped;
- ``zc``: zero-cost scores (all five) of ``--zc`` random configs on digits at 64 px, torch's
  default thread count (the search's zero-cost stage);
- ``zc1``: the same with torch held at 1 thread (separates thread pools from heap state);
- ``display``: the search's rich progress display running while timing;
- ``search``: ``zc`` then timing under the display (all together);
- ``worker``: ``search``, but the timing done by the fresh measurement worker
  (``latency/measurement/worker.py``) that the verify loop now uses.

Conditions are interleaved round by round (each round runs every condition once, in a rotated
order) and the figure is the median over rounds of each network's latency relative to
``fresh`` of the same round. Writes ``benchmarks/results/measure_protocol.json``.

``--ab PAIRS``: one process in the search's state times the same networks in place and in a
fresh worker, back to back, PAIRS times (the load of a shared machine hits both alike);
writes ``benchmarks/results/measure_protocol_ab.json``.

``--picks RUN``: ``lowformer-nas measure`` of each of the run's ``models/B*.yaml`` in fresh
processes, interleaved rounds, median, against the latency the run reports (trials.csv);
writes ``benchmarks/results/measure_protocol_picks.json``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "measure_protocol.json"
CONDITIONS = ("fresh", "builds", "zc", "zc1", "display", "search", "worker")
DEFAULT = "fresh,builds,zc,zc1,display,worker"
SEEDS = (3, 11, 29)  # the three timed networks: random configs of the default space


def _configs(seeds=SEEDS) -> list:
    from lowformer_nas.space import load_space

    space = load_space("lowformer")
    return [space.sample(s) for s in seeds]


def _zero_cost(n: int, one_thread: bool) -> None:
    import random

    import torch

    from lowformer_nas.accuracy.datasets import load_dataset
    from lowformer_nas.accuracy.zerocost import zero_cost_scores
    from lowformer_nas.space import load_space

    old = torch.get_num_threads()
    if one_thread:
        torch.set_num_threads(1)
    data = load_dataset("digits", image_size=64)
    space, rng = load_space("lowformer"), random.Random(7)
    for _ in range(n):
        zero_cost_scores(space.sample(rng), data, 64)
    torch.set_num_threads(old)


def _builds(n: int) -> None:
    import random

    from lowformer_nas.arch.builder import build_model
    from lowformer_nas.space import load_space

    space, rng = load_space("lowformer"), random.Random(5)
    for _ in range(n):
        build_model(space.sample(rng))


def _time_here() -> list:
    """The verify loop's in-process harness (before issue 21)."""
    import torch

    from lowformer_nas.arch.builder import build_model
    from lowformer_nas.latency.measurement.measure import (prepare, summarize, threads_set,
                                                           time_interleaved)

    with threads_set(1):
        fns = [prepare(build_model(c), torch.randn(1, 3, 224, 224), "torch", 1, "cpu")
               for c in _configs()]
        timed = time_interleaved(fns, rounds=5, runs=3, min_sample_ms=0.0)
    return [summarize(t)["latency_ms"] for t in timed]


def _time_worker() -> list:
    from lowformer_nas.latency.measurement.worker import measure_in_worker

    return [m["latency_ms"] for m in measure_in_worker(_configs(), 224, "torch", 1, "cpu")]


def condition(name: str, n_zc: int, n_builds: int) -> dict:
    """Run one condition in this process; returns its timings and what the process held."""
    import threading

    import torch

    t0 = time.perf_counter()
    if name == "builds":
        _builds(n_builds)
    if name in ("zc", "search", "worker"):
        _zero_cost(n_zc, one_thread=False)
    if name == "zc1":
        _zero_cost(n_zc, one_thread=True)
    prep_s = time.perf_counter() - t0
    display = None
    if name in ("display", "search", "worker"):
        from lowformer_nas.search.progress import SearchProgress

        display = SearchProgress(quiet=False).__enter__()
        display.start_stage("zc", 100, 10)
    import resource

    tasks = len(os.listdir("/proc/self/task"))  # OS threads: Python's, torch's pools
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    try:
        ms = _time_worker() if name == "worker" else _time_here()
    finally:
        if display is not None:
            display.__exit__(None, None, None)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"condition": name, "ms": ms, "prep_s": prep_s, "os_threads": tasks,
            "python_threads": threading.active_count(), "torch_threads": torch.get_num_threads(),
            "minor_faults": r1.ru_minflt - r0.ru_minflt,
            "involuntary_switches": r1.ru_nivcsw - r0.ru_nivcsw,
            "clock": os.environ.get("LOWFORMER_NAS_CLOCK", "wall")}


def ab(n_zc: int, pairs: int) -> dict:
    """In one process in the search's state (zero-cost stage at torch's default threads, the
    display running): ``pairs`` times, the in-process harness then the fresh worker, back to
    back, so both meet the same load on a shared machine."""
    from lowformer_nas.search.progress import SearchProgress

    _zero_cost(n_zc, one_thread=False)
    display = SearchProgress(quiet=False).__enter__()
    display.start_stage("zc", 100, 10)
    out = []
    try:
        for _ in range(pairs):
            out.append({"in_process": _time_here(), "worker": _time_worker()})
            print(json.dumps(out[-1]), file=sys.stderr, flush=True)
    finally:
        display.__exit__(None, None, None)
    ratios = [100 * (a / b - 1) for p in out for a, b in zip(p["in_process"], p["worker"])]
    return {"pairs": out, "in_process_vs_worker_pct": {
        "median": round(statistics.median(ratios), 1), "min": round(min(ratios), 1),
        "max": round(max(ratios), 1)}}


def _one(name: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.measure_protocol", "--condition", name,
           "--zc", str(args.zc), "--builds", str(args.builds)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return json.loads(out.stdout.strip().splitlines()[-1])


def picks(run: Path, rounds: int) -> dict:
    """``lowformer-nas measure`` of each ``RUN/models/B*.yaml`` in fresh processes (``rounds``
    interleaved rounds, median) against the latency the run reports for it."""
    import csv

    fam = json.loads((run / "pareto.json").read_text())["family"]
    rows = {int(r["number"]): r for r in csv.DictReader((run / "trials.csv").open())}
    names = [n for n, p in sorted(fam.items()) if p]
    got: dict = {n: [] for n in names}
    for _ in range(rounds):
        for n in names:
            out = subprocess.run([sys.executable, "-m", "lowformer_nas", "measure",
                                  str(run / "models" / f"{n}.yaml"), "--json"], check=True,
                                 capture_output=True, text=True,
                                 env=dict(os.environ, PYTHONPATH=str(ROOT))).stdout
            got[n].append(json.loads(out.strip().splitlines()[-1])["latency_ms"])
    res = {}
    for n in names:
        row = rows[fam[n]["number"]]
        rep, med = float(row["latency_ms"]), statistics.median(got[n])
        res[n] = {"reported_ms": rep, "measured_in_run": bool(row.get("measured_ms")),
                  "measure_ms": got[n], "measure_median_ms": med,
                  "reported_vs_measure_pct": round(100 * (rep / med - 1), 1)}
    errs = [abs(r["reported_vs_measure_pct"]) for r in res.values()]
    return {"date": datetime.date.today().isoformat(), "run": str(run), "rounds": rounds,
            "clock": os.environ.get("LOWFORMER_NAS_CLOCK", "wall"),
            "load_average": os.getloadavg(), "picks": res,
            "median_abs_pct": statistics.median(errs) if errs else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--condition", choices=CONDITIONS)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--zc", type=int, default=40)
    ap.add_argument("--builds", type=int, default=150)
    ap.add_argument("--only", default=DEFAULT)
    ap.add_argument("--ab", type=int, default=0, metavar="PAIRS",
                    help="in-process vs worker, back to back, in the search's state")
    ap.add_argument("--picks", metavar="RUN", help="measure RUN's B*.yaml against its figures")
    args = ap.parse_args()
    if args.ab:
        out = dict(ab(args.zc, args.ab), date=datetime.date.today().isoformat(),
                   clock=os.environ.get("LOWFORMER_NAS_CLOCK", "wall"),
                   load_average=os.getloadavg(), zc_configs=args.zc, seeds=list(SEEDS))
        RESULTS.with_name("measure_protocol_ab.json").write_text(json.dumps(out, indent=1))
        print(json.dumps(out["in_process_vs_worker_pct"]))
        return
    if args.picks:
        out = picks(Path(args.picks), args.rounds)
        path = RESULTS.with_name("measure_protocol_picks.json")
        path.write_text(json.dumps(out, indent=1))
        print(json.dumps(out["picks"], indent=1), out["median_abs_pct"])
        return
    if args.condition:
        print(json.dumps(condition(args.condition, args.zc, args.builds)))
        return
    names = [c for c in args.only.split(",") if c]
    rounds = []
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        got = {n: _one(n, args) for n in order}
        rounds.append(got)
        print(json.dumps({n: [round(x, 2) for x in g["ms"]] for n, g in got.items()}),
              flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(_summary(rounds, names, args), indent=1))
    print(json.dumps(_summary(rounds, names, args)["relative_to_fresh_pct"], indent=1))


def _summary(rounds: list, names: list, args: argparse.Namespace) -> dict:
    rel = {}
    for n in names:
        ratios = [100 * (a / b - 1) for got in rounds
                  for a, b in zip(got[n]["ms"], got["fresh"]["ms"])]
        rel[n] = {"median_pct": round(statistics.median(ratios), 1),
                  "min_pct": round(min(ratios), 1), "max_pct": round(max(ratios), 1)}
    return {"date": datetime.date.today().isoformat(), "command": " ".join(sys.argv),
            "clock": os.environ.get("LOWFORMER_NAS_CLOCK", "wall"),
            "load_average": os.getloadavg(), "machine": platform.processor() or
            platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
            "zc_configs": args.zc, "builds": args.builds, "rounds": rounds,
            "relative_to_fresh_pct": rel, "seeds": list(SEEDS)}


if __name__ == "__main__":
    main()
