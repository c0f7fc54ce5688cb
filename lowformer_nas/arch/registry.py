"""Named architectures: the official LowFormer variants as rows of one table, plus a tiny test arch.

Rows hold (official lists, entry expansion, stage-0 expansion, head, attention, MLP): the
published family differs only in these, so a variant is a row, never a flag. The widths and
depths are the official code's lists, kept once in ``compat.OFFICIAL_LISTS``.
"""
from __future__ import annotations

import fnmatch
from typing import NamedTuple

from ..errors import UnknownNameError
from .compat import BIG_HEAD, OFFICIAL_LISTS, SMALL_HEAD
from .config import ArchConfig, StageConfig, official_stage


class _Row(NamedTuple):
    lists: str  # name of its (widths, depths) in ``compat.OFFICIAL_LISTS``
    entry_expand: float
    stem_expand: float
    head: tuple[int, int]
    attention: bool
    mlp: bool
    about: str


# LowFormer (arXiv 2409.03460, WACV 2025) and the edge variants of "Beyond MACs" (IJCV 2026).
_OFFICIAL: dict[str, _Row] = {
    "lowformer_b0": _Row("b0", 4, 2, SMALL_HEAD, True, True,
                         "LowFormer-B0, 14.1M params, 944M MACs"),
    "lowformer_b1": _Row("b1", 6, 2, SMALL_HEAD, True, True,
                         "LowFormer-B1, 17.9M params, 1410M MACs"),
    "lowformer_b15": _Row("b15", 6, 2, BIG_HEAD, True, True,
                          "LowFormer-B1.5, 33.9M params, 2573M MACs"),
    "lowformer_b2": _Row("b2_timm", 6, 2, BIG_HEAD, True, True,
                         "LowFormer-B2 (as timm builds it), 45.0M params, 3689M MACs"),
    "lowformer_b3": _Row("b3", 6, 4, SMALL_HEAD, True, True,
                         "LowFormer-B3, 57.1M params, 6098M MACs"),
    "lowformer_e1": _Row("E1", 6, 2, BIG_HEAD, False, False,
                         "LowFormer-E1 (edge GPU), 1350M MACs"),
    "lowformer_e2": _Row("E2", 6, 4, SMALL_HEAD, False, False,
                         "LowFormer-E2 (edge GPU), 3800M MACs"),
    "lowformer_e3": _Row("E3", 6, 4, SMALL_HEAD, True, False,
                         "LowFormer-E3 (edge GPU), 5350M MACs"),
}


def _from_row(row: _Row) -> ArchConfig:
    widths, depths = OFFICIAL_LISTS[row.lists]
    stages = tuple(
        official_stage(w, d, index=i, entry_expand=row.entry_expand, expand=row.stem_expand,
                       attention=row.attention, mlp=row.mlp)
        for i, (w, d) in enumerate(zip(widths, depths)))
    return ArchConfig(stages=stages, head_widths=row.head)


def _test_arch() -> ArchConfig:
    """A few thousand parameters, every block kind once: for fast tests."""
    s = [StageConfig(width=8, depth=1, fused=True, expand=2.0),
         StageConfig(width=8, depth=1, entry_expand=2.0),
         StageConfig(width=16, depth=2, fused=False, expand=2.0, entry_expand=2.0),
         StageConfig(width=16, depth=1, fused=True, expand=2.0, entry_expand=2.0,
                     attention=True, attn_stride=2, mlp=True, mlp_ratio=2),
         StageConfig(width=32, depth=1, fused=False, expand=2.0, entry_fused=False,
                     entry_expand=2.0, attention=True, attn_stride=1, mlp=False)]
    return ArchConfig(stages=tuple(s), head_widths=(64, 64))


_ARCHS: dict[str, ArchConfig] = {name: _from_row(row) for name, row in _OFFICIAL.items()}
_ARCHS["lowformer_test"] = _test_arch()
_ABOUT: dict[str, str] = {name: row.about for name, row in _OFFICIAL.items()}
_ABOUT["lowformer_test"] = "tiny test architecture (every block kind once)"
OFFICIAL_NAMES: tuple[str, ...] = tuple(_OFFICIAL)


def list_archs(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style ``pattern``, sorted (like ``timm.list_models``)."""
    return sorted(n for n in _ARCHS if fnmatch.fnmatchcase(n, pattern))


def get_arch(name: str) -> ArchConfig:
    """The ``ArchConfig`` registered under ``name``."""
    try:
        return _ARCHS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown architecture {name!r}; known: {', '.join(list_archs())}") from None


def describe_arch(name: str) -> str:
    get_arch(name)
    return _ABOUT[name]


def resolve_arch(name_or_path: str) -> tuple[str, ArchConfig]:
    """A registry name or a YAML path -> (display name, config)."""
    if name_or_path in _ARCHS:
        return name_or_path, _ARCHS[name_or_path]
    import os

    if name_or_path.endswith((".yaml", ".yml")) or os.sep in name_or_path \
            or os.path.exists(name_or_path):
        from .yaml_io import load_config

        return os.path.basename(name_or_path), load_config(name_or_path)
    raise UnknownNameError(
        f"unknown architecture {name_or_path!r}: not a registered name ({', '.join(list_archs())}) "
        f"nor a YAML file")
