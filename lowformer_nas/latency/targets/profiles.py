"""The latency profile file format (JSON with a ``format`` key): read, validate, make, predict.

A profile says which device it describes, where its numbers come from (spec sheet, published
latencies, calibration on the device) and how far off it is expected to be; every prediction
carries that line. Which profile a target name means is ``registry``'s business, not this
module's: this one imports nothing else from ``latency/`` at module level.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypedDict, cast

from ..._io import atomic_write_text
from ...errors import ProfileError
from ..fitting.records import FitError, LatencyRow, ProfileParams, Roofline

if TYPE_CHECKING:
    from ...arch.config import ArchConfig
    from torch import nn
    from ..fitting.intervals import IntervalTable
    from ..fitting.predictor import KernelCosts, Predictor
    from ..measurement.host import HostFacts
    from .level import LevelCheck, LevelRecord, Reference

FORMAT = "lowformer-nas/latency-profile"
FORMAT_VERSION = 1
# bump when the fit changes, so that cached 'local' profiles are refitted (what each version
# changed: `git log -G "^FIT_VERSION = " -- lowformer_nas/latency`)
FIT_VERSION = 14


class _ProfileKeys(TypedDict):
    format: str
    format_version: int
    name: str
    device: str
    provenance: str
    status: str
    params: ProfileParams


class ProfileData(_ProfileKeys, total=False):
    """A profile file's content (``validate`` checks the required keys)."""

    error: FitError
    host: HostFacts
    platform: HostFacts  # ``host`` in older files
    created: str
    reference: Reference  # the level baseline (``level.py``)
    level: LevelRecord  # the level check applied
    resolutions: list[int] | None  # [smallest, largest] calibrated input side
    measurements: list[LatencyRow]
    published: list[LatencyRow]
    prior: str  # the words of a user-given prior (``calibrate --from-models``)
    space: str
    budget_minutes: float | None
    journal: str  # the calibration journal
    fit_version: int


