"""Latency: measurement, kernel decomposition, a calibrated predictor and named targets.

Sub-packages: ``measurement`` (timing models on this machine), ``tracing`` (the kernels a model
runs), ``fitting`` (the predictor and how it is fitted) and ``targets`` (profiles, named
devices, calibration). The names below are the public face; each loads its module on first use.

Importing this package does not import torch; the heavy parts load on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "get_target": "targets.registry", "list_targets": "targets.registry",
    "load_profile": "targets.profiles", "Profile": "targets.profiles",
    "Prediction": "targets.profiles", "cache_dir": "targets.profiles",
    "measure_latency": "measurement.measure", "Measurement": "measurement.measure",
    "BACKENDS": "measurement.measure",
    "Kernel": "tracing.kernels", "enumerate_kernels": "tracing.kernels",
    "config_macs": "tracing.kernels", "trace_kernels": "tracing.trace",
    "calibrate_device": "targets.calibrate", "calibrate_from_models": "targets.calibrate_models",
    "write_kit": "targets.export_kit", "import_measurements": "targets.export_kit",
    "DeviceSpec": "targets.devices", "get_device_spec": "targets.devices",
    "list_device_specs": "targets.devices",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
