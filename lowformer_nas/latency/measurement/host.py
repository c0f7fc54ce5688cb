"""What this host is: CPU model and flags, a rough roofline, and the facts a profile records.

Kept apart from the built-in targets so that calibrating this machine and describing other
devices do not import each other.
"""
from __future__ import annotations

import os
import platform
from typing import TypedDict, cast

from .allocator import allocator_label


# facts a profile's ``host`` records; a measurement CSV may carry any of them as columns
HOST_FIELDS = ("cpu", "machine", "cores", "gpu", "system", "python", "torch", "onnxruntime",
               "backend", "threads", "device", "allocator")
_ARCH = {"amd64": "x86_64", "x86_64": "x86_64", "x64": "x86_64", "arm64": "aarch64",
         "aarch64": "aarch64", "armv8l": "aarch64"}


class _RooflineKeys(TypedDict):
    peak_gflops: float
    bandwidth_gbs: float
    launch_us: float


class Roofline(_RooflineKeys, total=False):
    """A device's roofline prior (a profile's ``params.roofline``; ``local_roofline``,
    ``profiles.check_roofline``)."""

    fused_epilogue: bool
    cores: int
    traits: list[str]
    eff: dict[str, float]  # roofline efficiency per kernel op (``predictor.DEFAULT_EFF``)


class HostFacts(TypedDict, total=False):
    """A profile's ``host``: measured here (``platform_facts``) or a measurement file's
    columns (``csv_host_facts``: strings, as the file has them)."""

    cpu: str
    machine: str
    cores: int | str | None
    gpu: str
    system: str
    python: str
    torch: str
    onnxruntime: str
    backend: str
    threads: int | str
    device: str
    allocator: str
    clock: str
    measured_here: bool
    note: str


def cpu_model() -> str:
    """``model name`` from /proc/cpuinfo (x86), else the board ``Model`` line (Raspberry Pi)."""
    found: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                found.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    return found.get("model name") or found.get("model") or found.get("hardware") or \
        platform.processor() or platform.machine()


def architecture(machine: str = "") -> str:
    """This host's (or ``machine``'s) CPU architecture in the device table's words."""
    raw = (machine or platform.machine()).lower()
    return _ARCH.get(raw, raw)


def cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return ""


def local_roofline(threads: int, backend: str, device: str = "cpu") -> Roofline:
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


def platform_facts(backend: str, threads: int, device: str = "cpu") -> HostFacts:
    """What a profile records about the machine it was measured on."""
    import torch

    facts: HostFacts = {"cpu": cpu_model(), "cores": os.cpu_count(),
                             "machine": platform.machine(), "system": platform.platform(),
                             "python": platform.python_version(), "torch": torch.__version__,
                             "backend": backend, "threads": threads, "device": device,
                             "allocator": allocator_label()}
    if device.startswith("cuda") and torch.cuda.is_available():
        facts["gpu"] = torch.cuda.get_device_name(0)
    ort = _version("onnxruntime")
    if ort:
        facts["onnxruntime"] = ort
    return {**facts, "measured_here": True, "machine": architecture(facts["machine"])}


def _version(dist: str) -> str:
    """An installed distribution's version without importing it ('' if absent)."""
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def csv_host_facts(path: str) -> dict[str, str]:
    """Host facts a measurement CSV carries as columns (``HOST_FIELDS``): one value each, or
    the distinct values joined with '; ' when rows disagree."""
    import csv

    values: dict[str, list[str]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                for key, value in row.items():
                    key = (key or "").strip().lower()
                    if key in HOST_FIELDS and isinstance(value, str) and value.strip() and \
                            value.strip() not in values.setdefault(key, []):
                        values[key].append(value.strip())
    except (OSError, UnicodeDecodeError):
        return {}
    return {k: "; ".join(v) for k, v in values.items() if v}


def not_measured_here(path: str, by: str = "") -> HostFacts:
    """``host`` of a profile fitted here from another machine's measurement file."""
    note = f"not measured here; rows from {os.path.basename(path)}" + (f" ({by})" if by else "")
    # the file's columns are HOST_FIELDS, each a string: HostFacts keys of str values
    return cast("HostFacts", dict(csv_host_facts(path), measured_here=False, note=note))


def describe_host(host: HostFacts | None) -> str:
    """One line for ``list`` / ``predict``: which machine produced a profile's numbers."""
    if not host:
        return "host: not recorded"
    parts = []
    if host.get("cpu") or host.get("machine"):
        cpu = host.get("cpu") or "CPU"
        arch = ", ".join(str(x) for x in (host.get("machine"), host.get("cores") and
                                            f"{host['cores']} cores") if x)
        parts.append(f"{cpu} ({arch})" if arch else str(cpu))
    parts += [f"GPU {host['gpu']}"] if host.get("gpu") else []
    parts += [f"{k} {host[k]}" for k in ("torch", "onnxruntime") if host.get(k)]
    parts += [f"backend {host['backend']}"] if host.get("backend") else []
    parts += [f"{host['threads']} thread(s)"] if host.get("threads") else []
    facts = ", ".join(parts)
    if host.get("note"):
        return f"host: {host['note']}" + (f"; the file says: {facts}" if facts else "")
    return f"host: {facts}"
