"""Which cheap ``--proxy train`` recipe ranks the official B0, B1 and B3 in their ImageNet
order (78.4 < 79.9 < 83.6 top-1) on every seed? Recipes run cheapest first; each finished
training run is appended to a JSON-lines file, so the job resumes where it stopped and can
span sessions (or run on a GPU with --torch-device cuda).

    nice -n 19 python -m benchmarks.recipe_ranking [--recipes all] [--seeds 0,1]
    python -m benchmarks.recipe_ranking --report          # the table of what has finished

A recipe is DATASET:IMAGES:EPOCHS:RESOLUTION, the search's --dataset, --max-train, --epochs
and --proxy-resolution.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from lowformer_nas import get_arch
from lowformer_nas.accuracy.anchors import load_anchors
from lowformer_nas.accuracy.datasets import load_dataset
from lowformer_nas.accuracy.proxies import train_run

OUT = Path(__file__).parent / "results" / "recipe_ranking.jsonl"
MODELS = ("lowformer_b0", "lowformer_b1", "lowformer_b3")
RECIPES = ("fashion-mnist:2000:5:32", "fashion-mnist:2000:15:32", "fashion-mnist:10000:5:32",
           "fashion-mnist:10000:15:32", "fashion-mnist:5000:10:64", "fashion-mnist:20000:10:64")


def parse_recipe(text: str) -> tuple[str, int, int, int]:
    dataset, images, epochs, res = text.split(":")
    return dataset, int(images), int(epochs), int(res)


def done(path: Path) -> dict[tuple[str, str, int], dict]:
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return {(r["recipe"], r["model"], r["seed"]): r for r in rows}


def append(path: Path, row: dict) -> None:
    """One finished run, flushed and fsynced: a killed job loses at most the run under way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run(recipes: list[str], seeds: list[int], device: str, path: Path) -> None:
    have = done(path)
    for recipe in recipes:
        dataset, images, epochs, res = parse_recipe(recipe)
        data = None
        for seed in seeds:
            for model in MODELS:
                if (recipe, model, seed) in have:
                    continue
                data = data or load_dataset(dataset, max_train=images, max_val=2000, seed=0)
                r = train_run(get_arch(model), data, res, epochs, seed=seed, device=device)
                append(path, {"recipe": recipe, "model": model, "seed": seed,
                              "accuracy": r.accuracy, "seconds": r.seconds, "device": device})
                print(f"{recipe} {model} seed {seed}: {r.accuracy:.4f} ({r.seconds:.0f} s)",
                      flush=True)


def report(path: Path) -> list[dict]:
    """Per recipe: accuracies per seed and whether each seed orders B0 < B1 < B3."""
    top1 = {a.name: a.top1 for a in load_anchors()}
    want = sorted(MODELS, key=top1.get)
    by: dict[str, dict[int, dict[str, float]]] = {}
    secs: dict[str, float] = {}
    for (recipe, model, seed), r in done(path).items():
        by.setdefault(recipe, {}).setdefault(seed, {})[model] = r["accuracy"]
        secs[recipe] = secs.get(recipe, 0.0) + r["seconds"]
    out = []
    for recipe, seeds in by.items():
        full = {s: a for s, a in seeds.items() if len(a) == len(MODELS)}
        ordered = [all(a[x] < a[y] for x, y in zip(want, want[1:])) for a in full.values()]
        out.append({"recipe": recipe, "seeds": full, "ordered_per_seed": ordered,
                    "ranks_like_imagenet": bool(ordered) and all(ordered),
                    "cpu_seconds": secs[recipe]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipes", default="all", help="comma-separated, or all")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--torch-device", default="cpu")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args()
    path = Path(args.out)
    if not args.report:
        recipes = list(RECIPES) if args.recipes == "all" else args.recipes.split(",")
        run(recipes, [int(s) for s in args.seeds.split(",")], args.torch_device, path)
    print(json.dumps(report(path), indent=1))


if __name__ == "__main__":
    main()
