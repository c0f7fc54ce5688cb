"""lowformer-nas: hardware-aware neural architecture search over the LowFormer family.

``import lowformer_nas`` stays light: torch, timm, optuna, ray and plotly load on first use.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> module that defines it (loaded on first access, like Optuna's _imports)
_LAZY = {
    "ArchConfig": "lowformer_nas.arch.config",
    "StageConfig": "lowformer_nas.arch.config",
    "get_arch": "lowformer_nas.arch.registry",
    "list_archs": "lowformer_nas.arch.registry",
    "resolve_arch": "lowformer_nas.arch.registry",
    "save_config": "lowformer_nas.arch.yaml_io",
    "load_config": "lowformer_nas.arch.yaml_io",
    "config_to_dict": "lowformer_nas.arch.yaml_io",
    "config_from_dict": "lowformer_nas.arch.yaml_io",
    "build_model": "lowformer_nas.arch.builder",
    "count_params_macs": "lowformer_nas.arch.stats",
    "load_space": "lowformer_nas.space",
    "list_spaces": "lowformer_nas.space",
    "LowFormerNASError": "lowformer_nas.errors",
}
__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # what ``__getattr__`` loads, as type checkers see it (redundant aliases
    # re-export)
    from .arch import compat as compat
    from .arch.builder import build_model as build_model
    from .arch.config import ArchConfig as ArchConfig, StageConfig as StageConfig
    from .arch.registry import get_arch as get_arch, list_archs as list_archs
    from .arch.registry import resolve_arch as resolve_arch
    from .arch.stats import count_params_macs as count_params_macs
    from .arch.yaml_io import config_from_dict as config_from_dict
    from .arch.yaml_io import config_to_dict as config_to_dict, load_config as load_config
    from .arch.yaml_io import save_config as save_config
    from .errors import LowFormerNASError as LowFormerNASError
    from .space import list_spaces as list_spaces, load_space as load_space


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == "compat":
        return importlib.import_module("lowformer_nas.arch.compat")
    raise AttributeError(f"module 'lowformer_nas' has no attribute {name!r}")
