"""Model-level calibration from whole-model latencies (published numbers, a colleague's board).

Starts from the device's spec-sheet prior (a built-in target's, else this machine's roofline)
and fits only the model-level scale and overhead, so a handful of rows is enough; the
leave-one-out error says how much to trust it.
"""
from __future__ import annotations

import csv
import math
import os
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from collections.abc import Mapping, Sequence

from ...errors import LowFormerNASError, ProfileError
from ..measurement.host import Roofline
from .profiles import Profile, check_roofline, make_profile

if TYPE_CHECKING:
    from ...arch.config import ArchConfig
    from ..tracing.graph import TracedModel

REQUIRED = ("model", "latency_ms")


def _positive(row: dict[str, str], key: str, where: str, default: Any, kind: type) -> Any:
    text = (row.get(key) or "").strip()
    if not text:
        if default is None:
            raise ProfileError(f"{where}: {key} is empty")
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ProfileError(f"{where}: {key} must be a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ProfileError(f"{where}: {key} must be > 0, got {text!r}")
    return value


def read_model_csv(path: str) -> list[dict[str, Any]]:
    """Validated rows {model, cfg, latency_ms, batch, resolution} of a model-latency CSV."""
    from ...arch.registry import resolve_arch

    if not os.path.isfile(path):
        raise ProfileError(f"measurement file {path!r} does not exist")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in cols]
        if missing:
            raise ProfileError(f"{path}: missing column(s) {', '.join(missing)}; need "
                               f"{', '.join(REQUIRED)} (optional: batch, resolution), "
                               f"got {', '.join(cols) or 'no header'}")
        rows = []
        for i, raw in enumerate(reader, start=2):
            raw = {(k or "").strip(): v for k, v in raw.items()}
            where = f"{path} line {i}"
            try:
                name, cfg = resolve_arch((raw.get("model") or "").strip())
            except LowFormerNASError as e:
                raise ProfileError(f"{where}: {e}") from None
            rows.append({"model": name, "cfg": cfg,
                         "latency_ms": _positive(raw, "latency_ms", where, None, float),
                         "batch": _positive(raw, "batch", where, 1, int),
                         "resolution": _positive(raw, "resolution", where, 224, int)})
    if not rows:
        raise ProfileError(f"{path}: need at least 1 model row (1: scale only, 2: scale + "
                           f"overhead, 3 or more: leave-one-out error reported), got none")
    return rows


def _default_prior(device: str) -> tuple[Roofline, str, str]:
    """(roofline, provenance words, device words) when no explicit prior is given."""
    from .builtin import SPECS
    from ..measurement.host import local_roofline

    if device in SPECS:
        return SPECS[device][1], f"{device} spec-sheet prior", SPECS[device][0]
    return local_roofline(1, "torch"), "this machine's roofline as prior", device


def calibrate_from_models(device: str, path: str, prior: Mapping[str, object] | None = None,
                          traits: Sequence[str] | None = None) -> Profile:
    """Fit ``device``'s model-level coefficients from a CSV of whole-model latencies.

    ``prior``: the device's roofline (peak_gflops, bandwidth_gbs, launch_us, fused_epilogue,
    cores), e.g. from the device table; default: the built-in target's, else this machine's.
    ``traits``: runtime traits (``traits.TRAITS``) the device's runtime applies; recorded in
    the profile (``fuse_conv_bn_act`` also means the epilogue costs no separate pass)."""
    from ..measurement.host import not_measured_here
    from ..tracing.traits import check_traits

    names = check_traits(traits)
    rows = read_model_csv(path)
    if prior is not None:
        roof, words, dev_words = check_roofline(prior), "the given device prior", device
    else:
        roof, words, dev_words = _default_prior(device)
    roof = roof.copy()
    if traits is not None:
        roof["fused_epilogue"] = "fuse_conv_bn_act" in names
    fit_rows = [{"model": r["model"], "batch": r["batch"], "resolution": r["resolution"],
                 "latency_ms": r["latency_ms"]} for r in rows]
    from ..fitting.fewshot import fit

    given = names if traits is not None else (tuple(roof["traits"]) if roof.get("traits")
                                              else None)
    prof = fit([(config_traced(r["cfg"], r["resolution"], r["batch"]),
                 (r["batch"], 3, r["resolution"], r["resolution"]), r["latency_ms"])
                for r in rows], prior=roof, traits=given, name=device)
    prov = f"{words}; {prof.data['provenance']} from {os.path.basename(path)}"
    extra = {k: prof.data[k] for k in ("error",) if k in prof.data}
    return make_profile(device, dev_words, prov, "model-level", prof.data["params"],
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        measurements=fit_rows, host=not_measured_here(path), **extra)


def config_traced(cfg: ArchConfig, resolution: int, batch: int) -> TracedModel:
    """An architecture config's analytic kernel list as a ``TracedModel`` (no dead code)."""
    from ..tracing.graph import VARIANTS, TracedModel
    from ..tracing.kernels import enumerate_kernels

    ks = tuple(enumerate_kernels(cfg, resolution, batch))
    every = tuple(range(len(ks)))
    return TracedModel((batch, 3, resolution, resolution), ks,
                       {k: every for k in VARIANTS})
