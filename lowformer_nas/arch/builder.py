"""``build_model``: a pure function from an ``ArchConfig`` to a timm-compatible ``nn.Module``,
and the timm entrypoint ``lowformer_nas`` that builds the same network (registered when this
module is imported, as timm's own model files register theirs)::

    import lowformer_nas.arch.builder  # or anything that builds a model
    timm.create_model("lowformer_nas", arch="lowformer_b1")          # a registered name
    timm.create_model("lowformer_nas", arch="runs/x/models/B2.yaml")  # an exported YAML
    timm.create_model("lowformer_nas", arch=cfg)                       # an ArchConfig

``pretrained=True`` on an official name loads timm's LowFormer checkpoint for it (the keys
are identical; timm has none for B2); ``pretrained_cfg_overlay=dict(file=PATH)`` loads a local
checkpoint instead.

Blocks are timm's own LowFormer blocks (``timm.models.lowformer``); only the per-stage
composition is ours, because timm's ``LowFormer`` ties every stage to one global
``fused_conv`` flag. Module names follow timm's exactly, so timm's pretrained LowFormer
checkpoints load straight into the official variants built here, and the model inherits
timm's ``forward_features`` / ``forward_head`` / ``reset_classifier`` / ``forward_intermediates``.
"""
from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn as nn
from timm.layers import GroupNorm1, Linear, SelectAdaptivePool2d, calculate_drop_path_rates
from timm.models import build_model_with_cfg, generate_default_cfgs, get_pretrained_cfg
from timm.models import register_model
from timm.models.lowformer import (ConvAttention, ConvLayer, FusedMBConv, LowFormer, MBConv,
                                   ResidualBlock, checkpoint_filter_fn)

from .config import ArchConfig, StageConfig
from .registry import OFFICIAL_NAMES, resolve_arch

_NORM = nn.BatchNorm2d
_ACT = nn.Hardswish


def local_block(cin: int, cout: int, stride: int, expand: float, fused: bool,
                bias: bool) -> nn.Module:
    """One local block of a stage: an MBConv, or a fused MBConv when ``fused``, with the
    family's norm and activation."""
    cls = FusedMBConv if fused else MBConv
    return cls(in_channels=cin, out_channels=cout, stride=stride, expand_ratio=expand,
               use_bias=bias, norm_layer=_NORM, act_layer=_ACT)


