"""``config.yaml`` of a run directory: its format marker and what reports need from it.

The search writes it (``search.run.open_run``) and checks a resumed run against its own
``SearchSettings``; reports only read it, so this module validates what they rely on: the
format and version, and the settings the Pareto data is computed from.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypedDict, cast

import yaml

from ..accuracy.proxies import TRAIN_SCORES  # noqa: F401  (re-exported with the label below)
from ..accuracy.zerocost import ZC_SCORES  # noqa: F401  (trials.csv has one column each)
from ..errors import RunError

CONFIG_NAME = "config.yaml"
RUN_FORMAT = "lowformer-nas/run"
RUN_FORMAT_VERSION = 1  # bump when the run layout changes; older tools then refuse the run
PROXIES = ("zero-cost", "train", "two-stage")
SURROGATE_FILE = "surrogate.json"  # two-stage --prescreen surrogate: its held-out fidelity
# settings that reports read (pareto data, summary); a run without them cannot be reported
REPORT_SETTINGS = ("target", "budget_ms", "proxy", "zc_score")
# the objective's name where a zero-cost signal is not a score of its own name
SCORE_LABELS = {"imagenet-anchored": "predicted ImageNet top-1 (anchored)",
                "small-data-prior": "predicted small-data accuracy (prior)",
                "prior": "predicted small-data accuracy (prior)"}


class SpaceRecord(TypedDict):
    """The space a run searched, as ``config.yaml`` names it."""

    name: str
    resolution: int
    size: int


class ProfileRecord(TypedDict, total=False):
    """The latency profile a run used: its identity and where it came from."""

    name: str
    sha256: str
    base_sha256: str  # the calibration's sha (level checks since then do not change it)
    source: str | None
    describe: str
    resolution_note: str | None


class RunConfig(TypedDict, total=False):
    """``config.yaml`` of a run directory. ``settings`` is ``SearchSettings.to_dict()``
    (validated by ``SearchSettings.from_dict``; reports read only ``REPORT_SETTINGS``)."""

    format: str
    format_version: int
    settings: dict[str, Any]
    created: str
    updated: str
    resumed: int
    stages: list[tuple[str, int]]
    seeds: dict[str, int]
    space: SpaceRecord
    profile: ProfileRecord
    machine: dict[str, object]
    versions: dict[str, str]
    measure_protocol: dict[str, object] | None


def score_label(settings: object, stage: str) -> str:
    """What a stage's objective value is (Optuna metric name, axis title, summary column):
    a zero-cost score's name, or what ranks trained candidates (``--train-score``).
    ``settings``: a ``SearchSettings`` or its ``config.yaml`` mapping."""
    get = settings.get if isinstance(settings, dict) else lambda k, d=None: getattr(settings, k, d)
    if stage != "train":
        zc = str(get("zc_score"))
        return SCORE_LABELS.get(zc, zc)
    return "accuracy" if get("train_score", "accuracy") == "accuracy" else "-train loss sum"


def read_run_config(path: Path) -> RunConfig:
    """The ``config.yaml`` of a run directory (RunError if it is not one)."""
    cfg = path / CONFIG_NAME
    if not cfg.is_file():
        raise RunError(f"{str(path)!r} is not a run directory (no {CONFIG_NAME})")
    try:
        data = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        raise RunError(f"{str(cfg)!r} is not valid YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("settings"), dict):
        raise RunError(f"{str(cfg)!r} has no 'settings' mapping: not written by lowformer-nas")
    fmt = data.get("format", RUN_FORMAT)
    version = data.get("format_version", 1)  # runs from before versioning are version 1
    if fmt != RUN_FORMAT or version != RUN_FORMAT_VERSION:
        raise RunError(f"{str(cfg)!r} is a {fmt!r} run of format_version "
                       f"{version!r}; this lowformer-nas reads {RUN_FORMAT!r} format_version "
                       f"{RUN_FORMAT_VERSION}")
    _check_report_settings(cfg, data["settings"])
    return cast(RunConfig, data)


def _check_report_settings(cfg: Path, settings: dict[str, object]) -> None:
    missing = [k for k in REPORT_SETTINGS if k not in settings]
    if missing:
        raise RunError(f"{str(cfg)!r}: its settings are not a valid lowformer-nas search "
                       f"(missing {', '.join(missing)})")
    budget = settings["budget_ms"]
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) \
            or not math.isfinite(budget) or budget <= 0:
        raise RunError(f"{str(cfg)!r}: settings budget_ms must be a number > 0, "
                       f"but got {budget!r}")
    if settings["proxy"] not in PROXIES:
        raise RunError(f"{str(cfg)!r}: settings proxy must be one of {', '.join(PROXIES)}, "
                       f"but got {settings['proxy']!r}")
