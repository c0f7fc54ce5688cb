"""Refit a profile with whole-model latencies of the architectures a search picked.

A search drifts to wherever the predictor is too optimistic (the optimizer's curse), so the
configs it picks are exactly those the calibration's random models say least about. Two ways:

- a profile calibrated on this machine keeps its calibration journal: verified whole models
  are appended to it and the whole fit is redone (``calibrate.refit_with_models``);
- any other profile (a built-in prior, published numbers, a kit import): ``refit_model_level``
  keeps its kernel corrections and refits the model-level scale and overhead on the
  whole-model rows it already had plus the new ones.

``measurable_here`` decides which applies to a search's target.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict
from collections.abc import Sequence

from ...errors import ProfileError
from ..targets.profiles import Profile, make_profile
from .records import LatencyRow

if TYPE_CHECKING:
    from ...arch.config import ArchConfig


def journal_of(profile: Profile) -> Path | None:
    """The calibration journal a profile was fitted from, when it is on this disk."""
    path = profile.data.get("journal")
    return Path(path) if path and os.path.isfile(path) else None


def verified_in_journal(path: Path) -> set[tuple[str, float]]:
    """(arch JSON, ms) of every ``source: verify`` whole model in a calibration journal: what a
    resumed run has already appended (a run journals each measurement before appending it)."""
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue
        if r.get("kind") == "model" and r.get("source") == "verify":
            out.add((json.dumps(r["arch"], sort_keys=True, separators=(",", ":")), r["ms"]))
    return out


class PickRow(TypedDict):
    """A verified search pick's whole-model latency (``search.verify_kit.model_rows``)."""

    model: str
    arch: dict[str, object]
    resolution: int
    latency_ms: float


def refit_model_level(profile: Profile, rows: Sequence[PickRow]) -> Profile:
    """Model-level refit (scale + overhead) over the profile's own whole-model rows plus
    ``rows`` (dicts with ``arch``, ``resolution``, ``latency_ms``, ``model`` label)."""
    from ...arch.registry import resolve_arch
    from ...arch.yaml_io import config_from_dict
    from ..targets.builtin import adjust_to_rows

    new: list[LatencyRow] = [{**r, "batch": 1} for r in rows]
    old = [r for r in profile.data.get("measurements", []) + profile.data.get("published", [])
           if r.get("model") not in {n["model"] for n in new}]
    fit = old + new
    if len(fit) < 3:
        raise ProfileError(f"need at least 3 whole-model latencies to refit {profile.name}, "
                           f"got {len(fit)}")
    arches = {r["model"]: r["arch"] for r in fit if r.get("arch")}

    def resolve(name: str) -> ArchConfig:
        return config_from_dict(arches[name]) if name in arches else resolve_arch(name)[1]

    params, err = adjust_to_rows(profile.data["params"], fit, resolve=resolve)
    base = profile.data["provenance"].split(" + ")[0]
    prov = f"{base} + model-level refit to {len(new)} verified search picks"
    keep = {k: v for k, v in profile.data.items()
            if k not in ("params", "error", "provenance", "created", "measurements", "format",
                         "format_version", "name", "device", "status")}
    return make_profile(profile.name, profile.data["device"], prov, "model-level", params,
                        **dict(keep, error=err, measurements=fit, created=_now()))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def measurable_here(profile: Profile) -> bool:
    """True when this machine is the profile's device (``local``, or any profile calibrated on a
    host with this CPU model, architecture and torch device) and its journal is on disk."""
    import platform

    from ..measurement.host import architecture, cpu_model

    facts = profile.host or {}
    if not facts or not facts.get("measured_here", True) or journal_of(profile) is None:
        return False
    device = str(facts.get("device", "cpu"))
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available() or facts.get("gpu") != torch.cuda.get_device_name(0):
            return False
    here = architecture(platform.machine())
    return facts.get("cpu") == cpu_model() and architecture(facts.get("machine", here)) == here


class MeasureSetup(TypedDict):
    backend: str
    threads: int
    device: str


def measure_setup(profile: Profile) -> MeasureSetup:
    """(backend, threads, torch device) the profile's timings were taken with."""
    facts = profile.host or {}
    return {"backend": str(facts.get("backend", "torch")), "threads": int(facts.get("threads", 1)),
            "device": str(facts.get("device", "cpu"))}
