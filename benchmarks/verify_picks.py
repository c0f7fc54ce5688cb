"""Search picks on this machine: are the front and B0-B3 as fast as the run says?

    flock /tmp/lfn-measure.lock nice -n -10 python -m benchmarks.verify_picks --phase search --budget 20
    flock /tmp/lfn-measure.lock nice -n -10 python -m benchmarks.verify_picks --phase search --budget 30
    flock /tmp/lfn-measure.lock nice -n -10 python -m benchmarks.verify_picks --phase search --budget 45
    flock /tmp/lfn-measure.lock nice -n -10 python -m benchmarks.verify_picks --phase measure   # resumable
    python -m benchmarks.verify_picks --phase evaluate   # -> results/verify_picks_eval.json

``search`` runs the bare ``lowformer-nas search --target local --latency-budget Bms`` (default
proxy, 300 trials, the default ``--verify``) in a fresh process with its own cache (so the
first budget pays the first-use ``local`` calibration, as a new user does). ``measure`` times
every front trial and B0-B3 of each run with a user's own timing loop
(``benchmarks.user_timing``: PyTorch's Timer, fresh processes, 3 rounds), appending to
``benchmarks/results/verify_picks.json`` so a cut job resumes. ``evaluate`` compares what the
run reports (``latency_ms`` in trials.csv: measured for verified picks, else the refitted
profile's prediction) with those measurements, and the prediction the search ran with.
"""
from __future__ import annotations

import argparse
import csv
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
RESULTS = ROOT / "benchmarks" / "results" / "verify_picks.json"
RUNS = Path(os.environ.get("LFN_BENCH_RUNS", "/tmp/lfn-bench-verify-runs"))
CACHE = os.environ.get("LFN_BENCH_CACHE", "/tmp/lfn-bench-verify-cache")


def _load() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"searches": {},
                                                                       "measured": {}}


def _save(res: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(res, indent=1))
    os.replace(tmp, RESULTS)


def search(budget: int, trials: int) -> None:
    out = RUNS / f"local-{budget}ms"
    cmd = [sys.executable, "-m", "lowformer_nas", "search", "--target", "local",
           "--latency-budget", f"{budget}ms", "--out", str(out)]
    cmd += ["--trials", str(trials)] if trials != 300 else []
    env = dict(os.environ, LOWFORMER_NAS_CACHE=CACHE)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    log = [json.loads(x) for x in (out / "verify" / "journal.jsonl").read_text().splitlines()]
    res = _load()
    res["searches"][str(budget)] = {
        "command": " ".join(["lowformer-nas"] + cmd[3:]), "wall_s": round(wall, 1),
        "verify_s": round(sum(r.get("round_s", 0.0) for r in log if r["kind"] == "refit"), 1),
        "verify_rounds": sum(r["kind"] == "refit" for r in log),
        "verify_measured": sum(r["kind"] == "measure" for r in log),
        "run": str(out), "date": datetime.date.today().isoformat()}
    _save(res)
    print(json.dumps(res["searches"][str(budget)]))


def _picks(run: Path) -> list:
    data = json.loads((run / "pareto.json").read_text())
    fam = {p["number"]: n for n, p in data["family"].items() if p}
    with open(run / "trials.csv", newline="") as fh:
        rows = {int(r["number"]): r for r in csv.DictReader(fh) if r["stage"] == "zc"}
    out = []
    for n in sorted(set(data["front"]) | set(fam)):
        r = rows[n]
        out.append({"run": str(run), "number": n, "family": fam.get(n), "config": r["config"],
                    "reported_ms": float(r["latency_ms"]),
                    "trial_ms": float(r["trial_latency_ms"] or r["latency_ms"]),
                    "predicted_ms": float(r["predicted_ms"] or r["latency_ms"]),
                    "measured_by_run_ms": float(r["measured_ms"]) if r["measured_ms"] else None,
                    "budget_ms": float(data["budget_ms"])})
    return out


