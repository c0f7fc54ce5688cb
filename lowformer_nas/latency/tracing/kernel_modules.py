"""A small ``nn.Module`` per kernel record, so a kernel can be timed (or exported to ONNX)
in isolation with the same layers, layouts and fusions the full model uses."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .kernels import Kernel

if TYPE_CHECKING:
    from torch import Tensor, nn

_ACT_LAYERS = {"hardswish": "Hardswish", "gelu": "GELU", "relu": "ReLU", "relu6": "ReLU6",
               "silu": "SiLU", "sigmoid": "Sigmoid"}


def _act(name: str) -> nn.Module:
    import torch.nn as nn

    return getattr(nn, _ACT_LAYERS[name])() if name else nn.Identity()


def _conv_module(kr: Kernel) -> nn.Module:
    import torch.nn as nn

    if kr.op == "convT":
        pad = 1 if kr.s == 1 else kr.s // 2
        conv: nn.Module = nn.ConvTranspose2d(kr.cin, kr.cout, kr.k, kr.s, pad, groups=kr.g,
                                       bias=kr.bias)
    else:
        conv = nn.Conv2d(kr.cin, kr.cout, kr.k, kr.s, kr.k // 2, groups=kr.g, bias=kr.bias)
    return nn.Sequential(conv, nn.BatchNorm2d(kr.cout) if kr.bn else nn.Identity(), _act(kr.act))


def _modules() -> tuple[type[nn.Module], ...]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Add(nn.Module):
        other: Tensor  # a buffer

        def __init__(self, shape: tuple[int, ...]) -> None:
            super().__init__()
            self.register_buffer("other", torch.randn(*shape))

        def forward(self, x: Tensor) -> Tensor:
            return x + self.other

    class SDPA(nn.Module):
        """Input (n, heads, 3*d, L) as the qkv conv leaves it; permute + chunk like timm.
        With ``kv`` (keys and values of another length, e.g. PVT's spatially reduced ones)
        the input is the queries (n, heads, Lq, d)."""

        k: Tensor  # buffers, with ``kv``
        v: Tensor

        def __init__(self, kv: tuple[int, ...] | None = None) -> None:
            super().__init__()
            self.cross = kv is not None
            if kv is not None:
                self.register_buffer("k", torch.randn(*kv))
                self.register_buffer("v", torch.randn(*kv))

        def forward(self, x: Tensor) -> Tensor:
            if self.cross:
                return F.scaled_dot_product_attention(x, self.k, self.v)
            q, k, v = x.permute(0, 1, 3, 2).chunk(3, dim=3)
            return F.scaled_dot_product_attention(q, k, v)

    class HeadMerge(nn.Module):
        def __init__(self, h: int, w: int) -> None:
            super().__init__()
            self.h, self.w = h, w

        def forward(self, x: Tensor) -> Tensor:
            n, heads, length, d = x.shape
            return x.permute(0, 1, 3, 2).reshape(n, heads * d, self.h, self.w)

    class ElementCopy(nn.Module):
        """What a copying reshape, ``.contiguous()`` of a permute or a ``cat`` costs: every
        element read and written once, in another order."""

        def forward(self, x: Tensor) -> Tensor:
            return x.t().contiguous() if x.shape[0] > 1 else x.clone()

    class GN(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.norm = nn.GroupNorm(1, c)

        def forward(self, x: Tensor) -> Tensor:
            return self.norm(x)

    class MatMul(nn.Module):
        other: Tensor  # a buffer

        def __init__(self, k: int, n: int) -> None:
            super().__init__()
            self.register_buffer("other", torch.randn(k, n))

        def forward(self, x: Tensor) -> Tensor:
            return x @ self.other

    return Add, SDPA, HeadMerge, GN, ElementCopy, MatMul


def kernel_module(kr: Kernel) -> tuple[nn.Module, Tensor]:
    """(module, example input) executing exactly ``kr``."""
    import torch
    import torch.nn as nn

    Add, SDPA, HeadMerge, GN, ElementCopy, MatMul = _modules()
    shape4 = (kr.n, kr.cin, kr.h, kr.w)
    if kr.op in ("conv", "pw", "dw", "convT"):
        return _conv_module(kr), torch.randn(*shape4)
    if kr.op == "sdpa" and kr.w != kr.h:  # cin=heads, cout=head_dim, h=Lq, w=Lk
        return SDPA((kr.n, kr.cin, kr.w, kr.cout)), torch.randn(kr.n, kr.cin, kr.h, kr.cout)
    if kr.op == "sdpa":
        return SDPA(), torch.randn(kr.n, kr.cin, 3 * kr.cout, kr.h)
    if kr.op == "copy" and kr.cin == kr.cout == 1:  # an element copy: a transposing one
        rows = next((r for r in (64, 32, 16, 8, 4, 2) if kr.h % r == 0), 1)
        return ElementCopy(), torch.randn(rows, kr.n * kr.h * kr.w // rows)
    if kr.op == "copy":
        return HeadMerge(kr.h, kr.w), torch.randn(kr.n, kr.cin, kr.h * kr.w, kr.cout)
    if kr.op == "gn":
        return GN(kr.cin), torch.randn(*shape4)
    if kr.op == "add":
        return Add(shape4), torch.randn(*shape4)
    if kr.op == "pool":
        return nn.AdaptiveAvgPool2d(1), torch.randn(*shape4)
    if kr.op == "maxpool":
        return nn.MaxPool2d(kr.k, kr.s, kr.k // 2), torch.randn(*shape4)
    if kr.op == "avgpool":  # padded windows averaged over their valid part, as timm's are
        return nn.AvgPool2d(kr.k, kr.s, kr.k // 2, count_include_pad=False), \
            torch.randn(*shape4)
    if kr.op == "linear":  # with BN: LeViT's linear + BatchNorm1d, a pass of its own in eager
        return nn.Sequential(nn.Linear(kr.cin, kr.cout, bias=kr.bias),
                             nn.BatchNorm1d(kr.cout) if kr.bn else nn.Identity(),
                             _act(kr.act)), torch.randn(kr.n * kr.h * kr.w, kr.cin)
    if kr.op == "matmul":  # (rows x cin) @ (cin x cout), attention's q @ k^T and attn @ v
        return MatMul(kr.cin, kr.cout), torch.randn(kr.n * kr.h * kr.w, kr.cin)
    if kr.op == "softmax":
        return nn.Softmax(dim=-1), torch.randn(*shape4)
    if kr.op == "ln":
        return nn.Sequential(nn.LayerNorm(kr.cin), _act(kr.act)), \
            torch.randn(kr.n * kr.h * kr.w, kr.cin)
    return _act(kr.act or "relu"), torch.randn(*shape4)
