"""Calibration for devices where lowformer-nas cannot be installed.

``export_kit`` writes benchmark kernels and a few whole models as ONNX files plus a standalone
runner (needs only numpy and onnxruntime); the runner writes ``results.csv``, which
``import_measurements`` turns into a profile with the same fit as on-device calibration.
"""
from __future__ import annotations

import csv
import io
import json
import os
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, TypedDict, cast
from collections.abc import Sequence

from ..._io import atomic_write_bytes, atomic_write_text
from ...errors import ProfileError
from ..tracing.kernels import kernel_from_row
from .profiles import Profile, make_profile

if TYPE_CHECKING:
    from onnx import GraphProto
    from torch import Tensor, nn

    from ...arch.config import ArchConfig
    from ...arch.yaml_io import ArchDict
    from ..fitting.records import KernelRecord, KernelRow, ModelRecord

Spec: TypeAlias = "list[str | int] | ArchDict"  # a kernel's fields in order, or an arch's dict


class _ItemKeys(TypedDict):
    id: str
    kind: str  # kernel | model
    spec: Spec
    resolution: int  # a model's input size (0 for a kernel: its shape is in its spec)


class KitItem(_ItemKeys, total=False):
    """One ``manifest.json`` entry (``kit_item``); a search's verification kit adds the
    trial's number, stage and predicted ms."""

    file: str
    input_shape: list[int]
    trial: int
    stage: str
    predicted_ms: float | None  # what the profile predicted (a verify kit names it)


class ResultRow(TypedDict):
    """One validated row of the runner's ``results.csv`` (``read_results``)."""

    kind: str
    spec: Spec
    resolution: int
    ms: float
    threads: int

RUNNER = '''#!/usr/bin/env python3
"""Times every ONNX file of this kit with onnxruntime; writes results.csv (resumable)."""
import argparse, csv, json, os, platform, statistics, time
import numpy as np
import onnxruntime as ort


def host_facts():
    """The facts lowformer-nas records as the profile's host (one copy per row)."""
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            info.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    cpu = info.get("model name") or info.get("model") or info.get("hardware") or \
        platform.processor() or platform.machine()
    return {"cpu": cpu, "machine": platform.machine(), "cores": os.cpu_count(),
            "system": platform.platform(), "python": platform.python_version(),
            "onnxruntime": ort.__version__}


ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--out", default="results.csv")
ap.add_argument("--runs", type=int, default=15)
args = ap.parse_args()
here = os.path.dirname(os.path.abspath(__file__))
manifest = json.load(open(os.path.join(here, "manifest.json")))
done = set()
if os.path.exists(args.out):  # a row cut by a crash is measured again, not glued onto
    with open(args.out, "rb+") as fh:
        data = fh.read()
        if data and not data.endswith(b"\\n"):
            fh.truncate(data.rfind(b"\\n") + 1)
    done = {r["id"] for r in csv.DictReader(open(args.out))}
new = not os.path.exists(args.out) or os.path.getsize(args.out) == 0
host = host_facts()
cols = ["id", "kind", "spec", "resolution", "ms", "threads"] + list(host)
if not new:  # resuming: keep the columns the file already has
    cols = next(csv.reader(open(args.out)))
with open(args.out, "a", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
    if new:
        w.writeheader()
    for i, item in enumerate(manifest["items"]):
        if item["id"] in done:
            continue
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(os.path.join(here, item["file"]), opts,
                                    providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        x = {inp.name: np.random.rand(*item["input_shape"]).astype(np.float32)}
        for _ in range(3):
            sess.run(None, x)
        meds = []
        for _ in range(3):
            ts = []
            for _ in range(max(1, args.runs // 3)):
                t = time.perf_counter(); sess.run(None, x); ts.append(time.perf_counter() - t)
            meds.append(statistics.median(ts))
        ms = 1000 * statistics.median(meds)
        w.writerow(dict(host, id=item["id"], kind=item["kind"], spec=json.dumps(item["spec"]),
                        resolution=item["resolution"], ms=f"{ms:.6f}", threads=args.threads))
        fh.flush(); os.fsync(fh.fileno())
        print(f"{i + 1}/{len(manifest['items'])} {item['id']}: {ms:.3f} ms", flush=True)
'''


