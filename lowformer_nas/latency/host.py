"""What this host is: CPU model and flags, a rough roofline, and the facts a profile records.

Kept apart from the built-in targets so that calibrating this machine and describing other
devices do not import each other.
"""
from __future__ import annotations

import os
import platform
from typing import Any, Dict


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return ""


def local_roofline(threads: int, backend: str, device: str = "cpu") -> Dict[str, Any]:
    """A rough prior for this machine; calibration learns the corrections on top."""
    fused = backend != "torch"
    if device.startswith("cuda"):
        return {"peak_gflops": 20000.0, "bandwidth_gbs": 800.0, "launch_us": 10.0,
                "fused_epilogue": fused}
    flags = cpu_flags()
    per_cycle = 64 if "avx512f" in flags else 32 if "avx2" in flags else 16
    ghz = 2.5
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            mhz = [float(x.split(":")[1]) for x in fh if x.startswith("cpu MHz")]
        ghz = mhz[0] / 1000.0 if mhz else ghz
    except (OSError, ValueError):
        pass
    return {"peak_gflops": threads * ghz * per_cycle, "bandwidth_gbs": 8.0 * min(threads, 4),
            "launch_us": 5.0, "fused_epilogue": fused}


def platform_facts(backend: str, threads: int, device: str = "cpu") -> Dict[str, Any]:
    """What a profile records about the machine it was measured on."""
    import torch

    facts: Dict[str, Any] = {"cpu": cpu_model(), "cores": os.cpu_count(),
                             "machine": platform.machine(), "system": platform.platform(),
                             "python": platform.python_version(), "torch": torch.__version__,
                             "backend": backend, "threads": threads, "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
    if backend == "onnxruntime":
        import onnxruntime

        facts["onnxruntime"] = onnxruntime.__version__
    return facts
