"""The default accuracy signal (imagenet-anchored) on the default space: its leave-one-out
figures on the anchors, its spread inside latency buckets (does it still separate networks of
equal latency?) and its monotonicity over random nested pairs.

    python -m benchmarks.anchor_signal [--configs 400] [--target jetson] [--seed 0]

Writes ``benchmarks/results/anchor_signal_<target>.json``.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from lowformer_nas import load_space
from lowformer_nas.latency import get_target
from lowformer_nas.search.signal import anchored_check, anchored_score

OUT = Path(__file__).parent / "results"


def bucket_spread(lat: np.ndarray, score: np.ndarray, n_buckets: int) -> list:
    """Per equal-count latency bucket: its latency range and the predicted top-1 spread."""
    out = []
    for part in np.array_split(np.argsort(lat), n_buckets):
        s = score[part]
        out.append({"latency_ms": [float(lat[part].min()), float(lat[part].max())],
                    "n": int(len(part)), "top1_range": float(np.ptp(s)),
                    "top1_iqr": float(np.subtract(*np.percentile(s, [75, 25]))),
                    "distinct": int(len(np.unique(np.round(s, 6))))})
    return out


def nested_pairs(space, configs, rng: random.Random) -> dict:
    """Grow one stage of each config (deeper or wider, same block kinds, in the space)."""
    grown, higher = 0, 0
    for cfg in configs:
        i = rng.randrange(len(cfg.stages))
        s = cfg.stages[i]
        for change in ({"depth": s.depth + 1}, {"width": s.width + 8}):
            try:
                bigger = cfg.replace_stage(i, **change)
            except Exception:  # over the config's limits
                continue
            grown += 1
            higher += anchored_score(bigger) > anchored_score(cfg)
    return {"pairs": grown, "ranked_higher": higher}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=400)
    ap.add_argument("--target", default="jetson")
    ap.add_argument("--buckets", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    space, profile, rng = load_space("lowformer"), get_target(args.target), random.Random(args.seed)
    configs = [space.sample(rng) for _ in range(args.configs)]
    lat = np.array([profile.predict(c, resolution=224, batch=1).latency_ms for c in configs])
    score = np.array([anchored_score(c) for c in configs])
    check = anchored_check()
    result = {"target": profile.name, "configs": args.configs, "seed": args.seed,
              "anchor_loo": {"kendall": check.kendall.__dict__, "spearman": check.spearman.__dict__,
                             "mae_points": check.mae, "n": check.n},
              "buckets": bucket_spread(lat, score, args.buckets),
              "nested": nested_pairs(space, configs[:200], rng)}
    path = OUT / f"anchor_signal_{args.target}.json"
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