def _export(module: nn.Module, x: Tensor, path: Path) -> None:
    """Export in memory, then write the final file atomically (never a half-written .onnx)."""
    import io

    import onnx
    import torch

    buf = io.BytesIO()
    with torch.no_grad():
        # torch's annotation omits file objects, which the TorchScript exporter takes
        torch.onnx.export(module.eval(), (x,), buf,  # type: ignore[arg-type]
                          input_names=["x"], opset_version=17, dynamo=False)
    model = onnx.load_model_from_string(buf.getvalue())
    _weights_to_constants(model.graph)
    atomic_write_bytes(path, model.SerializeToString())


def _weights_to_constants(graph: GraphProto, min_elems: int = 64) -> None:
    """Replace float weights by ``ConstantOfShape`` nodes (folded by onnxruntime at load):
    timings do not depend on weight values, and the kit shrinks from gigabytes to kilobytes."""
    from onnx import TensorProto, helper, numpy_helper

    keep, nodes = [], []
    for init in graph.initializer:
        n = 1
        for d in init.dims:
            n *= d
        if init.data_type != TensorProto.FLOAT or n < min_elems:
            keep.append(init)
            continue
        shape_name = f"{init.name}__shape"
        keep.append(numpy_helper.from_array(
            __import__("numpy").asarray(list(init.dims), dtype="int64"), shape_name))
        value = helper.make_tensor("value", TensorProto.FLOAT, [1], [0.01])
        nodes.append(helper.make_node("ConstantOfShape", [shape_name], [init.name],
                                      value=value))
    del graph.initializer[:]
    graph.initializer.extend(keep)
    old = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + old)


def _small_configs(space: str, rng: random.Random, n: int) -> list[ArchConfig]:
    """The ``n`` lightest of ``3n`` random configs: ONNX files carry the weights, and a kit
    of full-size models would weigh gigabytes."""
    from .pool import sample_configs
    from ..tracing.kernels import enumerate_kernels, kernel_weight_mb

    cfgs = sample_configs(space, rng, 3 * n)
    mb = [sum(kernel_weight_mb(k) for k in enumerate_kernels(c, 32)) for c in cfgs]
    order = sorted(range(len(cfgs)), key=lambda i: mb[i])
    return [cfgs[i] for i in order[:n]]


