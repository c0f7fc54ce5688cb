"""Parameter and MAC counts of a config, measured on the built module (the reference's method)."""
from __future__ import annotations

from typing import TypedDict

from .config import ArchConfig


class StageCount(TypedDict):
    """Parameters and MACs of one stage (stem, stage1-4, head) at its output resolution."""

    stage: str
    width: int
    depth: int
    resolution: int
    params: int
    macs: int


def count_params_macs(cfg: ArchConfig, resolution: int = 224,
                      num_classes: int = 1000) -> tuple[int, int, list[StageCount]]:
    """(params, MACs, per-stage rows) at ``resolution``; MACs = FLOPs / 2 from torch's counter.

    Attention runs as its explicit ``q @ k^T`` and ``attn @ v`` (the same maths as the fused
    kernel), because what torch's counter sees of ``scaled_dot_product_attention`` depends on
    the torch version and the kernel it picks: torch 2.14 counts a 1-token attention as 0.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .builder import build_model

    model = build_model(cfg, num_classes=num_classes).eval()
    for module in model.modules():  # attention as explicit matmuls: see _count_attention_as_matmuls
        _count_attention_as_matmuls(module)
    parts = [("stem", model.stem)] + [(f"stage{i + 1}", s) for i, s in enumerate(model.stages)]
    rows: list[StageCount] = []
    x = torch.zeros(1, 3, resolution, resolution)
    with torch.inference_mode():
        for (name, module), stage in zip(parts, cfg.stages):
            with FlopCounterMode(display=False) as fc:
                x = module(x)
            rows.append(StageCount(stage=name, width=stage.width, depth=stage.depth,
                             resolution=int(x.shape[-1]),
                             params=sum(p.numel() for p in module.parameters()),
                             macs=fc.get_total_flops() // 2))
        with FlopCounterMode(display=False) as fc:
            model.forward_head(x)
    head_params = sum(p.numel() for n, p in model.named_parameters()
                      if not n.startswith(("stem", "stages")))
    rows.append(StageCount(stage="head", width=cfg.head_widths[1], depth=1, resolution=1,
                     params=head_params, macs=fc.get_total_flops() // 2))
    return sum(r["params"] for r in rows), sum(r["macs"] for r in rows), rows


def _count_attention_as_matmuls(module: object) -> None:
    """timm's attention modules take the fused SDPA path when ``fused_attn`` is set."""
    if getattr(module, "fused_attn", None) is True:
        module.fused_attn = False  # type: ignore[attr-defined]
