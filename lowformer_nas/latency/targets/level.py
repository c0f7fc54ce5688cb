"""Profiles that know their age: a fixed reference set, timed at calibration and again later.

A calibration of this machine describes it at the moment it ran; the same network can time
several percent slower an hour later (a shared host, thermal state, a neighbour on the VM;
issue 21 found a B0 moving from 17.5 to 18.7 ms within an hour, and the NAS-Bench-201 phone
columns drift with measurement order). Re-calibrating costs minutes. Instead, the calibration
times :data:`REFERENCE_SET` in a fresh measurement worker and keeps those figures as its
baseline; a level check times the same set again (seconds) and, when the ratio moved by more
than :data:`TOLERANCE`, re-levels the profile: every prediction is multiplied by the ratio.
The check is kept next to the cached profile (``<name>.level.json``), so ``predict`` and a
search's summary can say how old it is and what it found.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypedDict, TypeVar

from ..._io import atomic_write_text
from ...errors import ProfileError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..measurement.host import HostFacts

P = TypeVar("P", bound="LevelledProfile")


class LevelledProfile(Protocol):
    """What this module uses of a ``profiles.Profile`` (which imports this module: it cannot
    import that class back)."""

    @property
    def data(self) -> LevelledData: ...
    @property
    def source(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def host(self) -> HostFacts | None: ...
    @property
    def base_sha256(self) -> str: ...

    def __init__(self, data: Mapping[str, object], source: str = ...) -> None: ...
    def unlevelled(self: P) -> P: ...


class LevelledData(TypedDict, total=False):
    """What this module reads of a profile's data (``profiles.ProfileData``)."""

    reference: Reference
    level: LevelRecord


class Reference(TypedDict):
    """The reference set timed once (a profile's ``reference``: ``time_reference``)."""

    ms: dict[str, float]
    at: str
    resolution: int
    protocol: str
    host: HostFacts


class LevelRecord(TypedDict):
    """A level check as a profile stores it (``level``: ``LevelCheck.to_dict``)."""

    profile_sha: str
    checked_at: str
    baseline_at: str
    baseline_ms: dict[str, float]
    now_ms: dict[str, float]
    ratio: float

REFERENCE_SET = ("lowformer_b0", "lowformer_b1")  # official rows: fixed, cheap, in the space
FRESH_S = 300.0  # a baseline younger than this is today's level: no check needed
TOLERANCE = 0.05  # five checks in a row here spread over 0.94-0.99 (1 s a model): noise
MIN_TIME_S = 2.0  # timing per reference model, as ``measure`` (a check: ~8 s with startup)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def age_s(iso: str) -> float:
    return max(0.0, (datetime.now(timezone.utc) - datetime.fromisoformat(iso)).total_seconds())


def say_age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def time_reference(profile: LevelledProfile, resolution: int = 224) -> Reference:
    """The reference set timed now, in a fresh worker under ``measure``'s protocol, with the
    profile's backend, threads and torch device: ``{"ms": {...}, "at", "protocol", "host"}``."""
    from ..measurement.worker import measure_in_worker

    host = profile.host or {}
    recs = measure_in_worker(list(REFERENCE_SET), resolution=resolution,
                             backend=str(host.get("backend", "torch")),
                             threads=int(host.get("threads", 1)),
                             device=str(host.get("device", "cpu")), min_time_s=MIN_TIME_S)
    return {"ms": {n: round(r["latency_ms"], 4) for n, r in zip(REFERENCE_SET, recs)},
            "at": now_iso(), "resolution": resolution, "protocol": recs[0]["protocol"],
            "host": recs[0]["host"]}


def with_baseline(profile: P) -> P:
    """``profile`` plus its reference baseline, timed now (right after its calibration)."""
    data = dict(profile.data, reference=time_reference(profile))
    return type(profile)(data, profile.source)