def write_kit(out_dir: str, space: str = "lowformer", resolutions: Sequence[int] | None = None,
               n_kernels: int = 400, n_models: int = 6, seed: int = 0) -> Path:
    """Write ``manifest.json``, ``run_kit.py`` and the ONNX files to ``out_dir``."""
    from ...arch.builder import build_model
    from ...arch.yaml_io import config_to_dict
    from .pool import kernel_pool, sample_configs, space_resolutions
    from ..tracing.kernel_modules import kernel_module

    import torch

    rng = random.Random(seed)
    res = space_resolutions(space, resolutions)
    root = Path(out_dir)
    pool = kernel_pool(sample_configs(space, rng, 60), res, rng)
    per_type = max(8, n_kernels // max(1, len(pool)))
    items: list[KitItem] = []
    for op, ks in sorted(pool.items()):
        for kr in ks[:per_type]:
            mod, x = kernel_module(kr)
            items.append(kit_item(root, {"id": f"k{len(items):05d}", "kind": "kernel",
                                         "spec": list(kr), "resolution": 0}, mod, x))
    for i, cfg in enumerate(_small_configs(space, rng, n_models)):
        r = rng.choice(res)
        items.append(kit_item(root, {"id": f"m{i:03d}", "kind": "model",
                                     "spec": config_to_dict(cfg), "resolution": r},
                              build_model(cfg), torch.randn(1, 3, r, r)))
    return write_manifest(root, items, space=space)


def kit_item(root: Path, item: KitItem, module: nn.Module, x: Tensor) -> KitItem:
    """Export ``module(x)`` as ``onnx/<id>.onnx`` under ``root`` (constant weights); returns
    the manifest entry. Shared by the calibration kit and a search's verification kit."""
    name = f"onnx/{item['id']}.onnx"
    _export(module, x, root / name)
    return {**item, "file": name, "input_shape": list(x.shape)}


def write_manifest(root: Path, items: list[KitItem], **meta: object) -> Path:
    """``manifest.json`` and ``run_kit.py`` beside the exported files."""
    manifest = dict({"format": "lowformer-nas/export-kit", "items": items,
                     "created": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                    **meta)
    atomic_write_text(root / "manifest.json", json.dumps(manifest))
    atomic_write_text(root / "run_kit.py", RUNNER)
    return root


def read_results(path: str) -> list[ResultRow]:
    """Validated rows of the runner's ``results.csv`` (a row cut by a kill is dropped)."""
    if not os.path.isfile(path):
        raise ProfileError(f"measurement file {path!r} does not exist")
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    if text and not text.endswith("\n"):  # the runner was killed mid-row: drop that row
        text = text[:text.rfind("\n") + 1]
    reader = csv.DictReader(io.StringIO(text))
    need = ("id", "kind", "spec", "resolution", "ms")
    missing = [c for c in need if c not in (reader.fieldnames or [])]
    if missing:
        raise ProfileError(f"{path}: missing column(s) {', '.join(missing)}; the kit's "
                           f"run_kit.py writes {', '.join(need)}")
    return [_result_row(r, f"{path} line {i}") for i, r in enumerate(reader, start=2)]


def _result_row(r: dict[str, str], where: str) -> ResultRow:
    try:
        ms, spec = float(r["ms"]), json.loads(r["spec"])
        resolution, threads = int(r["resolution"]), int(r.get("threads") or 1)
    except (TypeError, ValueError):  # json.JSONDecodeError is a ValueError
        raise ProfileError(f"{where}: unreadable ms, spec, resolution or threads "
                           f"({r.get('ms')!r}, {r.get('resolution')!r})") from None
    if not ms > 0 or r["kind"] not in ("kernel", "model"):
        raise ProfileError(f"{where}: need ms > 0 and kind kernel|model, got "
                           f"{r['ms']!r}, {r['kind']!r}")
    return {"kind": r["kind"], "spec": spec, "resolution": resolution, "ms": ms,
            "threads": threads}


class _Records:
    """The journal interface ``fit_journal`` reads, over imported rows."""

    def __init__(self, records: list[KernelRecord | ModelRecord]) -> None:
        self.records = records

    def of_kind(self, kind: str) -> list[KernelRecord | ModelRecord]:
        return [r for r in self.records if r["kind"] == kind]


def import_measurements(device: str, path: str) -> Profile:
    """Fit a profile for ``device`` from the kit runner's ``results.csv``."""
    from .builtin import SPECS
    from .calibrate import fit_journal
    from ..measurement.host import local_roofline, not_measured_here

    rows = read_results(path)
    recs: list[KernelRecord | ModelRecord] = []
    for r in rows:  # a kernel's spec is its fields in order, a model's its arch dict
        if r["kind"] == "kernel":
            kr = kernel_from_row(cast("KernelRow", r["spec"]))
            recs.append({"kind": "kernel", "kernel": list(kr), "ms": r["ms"]})
        else:
            recs.append({"kind": "model", "arch": cast("dict[str, object]", r["spec"]),
                         "resolution": r["resolution"], "batch": 1, "ms": r["ms"]})
    roof = dict(SPECS[device][1]) if device in SPECS else local_roofline(1, "onnxruntime")
    roof["fused_epilogue"] = True  # onnxruntime folds BN and activations into convs
    params, err = fit_journal(_Records(recs), roof)  # type: ignore[arg-type]
    threads = rows[0]["threads"] if rows else 1
    prov = (f"calibrated from export-kit results ({len(recs)} rows, onnxruntime, "
            f"{threads} thread(s))")
    return make_profile(device, device, prov, "calibrated", params, error=err,
                        host=dict(not_measured_here(path, "the export kit's runner"),
                                  backend="onnxruntime", threads=threads),
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"))
