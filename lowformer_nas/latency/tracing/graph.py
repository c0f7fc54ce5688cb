"""Dataflow-aware tracing: the kernels a runtime with given traits (``traits.TRAITS``) runs.

``trace.trace_kernels`` records every kernel PyTorch eager executes. Runtimes that rewrite the
graph run fewer: a converter that folds constants evaluates ``x * 0`` and everything computed
only from it once, and dead-code elimination drops kernels whose results never reach the
output (a NAS cell whose output ignores its input becomes a constant). This module records,
next to each kernel, which values it consumed, so those rewrites can be replayed on the
recorded graph; fusing BN/activation (or not) is a rewrite of the kernel list itself.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict
from collections.abc import Sequence

from .kernels import Kernel, kernel_from_row, out_hw
from .trace import AtenArgs, AtenOp, _Recorder, run_recorded

if TYPE_CHECKING:
    from torch import Tensor, nn

VARIANTS = ("", "dce", "fold", "dce+fold", "zero", "dce+zero")
RULES_VERSION = 3  # bumped whenever a rewrite rule changes: cached traces are then stale
# (key, trait), strongest first
_FOLDS = (("fold", "fold_constants"), ("zero", "fold_zero_products"))
_UNFUSED: dict[Kernel, list[Kernel]] = {}  # unfuse() is pure; models share most kernels


class TracedDict(TypedDict):
    """A ``TracedModel`` as JSON stores it (``TracedModel.to_dict``)."""

    input_shape: list[int]
    kernels: list[list[str | int]]  # each a ``Kernel``'s fields in order
    kept: dict[str, list[int]]


@dataclass
class _Value:
    """One tensor value: the kernel that produced it (None: a view, weight or input)."""

    kernel: int | None
    deps: tuple[int, ...]
    const: bool = False
    zero: bool = False
    alias: int | None = None  # the value this one equals (x + 0, views) when folding


def _tensors(obj: object) -> list[Tensor]:
    import torch

    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    return []


def _is_zero_scalar(a: object) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and a == 0


class _GraphRecorder(_Recorder):
    """``_Recorder`` plus the dataflow between values (by tensor identity, weakly held)."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[_Value] = []
        self.ids: dict[int, int] = {}

    def value_of(self, t: Tensor, const: bool = True) -> int:
        """Index of tensor ``t``'s value; tensors never produced by an op are weights."""
        got = self.ids.get(id(t))
        if got is None:
            got = self._new(t, _Value(None, (), const=const))
        return got

    def _new(self, t: Tensor, v: _Value) -> int:
        self.values.append(v)
        idx = len(self.values) - 1
        key = id(t)
        self.ids[key] = idx
        weakref.finalize(t, self.ids.pop, key, None)
        return idx

    def handle(self, func: AtenOp, args: AtenArgs, out: object) -> None:
        name = func.overloadpacket.__name__.rstrip("_")
        before = (len(self.kernels), self.kernels[-1] if self.kernels else None)
        super().handle(func, args, out)
        if len(self.kernels) > before[0]:
            kernel: int | None = len(self.kernels) - 1
        elif self.kernels and self.kernels[-1] is not before[1]:
            kernel = len(self.kernels) - 1  # BN / activation folded into the last kernel
        else:
            kernel = None
        deps = tuple(self.value_of(t) for t in _tensors(list(args)))
        v = _Value(kernel, deps)
        self._fold_rule(name, args, v)
        for t in _tensors(out):
            self._new(t, _Value(v.kernel, v.deps, v.const, v.zero, v.alias))

    def _fold_rule(self, name: str, args: AtenArgs, v: _Value) -> None:
        """What constant folding knows about this op's output."""
        vals = [self.values[d] for d in v.deps]
        if name in ("zeros", "zeros_like", "new_zeros"):
            v.const = v.zero = True
        elif name == "mul" and (any(x.zero for x in vals) or any(map(_is_zero_scalar, args))):
            v.const = v.zero = True
        elif name == "add" and len(args) > 1:
            live = [d for d in v.deps if not self.values[d].zero]
            v.const = all(self.values[d].const for d in live)
            v.zero = not live
            if len(live) == 1 and (len(v.deps) == 2 or _is_zero_scalar(args[1])):
                v.alias = live[0]
        else:
            v.const = bool(vals) and all(x.const for x in vals)
            v.zero = v.kernel is None and len(vals) == 1 and vals[0].zero