class LowFormerNASBlock(nn.Module):
    """A LowFormer block whose attention, MLP and local parts are chosen per stage.

    Same attribute names (``attn``, ``mlp``, ``local``) and forward order as timm's
    ``LowFormerBlock``, so state_dict keys match.
    """

    def __init__(self, channels: int, stage: StageConfig, drop_path: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        if stage.attention:
            attn: nn.Module = ConvAttention(
                input_dim=channels, head_dim_mul=0.5, att_stride=stage.attn_stride,
                att_kernel=5 if stage.attn_stride > 1 else 3,
                fuse_out_proj=stage.attn_fused_proj)
            if stage.mlp:
                attn = nn.Sequential(GroupNorm1(channels), attn)
            self.attn: nn.Module = ResidualBlock(attn, nn.Identity(), drop_path)
        else:
            self.attn = nn.Identity()
        if stage.mlp:
            hidden = channels * stage.mlp_ratio
            self.mlp: nn.Module = ResidualBlock(nn.Sequential(
                GroupNorm1(channels), nn.Conv2d(channels, hidden, 1), nn.GELU(),
                nn.Conv2d(hidden, channels, 1), nn.Dropout(proj_drop)), nn.Identity(), drop_path)
        else:
            self.mlp = nn.Identity()
        local = local_block(channels, channels, 1, stage.expand, stage.fused, bias=True)
        self.local = ResidualBlock(local, nn.Identity(), drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local(self.mlp(self.attn(x)))


def _stage_blocks(index: int, stage: StageConfig, cin: int, dpr: list[float],
                  bias: bool, proj_drop: float) -> list[nn.Module]:
    """Blocks of stage ``index`` >= 1: a stride-2 entry block, then stride-1 blocks."""
    blocks: list[nn.Module] = [ResidualBlock(
        local_block(cin, stage.width, 2, stage.entry_expand, stage.entry_fused,
                    bias=bias and not stage.entry_fused), None)]
    if index <= 2:  # the entry block counts towards the stage depth
        for i in range(1, stage.depth):
            block = local_block(stage.width, stage.width, 1, stage.expand, stage.fused,
                                bias=bias and not stage.fused)
            blocks.append(ResidualBlock(block, nn.Identity(), dpr[i]))
    else:
        blocks += [LowFormerNASBlock(stage.width, stage, dpr[i], proj_drop)
                   for i in range(stage.depth)]
    return blocks


class LowFormerNAS(LowFormer):
    """timm's ``LowFormer`` interface over a per-stage ``ArchConfig``."""

    def __init__(self, cfg: ArchConfig, num_classes: int = 1000, in_chans: int = 3,
                 global_pool: str = "avg", drop_rate: float = 0., drop_path_rate: float = 0.,
                 proj_drop_rate: float = 0.) -> None:
        nn.Module.__init__(self)  # LowFormer.__init__ builds a fixed layout; we build our own
        self.arch_config = cfg
        self.num_classes, self.in_chans, self.drop_rate = num_classes, in_chans, drop_rate
        self.grad_checkpointing = False
        self.feature_info = []
        # an int depth gives one flat list (timm's return type also covers per-stage lists)
        dpr = cast(list[float], calculate_drop_path_rates(drop_path_rate, sum(cfg.depths)))
        s0 = cfg.stages[0]
        stem: list[nn.Module] = [ConvLayer(in_chans, s0.width, 3, 2, norm_layer=_NORM,
                                           act_layer=_ACT)]
        stem += [ResidualBlock(local_block(s0.width, s0.width, 1, s0.expand, s0.fused,
                                           bias=cfg.mbconv_bias and not s0.fused),
                               nn.Identity(), dpr[i]) for i in range(s0.depth)]
        self.stem = nn.Sequential(*stem)
        stages, cin, start, reduction = [], s0.width, s0.depth, 2
        for index, stage in enumerate(cfg.stages[1:], start=1):
            blocks = _stage_blocks(index, stage, cin, dpr[start:start + stage.depth],
                                   cfg.mbconv_bias, proj_drop_rate)
            stages.append(nn.Sequential(*blocks))
            cin, start, reduction = stage.width, start + stage.depth, reduction * 2
            self.feature_info.append(dict(num_chs=cin, reduction=reduction,
                                          module=f"stages.{index - 1}"))
        self.stages = nn.Sequential(*stages)
        self._build_head(cfg, global_pool)
        self.apply(self._init_weights)

    def _build_head(self, cfg: ArchConfig, global_pool: str) -> None:
        h0, h1 = cfg.head_widths
        self.num_features = cfg.stages[-1].width
        self.head_hidden_size = h1
        self.global_pool = SelectAdaptivePool2d(pool_type=global_pool)
        self.flatten = nn.Flatten(1) if global_pool else nn.Identity()
        self.in_conv = ConvLayer(self.num_features, h0, 1, norm_layer=_NORM, act_layer=_ACT)
        self.pre_classifier = nn.Sequential(Linear(h0, h1, bias=False), nn.LayerNorm(h1), _ACT())
        self.classifier = Linear(h1, self.num_classes) if self.num_classes > 0 else nn.Identity()


def build_model(cfg: ArchConfig, num_classes: int = 1000, in_chans: int = 3,
                drop_rate: float = 0., drop_path_rate: float = 0.,
                global_pool: str | None = "avg") -> LowFormerNAS:
    """Build the network ``cfg`` describes (random init, timm's init scheme)."""
    return LowFormerNAS(cfg, num_classes=num_classes, in_chans=in_chans,
                        global_pool=global_pool or "", drop_rate=drop_rate,
                        drop_path_rate=drop_path_rate)


default_cfgs = generate_default_cfgs({"lowformer_nas": {  # as timm's LowFormer configs
    "url": "", "num_classes": 1000, "input_size": (3, 224, 224), "pool_size": (7, 7),
    "crop_pct": 0.95, "interpolation": "bicubic", "mean": (0.485, 0.456, 0.406),
    "std": (0.229, 0.224, 0.225), "first_conv": "stem.0.conv", "classifier": "classifier",
    "origin_url": "https://github.com/altair199797/LowFormer", "license": "apache-2.0"}})


@register_model
def lowformer_nas(pretrained: bool = False, arch: str | ArchConfig = "lowformer_b1",
                  **kwargs: Any) -> LowFormerNAS:  # timm's model kwargs
    """A LowFormer built from a lowformer-nas registry name, YAML path or ``ArchConfig``."""
    name, cfg = ("custom", arch) if isinstance(arch, ArchConfig) else resolve_arch(arch)
    pretrained_cfg = kwargs.pop("pretrained_cfg", None)
    if pretrained_cfg is None and name in OFFICIAL_NAMES:
        pretrained_cfg = get_pretrained_cfg(name)  # timm's default tag (B2: untrained)
    return build_model_with_cfg(
        LowFormerNAS, "lowformer_nas", pretrained, pretrained_cfg=pretrained_cfg,
        pretrained_filter_fn=checkpoint_filter_fn,
        feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True), cfg=cfg, **kwargs)
