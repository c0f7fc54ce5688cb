"""Device priors: spec-sheet numbers for devices the tool does not run on, one table.

``data/devices.yaml`` holds one row per device (peak throughput, memory bandwidth, cores,
architecture, typical runtime and its traits, and the spec sheet it comes from). The built-in
targets and ``calibrate --like NAME`` both take their roofline prior from here, so there is one
source for every device number.
"""
from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...errors import ProfileError, UnknownNameError
from ..measurement.host import Roofline

TABLE = Path(__file__).resolve().parents[2] / "data" / "devices.yaml"
NAME_RULE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
NAME_RULE_TEXT = "lower-case letters, digits, '.', '_', '-', starting with a letter or digit, " \
                 "at most 64 characters"
KINDS = ("cpu", "gpu", "npu")
ARCHITECTURES = ("aarch64", "x86_64", "any")
PRECISIONS = ("fp32", "fp16", "int8")
REQUIRED = ("name", "title", "kind", "architecture", "cuda", "cores", "peak_gflops",
            "bandwidth_gbs", "launch_us", "runtime", "source")
OPTIONAL = ("traits", "precision", "notes")
DEFAULT_LAUNCH_US = 10.0  # per-kernel overhead of a user-given prior (an estimate, as in the table)
EXTRA_RUNTIMES = {"coreml": None}  # runtimes with no entry in traits.RUNTIMES: traits required


def check_name(name: object, what: str = "device name") -> str:
    """A safe name (never a path): raises naming the value and the rule."""
    if not isinstance(name, str) or not NAME_RULE.fullmatch(name):
        raise ProfileError(f"{what} {name!r} is not allowed: use {NAME_RULE_TEXT}")
    return name


@dataclass(frozen=True)
class DeviceSpec:
    """One row of the device table."""

    name: str
    title: str
    kind: str
    architecture: str
    cuda: bool
    cores: int
    peak_gflops: float
    bandwidth_gbs: float
    launch_us: float
    runtime: str
    traits: tuple[str, ...]
    precision: str
    source: str
    notes: str = ""

    def roofline(self) -> Roofline:
        """The predictor's roofline prior (``params.roofline``) for this device."""
        return {"peak_gflops": self.peak_gflops, "bandwidth_gbs": self.bandwidth_gbs,
                "launch_us": self.launch_us, "cores": self.cores,
                "fused_epilogue": "fuse_conv_bn_act" in self.traits}

    def summary(self) -> str:
        """The numbers in one short line."""
        return (f"{self.peak_gflops:g} GFLOP/s {self.precision} {self.kind}, "
                f"{self.bandwidth_gbs:g} GB/s, {self.cores} cores, {self.architecture}, "
                f"{self.runtime}")

    def describe(self) -> str:
        """One line: what it is, its numbers, and the source they come from."""
        return f"{self.name}: {self.title}; {self.summary()}; source: {self.source}"


