"""Found front vs official LowFormer-B0/B1 on the ``local`` target, ``--proxy train``, Fashion-MNIST.

    flock /tmp/lfnas-cpu.lock python -m benchmarks.search_fashion_mnist --phase measure
    flock /tmp/lfnas-cpu.lock python -m benchmarks.search_fashion_mnist --phase search --trials 8
    flock /tmp/lfnas-cpu.lock python -m benchmarks.search_fashion_mnist --phase search --trials 16  # continues
    flock /tmp/lfnas-cpu.lock python -m benchmarks.search_fashion_mnist --phase evaluate

``measure`` times official B0 and B1 on this machine (224x224, batch 1, torch, 1 thread) and
sets the budget to ``--budget-factor`` x B1. ``search`` runs (or continues) ``lowformer-nas
search --target local --proxy train --dataset fashion-mnist`` with both official variants as
references, trained with exactly the same proxy settings. ``evaluate`` measures every front
config the same way and reports the hypervolume of the found front over that of {B0, B1}
(reference point: accuracy 0, latency = budget; goal >= 1) and, per official variant, the best
found accuracy at or below its measured latency. Phases are split so each stays a few minutes.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "search_fashion_mnist.json"
OFFICIAL = ("lowformer_b0", "lowformer_b1")


def _load() -> dict:
    return json.loads(RESULT.read_text()) if RESULT.is_file() else {}


def _save(d: dict) -> None:
    RESULT.write_text(json.dumps(d, indent=1) + "\n")


def _measure(cfg) -> float:
    from lowformer_nas.latency import measure_latency

    return float(measure_latency(cfg, resolution=224, batch=1, backend="torch", threads=1).latency_ms)


def phase_measure(args) -> None:
    from lowformer_nas.arch.registry import get_arch

    d = _load()
    d["official_measured_ms"] = {n: round(_measure(get_arch(n)), 2) for n in OFFICIAL}
    d["budget_ms"] = round(args.budget_factor * d["official_measured_ms"]["lowformer_b1"], 1)
    _save(d)
    print(d)


def phase_search(args) -> None:
    d = _load()
    cmd = [sys.executable, "-m", "lowformer_nas", "search", "--target", "local",
           "--latency-budget", f"{d['budget_ms']}ms", "--proxy", "train",
           "--dataset", "fashion-mnist", "--trials", str(args.trials), "--epochs",
           str(args.epochs), "--max-train", str(args.max_train), "--max-val", str(args.max_val),
           "--references", ",".join(OFFICIAL), "--out", args.out]
    d["search_command"] = " ".join(["lowformer-nas"] + cmd[3:])
    _save(d)
    subprocess.run(cmd, check=True)


def phase_evaluate(args) -> None:
    from lowformer_nas.arch.yaml_io import config_from_dict
    from lowformer_nas.rundir.pareto import hypervolume_2d

    d = _load()
    data = json.loads((Path(args.out) / "pareto.json").read_text())
    front = [t for t in data["trials"] if t["on_front"]]
    pts = [(t["accuracy"], _measure(config_from_dict(json.loads(t["config"])))) for t in front]
    refs = {r["name"]: r for r in data["references"]}
    off = [(refs[n]["accuracy"], d["official_measured_ms"][n]) for n in OFFICIAL]
    ref_point = [0.0, d["budget_ms"]]
    hv_f = hypervolume_2d(np.array(pts), ref_point, (True, False))
    hv_o = hypervolume_2d(np.array(off), ref_point, (True, False))
    trained = [t for t in data["trials"] if t["state"] == "COMPLETE" and t["feasible"]
               and t.get("seconds")]
    d.update({
        "front_measured": [{"trial": t["number"], "accuracy": round(a, 4),
                            "measured_ms": round(m, 2), "predicted_ms": round(t["latency_ms"], 2)}
                           for t, (a, m) in zip(front, pts)],
        "official": {n: {"accuracy": refs[n]["accuracy"],
                         "measured_ms": d["official_measured_ms"][n]} for n in OFFICIAL},
        "best_found_at_official_latency": {
            n: max([a for a, m in pts if m <= d["official_measured_ms"][n]], default=None)
            for n in OFFICIAL},
        "hypervolume": {"front": hv_f, "official": hv_o, "ratio": hv_f / hv_o if hv_o else None,
                        "reference_point": ref_point},
        "counts": data["counts"],
        "trained_trial_s_median": float(np.median([t["seconds"] for t in trained]))
        if trained else None,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "date": datetime.date.today().isoformat(),
    })
    _save(d)
    print(json.dumps({k: d[k] for k in ("hypervolume", "best_found_at_official_latency",
                                        "official", "trained_trial_s_median", "counts")},
                     indent=1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phase", required=True, choices=("measure", "search", "evaluate"))
    ap.add_argument("--budget-factor", type=float, default=1.1)
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--max-train", type=int, default=2000)
    ap.add_argument("--max-val", type=int, default=500)
    ap.add_argument("--out", default=str(ROOT / "runs" / "bench-fashion-mnist"))
    args = ap.parse_args()
    {"measure": phase_measure, "search": phase_search, "evaluate": phase_evaluate}[args.phase](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
