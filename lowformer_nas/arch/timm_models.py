"""timm entrypoint ``lowformer_nas``: any of our configs through ``timm.create_model``.

    import lowformer_nas.arch.timm_models  # registers the entrypoint (build_model does it too)
    timm.create_model("lowformer_nas", arch="lowformer_b1")          # a registered name
    timm.create_model("lowformer_nas", arch="runs/x/models/B2.yaml")  # an exported YAML
    timm.create_model("lowformer_nas", arch=cfg)                       # an ArchConfig

``pretrained=True`` on an official name loads timm's LowFormer checkpoint for it (the keys
are identical; timm has none for B2); ``pretrained_cfg_overlay=dict(file=PATH)`` loads a local
checkpoint instead.
"""
from __future__ import annotations

from typing import Any

from timm.models import build_model_with_cfg, register_model
from timm.models._registry import generate_default_cfgs, get_pretrained_cfg
from timm.models.lowformer import _cfg, checkpoint_filter_fn

from .builder import LowFormerNAS
from .config import ArchConfig
from .registry import OFFICIAL_NAMES, resolve_arch

default_cfgs = generate_default_cfgs({"lowformer_nas": _cfg()})


@register_model
def lowformer_nas(pretrained: bool = False, arch: str | ArchConfig = "lowformer_b1",
                  **kwargs: Any) -> LowFormerNAS:
    """A LowFormer built from a lowformer-nas registry name, YAML path or ``ArchConfig``."""
    name, cfg = ("custom", arch) if isinstance(arch, ArchConfig) else resolve_arch(arch)
    pretrained_cfg = kwargs.pop("pretrained_cfg", None)
    if pretrained_cfg is None and name in OFFICIAL_NAMES:
        pretrained_cfg = get_pretrained_cfg(name)  # timm's default tag (B2: untrained)
    return build_model_with_cfg(
        LowFormerNAS, "lowformer_nas", pretrained, pretrained_cfg=pretrained_cfg,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True), cfg=cfg, **kwargs)