def measure(rounds: int = 3) -> None:
    """Every pick timed by a user's own loop (``benchmarks.user_timing``: PyTorch's Timer in
    fresh processes, nothing of ``lowformer_nas.latency``), in groups saved as they finish."""
    from .user_timing import time_models

    res = _load()
    picks = [p for b in res["searches"].values() for p in _picks(Path(b["run"]))]
    todo = [p for p in picks if f"{p['run']}#{p['number']}" not in res["measured"]]
    print(f"{len(picks)} picks, {len(todo)} to measure")
    for i in range(0, len(todo), 8):
        group = todo[i:i + 8]
        timed = time_models([(json.loads(p["config"]), 224) for p in group], rounds=rounds)
        for p, ms in zip(group, timed):
            res["measured"][f"{p['run']}#{p['number']}"] = ms
        _save(res)
        print(f"measured {i + len(group)}/{len(todo)}")


def evaluate() -> dict:
    res = _load()
    rows = []
    for b, s in sorted(res["searches"].items(), key=lambda x: float(x[0])):
        for p in _picks(Path(s["run"])):
            m = res["measured"].get(f"{p['run']}#{p['number']}")
            if m is not None:
                rows.append(dict(p, bench_ms=m))

    def within(key: str) -> str:
        ok = [abs(r[key] / r["bench_ms"] - 1) <= 0.10 for r in rows]
        return f"{sum(ok)}/{len(ok)} = {100 * sum(ok) / max(1, len(ok)):.0f}%"

    fam = [r for r in rows if r["family"]]
    coverage = {f"{which}_profile": _pick_coverage(rows, which) for which in ("initial", "final")}
    summary = {
        "picks": len(rows), "reported_within10": within("reported_ms"),
        "trial_prediction_within10": within("trial_ms"),
        "refitted_prediction_within10": within("predicted_ms"),
        "family_at_or_under_budget_3pct": f"{sum(r['bench_ms'] <= 1.03 * r['budget_ms'] for r in fam)}/{len(fam)}",
        "family": [{k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()
                    if k not in ("config", "run")} | {"budget": r["budget_ms"]} for r in fam],
        "median_abs_err_reported_pct": round(100 * statistics.median(
            abs(r["reported_ms"] / r["bench_ms"] - 1) for r in rows), 1) if rows else None,
        "interval_coverage_on_picks": coverage,
        "searches": res["searches"],
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}"}
    print(json.dumps(summary, indent=1))
    return summary


def _pick_coverage(rows: list, which: str) -> dict:
    """How often the benchmark's measurement of a pick lies in the 90% interval (and within
    +-1 sigma) of the run's ``initial`` profile (before any verify round) or its ``final``
    refitted one (``verify/profile.json``), predicted at 224 px."""
    from lowformer_nas.arch.yaml_io import config_from_dict
    from lowformer_nas.latency import load_profile
    from lowformer_nas.latency.fitting.intervals import coverage

    cols: dict = {"m": [], "p": [], "lo": [], "hi": [], "s": []}
    profiles: dict = {}
    name = "profile-initial.json" if which == "initial" else "profile.json"
    for r in rows:
        path = Path(r["run"]) / "verify" / name
        prof = profiles.setdefault(path, load_profile(path))
        pred = prof.predict(config_from_dict(json.loads(r["config"])), 224)
        lo, hi = pred.central_interval(0.9)
        for k, v in zip(cols, (r["bench_ms"], pred.latency_ms, lo, hi, pred.std_ms)):
            cols[k].append(v)
    if not rows:
        return {}
    cov = coverage(cols["m"], cols["p"], cols["lo"], cols["hi"], std=cols["s"])
    within = sum(abs(p / m - 1) <= 0.10 for p, m in zip(cols["p"], cols["m"]))
    return {k: round(v, 1) for k, v in cov.items()} | {"within10": f"{within}/{len(rows)}"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", choices=("search", "measure", "evaluate"), required=True)
    ap.add_argument("--budget", type=int, default=30)
    ap.add_argument("--trials", type=int, default=300, help="search trials (300: the default)")
    args = ap.parse_args()
    if args.phase == "search":
        search(args.budget, args.trials)
    elif args.phase == "measure":
        measure()
    else:
        out = RESULTS.with_name("verify_picks_eval.json")
        out.write_text(json.dumps(evaluate(), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
