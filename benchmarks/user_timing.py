"""A user's own timing loop, made by nobody here: the ground truth the tool's figures are held to.

Each round is a fresh Python process that creates every model through timm
(``timm.create_model("lowformer_nas", arch=...)``, as a user takes a B*.yaml into timm) and
times it with PyTorch's ``torch.utils.benchmark.Timer.blocked_autorange`` (1 thread, batch 1,
eval, ``no_grad``), one model after the other, in an order rotated each round. Nothing of
``lowformer_nas.latency`` is used: the heap is held steady with glibc's documented
environment tunables (``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``), not our
``mallopt`` call. The figure of a model is the median over rounds of its Timer median.

    python -m benchmarks.user_timing runs/x/models/B0.yaml runs/x/models/B1.yaml [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Any

STEADY_HEAP = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(2**31 - 1)}

_CHILD = r"""
import json, sys
import torch, timm
from torch.utils.benchmark import Timer
import lowformer_nas.arch.builder  # registers the timm entrypoint "lowformer_nas"
torch.set_num_threads(1)
req = json.loads(sys.stdin.read())
out = []
for arch, res in req["models"]:
    m = timm.create_model("lowformer_nas", arch=arch).eval()
    x = torch.randn(1, 3, res, res)
    with torch.no_grad():
        for _ in range(3):
            m(x)
        t = Timer("m(x)", globals={"m": m, "x": x}, num_threads=1).blocked_autorange(
            min_run_time=req["min_time_s"])
    out.append(t.median * 1e3)
    del m
print(json.dumps(out))
"""


def time_models(models: list[tuple[Any, int]], rounds: int = 3,
                min_time_s: float = 1.0) -> list[float]:
    """Median over ``rounds`` fresh processes of each model's Timer median (ms). ``models``:
    (YAML path, registry name or config dict, input side)."""
    archs = [(a if not isinstance(a, dict) else _write_yaml(a), r) for a, r in models]
    per: list[list[float]] = [[] for _ in archs]
    env = dict(os.environ, **STEADY_HEAP)
    for k in range(rounds):
        order = [(i + k) % len(archs) for i in range(len(archs))]
        req = {"models": [archs[i] for i in order], "min_time_s": min_time_s}
        done = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps(req), env=env,
                              capture_output=True, text=True, check=True)
        for i, ms in zip(order, json.loads(done.stdout.strip().splitlines()[-1])):
            per[i].append(ms)
    return [statistics.median(xs) for xs in per]


_TMP: list[str] = []


def _write_yaml(cfg: dict[str, Any]) -> str:
    import tempfile

    from lowformer_nas.arch.yaml_io import config_from_dict, save_config

    fd, path = tempfile.mkstemp(suffix=".yaml", prefix="lfn-user-timing-")
    os.close(fd)
    save_config(config_from_dict(cfg), path)
    _TMP.append(path)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="B*.yaml files or registry names")
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-time", type=float, default=1.0)
    args = ap.parse_args()
    ms = time_models([(m, args.resolution) for m in args.models], args.rounds, args.min_time)
    for m, v in zip(args.models, ms):
        print(f"{v:8.3f} ms  {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
