"""Kernel records and their analytic enumeration straight from an ``ArchConfig``.

A *kernel* is one unit of work the runtime executes after its usual fusions: a convolution
carries its BatchNorm and activation as attributes (``bn``, ``act``) instead of being three
records. The analytic path mirrors ``arch.builder`` exactly (tested against ``trace``), needs no
torch, and is cached per block so the search can predict thousands of configs per second.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from ...arch.config import ArchConfig, StageConfig

NUM_CLASSES = 1000
HSWISH, GELU = "hardswish", "gelu"


class Kernel(NamedTuple):
    """One kernel. ``h, w`` are input sizes; for ``sdpa``: cin=heads, cout=head_dim, h=Lq, w=Lk;
    for ``copy``: cin=heads, cout=head_dim, h x w the attention map."""

    op: str  # conv | pw | dw | convT | sdpa | copy | gn | add | pool | maxpool | avgpool | ...
    n: int
    cin: int
    cout: int
    h: int
    w: int
    k: int = 1
    s: int = 1
    g: int = 1
    bn: bool = False
    act: str = ""
    bias: bool = False


_DEFAULTS = tuple(Kernel._field_defaults.values())  # of the fields after the first six


def kernel_from_row(row: Sequence[str | int]) -> Kernel:
    """A ``Kernel`` from its JSON form (``list(kernel)``: its fields in order), as
    ``Kernel(*row)`` builds it: trailing fields left out take their defaults."""
    missing = len(Kernel._fields) - len(row)
    return Kernel._make([*row, *_DEFAULTS[len(_DEFAULTS) - missing:]] if 0 < missing <=
                        len(_DEFAULTS) else row)


WINDOW_POOLS = ("maxpool", "avgpool")  # k x k windows at stride s, padding k // 2


def conv_out(size: int, k: int, s: int) -> int:
    """Output size of a same-padded conv (padding k // 2), as torch computes it."""
    return (size + 2 * (k // 2) - k) // s + 1


def convt_out(size: int, k: int, s: int) -> int:
    """Output size of the attention's transposed conv (padding 1 for s=1 else s // 2)."""
    pad = 1 if s == 1 else s // 2
    return (size - 1) * s - 2 * pad + k


def out_hw(kr: Kernel) -> tuple[int, int]:
    if kr.op in ("conv", "pw", "dw") + WINDOW_POOLS:
        return conv_out(kr.h, kr.k, kr.s), conv_out(kr.w, kr.k, kr.s)
    if kr.op == "convT":
        return convt_out(kr.h, kr.k, kr.s), convt_out(kr.w, kr.k, kr.s)
    if kr.op == "pool":
        return 1, 1
    return kr.h, kr.w


def _conv(cin: int, cout: int, h: int, k: int, s: int, n: int, *, bn: bool = False,
          act: str = "", bias: bool = False, groups: int = 1) -> Kernel:
    if groups > 1:
        op = "dw"
    else:
        op = "pw" if k == 1 else "conv"
    return Kernel(op, n, cin, cout, h, h, k, s, groups, bn, act, bias)


def local_block(cin: int, cout: int, h: int, stride: int, expand: float, fused: bool,
                bias: bool, residual: bool, n: int) -> list[Kernel]:
    """FusedMBConv (3x3 conv+BN+act, 1x1+BN) or MBConv (1x1+act, dw3x3+act, 1x1+BN)."""
    mid = round(cin * expand)
    ho = conv_out(h, 3, stride)
    if fused:
        ks = [_conv(cin, mid, h, 3, stride, n, bn=True, act=HSWISH, bias=bias),
              _conv(mid, cout, ho, 1, 1, n, bn=True)]
    else:
        ks = [_conv(cin, mid, h, 1, 1, n, act=HSWISH, bias=bias),
              _conv(mid, mid, h, 3, stride, n, act=HSWISH, bias=bias, groups=mid),
              _conv(mid, cout, ho, 1, 1, n, bn=True)]
    if residual:
        ks.append(Kernel("add", n, cout, cout, ho, ho))
    return ks


def attention_dims(c: int) -> tuple[int, int]:
    """(heads, head_dim) of timm's ConvAttention with head_dim_mul 0.5."""
    heads = int(max(1, (c * 0.5) // 30))
    return heads, int((c // heads) * 0.5)


def attention(c: int, h: int, stride: int, fused_proj: bool, gn: bool, n: int) -> list[Kernel]:
    """[GroupNorm] dw conv+BN, 1x1 qkv, SDPA, head-merge copy, (1x1 proj) transposed conv, add."""
    heads, hd = attention_dims(c)
    k = 5 if stride > 1 else 3
    ha = conv_out(h, k, stride)
    o_in = heads * hd
    ks = [Kernel("gn", n, c, c, h, h)] if gn else []
    ks += [_conv(c, c, h, k, stride, n, bn=True, groups=c),
           _conv(c, 3 * o_in, ha, 1, 1, n),
           Kernel("sdpa", n, heads, hd, ha * ha, ha * ha)]
    if ha * ha > 1 and heads > 1:  # merging heads into channels needs a copy
        ks.append(Kernel("copy", n, heads, hd, ha, ha))
    kt = 3 if stride == 1 else 2 * stride
    if fused_proj:
        ks.append(Kernel("convT", n, o_in, c, ha, ha, kt, stride, 1, bias=True))
    else:
        if heads == 1 and ha * ha > 1 and n == 1:  # the merge is a view; at batch 1 its batch
            ks.append(Kernel("copy", 1, 1, 1, o_in * ha * ha, 1))  # stride makes the 1x1 copy
        ks.append(_conv(o_in, c, ha, 1, 1, n, bias=True))
        ks.append(Kernel("convT", n, c, c, ha, ha, kt, stride, c, bias=True))
    ks.append(Kernel("add", n, c, c, h, h))
    return ks


def mlp(c: int, h: int, ratio: int, n: int) -> list[Kernel]:
    return [Kernel("gn", n, c, c, h, h), _conv(c, c * ratio, h, 1, 1, n, act=GELU, bias=True),
            _conv(c * ratio, c, h, 1, 1, n, bias=True), Kernel("add", n, c, c, h, h)]


class Block(NamedTuple):
    """A hashable block description: the unit of caching in the predictor."""

    kind: str  # stem | local | lowformer | head
    cin: int
    cout: int
    h: int
    n: int
    # the kind's own fields in a fixed order (see block_kernels): mixed ints, floats and
    # bools that each kind unpacks by position, so their types vary by position and kind
    params: tuple[Any, ...]


@lru_cache(maxsize=65536)
def block_kernels(b: Block) -> tuple[Kernel, ...]:
    """The kernels of one block, in execution order."""
    if b.kind == "stem":
        return (_conv(b.cin, b.cout, b.h, 3, 2, b.n, bn=True, act=HSWISH),)
    if b.kind == "local":
        stride, expand, fused, bias, residual = b.params
        return tuple(local_block(b.cin, b.cout, b.h, stride, expand, fused, bias, residual, b.n))
    if b.kind == "lowformer":
        attn, attn_stride, fused_proj, use_mlp, ratio, expand, fused = b.params
        ks: list[Kernel] = []
        if attn:
            ks += attention(b.cin, b.h, attn_stride, fused_proj, use_mlp, b.n)
        if use_mlp:
            ks += mlp(b.cin, b.h, ratio, b.n)
        ks += local_block(b.cin, b.cin, b.h, 1, expand, fused, True, True, b.n)
        return tuple(ks)
    h0, h1 = b.params
    return (_conv(b.cin, h0, b.h, 1, 1, b.n, bn=True, act=HSWISH),
            Kernel("pool", b.n, h0, h0, b.h, b.h),
            Kernel("linear", b.n, h0, h1, 1, 1),
            Kernel("ln", b.n, h1, h1, 1, 1, act=HSWISH),
            Kernel("linear", b.n, h1, NUM_CLASSES, 1, 1, bias=True))


def _stage_blocks(i: int, st: StageConfig, cin: int, h: int, n: int,
                  mbconv_bias: bool) -> tuple[list[tuple[Block, int]], int]:
    """(block, repeat count) pairs of stage ``i`` >= 1 and its output resolution."""
    ho = conv_out(h, 3, 2)
    entry = Block("local", cin, st.width, h, n,
                  (2, st.entry_expand, st.entry_fused, mbconv_bias and not st.entry_fused, False))
    out = [(entry, 1)]
    if i <= 2 and st.depth > 1:
        body = Block("local", st.width, st.width, ho, n,
                     (1, st.expand, st.fused, mbconv_bias and not st.fused, True))
        out.append((body, st.depth - 1))
    elif i > 2 and st.depth > 0:
        params = (st.attention, st.attn_stride, st.attn_fused_proj, st.mlp, st.mlp_ratio,
                  st.expand, st.fused)
        out.append((Block("lowformer", st.width, st.width, ho, n, params), st.depth))
    return out, ho


STAGE_NAMES = ("stem", "stage1", "stage2", "stage3", "stage4", "head")


def config_blocks(cfg: ArchConfig, resolution: int = 224,
                  batch: int = 1) -> list[tuple[str, Block, int]]:
    """(stage name, block, repeat count) for the whole network, in execution order."""
    s0 = cfg.stages[0]
    h = conv_out(resolution, 3, 2)
    out: list[tuple[str, Block, int]] = [("stem", Block("stem", 3, s0.width, resolution, batch,
                                                        ()), 1)]
    if s0.depth:
        out.append(("stem", Block("local", s0.width, s0.width, h, batch,
                                   (1, s0.expand, s0.fused, cfg.mbconv_bias and not s0.fused,
                                    True)), s0.depth))
    cin = s0.width
    for i in range(1, 5):
        blocks, h = _stage_blocks(i, cfg.stages[i], cin, h, batch, cfg.mbconv_bias)
        out += [(STAGE_NAMES[i], b, c) for b, c in blocks]
        cin = cfg.stages[i].width
    out.append(("head", Block("head", cin, cin, h, batch, tuple(cfg.head_widths)), 1))
    return out


def enumerate_kernels(cfg: ArchConfig, resolution: int = 224, batch: int = 1) -> list[Kernel]:
    """Every kernel ``build_model(cfg)`` runs on a ``batch x 3 x resolution^2`` input, in order."""
    out: list[Kernel] = []
    for _, block, count in config_blocks(cfg, resolution, batch):
        out += list(block_kernels(block)) * count
    return out


def kernel_flops(kr: Kernel) -> float:
    """Floating-point operations (a multiply-add counts 2)."""
    ho, wo = out_hw(kr)
    if kr.op in ("conv", "pw", "dw"):
        return 2.0 * kr.n * ho * wo * kr.cout * (kr.cin // kr.g) * kr.k * kr.k
    if kr.op == "convT":
        return 2.0 * kr.n * kr.h * kr.w * kr.cin * (kr.cout // kr.g) * kr.k * kr.k
    if kr.op == "sdpa":
        return kr.n * kr.cin * kr.h * kr.w * (4.0 * kr.cout + 5.0)
    if kr.op in ("linear", "matmul"):
        return 2.0 * kr.n * kr.h * kr.w * kr.cin * kr.cout
    if kr.op in ("gn", "ln", "softmax"):
        return 8.0 * kr.n * kr.cin * kr.h * kr.w
    if kr.op == "copy":
        return 0.0
    if kr.op in WINDOW_POOLS:
        ho, wo = out_hw(kr)
        return 1.0 * kr.n * kr.cin * ho * wo * kr.k * kr.k
    return 1.0 * kr.n * kr.cin * kr.h * kr.w


def kernel_bytes(kr: Kernel) -> tuple[float, float]:
    """(bytes of the main pass: inputs, weights, outputs; bytes of separate epilogue passes
    for BN / activation / bias when the runtime does not fuse them), fp32."""
    ho, wo = out_hw(kr)
    if kr.op in ("conv", "pw", "dw", "convT"):
        weights = kr.cin * (kr.cout // kr.g) * kr.k * kr.k
        main = kr.n * (kr.cin * kr.h * kr.w + kr.cout * ho * wo) + weights
        epi = kr.n * kr.cout * ho * wo * 2 * (int(kr.bn) + int(bool(kr.act)))
        return 4.0 * main, 4.0 * epi
    if kr.op == "sdpa":
        return 4.0 * kr.n * kr.cin * (3 * kr.h * kr.cout + kr.h * kr.w + kr.h * kr.cout), 0.0
    if kr.op in ("linear", "matmul"):
        main = kr.n * kr.h * kr.w * (kr.cin + kr.cout) + kr.cin * kr.cout
        return 4.0 * main, 4.0 * kr.n * kr.h * kr.w * kr.cout * 2 * (int(kr.bn) +
                                                                       int(bool(kr.act)))
    if kr.op == "add":
        return 12.0 * kr.n * kr.cin * kr.h * kr.w, 0.0
    if kr.op == "copy":
        return 8.0 * kr.n * kr.cin * kr.cout * kr.h * kr.w, 0.0
    elems = kr.n * kr.cin * kr.h * kr.w
    if kr.op in WINDOW_POOLS:
        return 4.0 * (elems + kr.n * kr.cin * ho * wo), 0.0
    return 4.0 * elems * (1 if kr.op == "pool" else 2), 8.0 * elems * int(bool(kr.act))


def kernel_weight_mb(kr: Kernel) -> float:
    """fp32 weight megabytes: in a whole model each layer's weights are cold, unlike in a
    kernel timed alone, so they cost a streaming pass the isolated timing does not see."""
    if kr.op in ("conv", "pw", "dw", "convT"):
        return 4e-6 * kr.cin * (kr.cout // kr.g) * kr.k * kr.k
    if kr.op == "linear":
        return 4e-6 * kr.cin * kr.cout
    return 0.0


def config_macs(cfg: ArchConfig, resolution: int = 224) -> float:
    """Multiply-accumulates of convolutions, linears and attention matmuls (the usual MACs)."""
    total = 0.0
    for kr in enumerate_kernels(cfg, resolution, 1):
        if kr.op in ("conv", "pw", "dw", "convT", "linear", "matmul"):
            total += kernel_flops(kr) / 2
        elif kr.op == "sdpa":
            total += 2.0 * kr.cin * kr.h * kr.w * kr.cout
    return total
