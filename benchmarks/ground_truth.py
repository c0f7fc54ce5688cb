"""Build the ground-truth table: reference training runs that proxies are audited against.

    nice -n 19 python -m benchmarks.ground_truth --plan                # list the runs, train nothing
    nice -n 19 python -m benchmarks.ground_truth --max-runs 3          # train the next 3 missing runs
    nice -n 19 python -m benchmarks.ground_truth --shard 0/2 &         # two processes, one per
    nice -n 19 python -m benchmarks.ground_truth --shard 1/2 &         # core, share one table
    python -m benchmarks.ground_truth --torch-device cuda              # all missing runs on a GPU
    python -m benchmarks.ground_truth --models RUN/models/B*.yaml --out OTHER.csv   # found models

Architectures: the 7 official variants plus ``--random`` configs of the default space
stratified over the latency range of a latency profile (default: the 5-minute profile of this
machine committed as ``benchmarks/results/latency_profile_local.json``, 224x224, batch 1):
``--pool`` seeded samples are split into ``--random`` equal-width latency bins and the sample
nearest each bin's centre is taken. Every architecture is trained with seed 0; the first
``--second-seed`` of them (official variants first, then evenly over latency) also with seed 1.
Runs go in an order that keeps a partial table spread over the latency range.

Each finished run is appended to ``--out`` (append-only CSV, fsynced per row; key = config hash,
seed, recipe id), so the script resumes after SIGKILL without repeating or duplicating a run.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lowformer_nas.accuracy.groundtruth import (GroundTruthTable, Recipe, check_recipe_data,
                                                config_hash, make_row)
from lowformer_nas.errors import LowFormerNASError

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "benchmarks" / "results" / "ground_truth_v1.csv"
PROFILE = ROOT / "benchmarks" / "results" / "latency_profile_local.json"
OFFICIAL = ("lowformer_b0", "lowformer_b1", "lowformer_b15", "lowformer_b3", "lowformer_e1",
            "lowformer_e2", "lowformer_e3")
Plan = list[tuple[str, object, int]]  # (name, ArchConfig, seed)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--data", default=None, help="dataset directory (see datasets.py)")
    p.add_argument("--profile", default=str(PROFILE),
                   help="latency profile (file or target name) for stratifying")
    p.add_argument("--official", default=",".join(OFFICIAL),
                   help="comma-separated official variants to include, or 'none'")
    p.add_argument("--space", default="lowformer")
    p.add_argument("--random", type=int, default=33, help="stratified random configs")
    p.add_argument("--pool", type=int, default=2000, help="samples to stratify from")
    p.add_argument("--second-seed", type=int, default=10)
    p.add_argument("--sample-seed", type=int, default=20261124)
    p.add_argument("--resolution", type=int, default=Recipe.resolution)
    p.add_argument("--epochs", type=int, default=Recipe.epochs)
    p.add_argument("--train-images", type=int, default=Recipe.train_images)
    p.add_argument("--val-images", type=int, default=Recipe.val_images)
    p.add_argument("--torch-device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads on CPU")
    p.add_argument("--max-runs", type=int, default=None, help="stop after N runs this call")
    p.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                   help="train only the planned runs whose index is K modulo N, so N processes "
                        "(one per core) can fill one table together")
    p.add_argument("--plan", action="store_true", help="print the planned runs and exit")
    p.add_argument("--models", nargs="+", default=None, metavar="YAML",
                   help="train these architecture YAMLs (e.g. a run's models/B*.yaml) instead "
                        "of the planned table (seed 0, and seed 1 for the first --second-seed "
                        "of them); use with its own --out")
    return p.parse_args(argv)


def _shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
        raise argparse.ArgumentTypeError(f"--shard must be K/N with 0 <= K < N, got {text!r}")
    return int(k), int(n)


def stratified(space_name: str, profile_path: str, n: int, pool: int, seed: int,
               official: list):
    """``n`` configs, one per equal-width bin of predicted latency over ``pool`` samples.

    The range runs from the fastest sample to 1.1 x the slowest official variant (the region
    a search targets; beyond it runs only cost more), or the slowest sample without officials.
    """
    import random

    from lowformer_nas.latency import get_target
    from lowformer_nas.space import load_space

    if n <= 0:  # --random 0: the official variants only
        return []
    space, profile = load_space(space_name), get_target(profile_path)
    predict = lambda c: profile.predict(c, resolution=space.resolution, batch=1).latency_ms  # noqa
    rng = random.Random(seed)
    cand = {}
    for _ in range(pool):
        cfg = space.sample(rng)
        cand.setdefault(config_hash(cfg), cfg)
    lat = {h: predict(c) for h, c in cand.items()}
    lo = min(lat.values())
    hi = 1.1 * max(predict(c) for _n, c in official) if official else max(lat.values())
    lat = {h: v for h, v in lat.items() if v <= hi}
    width = (hi - lo) / n
    picked = []
    for b in range(n):
        centre = lo + (b + 0.5) * width
        h = min((h for h in lat if h not in {p[0] for p in picked}),
                key=lambda h: abs(lat[h] - centre))
        picked.append((h, cand[h], lat[h]))
    return picked


def spread_order(n: int) -> list[int]:
    """0..n-1 in an order whose every prefix is spread out (bit-reversal like halving)."""
    order, step = [], n
    seen = set()
    while len(order) < n:
        for i in range(0, n, max(1, step)):
            if i not in seen:
                seen.add(i)
                order.append(i)
        step = max(1, step // 2)
    return order


def make_plan(args: argparse.Namespace) -> Plan:
    from lowformer_nas.arch.registry import get_arch

    if args.models:  # found architectures retrained with the same recipe (issue 10)
        from lowformer_nas.arch.yaml_io import load_config

        first = [(f"{Path(p).resolve().parent.parent.name}/{Path(p).stem}", load_config(p))
                 for p in args.models]
    else:
        names = [] if args.official == "none" else args.official.split(",")
        official = [(name, get_arch(name)) for name in names]
        strata = stratified(args.space, args.profile, args.random, args.pool,
                            args.sample_seed, official)
        rand = [(f"random-{i:02d}-{lat:.0f}ms", cfg) for i, (_h, cfg, lat) in
                enumerate(strata)]
        first = official + [rand[i] for i in spread_order(len(rand))]
    second = first[:args.second_seed]
    return [(n, c, 0) for n, c in first] + [(n, c, 1) for n, c in second]


def run(args: argparse.Namespace) -> int:
    import torch

    from lowformer_nas.accuracy.datasets import load_dataset
    from lowformer_nas.accuracy.proxies import train_run

    recipe = Recipe(dataset=args.dataset, resolution=args.resolution, epochs=args.epochs,
                    train_images=args.train_images, val_images=args.val_images)
    check_recipe_data(recipe)
    if args.torch_device == "cpu":
        torch.set_num_threads(args.threads)
    plan = make_plan(args)
    table = GroundTruthTable(args.out)
    if args.shard is not None:
        plan = [p for i, p in enumerate(plan) if i % args.shard[1] == args.shard[0]]
    with table.open(args.shard):
        done = table.done()
        todo = [p for p in plan if (config_hash(p[1]), p[2], recipe.recipe_id) not in done]
        print(f"recipe {recipe.recipe_id}: {len(plan)} planned, {len(plan) - len(todo)} done, "
              f"{len(todo)} to do", flush=True)
        if args.plan:
            for name, cfg, seed in todo:
                print(f"  {name} seed {seed} {config_hash(cfg)}")
            return 0
        data = load_dataset(recipe.dataset, args.data, max_train=recipe.train_images,
                            max_val=recipe.val_images, seed=recipe.data_seed)
        for name, cfg, seed in todo[:args.max_runs]:
            start, cpu = time.perf_counter(), time.process_time()
            res = train_run(cfg, data, recipe.resolution, recipe.epochs, seed=seed,
                            batch_size=recipe.batch_size, lr=recipe.lr,
                            weight_decay=recipe.weight_decay, smoothing=recipe.smoothing,
                            device=args.torch_device)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            table.append(make_row(cfg, name, seed, recipe, res.curve, sum(res.loss_sums), wall,
                                  cpu, args.torch_device))
            print(f"{name} seed {seed}: accuracy {res.accuracy:.4f}, {wall:.0f} s wall, "
                  f"{cpu:.0f} s CPU", flush=True)
    return 0


def main(argv=None) -> int:
    try:
        return run(parse_args(argv))
    except LowFormerNASError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
