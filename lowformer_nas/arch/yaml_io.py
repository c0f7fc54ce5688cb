"""Architecture configs as plain dicts and readable YAML that round-trips exactly.

Stage entries list only the fields that mean something in that stage; unknown keys and bad
values are rejected with their key path (``stages[3].attn_stride``).
"""
from __future__ import annotations

import os
from dataclasses import fields
from typing import TypedDict, TypeVar, cast

import yaml

from .._io import atomic_write_text
from ..errors import ConfigError
from .config import NUM_STAGES, ArchConfig, StageConfig, StageValue, stage_fields_for

FORMAT_VERSION = 1
_TOP_KEYS = ("version", "stages", "head_widths", "mbconv_bias")
_STAGE_TYPES = {f.name: (int if f.name in ("width", "depth") else type(f.default))
                for f in fields(StageConfig)}
_T = TypeVar("_T")


class ArchDict(TypedDict):
    """An ``ArchConfig`` as JSON/YAML holds it (``config_to_dict``)."""

    version: int
    stages: list[dict[str, StageValue]]  # per stage: only the fields it uses
    head_widths: list[int]
    mbconv_bias: bool


def config_to_dict(cfg: ArchConfig) -> ArchDict:
    """A JSON/YAML-ready dict; only the fields each stage uses."""
    stages: list[dict[str, StageValue]] = []
    for i, s in enumerate(cfg.stages):
        stages.append({name: getattr(s, name) for name in stage_fields_for(i)})
    return {"version": FORMAT_VERSION, "stages": stages, "head_widths": list(cfg.head_widths),
            "mbconv_bias": cfg.mbconv_bias}


def _coerce(value: object, kind: type[_T], where: str) -> _T:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return cast(_T, float(value))  # kind is float
    if isinstance(value, kind) and isinstance(value, bool) == (kind is bool):
        return value
    article = "an" if kind.__name__[0] in "aeiou" else "a"
    raise ConfigError(f"{where} must be {article} {kind.__name__}, but got {value!r}")


def _stage_from_dict(i: int, d: object) -> StageConfig:
    where = f"stages[{i}]"
    if not isinstance(d, dict):
        raise ConfigError(f"{where} must be a mapping, but got {d!r}")
    allowed = stage_fields_for(i)
    for key in d:
        if key not in allowed:
            raise ConfigError(f"unknown key {where}.{key}; allowed in stage {i}: "
                              f"{', '.join(allowed)}")
    for key in ("width", "depth"):
        if key not in d:
            raise ConfigError(f"{where}.{key} is required")
    kwargs = {k: _coerce(v, _STAGE_TYPES[k], f"{where}.{k}") for k, v in d.items()}
    try:
        return StageConfig(**kwargs)
    except TypeError as e:  # pragma: no cover - guarded by the key check above
        raise ConfigError(f"{where}: {e}") from None


def config_from_dict(d: object, source: str = "config") -> ArchConfig:
    """Inverse of ``config_to_dict``; every problem is a ``ConfigError`` with its key path."""
    if not isinstance(d, dict):
        raise ConfigError(f"{source} must be a mapping with keys {', '.join(_TOP_KEYS)}, "
                          f"but got {type(d).__name__}")
    for key in d:
        if key not in _TOP_KEYS:
            raise ConfigError(f"unknown key {key!r} in {source}; allowed: {', '.join(_TOP_KEYS)}")
    if d.get("version", FORMAT_VERSION) != FORMAT_VERSION:
        raise ConfigError(f"version must be {FORMAT_VERSION} in {source}, but got {d['version']!r}")
    stages = d.get("stages")
    if not isinstance(stages, list) or len(stages) != NUM_STAGES:
        raise ConfigError(f"stages must be a list of {NUM_STAGES} stage mappings in {source}, "
                          f"but got {stages!r:.80}")
    head = d.get("head_widths", [1536, 1600])
    if not isinstance(head, (list, tuple)) or len(head) != 2:
        raise ConfigError(f"head_widths must be a list of two ints in {source}, but got {head!r}")
    try:
        return ArchConfig(
            stages=tuple(_stage_from_dict(i, s) for i, s in enumerate(stages)),
            head_widths=(_coerce(head[0], int, "head_widths[]"),
                         _coerce(head[1], int, "head_widths[]")),
            mbconv_bias=_coerce(d.get("mbconv_bias", True), bool, "mbconv_bias"))
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def config_to_yaml(cfg: ArchConfig, header: str | None = None) -> str:
    """YAML text; ``header`` lines become leading comments (provenance, figures)."""
    body = yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None)
    lines = [f"# {line}" if line else "#" for line in (header or "").splitlines()]
    return "\n".join(lines + [body]) if lines else body


def save_config(cfg: ArchConfig, path: str | os.PathLike[str],
                header: str | None = None) -> None:
    """Write ``cfg`` as YAML, atomically."""
    atomic_write_text(path, config_to_yaml(cfg, header))


def load_config(path: str | os.PathLike[str]) -> ArchConfig:
    """Read a YAML file written by ``save_config`` (or by hand)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"architecture file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read architecture file {str(path)!r}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{str(path)!r} is not valid YAML{at}") from None
    return config_from_dict(data, source=str(path))