@dataclass(frozen=True)
class LevelCheck:
    """The reference set now against the profile's baseline; ``factor`` scales predictions."""

    profile_sha: str  # the un-levelled profile it belongs to (``Profile.base_sha256``)
    checked_at: str
    baseline_at: str
    baseline_ms: dict[str, float] = field(default_factory=dict)
    now_ms: dict[str, float] = field(default_factory=dict)
    ratio: float = 1.0  # median over the set of now / baseline

    @property
    def moved(self) -> bool:
        return abs(self.ratio - 1.0) > TOLERANCE

    @property
    def factor(self) -> float:
        """What predictions are multiplied by: the ratio when the level moved, else 1."""
        return self.ratio if self.moved else 1.0

    def describe(self) -> str:
        what = (f"re-levelled x{self.factor:.3f}" if self.moved else
                f"within +-{100 * TOLERANCE:.0f}%, not re-levelled")
        return (f"level check {self.checked_at} ({say_age(age_s(self.checked_at))} ago): "
                f"reference set "
                f"({', '.join(self.now_ms)}) x{self.ratio:.3f} of the calibration's "
                f"{say_age(age_s(self.baseline_at) - age_s(self.checked_at))} before; {what}")

    def to_dict(self) -> LevelRecord:
        d = asdict(self)  # copies the dicts
        return {"profile_sha": d["profile_sha"], "checked_at": d["checked_at"],
                "baseline_at": d["baseline_at"], "baseline_ms": d["baseline_ms"],
                "now_ms": d["now_ms"], "ratio": d["ratio"]}


def check_level(profile: LevelledProfile) -> LevelCheck:
    """Time the reference set and compare it with ``profile``'s baseline (ProfileError if it
    has none: profiles calibrated before level checks, or not on this machine)."""
    base = profile.data.get("reference")
    if not base:
        raise ProfileError(f"profile {profile.name!r} has no reference baseline (calibrated "
                           f"elsewhere or by an older version): a level check needs one; "
                           f"recalibrate with `lowformer-nas calibrate --device {profile.name}`")
    now = time_reference(profile, int(base.get("resolution", 224)))
    ratios = [now["ms"][n] / base["ms"][n] for n in base["ms"] if n in now["ms"]]
    return LevelCheck(profile.base_sha256, now["at"], base["at"], dict(base["ms"]),
                      dict(now["ms"]), round(statistics.median(ratios), 4))


def levelled(profile: P, check: LevelCheck | None) -> P:
    """``profile`` with ``check`` applied (its predictions x ``check.factor``); unchanged when
    the check belongs to another profile."""
    if check is None or check.profile_sha != profile.base_sha256:
        return profile
    return type(profile)(dict(profile.data, level=check.to_dict()), profile.source)


def level_path(profile_path: Path) -> Path:
    return profile_path.with_name(profile_path.stem + ".level.json")


def save_check(profile_path: Path, check: LevelCheck) -> None:
    atomic_write_text(level_path(profile_path), json.dumps(check.to_dict(), indent=1) + "\n")


def load_check(profile_path: Path) -> LevelCheck | None:
    """The last level check saved beside a cached profile (None: none, or unreadable)."""
    path = level_path(profile_path)
    try:
        return LevelCheck(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def check_cached(profile: P) -> tuple[P, LevelCheck]:
    """The level of a cached profile checked now, and the profile re-levelled by it (to be
    kept with ``save_check`` once the caller is sure to use it)."""
    base = profile.unlevelled()
    check = check_level(base)
    return levelled(base, check), check


def relevel_cached(profile: P, profile_path: Path) -> tuple[P, LevelCheck]:
    """Check the level of a cached profile now, keep the check beside it, return the profile
    as re-levelled by it (the cached file itself is never rewritten)."""
    profile, check = check_cached(profile)
    save_check(profile_path, check)
    return profile, check


def needs_check(profile: LevelledProfile) -> bool:
    """A profile with a baseline older than ``FRESH_S`` (just calibrated: no check yet)."""
    base = profile.data.get("reference")
    return base is not None and bool(base) and age_s(base["at"]) >= FRESH_S
