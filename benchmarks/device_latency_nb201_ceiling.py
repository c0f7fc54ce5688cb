"""How far any latency model of the kernel counts can go on one column of the NAS-Bench-201
table, and whether what is left is measurement noise: a diagnosis, not a product path.

1. All rows (dead-output networks left out), one free non-negative cost per distinct kernel
   plus a per-model constant, fitted in-sample by least absolute relative error: the ceiling of
   every additive model of the trace under the given runtime traits (``within10``,
   ``spearman``). A few-shot fit of N rows cannot beat it by more than noise.
2. Whether the residual of that fit depends on the architecture at all: a random forest on
   the one-hot cell edges (NAS-Bench-201-specific, which is why this lives here and not in the
   product), 3-fold cross-validated R^2 of the log residual. Near 0: no function of the
   architecture explains it, so it is the device's timing noise, and ``noise_sigma`` (the log
   residual's standard deviation) bounds what any predictor reaches.
3. Whether it depends on *when* the network was measured: the residual in the table's
   ``nb201_index`` order, where neighbours are unrelated architectures (lag-1 autocorrelation;
   R^2 of the median of the 50 neighbours, the row itself left out, and the rows within
   +-10% once corrected by it). High: the device drifted during the campaign (clock states,
   heat), which no model of the architecture can follow.
4. The few-shot bound: the all-rows fit of 1. taken as a perfect prior, with only its level
   learned from N random rows (median ratio, as robust as a user's fit can be), scored on the
   other rows; median over ``--seeds`` draws. A fit that must also learn the shape from those
   N rows does no better than this, up to noise.

    python -m benchmarks.device_latency_nb201_ceiling --csv nb201_latency.csv \
        --device essential_ph_1_ms [--traits dead_code_elimination,fold_zero_products]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from datetime import datetime, timezone

import numpy as np

from lowformer_nas._io import atomic_write_text

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                   "device_latency_nb201_ceiling.json")
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def unique_counts(lists) -> np.ndarray:
    """Rows: counts of each distinct kernel (BN / activation passes as the traits leave them),
    plus a column of ones."""
    from lowformer_nas.latency.fitting.fewshot_terms import pieces

    uniq: dict = {}
    rows = []
    for ks in lists:
        c: Counter = Counter()
        for k, n in Counter(ks).items():
            for p in pieces(k, True):
                c[uniq.setdefault(p, len(uniq))] += n
        rows.append(c)
    U = np.zeros((len(lists), len(uniq) + 1))
    U[:, -1] = 1.0
    for i, c in enumerate(rows):
        for u, n in c.items():
            U[i, u] = n
    return U


def edge_onehot(arch: str) -> np.ndarray:
    edges = [e.split("~")[0] for part in arch.strip("|").split("|+|") for e in part.split("|")]
    v = np.zeros(len(edges) * len(OPS))
    for i, e in enumerate(edges):
        v[i * len(OPS) + OPS.index(e)] = 1.0
    return v


def order_drift(resid: np.ndarray, order: np.ndarray, half: int = 25) -> tuple:
    """(lag-1 autocorrelation, neighbour-median R^2, neighbour median per row) of ``resid``
    in measurement-index ``order``; each row's neighbour median leaves the row out."""
    r = resid[np.argsort(order)]
    nb = np.empty(len(r))
    for i in range(len(r)):
        lo, hi = max(0, i - half), min(len(r), i + half + 1)
        nb[i] = np.median(np.concatenate([r[lo:i], r[i + 1:hi]]))
    out = np.empty(len(r))
    out[np.argsort(order)] = nb
    lag1 = float(np.corrcoef(r[:-1], r[1:])[0, 1])
    return lag1, float(1 - np.var(r - nb) / np.var(r)), out


def fewshot_bound(pred: np.ndarray, y: np.ndarray, n: int, seeds: int) -> float:
    """Median over draws of the share within +-10% when ``pred``'s shape is exact and only
    its level is learned from ``n`` random rows."""
    import random

    got = []
    for seed in range(seeds):
        idx = random.Random(seed).sample(range(len(y)), n)
        rest = np.ones(len(y), bool)
        rest[idx] = False
        level = np.median(y[idx] / pred[idx])
        got.append(float(np.mean(np.abs(pred[rest] * level / y[rest] - 1) <= 0.10)))
    return float(np.median(got))


def index_of(path: str) -> dict:
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        return {r["arch_str"]: int(r["nb201_index"]) for r in csv.DictReader(fh)}


def architecture_r2(data, resid: np.ndarray) -> float:
    """3-fold cross-validated R^2 of the log residual from the cells' edge ops."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import cross_val_predict

    H = np.array([edge_onehot(a) for a, _ in data])
    rf = RandomForestRegressor(100, min_samples_leaf=20, n_jobs=1, random_state=0)
    cv = cross_val_predict(rf, H, resid, cv=3)
    return float(1 - np.mean((resid - cv) ** 2) / resid.var())


def parse_args() -> argparse.Namespace:
    from benchmarks.nb201_traces import DEFAULT_CACHE

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--device", required=True)
    ap.add_argument("--traits", default="", help="comma-separated runtime traits")
    ap.add_argument("--trace-cache", default=DEFAULT_CACHE)
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--train", type=int, default=20, help="N of the few-shot bound")
    ap.add_argument("--seeds", type=int, default=40, help="draws of the few-shot bound")
    return ap.parse_args()


def main() -> int:
    from scipy.stats import spearmanr

    from benchmarks.device_latency_nb201 import read_column
    from lowformer_nas.latency.fitting.fewshot import robust_relative_nnls
    from lowformer_nas.latency.tracing.traits import check_traits
    from benchmarks.nb201_traces import trace_all

    args = parse_args()
    traits = check_traits([t for t in args.traits.split(",") if t])
    data = [(a, v) for a, v in read_column(args.csv, args.device) if v > 0.05]  # not dead
    traces = trace_all([a for a, _ in data], args.trace_cache, progress=False)
    y = np.array([v for _, v in data])
    U = unique_counts([traces[a].kernel_list(traits) for a, _ in data])
    pred = U @ robust_relative_nnls(U / y[:, None])  # the few-shot fit's own loss
    rel, resid = pred / y - 1.0, np.log(pred / y)
    index = index_of(args.csv)
    lag1, r2_order, nb = order_drift(resid, np.array([index[a] for a, _ in data]))
    res = {"device": args.device, "traits": list(traits), "rows": len(y),
           "distinct_kernels": U.shape[1] - 1,
           "within10": float(np.mean(np.abs(rel) <= 0.10)),
           "mape": float(np.mean(np.abs(rel))), "spearman": float(spearmanr(pred, y)[0]),
           "residual_r2_from_architecture": architecture_r2(data, resid),
           "noise_sigma": float(resid.std()),
           "residual_lag1_in_index_order": lag1,
           "residual_r2_from_index_neighbours": r2_order,
           "within10_if_drift_known": float(np.mean(np.abs(pred / np.exp(nb) / y - 1) <= 0.10)),
           f"fewshot_bound_within10_n{args.train}": fewshot_bound(pred, y, args.train, args.seeds),
           "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    results = json.load(open(args.out)) if os.path.isfile(args.out) else {}
    results[f"{args.device}|{','.join(traits) or '-'}"] = res
    atomic_write_text(args.out, json.dumps(results, indent=1) + "\n")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
