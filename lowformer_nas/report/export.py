"""Export B0-B3 of a run: YAML configs, ONNX or TorchScript of the built (untrained) networks."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import RunError
from .runinfo import load_run_data

FORMATS = ("yaml", "onnx", "torchscript")


def export_family(run: Path, fmt: str, output: str | None = None,
                  num_classes: int = 1000) -> list[Path]:
    """Write one file per family member; returns the paths."""
    if fmt not in FORMATS:
        raise RunError(f"--format must be one of {', '.join(FORMATS)}, but got {fmt!r}")
    data = load_run_data(run)
    picks = {n: p for n, p in data["family"].items() if p is not None}
    if not picks:
        raise RunError(f"run {str(run)!r} has no B0-B3 yet (no feasible completed trial)")
    out = Path(output) if output else run / "export" / fmt
    resolution = _resolution(run)
    return [_export_one(n, p["config"], fmt, out, resolution, num_classes)
            for n, p in picks.items()]


def _resolution(run: Path) -> int:
    from ..rundir.config import read_run_config

    return int(read_run_config(run).get("space", {}).get("resolution", 224))


def _export_one(name: str, config_json: str, fmt: str, out: Path, resolution: int,
                num_classes: int) -> Path:
    from .._io import atomic_write_bytes
    from ..arch.yaml_io import config_from_dict, save_config

    cfg = config_from_dict(json.loads(config_json))
    if fmt == "yaml":
        path = out / f"{name}.yaml"
        save_config(cfg, path, header=f"lowformer-nas {name}")
        return path
    import io

    import torch

    from ..arch.builder import build_model

    model = build_model(cfg, num_classes=num_classes).eval()
    x = torch.zeros(1, 3, resolution, resolution)
    buf = io.BytesIO()
    if fmt == "torchscript":
        path = out / f"{name}.pt"
        torch.jit.save(torch.jit.trace(model, x), buf)
    else:
        path = out / f"{name}.onnx"
        # torch's annotation omits file objects, which the TorchScript exporter takes
        torch.onnx.export(model, (x,), buf,  # type: ignore[arg-type]
                          input_names=["input"], output_names=["logits"], dynamo=False)
    atomic_write_bytes(path, buf.getvalue())
    return path
