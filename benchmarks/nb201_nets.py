"""NAS-Bench-201 networks as plain torch modules, built from the paper's description
(Dong & Yang, ICLR 2020; /work/shared/reference/device_latency/README.md), for the
device-latency benchmark. Benchmark-only: nothing NAS-Bench-201-specific lives in the product.
"""
from __future__ import annotations

from functools import lru_cache
from collections.abc import Callable

import torch
import torch.nn as nn

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
C, N, CLASSES = 16, 5, 10


def parse_arch(arch_str: str) -> list[list[tuple[str, int]]]:
    """``|op~0|+|op~0|op~1|+|...|`` -> per node 1..3, its (op, input node) edges."""
    nodes = []
    for group in arch_str.split("+"):
        edges = []
        for item in group.strip("|").split("|"):
            op, src = item.split("~")
            if op not in OPS:
                raise ValueError(f"unknown NAS-Bench-201 op {op!r}; known: {', '.join(OPS)}")
            edges.append((op, int(src)))
        nodes.append(edges)
    if [len(e) for e in nodes] != [1, 2, 3]:
        raise ValueError(f"not a NAS-Bench-201 cell string: {arch_str!r}")
    return nodes


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=False),
                         nn.BatchNorm2d(c_out))


def make_op(name: str, c: int) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, 1, 1, count_include_pad=False)
    return ReLUConvBN(c, c, 1 if name == "nor_conv_1x1" else 3, 1)


class Cell(nn.Module):
    """Node j = sum over its edges of op(node i); output = node 3."""

    def __init__(self, arch: list[list[tuple[str, int]]], c: int,
                 op_of: Callable[[str, int], nn.Module] = make_op) -> None:
        super().__init__()
        self.edges = [[src for _, src in node] for node in arch]
        self.ops = nn.ModuleList(nn.ModuleList(op_of(op, c) for op, _ in node)
                                 for node in arch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for srcs, ops in zip(self.edges, self.ops):
            nodes.append(sum(op(nodes[i]) for op, i in zip(ops, srcs)))
        return nodes[-1]


class Reduction(nn.Module):
    """Residual basic block, stride 2; shortcut: 2x2 avg pool then 1x1 conv."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.a = ReLUConvBN(c_in, c_out, 3, 2)
        self.b = ReLUConvBN(c_out, c_out, 3, 1)
        self.short = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x)) + self.short(x)


shared_op = lru_cache(maxsize=None)(make_op)


def build_net(arch_str: str, share_ops: bool = False) -> nn.Module:
    """The network of ``arch_str``. ``share_ops``: reuse one module per (op, width) (same
    kernels and dataflow, ~20x cheaper to build; for tracing, not for training)."""
    arch = parse_arch(arch_str)
    op_of = shared_op if share_ops else make_op
    layers: list[nn.Module] = [nn.Conv2d(3, C, 3, 1, 1, bias=False), nn.BatchNorm2d(C)]
    for stage, c in enumerate((C, 2 * C, 4 * C)):
        if stage:
            layers.append(Reduction(c // 2, c))
        layers += [Cell(arch, c, op_of) for _ in range(N)]
    layers += [nn.BatchNorm2d(4 * C), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(4 * C, CLASSES)]
    return nn.Sequential(*layers).eval()


def dead_output(arch_str: str) -> bool:
    """True when no path of non-``none`` edges joins node 0 to node 3 (check of the tracer)."""
    reach = {0}
    for j, node in enumerate(parse_arch(arch_str), start=1):
        if any(op != "none" and i in reach for op, i in node):
            reach.add(j)
    return 3 not in reach
