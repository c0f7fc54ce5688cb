"""Kernels of any torch model, recorded while it runs (so timm baselines can be predicted too).

A ``TorchDispatchMode`` sees every aten op with its real shapes. BatchNorm and activations
that consume the output of the kernel just before them are folded into it, like the runtime's
conv+BN+act fusion, giving the same records as the analytic path in ``kernels``.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias
from collections.abc import Mapping, Sequence

from .kernels import Kernel

if TYPE_CHECKING:
    from torch import Tensor, nn
    from torch._ops import OpOverload

# An aten op's positional arguments as the dispatcher passes them: tensors, ints, int lists,
# floats, bools or None, by the op's schema; read by position, hence Any.
AtenArgs = Sequence[Any]
AtenOp: TypeAlias = "OpOverload[..., object]"  # an aten op overload (``aten.add.Tensor``)

_ACTS = {"hardswish": "hardswish", "gelu": "gelu", "relu": "relu", "silu": "silu",
         "hardtanh": "relu6", "sigmoid": "sigmoid"}
_FOLD_INTO = ("conv", "pw", "dw", "convT", "linear", "ln", "gn")
_IGNORED = {"view", "reshape", "permute", "chunk", "split", "flatten", "alias", "dropout",
            "expand", "slice", "select", "t", "transpose", "unsqueeze", "squeeze", "contiguous",
            "zeros", "empty", "detach", "_unsafe_view", "unbind", "split_with_sizes",
            "identity", "lift_fresh", "size", "sym_size", "to", "_to_copy"}


def _arg(args: AtenArgs, i: int, default: object) -> Any:
    return args[i] if len(args) > i and args[i] is not None else default


def _pair(v: int | list[int] | tuple[int, ...]) -> int:
    return int(v[0]) if isinstance(v, (list, tuple)) else int(v)


def square_size(kh: int, kw: int) -> int:
    """The square kernel size a ``kh x kw`` conv is recorded as: itself if square, else the
    smallest odd size of at least as many taps, 3 or more. GhostNetV2's 1x5 / 5x1 depthwise
    convs run at a 3x3's speed here (0.07 ms at 120 channels, 14x14), not on torch's per-group
    path for 1x1 depthwise convs (0.29 ms), which their width alone had sent them to."""
    if kh == kw:
        return kh
    k = max(3, math.ceil(math.sqrt(kh * kw)))
    return k if k % 2 else k + 1


def _conv_kernel(args: AtenArgs, transposed: bool) -> Kernel:
    x, wt = args[0], args[1]
    n, cin, h, w = x.shape
    stride = _pair(_arg(args, 3, 1))
    groups = int(_arg(args, 6, 1))  # conv2d and conv_transpose2d both keep groups at 6
    k = square_size(int(wt.shape[-2]), int(wt.shape[-1]))
    bias = _arg(args, 2, None) is not None
    if transposed:
        return Kernel("convT", n, cin, int(wt.shape[1]) * groups, h, w, k, stride, groups,
                      bias=bias)
    cout = int(wt.shape[0])
    if groups > 1 and groups == cin == cout:
        op = "dw"
    else:
        op = "pw" if k == 1 and groups == 1 else "conv"
    return Kernel(op, n, cin, cout, h, w, k, stride, groups, bias=bias)


def _spatial(x: Tensor) -> tuple[int, int, int, int]:
    """(n, c, h, w) of a tensor of rank 2-4 (rank 2 -> h = w = 1)."""
    shape = tuple(int(s) for s in x.shape)
    if len(shape) == 4:
        return shape
    if len(shape) == 3:
        return shape[0], shape[1], shape[2], 1
    if len(shape) == 2:
        return shape[0], shape[1], 1, 1
    n = 1
    for s in shape:
        n *= s
    return 1, n, 1, 1


def _compute_kernel(name: str, args: AtenArgs) -> Kernel | None:
    """Convolutions, attention and matrix products, or None for any other op."""
    if name in ("conv2d", "convolution") and not (name == "convolution" and args[6]):
        return _conv_kernel(args, False)
    if name in ("conv_transpose2d", "convolution"):
        a = list(args)
        if name == "convolution":  # (x, w, b, stride, pad, dil, transposed, out_pad, groups)
            a = [a[0], a[1], a[2], a[3], a[4], a[7], a[8]]
        return _conv_kernel(a, True)
    if name == "scaled_dot_product_attention":
        q, k = args[0], args[1]
        return Kernel("sdpa", int(q.shape[0]), int(q.shape[1]), int(q.shape[-1]),
                      int(q.shape[-2]), int(k.shape[-2]))
    if name in ("linear", "addmm", "mm"):
        x = args[1] if name == "addmm" else args[0]
        wt = args[1] if name == "linear" else (args[2] if name == "addmm" else args[1])
        n = int(x.shape[0])
        rows = int(x.numel() // (x.shape[-1] * n))
        cout = int(wt.shape[0]) if name == "linear" else int(wt.shape[-1])
        return Kernel("linear", n, int(x.shape[-1]), cout, rows, 1,
                      bias=(name == "addmm" or _arg(args, 2, None) is not None))
    if name in ("matmul", "bmm"):
        a, b = args[0], args[1]
        return Kernel("matmul", 1, int(a.shape[-1]), int(b.shape[-1]), int(a.numel() //
                                                                           a.shape[-1]), 1)
    return None


def _memory_pass(name: str, args: AtenArgs, out: Tensor) -> Kernel | None:
    """Ops that only move memory: copying reshapes (attention's head merge, or any other),
    ``.contiguous()`` of a permute, ``cat``, upsampling; None if ``name`` is none of them or
    makes no copy (a view)."""
    x: Any = args[0] if args else None  # a tensor when the op has arguments
    if name == "reshape" and x.numel() > 0 and out.data_ptr() != x.data_ptr():
        if x.dim() == 4 and out.dim() == 4 and int(out.shape[1]) == int(
                x.shape[1] * x.shape[2]) and int(out.shape[2] * out.shape[3]) == int(x.shape[3]):
            n, heads, d, _ = (int(s) for s in x.shape)  # attention's head merge:
            return Kernel("copy", n, heads, d, int(out.shape[-2]), int(out.shape[-1]))
        return Kernel("copy", 1, 1, 1, int(x.numel()), 1)  # any other copying reshape
    if name in ("clone", "contiguous", "cat") and out.numel() > 0 and (
            name == "cat" or out.data_ptr() != x.data_ptr()):
        return Kernel("copy", 1, 1, 1, int(out.numel()), 1)  # .contiguous() of a permute, cat
    if name.startswith("upsample"):
        n, c, h, w = _spatial(out)  # one pass writing the (larger) output
        return Kernel("eltwise", n, c, c, h, w)
    return None


def _record(name: str, args: AtenArgs, out: object) -> Kernel | None:
    """A kernel for a non-fusable op, or None for views and bookkeeping."""
    import torch

    kr = _compute_kernel(name, args)
    if kr is not None or not isinstance(out, torch.Tensor):
        return kr
    if name in ("reshape", "clone", "contiguous", "cat") or name.startswith("upsample"):
        return _memory_pass(name, args, out)
    if name in _IGNORED or not isinstance(args[0] if args else None, torch.Tensor):
        return None
    n, c, h, w = _spatial(args[0])
    if name in ("group_norm", "native_group_norm"):
        return Kernel("gn", n, c, c, h, w)
    if name in ("layer_norm", "native_layer_norm"):  # normalises the last dim, per position
        c = int(args[0].shape[-1])
        return Kernel("ln", n, c, c, int(args[0].numel()) // (n * c), 1)
    if name == "add" and len(args) > 1 and isinstance(args[1], torch.Tensor):
        return Kernel("add", n, c, c, h, w)
    if name == "max_pool2d" or (name == "avg_pool2d" and tuple(out.shape[-2:]) != (1, 1)):
        # windowed: torch's eager max pool is slow (3x3 s2 at 64x112x112: 6 ms, a ResNet
        # stem's sixth); average pools with a window: PoolFormer's token mixer, NB201's edges
        k, s = _pair(_arg(args, 1, 1)), _pair(_arg(args, 2, None) or _arg(args, 1, 1))
        return Kernel("maxpool" if name == "max_pool2d" else "avgpool", n, c, c, h, w, k, s)
    if name in ("adaptive_avg_pool2d", "mean", "avg_pool2d"):
        return Kernel("pool", n, c, c, h, w)
    if name in ("softmax", "_softmax"):
        return Kernel("softmax", n, c, c, h, w)
    return Kernel("eltwise", n, c, c, h, w)


def _implicit_copy(kr: Kernel, x: object) -> Kernel | None:
    """The element copy torch's CPU kernels make of a strided input view, which a kernel timed
    on a contiguous input does not pay: a conv copies a transposed view unless its strides are
    exactly channels-last (PVT's ``x.transpose(1, 2).view(B, C, H, W)`` at batch 1 into a
    depthwise conv: 6.5 of its 31 ms here); a linear layer with bias (addmm) copies a
    transposed input, one without (mm, LeViT's) reads it in place (checked with torch's
    profiler; a full conv copies channels-last input too, not recorded: LowFormer's analytic
    kernel list, which must equal its trace, leaves it out at batch > 1)."""
    import torch

    if kr.op not in ("conv", "pw", "dw", "linear") or not isinstance(x, torch.Tensor):
        return None
    if x.is_contiguous() or (kr.op == "linear" and not kr.bias):
        return None
    if x.dim() == 4 and kr.op != "linear":
        n, c, h, w = x.shape
        if tuple(x.stride()) == (c * h * w, 1, w * c, c):
            return None  # channels-last as a conv writes it: read in place
    return Kernel("copy", 1, 1, 1, int(x.numel()), 1)


class OpHandler(Protocol):
    """What ``run_recorded`` passes every aten op to, with its arguments and output."""

    def handle(self, func: AtenOp, args: AtenArgs, out: object) -> None: ...


class _Recorder:
    """Dispatch-mode body: records kernels and folds BN/activations into their producer."""

    def __init__(self) -> None:
        self.kernels: list[Kernel] = []
        self.last_out: object = None

    def handle(self, func: AtenOp, args: AtenArgs, out: object) -> None:
        name = func.overloadpacket.__name__.rstrip("_")
        x = args[0] if args else None
        foldable = self.kernels and x is not None and x is self.last_out \
            and self.kernels[-1].op in _FOLD_INTO
        if name in ("batch_norm", "_native_batch_norm_legit_no_training") and foldable:
            self.kernels[-1] = self.kernels[-1]._replace(bn=True)
        elif name in _ACTS and foldable and not self.kernels[-1].act:
            self.kernels[-1] = self.kernels[-1]._replace(act=_ACTS[name])
        else:
            kr = _record(name, args, out)
            if kr is None:
                return
            copy = _implicit_copy(kr, x)
            if copy is not None:
                self.kernels.append(copy)
            self.kernels.append(kr)
        self.last_out = out


def run_recorded(model: nn.Module, x: Tensor, rec: OpHandler) -> object:
    """Run ``model(x)`` in inference mode with every aten op passed to ``rec.handle``."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Mode(TorchDispatchMode):
        def __torch_dispatch__(self, func: AtenOp, types: Sequence[type],
                               args: AtenArgs = (),
                               kwargs: Mapping[str, object] | None = None) -> object:
            out = func(*args, **(kwargs or {}))
            rec.handle(func, args, out)
            return out

    with torch.inference_mode(), _Mode():
        return model(x)


def trace_kernels(model: nn.Module, input_shape: Sequence[int] = (1, 3, 224, 224)) -> list[Kernel]:
    """Run ``model`` once on zeros of ``input_shape`` and return its kernels in order."""
    import torch

    rec = _Recorder()
    run_recorded(model.eval(), torch.zeros(*input_shape), rec)
    return rec.kernels
