"""Prediction speed of the analytic path: configs per second on one core.

Run: OMP_NUM_THREADS=1 flock /tmp/lfnas-cpu.lock python -m benchmarks.latency_speed [--profile P]
Cold = a fresh profile object (empty caches) on never-seen configs; warm = the same
profile after it has seen the space for a while (the search loop's steady state).
"""
from __future__ import annotations

import argparse
import os
import random
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def rate(prof, configs, resolution: int) -> float:
    start = time.perf_counter()
    for cfg in configs:
        prof.predict(cfg, resolution=resolution)
    return len(configs) / (time.perf_counter() - start)


def main() -> None:
    from lowformer_nas.latency import get_target, load_profile
    from lowformer_nas.space import load_space

    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="benchmarks/results/latency_profile_local.json")
    ap.add_argument("--n", type=int, default=5000)
    args = ap.parse_args()
    load = (lambda: load_profile(args.profile)) if os.path.isfile(args.profile) \
        else (lambda: get_target("jetson"))
    space, rng = load_space("lowformer"), random.Random(0)
    configs = [space.sample(rng) for _ in range(args.n)]
    more = [space.sample(rng) for _ in range(args.n)]
    t0 = time.perf_counter()
    cold = rate(load(), configs, 224)
    warm_prof = load()
    rate(warm_prof, configs, 224)
    warm = rate(warm_prof, more, 224)
    print(f"profile: {warm_prof.describe()}")
    print(f"cold (fresh profile, {args.n} new configs): {cold:,.0f} configs/s")
    print(f"warm (after {args.n} configs, {args.n} new configs): {warm:,.0f} configs/s")
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