def _kept(values: list[_Value], outputs: Sequence[int], n_kernels: int, dce: bool,
          fold: str) -> tuple[int, ...]:
    """Indices of kernels the runtime executes under the graph-level traits. ``fold``: ""
    (none), "fold" (all constants) or "zero" (only products with zero and sums with zero;
    ops fed with zeros still run, unless the whole output no longer depends on the input:
    then the model is one constant, as TFLite's 0.01 ms for such NAS-Bench-201 cells shows)."""
    def folded(v: _Value) -> bool:  # computed at conversion time: its inputs are not needed
        return (fold == "fold" and v.const) or (fold == "zero" and v.zero)

    def needs_run(v: _Value) -> bool:
        return v.kernel is not None and not (folded(v) or (fold and v.alias is not None))

    if not dce:
        return tuple(sorted({v.kernel for v in values if v.kernel is not None and needs_run(v)}))
    if fold == "zero" and all(values[o].const for o in outputs):
        return ()  # the output ignores the input: the converter stores it as a constant
    live = [False] * len(values)
    stack = list(outputs)
    while stack:
        i = stack.pop()
        if live[i]:
            continue
        live[i] = True
        v = values[i]
        if folded(v):
            continue
        stack.extend([v.alias] if fold and v.alias is not None else v.deps)
    return tuple(sorted({v.kernel for i, v in enumerate(values)
                         if v.kernel is not None and live[i] and needs_run(v)}))


def _with_implicit_copies(values: list[_Value], kept: tuple[int, ...]) -> tuple[int, ...]:
    """Add the input copies the recorder put before a conv / linear (``trace._implicit_copy``:
    kernels no value owns) wherever that conv / linear runs."""
    owned = {v.kernel for v in values}
    keep = set(kept)
    return tuple(sorted(keep | {i - 1 for i in keep if i > 0 and i - 1 not in owned}))


def variant_key(traits: Sequence[str]) -> str:
    """The ``TracedModel.kept`` key of a trait set (fold_constants wins over zero products)."""
    fold = next((k for k, t in _FOLDS if t in traits), "")
    return "+".join(k for k in ("dce" if "dead_code_elimination" in traits else "", fold) if k)


def unfuse(kr: Kernel) -> list[Kernel]:
    """A conv / linear with folded BN and activation as the three passes eager runs."""
    if not (kr.bn or kr.act) or kr.op not in ("conv", "pw", "dw", "convT", "linear"):
        return [kr]
    ho, wo = out_hw(kr) if kr.op != "linear" else (kr.h, kr.w)
    out = [kr._replace(bn=False, act="")]
    if kr.bn:
        out.append(Kernel("bn", kr.n, kr.cout, kr.cout, ho, wo))
    if kr.act:
        out.append(Kernel("eltwise", kr.n, kr.cout, kr.cout, ho, wo, act=kr.act))
    return out


@dataclass(frozen=True)
class TracedModel:
    """A model's recorded kernels and, per graph-level trait set, which of them run.
    Plain data (``to_dict`` / ``from_dict``) so traces can be cached in files."""

    input_shape: tuple[int, ...]
    kernels: tuple[Kernel, ...]
    kept: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def kernel_list(self, traits: Sequence[str] = ()) -> list[Kernel]:
        """The kernels a runtime with ``traits`` executes, in order."""
        ks = [self.kernels[i] for i in self.kept[variant_key(traits)]]
        if "fuse_conv_bn_act" in traits:
            return ks
        out: list[Kernel] = []
        for kr in ks:
            got = _UNFUSED.get(kr)
            if got is None:
                got = _UNFUSED[kr] = unfuse(kr)
            out.extend(got)
        return out

    def to_dict(self) -> TracedDict:
        return {"input_shape": list(self.input_shape), "kernels": [list(k) for k in self.kernels],
                "kept": {k: list(v) for k, v in self.kept.items()}}

    @classmethod
    def from_dict(cls, d: TracedDict) -> TracedModel:
        return cls(tuple(d["input_shape"]), tuple(kernel_from_row(k) for k in d["kernels"]),
                   {k: tuple(v) for k, v in d["kept"].items()})


def trace_model(model: nn.Module, input_shape: Sequence[int] = (1, 3, 224, 224)) -> TracedModel:
    """Run ``model`` once on zeros of ``input_shape``; record kernels and their dataflow."""
    import torch

    rec = _GraphRecorder()
    model = model.eval()
    first = next(iter(model.parameters()), None)  # meta-device models trace without compute
    x = torch.zeros(*input_shape, device=first.device if first is not None else "cpu")
    rec.value_of(x, const=False)
    y = run_recorded(model, x, rec)
    outs = [rec.ids[id(t)] for t in _tensors(y) if id(t) in rec.ids]
    kept = {key: _with_implicit_copies(rec.values, _kept(
        rec.values, outs, len(rec.kernels), "dce" in key,
        next((k for k, _ in _FOLDS if k in key), ""))) for key in VARIANTS}
    return TracedModel(tuple(int(s) for s in input_shape), tuple(rec.kernels), kept)
