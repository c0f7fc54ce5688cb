"""lowformer-nas: hardware-aware neural architecture search over the LowFormer family.

``import lowformer_nas`` stays light: torch, timm, optuna, ray and plotly load on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == "compat":
        return importlib.import_module("lowformer_nas.arch.compat")
    raise AttributeError(f"module 'lowformer_nas' has no attribute {name!r}")
