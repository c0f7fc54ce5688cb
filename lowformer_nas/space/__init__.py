"""Search spaces: categorical choices per stage field, read from YAML, yielding valid configs only.

A space is flat named dimensions (``stage3.attn_stride``, ``head_widths``, ...) so that Optuna
and Ray Tune see plain categorical parameters; ``build(params)`` turns one choice per
dimension into an ``ArchConfig`` (fields that build nothing are canonicalised away).
"""
from __future__ import annotations

import itertools
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, cast
from collections.abc import Mapping, Sequence

import yaml

from ..arch.config import (NUM_STAGES, STAGE_DEFAULTS, ArchConfig, StageConfig, StageFields,
                           StageValue, relevant_fields, stage_fields_for)
from ..errors import ConfigError, SpaceError, UnknownNameError

SPACES_DIR = Path(__file__).resolve().parents[2] / "search_spaces"
_TOP_KEYS = ("name", "description", "resolution", "stages", "head_widths", "mbconv_bias",
             "search_defaults")
# what a space may set for searches over it (the proxy that exercises its choices); the types
# are checked here, the values by the search's own settings
SEARCH_DEFAULT_TYPES = {"proxy": str, "proxy_resolution": int, "zc_score": str,
                        "train_score": str, "epochs": int, "max_train": int, "top_k": int}
ParamValue: TypeAlias = "str | int | float | bool"  # one choice: a stage field's value, a head key
StageChoices: TypeAlias = "tuple[tuple[str, tuple[StageValue, ...]], ...]"  # (field, choices)


def head_key(widths: Sequence[int]) -> str:
    return "x".join(str(w) for w in widths)


@dataclass(frozen=True)
class SearchSpace:
    """Choices per field; ``dimensions()`` is the flat view the optimisers see."""

    name: str
    stages: tuple[StageChoices, ...]  # per stage: (field, choices)
    head_widths: tuple[tuple[int, int], ...]
    mbconv_bias: tuple[bool, ...] = (True,)
    resolution: int = 224
    description: str = ""
    # (setting, value) a search starts from; each value's type is its setting's
    # (SEARCH_DEFAULT_TYPES), which ``SearchSettings`` reads by name
    search_defaults: tuple[tuple[str, Any], ...] = ()

    def dimensions(self) -> dict[str, list[ParamValue]]:
        """Ordered ``param name -> choices`` (all categorical)."""
        dims: dict[str, list[ParamValue]] = {}
        for i, stage in enumerate(self.stages):
            for field, choices in stage:
                dims[f"stage{i}.{field}"] = list(choices)
        dims["head_widths"] = [head_key(h) for h in self.head_widths]
        dims["mbconv_bias"] = list(self.mbconv_bias)
        return dims

    def build(self, params: Mapping[str, object]) -> ArchConfig:
        """One value per dimension -> a valid, canonical ``ArchConfig``."""
        missing = [k for k in self.dimensions() if k not in params]
        if missing:
            raise SpaceError(f"space {self.name!r}: missing parameters {', '.join(missing)}")
        stages = []
        for i, stage in enumerate(self.stages):
            fields = {f: params[f"stage{i}.{f}"] for f, _ in stage}  # ArchConfig checks values
            stages.append(StageConfig(**cast(StageFields, fields)))
        try:
            head = tuple(int(w) for w in str(params["head_widths"]).split("x"))
        except ValueError:
            raise SpaceError(f"space {self.name!r}: head_widths must be 'WIDTHxWIDTH' (e.g. "
                             f"{head_key(self.head_widths[0])}), but got "
                             f"{params['head_widths']!r}") from None
        return ArchConfig(stages=tuple(stages), head_widths=head,  # type: ignore[arg-type]
                          mbconv_bias=bool(params["mbconv_bias"]))

    def sample(self, rng: random.Random | int) -> ArchConfig:
        """A uniformly drawn point (a ``random.Random`` or an int seed)."""
        rng = random.Random(rng) if isinstance(rng, int) else rng
        return self.build({k: rng.choice(v) for k, v in self.dimensions().items()})

    def to_params(self, cfg: ArchConfig) -> dict[str, ParamValue]:
        """Inverse of ``build`` for configs in the space (irrelevant fields take a legal choice)."""
        params: dict[str, ParamValue] = {}
        for i, (stage, choices) in enumerate(zip(cfg.stages, self.stages)):
            keep = relevant_fields(i, stage)
            for field, options in choices:
                value = getattr(stage, field)
                params[f"stage{i}.{field}"] = value if field in keep or value in options \
                    else options[0]
        params["head_widths"] = head_key(cfg.head_widths)
        params["mbconv_bias"] = cfg.mbconv_bias
        return params

    def contains(self, cfg: ArchConfig) -> bool:
        """Whether ``cfg`` is a point of this space (only fields that build something count)."""
        if cfg.head_widths not in self.head_widths or cfg.mbconv_bias not in self.mbconv_bias:
            return False
        for i, (stage, choices) in enumerate(zip(cfg.stages, self.stages)):
            options = dict(choices)
            for field in relevant_fields(i, stage):
                if getattr(stage, field) not in options.get(field, (STAGE_DEFAULTS[field],)):
                    return False
        return True

    def size(self) -> int:
        """Number of distinct networks in the space (exact, canonical configs per stage)."""
        total = len(self.head_widths) * len(self.mbconv_bias)
        for i, stage in enumerate(self.stages):
            total *= len(_distinct_stages(i, stage))
        return total