def cache_dir() -> Path:
    """``$LOWFORMER_NAS_CACHE`` or ``~/.cache/lowformer-nas``."""
    root = os.environ.get("LOWFORMER_NAS_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "lowformer-nas")
    return Path(root)


# log-normal spread of a kernel-sum prediction of another family: log1p(0.25) = 0.22, the
# RMS log error over the 12 timm models of benchmarks/latency_timm.py (2026-12-05); the
# interval table of a profile holds for LowFormer configs only
OTHER_FAMILY_REL_STD = 0.25


@dataclass(frozen=True)
class Prediction:
    """Predicted latency with its one-sigma uncertainty and per-stage split (ms).

    ``quantile(q)`` is the latency the config stays under with probability q, from the
    profile's calibrated interval table (``params.interval``: conformal quantiles of
    cross-validated residuals, see ``latency/fitting/intervals.py``), or a log-normal with the
    profile's relative std where it has none. The search's ``--budget-quantile`` uses it.
    """

    latency_ms: float
    std_ms: float
    per_stage: dict[str, float]
    profile: str
    interval: IntervalTable | None = field(default=None, repr=False, compare=False)

    def quantile(self, q: float) -> float:
        """The q-quantile of the latency (ms), e.g. ``quantile(0.9)``."""
        from ..fitting.intervals import factor_at

        rel = self.std_ms / self.latency_ms if self.latency_ms > 0 else 0.0
        return self.latency_ms * factor_at(self.interval, rel, q, self.latency_ms)

    def central_interval(self, p: float = 0.9) -> tuple[float, float]:
        """(low, high) ms holding the latency with probability ``p`` (5%/95% for 0.9)."""
        from ..fitting.intervals import central

        lo, hi = central(p)
        return self.quantile(lo), self.quantile(hi)

    def to_dict(self) -> dict[str, object]:
        return {"latency_ms": self.latency_ms, "std_ms": self.std_ms,
                "interval90_ms": list(self.central_interval(0.9)),
                "per_stage": self.per_stage, "profile": self.profile}


class Profile:
    """A device's fitted latency model plus its provenance."""

    def __init__(self, data: Mapping[str, object], source: str = "<memory>") -> None:
        self.data = validate(data, source)
        self.source = source
        self.name: str = self.data["name"]
        self._predictor: Predictor | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(canonical(self.data).encode()).hexdigest()

    @property
    def base_sha256(self) -> str:
        """The sha256 without a level check (``latency/targets/level.py``): the same
        calibration, however often its level was checked since."""
        return self.unlevelled().sha256

    def unlevelled(self) -> Profile:
        """This profile without its level check (itself when it has none)."""
        if "level" not in self.data:
            return self
        return Profile({k: v for k, v in self.data.items() if k != "level"}, self.source)

    @cached_property
    def level_check(self) -> LevelCheck | None:
        """The level check applied to this profile (``level.LevelCheck``), or None; read
        once: predictions ask for its factor on every call."""
        from .level import LevelCheck

        level = self.data.get("level")
        return LevelCheck(**level) if level else None

    @cached_property
    def level_factor(self) -> float:
        """What a level check multiplies this profile's predictions by (1: none applied)."""
        return self.level_check.factor if self.level_check is not None else 1.0

    def describe_level(self) -> str:
        """The level check's age and result; or why there is none."""
        if self.level_check is not None:
            return self.level_check.describe()
        if self.data.get("reference"):
            return (f"level as calibrated (reference set timed {self.data['reference']['at']}, "
                    f"not checked since)")
        return ""

    @property
    def expected_error_pct(self) -> float | None:
        return self.data.get("error", {}).get("mape_pct")

    @property
    def host(self) -> HostFacts | None:
        """The machine that measured this profile's numbers (``platform`` in older files)."""
        return self.data.get("host", self.data.get("platform"))

    def resolution_note(self, resolution: int) -> str:
        """Empty inside the resolutions the profile's whole models were measured at; else a
        warning: outside, kernels run at map sizes never timed (torch on this repository's
        CPU takes a slow conv path for 3x3 maps: LowFormer-B0 at 96 px measured 22-29 ms
        against 17 ms at 112-128 px, 20-41% above the prediction; docs/predictor.md)."""
        span = self.data.get("resolutions")
        if not span or span[0] <= resolution <= span[1]:
            return ""
        return (f"extrapolated: {resolution} px is outside the {span[0]}-{span[1]} px this "
                f"profile was calibrated at; its interval was not checked there")

    def describe_host(self) -> str:
        from ..measurement.host import describe_host

        return describe_host(self.host)

    def describe(self) -> str:
        """One line: which profile, where its numbers come from, how far off it may be."""
        err = self.data.get("error", {})
        if err.get("mape_pct") is not None:
            trust = f"{err.get('method', 'CV')} MAPE {err['mape_pct']:.0f}%"
            if err.get("within10_pct") is not None:
                trust += f", {err['within10_pct']:.0f}% within +-10%"
        else:
            trust = "uncalibrated, error unknown (roofline priors are often 30-100% off)"
        level = self.describe_level()
        return f"{self.name}: {self.data['provenance']}; {trust}" + (f"; {level}" if level
                                                                        else "")

    @property
    def predictor(self) -> Predictor:
        if self._predictor is None:
            from ..fitting.predictor import Predictor

            params = self.data["params"]
            costs: KernelCosts | None = None
            if "fewshot" in params:
                from ..fitting.fewshot_terms import kernel_costs as costs
            self._predictor = Predictor(params, kernel_costs=costs)
        return self._predictor

    def _prediction(self, total: float, per_stage: dict[str, float]) -> Prediction:
        factor = self.level_factor
        if factor != 1.0:  # a level check found the machine slower/faster than calibrated
            total, per_stage = total * factor, {k: v * factor for k, v in per_stage.items()}
        table = self.data["params"].get("interval")
        rel = self.predictor.rel_std
        if table:  # the std of this prediction's region (latency/fitting/intervals.py)
            from ..fitting.intervals import region

            rel = max(float(region(table, total).get("rel_std", rel)), 0.02)
        return Prediction(latency_ms=total, std_ms=total * rel, per_stage=per_stage,
                          profile=self.name, interval=table)

    def predict(self, cfg: ArchConfig, resolution: int = 224, batch: int = 1) -> Prediction:
        """Analytic path from an ``ArchConfig`` (no module is built)."""
        total, per_stage = self.predictor.predict_config(cfg, resolution, batch)
        return self._prediction(total, per_stage)

    def predict_model(self, model: nn.Module, resolution: int = 224, batch: int = 1) -> Prediction:
        """Traced path: any ``nn.Module`` taking ``batch x 3 x res x res`` (e.g. timm models).

        A profile calibrated from measured kernels predicts another family by the sum of its
        isolated kernel times at the level whole models of other families timed in the
        calibration set (a scale and a charge per kernel: ``families.family_level``; else
        ``kernel_sum_scale``, whole LowFormer models over their kernel sums): the rest of
        LowFormer's model-level term (per kernel, per weight MB) carries what is LowFormer's
        own (its attention's reshapes and copies between kernels); applied to timm models it
        over-charged models of many small kernels (mobilenetv3 +39%; 3 of 12 models within
        +-15% with it, 10 of 12 without: ``benchmarks/latency_timm_modellevel.py``).
        Profiles without measured kernels (spec-sheet priors, few-shot fits) keep their
        whole-model term: it is their scale."""
        from ..tracing.trace import trace_kernels

        kernels = trace_kernels(model, (batch, 3, resolution, resolution))
        family_term = self._own_model_for_other_families()
        total = self.predictor.predict_kernel_list(kernels, family_term=family_term)
        if family_term:
            return self._prediction(total, {"model": total})
        total *= self.level_factor
        return Prediction(latency_ms=total, std_ms=total * OTHER_FAMILY_REL_STD,
                          per_stage={"kernels": total}, profile=self.name)

    def _own_model_for_other_families(self) -> bool:
        """Whether another family is priced like a LowFormer config (profiles without measured
        kernels: spec-sheet priors, few-shot fits) rather than by its kernel sum's level."""
        params = self.data["params"]
        return not params.get("corrections") or "fewshot" in params

    def other_family_basis(self) -> str:
        """How ``predict_model`` prices a model of another family (a timm model) under this
        profile: printed beside such a prediction, so its number says where it comes from.
        The 25% relative std's 90% interval covered 42 of 42 timm models in each of three
        first-use calibrations (``benchmarks/latency_timm_calibrations.py``)."""
        if self._own_model_for_other_families():
            return "traced, priced by this profile's own model, as LowFormer configs are"
        level = self.predictor.family  # the level predict_model uses, one source
        sigma = f"1 sigma {OTHER_FAMILY_REL_STD:.0%}"
        if self.data["params"].get("family_level"):
            n = level.get("n_models")
            return (f"traced; isolated kernel times x {level['scale']:.2f} + "
                    f"{1e3 * level['per_kernel_ms']:.0f} us per kernel, the level of "
                    f"{n or 'the'} whole timm models of other families timed in this "
                    f"calibration; {sigma}")
        return (f"traced; isolated kernel times x {level['scale']:.2f}, LowFormer's "
                f"whole-model level (this calibration timed no other family); {sigma}")

    def save(self, path: os.PathLike[str] | str) -> Path:
        atomic_write_text(path, json.dumps(self.data, indent=1, sort_keys=True) + "\n")
        return Path(path)


def canonical(data: Mapping[str, object]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


_REQUIRED = ("name", "device", "provenance", "status", "params")


def validate(data: object, source: str) -> ProfileData:
    """``data`` as a profile's content; foreign or damaged JSON is rejected with one line
    naming the file and the problem."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ProfileError(f"{source} is not a lowformer-nas latency profile "
                           f"(expected format {FORMAT!r}, got {got!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise ProfileError(f"{source}: unsupported profile format_version "
                           f"{data.get('format_version')!r}; this version reads {FORMAT_VERSION}")
    missing = [k for k in _REQUIRED if k not in data]
    params = data.get("params")
    if not missing and (not isinstance(params, dict) or "roofline" not in params):
        missing = ["params.roofline"]
    if missing:
        raise ProfileError(f"{source}: profile is missing {', '.join(missing)}")
    assert isinstance(params, dict)  # checked above: missing would name it
    check_roofline(params["roofline"], f"{source}: params.roofline")
    return cast("ProfileData", data)  # its required keys and roofline are checked above


ROOFLINE_KEYS = ("peak_gflops", "bandwidth_gbs", "launch_us")  # required in a roofline prior


def check_roofline(roof: object, what: str = "prior") -> Roofline:
    """A roofline prior (peak_gflops, bandwidth_gbs, launch_us; optional fused_epilogue,
    cores, traits) checked, as the predictor's ``params.roofline``; errors name ``what``."""
    if not isinstance(roof, dict):
        raise ProfileError(f"{what} must be a dict with {', '.join(ROOFLINE_KEYS)}, "
                           f"got {type(roof).__name__}")
    for key in ROOFLINE_KEYS:
        v = roof.get(key)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) \
                or v < 0 or (v == 0 and key != "launch_us"):
            raise ProfileError(f"{what} {key} must be a positive number, got {v!r}")
    # the required keys are checked positive numbers above; the rest are passed through
    return cast("Roofline", dict(roof, fused_epilogue=roof.get("fused_epilogue", False)))


def load_profile(path: os.PathLike[str] | str) -> Profile:
    p = Path(path)
    if not p.is_file():
        raise ProfileError(f"profile file {str(p)!r} does not exist")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProfileError(f"{p} is not valid JSON ({e.__class__.__name__}: {e})") from None
    return Profile(data, str(p))


def make_profile(name: str, device: str, provenance: str, status: str, params: ProfileParams,
                 **extra: object) -> Profile:
    """A new profile dict with the format key and the given fields."""
    data: dict[str, object] = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": name,
                               "device": device, "provenance": provenance, "status": status,
                               "params": params}
    data.update(extra)
    return Profile(data)
