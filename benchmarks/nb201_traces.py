"""Resumable cache of traced NAS-Bench-201 networks (one JSON line per ``arch_str``).

Tracing a network costs ~0.1-0.5 s here, 15,625 of them most of an hour on a shared core,
so every trace is appended (flushed) to a JSONL file as it is made and a rerun skips the ones
already there; a torn last line is cut before appending. Traces come from the product's tracer
(``lowformer_nas.latency.tracing.graph.trace_model``), nothing is NAS-Bench-201-specific there.

    python -m benchmarks.nb201_traces --csv nb201_latency.csv --cache PATH [--limit N]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable

from lowformer_nas._io import truncate_torn_tail
from lowformer_nas.latency.tracing.graph import RULES_VERSION, TracedModel, trace_model
from lowformer_nas.latency.tracing.kernels import Kernel

DEFAULT_CACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                             "nb201_traces.jsonl")
INPUT = (1, 3, 32, 32)


def _encode(arch: str, tm: TracedModel) -> str:
    uniq: dict[Kernel, int] = {}
    seq = [uniq.setdefault(k, len(uniq)) for k in tm.kernels]
    kept = {key: sum(1 << i for i in idx) for key, idx in tm.kept.items()}
    return json.dumps({"arch": arch, "v": RULES_VERSION, "u": [list(k) for k in uniq], "s": seq,
                       "kept": {k: format(v, "x") for k, v in kept.items()}},
                      separators=(",", ":"))


def _decode(line: str) -> tuple:
    d = json.loads(line)
    if d.get("v") != RULES_VERSION:
        raise KeyError("v")  # traced under older rewrite rules: traced again
    uniq = [Kernel(*k) for k in d["u"]]
    kernels = tuple(uniq[i] for i in d["s"])
    kept = {}
    for key, hexmask in d["kept"].items():
        mask = int(hexmask, 16)
        kept[key] = tuple(i for i in range(len(kernels)) if mask >> i & 1)
    return d["arch"], TracedModel(INPUT, kernels, kept)


def load_cache(path: str) -> dict[str, TracedModel]:
    out: dict[str, TracedModel] = {}
    if not os.path.isfile(path):
        return out
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                arch, tm = _decode(line)
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # torn line from a killed run, or older rules: traced again
            out[arch] = tm
    return out


def trace_all(archs: Iterable[str], path: str, progress: bool = True) -> dict[str, TracedModel]:
    """Traces of ``archs``, from the cache where present, traced and appended otherwise."""
    import torch

    from benchmarks.nb201_nets import build_net

    torch.set_num_threads(1)
    have = load_cache(path)
    todo = [a for a in dict.fromkeys(archs) if a not in have]
    if todo:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if os.path.isfile(path):
            truncate_torn_tail(path)
    t0 = time.perf_counter()
    with open(path, "a", encoding="utf-8") as fh:
        for i, arch in enumerate(todo, 1):
            have[arch] = trace_model(build_net(arch, share_ops=True), INPUT)
            fh.write(_encode(arch, have[arch]) + "\n")
            fh.flush()
            if progress and (i % 200 == 0 or i == len(todo)):
                rate = i / (time.perf_counter() - t0)
                sys.stderr.write(f"traced {i}/{len(todo)} networks ({rate:.1f}/s)\n")
    return have


def read_archs(csv_path: str) -> list[str]:
    import csv

    with open(csv_path, newline="", encoding="utf-8") as fh:
        return [r["arch_str"] for r in csv.DictReader(fh)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", required=True)
    ap.add_argument("--cache", default=DEFAULT_CACHE)
    ap.add_argument("--limit", type=int, default=0, help="trace only the first N (0: all)")
    ap.add_argument("--seed", type=int, default=0, help="order in which archs are traced")
    args = ap.parse_args()
    import random

    archs = read_archs(args.csv)
    random.Random(args.seed).shuffle(archs)
    trace_all(archs[:args.limit] if args.limit else archs, args.cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