def _distinct_stages(index: int, stage: StageChoices) -> set[tuple[tuple[str, StageValue], ...]]:
    names = [f for f, _ in stage]
    out: set[tuple[tuple[str, StageValue], ...]] = set()
    for combo in itertools.product(*(c for _, c in stage)):
        s = StageConfig(**cast(StageFields, dict(zip(names, combo))))
        keep = relevant_fields(index, s)
        out.add(tuple((n, getattr(s, n)) for n in keep))
    return out


def _parse_stage(i: int, d: object, where: str) -> StageChoices:
    if not isinstance(d, dict):
        raise SpaceError(f"{where}.stages[{i}] must be a mapping of field -> list of choices")
    allowed = stage_fields_for(i)
    out = []
    for field, choices in d.items():
        path = f"{where}.stages[{i}].{field}"
        if field not in allowed:
            raise SpaceError(f"unknown key {path}; allowed in stage {i}: {', '.join(allowed)}")
        choices = choices if isinstance(choices, list) else [choices]
        if not choices:
            raise SpaceError(f"{path} must list at least one choice")
        out.append((field, tuple(float(c) if field.endswith("expand") and isinstance(c, int)
                                 and not isinstance(c, bool) else c for c in choices)))
    for field in ("width", "depth"):
        if field not in d:
            raise SpaceError(f"{where}.stages[{i}].{field} is required")
    return tuple(out)


def _build_error(space: SearchSpace, params: Mapping[str, object]) -> str:
    try:
        space.build(params)
    except (ConfigError, ValueError, TypeError) as e:
        return str(e)
    return ""


def _check_choices(space: SearchSpace, where: str) -> None:
    """Every single choice must make a valid config with otherwise valid choices."""
    dims = space.dimensions()
    base = {k: v[0] for k, v in dims.items()}
    for rnd in range(2):  # the first pass moves ``base`` onto valid values
        for key, choices in dims.items():
            errors = {v: _build_error(space, {**base, key: v}) for v in choices}
            good = [v for v, e in errors.items() if not e]
            if not good:
                continue  # another dimension's base value is the culprit
            base[key] = good[0]
            for value, err in errors.items():
                if err and rnd:
                    raise SpaceError(f"{where}: choice {key}={value!r} is invalid: {err}")
    err = _build_error(space, base)
    if err:
        raise SpaceError(f"{where}: no valid combination of choices: {err}")


def space_from_dict(d: object, where: str = "space") -> SearchSpace:
    """Parse and check a space mapping; every problem names its key path."""
    if not isinstance(d, dict):
        raise SpaceError(f"{where} must be a mapping with keys {', '.join(_TOP_KEYS)}")
    for key in d:
        if key not in _TOP_KEYS:
            raise SpaceError(f"unknown key {key!r} in {where}; allowed: {', '.join(_TOP_KEYS)}")
    stages = d.get("stages")
    if not isinstance(stages, list) or len(stages) != NUM_STAGES:
        raise SpaceError(f"{where}.stages must be a list of {NUM_STAGES} stage mappings")
    heads = d.get("head_widths", [[1536, 1600]])
    if not (isinstance(heads, list) and heads and all(
            isinstance(h, list) and len(h) == 2 and all(isinstance(w, int) for w in h)
            for h in heads)):
        raise SpaceError(f"{where}.head_widths must be a list of [int, int] pairs, got {heads!r}")
    resolution = d.get("resolution", 224)
    if not isinstance(resolution, int) or not 32 <= resolution <= 1024:
        raise SpaceError(f"{where}.resolution must be an int in [32, 1024], got {resolution!r}")
    bias = d.get("mbconv_bias", [True])
    space = SearchSpace(
        search_defaults=_search_defaults(d.get("search_defaults", {}), where),
        name=str(d.get("name", where)), description=str(d.get("description", "")),
        stages=tuple(_parse_stage(i, s, where) for i, s in enumerate(stages)),
        head_widths=tuple(tuple(h) for h in heads),
        mbconv_bias=tuple(bias if isinstance(bias, list) else [bias]), resolution=resolution)
    _check_choices(space, where)
    return space


def _search_defaults(d: object, where: str) -> tuple[tuple[str, Any], ...]:
    if not isinstance(d, dict):
        raise SpaceError(f"{where}.search_defaults must be a mapping of "
                         f"{', '.join(SEARCH_DEFAULT_TYPES)}, got {d!r}")
    for key, value in d.items():
        kind = SEARCH_DEFAULT_TYPES.get(key)
        if kind is None:
            raise SpaceError(f"unknown key {key!r} in {where}.search_defaults; allowed: "
                             f"{', '.join(SEARCH_DEFAULT_TYPES)}")
        if not isinstance(value, kind) or isinstance(value, bool):
            raise SpaceError(f"{where}.search_defaults.{key} must be {kind.__name__}, "
                             f"got {value!r}")
    return tuple(d.items())


def list_spaces() -> list[str]:
    """Names of the spaces shipped in ``search_spaces/``."""
    return sorted(p.stem for p in SPACES_DIR.glob("*.yaml"))


def load_space(name_or_path: str | os.PathLike[str] = "lowformer") -> SearchSpace:
    """A shipped space by name, or a YAML file."""
    text = str(name_or_path)
    path = SPACES_DIR / f"{text}.yaml" if text in list_spaces() else Path(text)
    if not path.is_file():
        raise UnknownNameError(f"unknown search space {text!r}: not a file nor one of "
                               f"{', '.join(list_spaces())}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise SpaceError(f"search space {str(path)!r} is not valid YAML") from None
    return space_from_dict(data, where=str(path) if path.parent != SPACES_DIR else path.stem)
