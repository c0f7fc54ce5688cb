"""Latency: measurement, kernel decomposition, a calibrated predictor and named targets.

Importing this package does not import torch; the heavy parts load on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "get_target": "targets", "list_targets": "targets", "load_profile": "profiles",
    "Profile": "profiles", "Prediction": "profiles", "cache_dir": "profiles",
    "measure_latency": "measure", "Measurement": "measure", "BACKENDS": "measure",
    "Kernel": "kernels", "enumerate_kernels": "kernels", "config_macs": "kernels",
    "trace_kernels": "trace",
    "calibrate_device": "calibrate", "calibrate_from_models": "calibrate_models",
    "write_kit": "export_kit", "import_measurements": "export_kit",
    "DeviceSpec": "devices", "get_device_spec": "devices", "list_device_specs": "devices",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
