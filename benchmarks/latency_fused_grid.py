"""Fused vs unfused MBConv: does the predictor pick the faster block where it matters?

On a grid of (channels, feature-map size) that occurs in LowFormer stages, a stride-1 fused
MBConv (3x3 conv + 1x1) and an unfused MBConv (1x1, dw 3x3, 1x1), both expand 4 with the
residual add, are timed interleaved (torch eager, 1 thread) and predicted by the profile.
Counted: cells where the measured difference exceeds 10% and the predictor picks the faster,
for two predictions: "isolated" (sum of the kernels' isolated-time predictions: what a block
timed alone costs, the quantity measured here) and "in-model" (``block_ms``: plus the
model-level per-kernel and weight-streaming terms learned from whole models).

Run: flock /tmp/lfnas-cpu.lock python -m benchmarks.latency_fused_grid [--profile P]
"""
from __future__ import annotations

import argparse
import json

GRID = [(c, h) for c in (16, 32, 64, 128, 256) for h in (7, 14, 28, 56)
        if c * c * h * h <= 128 * 128 * 28 * 28]


def main() -> None:
    import torch

    from lowformer_nas.arch.builder import local_block
    from lowformer_nas.latency import load_profile
    from lowformer_nas.latency.tracing.kernels import Block, block_kernels
    from lowformer_nas.latency.measurement.measure import (prepare, summarize, threads_set,
                                                           time_interleaved)
    from timm.models.lowformer import ResidualBlock
    import torch.nn as nn

    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="benchmarks/results/latency_profile_local.json")
    args = ap.parse_args()
    prof = load_profile(args.profile)
    pred = prof.predictor
    rows, decisive, right, right_in_model = [], 0, 0, 0
    with threads_set(1):
        for c, h in GRID:
            fns, iso, in_model = [], [], []
            for fused in (True, False):
                block = ResidualBlock(local_block(c, c, 1, 4.0, fused, bias=not fused),
                                      nn.Identity())
                fns.append(prepare(block, torch.randn(1, c, h, h)))
                b = Block("local", c, c, h, 1, (1, 4.0, fused, not fused, True))
                iso.append(float(pred.kernel_ms(block_kernels(b)).sum()))
                in_model.append(pred.block_ms(b))
            meas = [summarize(t)["latency_ms"] for t in time_interleaved(fns, rounds=7, runs=5)]
            diff = abs(meas[0] - meas[1]) / min(meas)
            ok = (meas[0] < meas[1]) == (iso[0] < iso[1])
            ok_model = (meas[0] < meas[1]) == (in_model[0] < in_model[1])
            if diff > 0.10:
                decisive += 1
                right += ok
                right_in_model += ok_model
            rows.append(dict(channels=c, size=h, fused_ms=meas[0], unfused_ms=meas[1],
                             pred_fused_ms=iso[0], pred_unfused_ms=iso[1], diff_pct=100 * diff))
            print(f"c={c:4d} h={h:3d}  measured fused {meas[0]:7.3f} unfused {meas[1]:7.3f} "
                  f"({100 * diff:5.1f}%)  isolated pred {iso[0]:7.3f} {iso[1]:7.3f} "
                  f"{'ok' if ok else 'WRONG'}  in-model pred {in_model[0]:7.3f} "
                  f"{in_model[1]:7.3f} {'ok' if ok_model else 'WRONG'}", flush=True)
    print(json.dumps({"cells": len(rows), "decisive_cells": decisive, "picked_faster_isolated": right,
                      "picked_faster_in_model": right_in_model,
                      "profile": prof.describe()}))


if __name__ == "__main__":
    main()