def _number(row: dict[str, Any], key: str, where: str, kind: type = float) -> Any:
    v = row[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or \
            v < 0 or (v == 0 and key != "launch_us") or (kind is int and v != int(v)):
        rule = "a positive integer" if kind is int else \
            "a number >= 0" if key == "launch_us" else "a positive number"
        raise ProfileError(f"{where}: {key} must be {rule}, got {v!r}")
    return kind(v)


def _choice(row: dict[str, Any], key: str, where: str, allowed: tuple[str, ...]) -> str:
    if row[key] not in allowed:
        raise ProfileError(f"{where}: {key} must be one of {', '.join(allowed)}, "
                           f"got {row[key]!r}")
    return row[key]


def _traits(row: dict[str, Any], where: str) -> tuple[str, ...]:
    from ..tracing.traits import RUNTIMES, check_traits

    runtime = _choice(row, "runtime", where, tuple(RUNTIMES) + tuple(EXTRA_RUNTIMES))
    if "traits" not in row:
        if runtime not in RUNTIMES:
            raise ProfileError(f"{where}: runtime {runtime!r} has no default traits; "
                               f"list them under traits")
        return RUNTIMES[runtime]
    if not isinstance(row["traits"], list):
        raise ProfileError(f"{where}: traits must be a list, got {row['traits']!r}")
    try:
        return check_traits(row["traits"])
    except ProfileError as e:
        raise ProfileError(f"{where}: {e}") from None


def parse_row(row: Any, where: str) -> DeviceSpec:
    """One validated table row; a bad row raises naming the field, the rule and the value."""
    if not isinstance(row, dict):
        raise ProfileError(f"{where}: a row must be a mapping, got {type(row).__name__}")
    missing = [k for k in REQUIRED if k not in row]
    unknown = sorted(set(row) - set(REQUIRED) - set(OPTIONAL))
    if missing or unknown:
        raise ProfileError(f"{where}: " + (f"missing {', '.join(missing)}" if missing else
                           f"unknown field(s) {', '.join(unknown)}") +
                           f"; fields: {', '.join(REQUIRED + OPTIONAL)}")
    where = f"{where} ({row['name']!r})"
    if not isinstance(row["cuda"], bool):
        raise ProfileError(f"{where}: cuda must be true or false, got {row['cuda']!r}")
    for key in ("title", "source"):
        if not isinstance(row[key], str) or not row[key].strip():
            raise ProfileError(f"{where}: {key} must be non-empty text, got {row[key]!r}")
    try:
        check_name(row["name"])
    except ProfileError as e:
        raise ProfileError(f"{where}: {e}") from None
    return DeviceSpec(
        name=row["name"], title=row["title"],
        kind=_choice(row, "kind", where, KINDS),
        architecture=_choice(row, "architecture", where, ARCHITECTURES), cuda=row["cuda"],
        cores=_number(row, "cores", where, int),
        peak_gflops=_number(row, "peak_gflops", where),
        bandwidth_gbs=_number(row, "bandwidth_gbs", where),
        launch_us=_number(row, "launch_us", where), runtime=row["runtime"],
        traits=_traits(row, where),
        precision=_choice(dict(row, precision=row.get("precision", "fp32")), "precision",
                          where, PRECISIONS),
        source=row["source"], notes=str(row.get("notes", "")))


def parse_table(text: str, source: str) -> dict[str, DeviceSpec]:
    """name -> DeviceSpec from a YAML list of rows; duplicate names are rejected."""
    import yaml

    try:
        rows = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise ProfileError(f"{source}{at} is not valid YAML ({getattr(e, 'problem', e)})") \
            from None
    if not isinstance(rows, list) or not rows:
        raise ProfileError(f"{source}: expected a non-empty list of device rows")
    out: dict[str, DeviceSpec] = {}
    for i, row in enumerate(rows, start=1):
        spec = parse_row(row, f"{source} row {i}")
        if spec.name in out:
            raise ProfileError(f"{source} row {i}: duplicate device name {spec.name!r}")
        out[spec.name] = spec
    return out


@lru_cache(maxsize=1)
def device_table() -> dict[str, DeviceSpec]:
    """The packaged table (read once)."""
    return parse_table(TABLE.read_text(encoding="utf-8"), str(TABLE))


def get_device_spec(name: str) -> DeviceSpec:
    """The row for ``name``; an unknown name raises listing the known ones."""
    table = device_table()
    if name not in table:
        raise UnknownNameError(f"unknown device {name!r}; known: {', '.join(table)}")
    return table[name]


def list_device_specs(pattern: str = "*") -> list[DeviceSpec]:
    """Rows whose name matches the shell-style ``pattern``, in table order."""
    return [s for n, s in device_table().items() if fnmatch.fnmatchcase(n, pattern)]


@dataclass(frozen=True)
class Prior:
    """A roofline prior for ``calibrate_from_models`` with the traits and words it comes with."""

    roofline: Roofline
    traits: tuple[str, ...] | None
    words: str


def build_prior(like: str | None = None, peak_gflops: float | None = None,
                bandwidth_gbs: float | None = None, cores: int | None = None,
                runtime: str | None = None) -> Prior | None:
    """The prior ``--like NAME`` and explicit numbers describe (explicit numbers win), or None
    when nothing was given. Without ``like`` both peak and bandwidth are needed."""
    if like is None and peak_gflops is None and bandwidth_gbs is None and cores is None:
        return None
    if like is None and (peak_gflops is None or bandwidth_gbs is None):
        raise ProfileError("a device prior needs --like DEVICE or both --peak-gflops and "
                           f"--bandwidth-gbs (got peak {peak_gflops!r}, bandwidth "
                           f"{bandwidth_gbs!r})")
    spec = get_device_spec(like) if like is not None else None
    roof: Roofline
    if spec:
        roof = spec.roofline()
    else:  # both numbers are given (checked above)
        assert peak_gflops is not None and bandwidth_gbs is not None
        roof = {"launch_us": DEFAULT_LAUNCH_US, "fused_epilogue": False,
                "peak_gflops": peak_gflops, "bandwidth_gbs": bandwidth_gbs}
    given = {"peak_gflops": peak_gflops, "bandwidth_gbs": bandwidth_gbs, "cores": cores}
    if peak_gflops is not None:
        roof["peak_gflops"] = peak_gflops
    if bandwidth_gbs is not None:
        roof["bandwidth_gbs"] = bandwidth_gbs
    if cores is not None:
        roof["cores"] = cores
    words = f"{like} spec-sheet prior ({spec.source})" if spec else "a user-given prior"
    changed = [f"{k} {v:g}" for k, v in given.items() if v is not None]
    if changed:
        words += (" with " if spec else " (") + ", ".join(changed) + ("" if spec else ")")
    traits = spec.traits if spec else None
    if runtime is not None:
        from ..tracing.traits import runtime_traits

        traits = runtime_traits(runtime)
        words += f", runtime {runtime}"
    return Prior(roofline=roof, traits=traits, words=words)
