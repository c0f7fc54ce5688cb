"""The official LowFormer code's ``net_config`` flags, mapped onto ``ArchConfig`` and back.

The official implementation (``lowformer_model.py`` of altair199797/LowFormer) describes a
network by two lists and a bag of ablation flags. ``from_official`` reproduces any point of
that parametric space to the parameter (same count, same multiset of parameter shapes), so
published configs and checkpoints can be compared with searched ones; ``to_official`` finds
flags for a config when there are any.

The official code replaces the lists by name for ``b0``/``b1``/``b15``/``b2``/``b3``; the edge
variants take them from their YAML configs. ``OFFICIAL_LISTS`` records both (``b2`` is kept
for reference only: its depth-0 stages 1-2 skip downsampling, which ``from_official`` rejects).
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

from ..errors import ConfigError
from .config import NUM_STAGES, ArchConfig, StageConfig

SMALL_HEAD = (1536, 1600)
BIG_HEAD = (2304, 2560)

# official name -> (width_list, depth_list)
OFFICIAL_LISTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "b0": ((16, 32, 64, 128, 256), (0, 1, 1, 3, 4)),
    "b1": ((16, 32, 64, 128, 256), (0, 1, 1, 5, 5)),
    "b15": ((20, 40, 80, 160, 320), (0, 1, 1, 6, 6)),
    "b2": ((24, 48, 96, 192, 384), (0, 0, 0, 6, 6)),
    # timm's lowformer_b2: the official b2 with one block in stages 1-2, so every stage
    # downsamples (44,986,912 parameters; the registry's lowformer_b2)
    "b2_timm": ((24, 48, 96, 192, 384), (0, 1, 1, 6, 6)),
    "b3": ((32, 64, 128, 256, 512), (1, 2, 3, 6, 6)),
    "E1": ((20, 40, 80, 160, 320), (0, 1, 1, 4, 4)),
    "E2": ((32, 64, 128, 256, 512), (1, 2, 3, 4, 4)),
    "E3": ((32, 64, 128, 256, 512), (1, 2, 3, 6, 6)),
}
DEFAULT_LISTS = ((16, 32, 64, 128, 256), (1, 2, 3, 3, 4))

# flags that shape the network (all default to False in the official code)
FLAGS = ("fastit", "bigit", "huge_model", "nostrideatt", "noattention", "bb_convin2",
         "mlpremoved", "bighead")
# keys read but without effect on the architecture, whatever their value
IGNORED = ("name", "dropout", "bb_convattention", "smallv2", "smallv3", "middlev1", "middlev2")
# keys that are inert only at this value (the one every published config uses)
INERT = {"fastitv2": False, "model_mult": 1.0, "head_dim_mul": False, "actit": False,
         "old_way_norm": False, "grouping": 1}
ACCEPTED = FLAGS + IGNORED + tuple(INERT)


def _check_keys(net_config: Mapping[str, object]) -> dict[str, bool]:
    """The eight shaping flags as bools; any other key must be ignored or at its inert value."""
    for key, value in net_config.items():
        if key not in ACCEPTED:
            raise ConfigError(f"unknown official net_config key {key!r}; accepted: "
                              f"{', '.join(ACCEPTED)}")
        if key in INERT and (value != INERT[key] or isinstance(value, bool)
                             != isinstance(INERT[key], bool)):
            raise ConfigError(f"`{key} == {INERT[key]!r}` must hold (other values change the "
                              f"network and are not supported), but got {value!r}")
        if key in FLAGS and not isinstance(value, bool):
            raise ConfigError(f"official flag {key} must be a bool, but got {value!r}")
    return {flag: bool(net_config.get(flag, False)) for flag in FLAGS}


def _check_lists(width_list: Sequence[int], depth_list: Sequence[int]) -> None:
    for name, values in (("width_list", width_list), ("depth_list", depth_list)):
        if len(values) != NUM_STAGES or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ConfigError(f"{name} must be {NUM_STAGES} ints, but got {list(values)!r}")
    for i in (1, 2):
        if depth_list[i] < 1:
            raise ConfigError(
                f"`depth >= 1` must hold for stage {i} (with depth 0 the official code skips "
                f"that stage's downsampling, as in its b2), but got {depth_list[i]}")


def _stage(i: int, width: int, depth: int, f: dict[str, bool]) -> StageConfig:
    fast, big, huge = f["fastit"], f["bigit"], f["huge_model"]
    if i == 0:
        return StageConfig(width=width, depth=depth, fused=fast, expand=4.0 if huge else 2.0)
    if i in (1, 2):
        return StageConfig(width=width, depth=depth, fused=fast, expand=4.0, entry_fused=fast,
                           entry_expand=6.0 if big or huge else 4.0)
    attention = not f["noattention"]
    return StageConfig(
        width=width, depth=depth, fused=fast and width < 256, expand=4.0, entry_fused=fast,
        entry_expand=6.0 if big or (huge and i == 3) else 4.0, attention=attention,
        attn_stride=2 if i == 3 and not f["nostrideatt"] else 1, attn_fused_proj=fast,
        mlp=attention and f["bb_convin2"] and not f["mlpremoved"], mlp_ratio=4 if fast else 2)


def from_official(width_list: Sequence[int], depth_list: Sequence[int],
                  **net_config: object) -> ArchConfig:
    """The ``ArchConfig`` the official code builds from these lists and ``net_config`` flags."""
    flags = _check_keys(net_config)
    _check_lists(width_list, depth_list)
    stages = tuple(_stage(i, w, d, flags) for i, (w, d) in enumerate(zip(width_list, depth_list)))
    # the official unfused MBConv has no biases; with fastit every such block is fused and the
    # rule builds nothing, so keep the default and compare equal to the registry's configs
    return ArchConfig(stages=stages, head_widths=BIG_HEAD if flags["bighead"] else SMALL_HEAD,
                      mbconv_bias=flags["fastit"])


def official_lists(name: str) -> tuple[list[int], list[int]]:
    """The (width_list, depth_list) the official code uses for config ``name``."""
    widths, depths = OFFICIAL_LISTS.get(name, DEFAULT_LISTS)
    return list(widths), list(depths)


def to_official(cfg: ArchConfig) -> tuple[list[int], list[int], dict[str, bool | int]]:
    """``(width_list, depth_list, net_config)`` with ``from_official(...) == cfg``.

    Among the flag sets that fit, the one with fewest flags set is returned. Raises
    ``ConfigError`` when the config lies outside the official parametric space.
    """
    widths, depths = list(cfg.widths), list(cfg.depths)
    if min(depths[1:3]) >= 1:
        combos = sorted(itertools.product((False, True), repeat=len(FLAGS)), key=sum)
        for values in combos:
            flags = dict(zip(FLAGS, values))
            if from_official(widths, depths, **flags) == cfg:
                return widths, depths, {**{k: v for k, v in flags.items() if v}, "grouping": 1}
    raise ConfigError("this config is outside the official LowFormer parametric space "
                      "(no net_config flags build it)")
