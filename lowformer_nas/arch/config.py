"""The one description of a LowFormer architecture: frozen, hashable, validated on construction.

A config is data, not code: the builder (``build_model``), the analytic latency path and the
search space all read the same ``ArchConfig``. Input resolution and class count are build-time
arguments, not part of the architecture.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, TypeAlias, TypedDict, cast

from ..errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Unpack

NUM_STAGES = 5
ATTN_STRIDES = (1, 2, 4)
MAX_DEPTH = 16
MIN_DEPTH = (0, 1, 1, 0, 0)  # stages 1-2 need their stride-2 entry block (the official "b2" bug)
WIDTH_MULTIPLE = 4
MAX_WIDTH = 4096
EXPAND_RANGE = (1.0, 8.0)
# per-stage fields that only make sense in some stages (stage index -> allowed)
ENTRY_STAGES = (1, 2, 3, 4)
ATTN_STAGES = (3, 4)


@dataclass(frozen=True)
class StageConfig:
    """One of the five stages.

    Stage 0 is the stem conv plus ``depth`` stride-1 local blocks; stages 1-2 hold ``depth``
    local blocks, the first with stride 2; stages 3-4 hold one stride-2 entry block then
    ``depth`` LowFormer blocks (attention, MLP, local MBConv).
    """

    width: int
    depth: int
    fused: bool = True  # stride-1 local blocks: fused MBConv (True) or unfused MBConv
    expand: float = 4.0  # expansion of the stride-1 local blocks
    entry_fused: bool = True  # the stride-2 entry block (stages 1-4)
    entry_expand: float = 6.0
    attention: bool = False  # stages 3-4: the "Lowtention" branch
    attn_stride: int = 1  # attention downsampling factor
    attn_fused_proj: bool = True  # out projection folded into the dense transposed conv
    mlp: bool = False  # stages 3-4: GroupNorm + MLP branch (GroupNorm before attention too)
    mlp_ratio: int = 4


StageValue: TypeAlias = "int | float | bool"  # the value of one ``StageConfig`` field


class StageFields(TypedDict, total=False):
    """``StageConfig`` fields by name (keyword changes of ``replace_stage``)."""

    width: int
    depth: int
    fused: bool
    expand: float
    entry_fused: bool
    entry_expand: float
    attention: bool
    attn_stride: int
    attn_fused_proj: bool
    mlp: bool
    mlp_ratio: int


# field -> default (``dataclasses.MISSING`` for width and depth, which have none)
STAGE_DEFAULTS: dict[str, object] = {f.name: f.default for f in fields(StageConfig)}
_ENTRY_FIELDS = ("entry_fused", "entry_expand")
_ATTN_FIELDS = ("attention", "attn_stride", "attn_fused_proj", "mlp", "mlp_ratio")


def stage_fields_for(index: int) -> tuple[str, ...]:
    """The fields that mean something in stage ``index`` (the others must keep defaults)."""
    names = ["width", "depth", "fused", "expand"]
    if index in ENTRY_STAGES:
        names += _ENTRY_FIELDS
    if index in ATTN_STAGES:
        names += _ATTN_FIELDS
    return tuple(names)


@dataclass(frozen=True)
class ArchConfig:
    """A whole LowFormer: five stages, the classifier head and the bias rule of unfused blocks."""

    stages: tuple[StageConfig, ...]
    head_widths: tuple[int, int] = (1536, 1600)
    # unfused MBConv blocks outside LowFormer blocks: bias in the expand and depthwise convs
    # (the spec's form); the official code's unfused path (fastit=False) has none.
    mbconv_bias: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(self.stages))
        object.__setattr__(self, "head_widths", tuple(self.head_widths))
        validate(self)
        # fields that build nothing (e.g. attn_stride without attention) take their defaults,
        # so two configs compare equal exactly when they build the same network
        object.__setattr__(self, "stages", tuple(
            _canonical(i, s) for i, s in enumerate(self.stages)))
        if not _has_unfused_plain_block(self.stages):
            object.__setattr__(self, "mbconv_bias", True)

    @property
    def widths(self) -> tuple[int, ...]:
        return tuple(s.width for s in self.stages)

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(s.depth for s in self.stages)

    def replace_stage(self, index: int, **changes: Unpack[StageFields]) -> ArchConfig:
        """A copy with stage ``index`` changed (validated like any new config)."""
        stages = list(self.stages)
        stages[index] = replace(stages[index], **changes)
        return replace(self, stages=tuple(stages))


def relevant_fields(index: int, stage: StageConfig) -> tuple[str, ...]:
    """The fields of stage ``index`` that shape the network, given its depth and switches."""
    names = [n for n in stage_fields_for(index)
             if n not in ("fused", "expand") or stage.depth > (1 if index in (1, 2) else 0)]
    if index in ATTN_STAGES:
        if stage.depth == 0:
            names = [n for n in names if n not in _ATTN_FIELDS]
        if not stage.attention:
            names = [n for n in names if n not in ("attn_stride", "attn_fused_proj")]
        if not stage.mlp:
            names = [n for n in names if n != "mlp_ratio"]
    return tuple(names)


def _canonical(index: int, stage: StageConfig) -> StageConfig:
    keep = relevant_fields(index, stage)
    changes = {n: d for n, d in STAGE_DEFAULTS.items()
               if n not in keep and n not in ("width", "depth")}
    changes.setdefault("expand", float(stage.expand))
    changes.setdefault("entry_expand", float(stage.entry_expand))
    return replace(stage, **cast(StageFields, changes))  # keys: StageConfig's own fields


def _has_unfused_plain_block(stages: tuple[StageConfig, ...]) -> bool:
    """Whether any unfused MBConv outside LowFormer blocks exists (``mbconv_bias`` matters)."""
    for i, s in enumerate(stages):
        keep = relevant_fields(i, s)
        if ("fused" in keep and i <= 2 and not s.fused) or (i > 0 and not s.entry_fused):
            return True
    return False


def _fail(rule: str, where: str, value: object) -> None:
    raise ConfigError(f"`{rule}` must hold for {where}, but got {value!r}")


def _check_type(value: object, kind: type, where: str) -> None:
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok:
        raise ConfigError(f"{where} must be of type {kind.__name__}, but got {value!r}")


def _validate_stage(i: int, s: StageConfig) -> None:
    where = f"stage {i}"
    for f in fields(StageConfig):
        kind = type(f.default) if f.name not in ("width", "depth") else int
        _check_type(getattr(s, f.name), kind, f"{where}.{f.name}")
    if not (WIDTH_MULTIPLE <= s.width <= MAX_WIDTH and s.width % WIDTH_MULTIPLE == 0):
        _fail(f"width % {WIDTH_MULTIPLE} == 0 and {WIDTH_MULTIPLE} <= width <= {MAX_WIDTH}",
              where, s.width)
    if not MIN_DEPTH[i] <= s.depth <= MAX_DEPTH:
        _fail(f"{MIN_DEPTH[i]} <= depth <= {MAX_DEPTH}", where, s.depth)
    lo, hi = EXPAND_RANGE
    for name in ("expand", "entry_expand"):
        if not lo <= getattr(s, name) <= hi:
            _fail(f"{lo:g} <= {name} <= {hi:g}", where, getattr(s, name))
    if s.attn_stride not in ATTN_STRIDES:
        _fail(f"attn_stride in {ATTN_STRIDES}", where, s.attn_stride)
    if not 1 <= s.mlp_ratio <= 8:
        _fail("1 <= mlp_ratio <= 8", where, s.mlp_ratio)
    allowed = stage_fields_for(i)
    for name, default in STAGE_DEFAULTS.items():
        if name not in allowed and getattr(s, name) != default:
            raise ConfigError(
                f"{where}.{name} is not used in stage {i} (allowed there: {', '.join(allowed)}); "
                f"leave it at {default!r}, but got {getattr(s, name)!r}")


def validate(cfg: ArchConfig) -> None:
    """Raise ``ConfigError`` naming the field, the value and the rule for the first problem."""
    if len(cfg.stages) != NUM_STAGES:
        _fail(f"len(stages) == {NUM_STAGES}", "the config", len(cfg.stages))
    for i, s in enumerate(cfg.stages):
        if not isinstance(s, StageConfig):
            raise ConfigError(f"stage {i} must be a StageConfig, but got {type(s).__name__}")
        _validate_stage(i, s)
    if len(cfg.head_widths) != 2:
        _fail("len(head_widths) == 2", "the head", cfg.head_widths)
    for w in cfg.head_widths:
        _check_type(w, int, "head_widths")
        if not 1 <= w <= 16384:
            _fail("1 <= head width <= 16384", "the head", w)
    _check_type(cfg.mbconv_bias, bool, "mbconv_bias")


def official_stage(width: int, depth: int, *, index: int, entry_expand: float = 6.0,
                   expand: float = 4.0, attention: bool = True, mlp: bool = True) -> StageConfig:
    """A stage as the official fused (``fastit``) models build it."""
    if index == 0:
        return StageConfig(width=width, depth=depth, fused=True, expand=expand)
    if index in (1, 2):
        return StageConfig(width=width, depth=depth, fused=True, expand=4.0,
                           entry_fused=True, entry_expand=entry_expand)
    return StageConfig(width=width, depth=depth, fused=width < 256, expand=4.0,
                       entry_fused=True, entry_expand=entry_expand, attention=attention,
                       attn_stride=2 if index == 3 else 1, mlp=mlp and attention, mlp_ratio=4)
