"""Training-free accuracy scores of a freshly initialised network (seconds each).

None of them assumes ReLU: LowFormer uses Hardswish and GELU, and published NASWOT only looks
at ReLU layers, so here its binary codes are the signs of the *inputs* of every nonlinearity
module (Hardswish, GELU, ReLU, SiLU, ...), which is where any of them switches regime.

- ``naswot``: log-determinant of the Hamming-similarity kernel of those codes over a batch
  (Mellor et al. 2021, activation-agnostic form).
- ``synflow``: log of summed |theta * dR/dtheta| with |theta| weights and an all-ones input,
  in float64, weights scaled by 1/sqrt(fan-in) so deep nets don't overflow (Tanaka et al. 2020).
- ``gradnorm``: log of the summed per-tensor gradient norms of the loss on one batch.
- ``zico``: sum over weight layers of log(sum of mean|g| / std(g)) over mini-batches
  (ZiCo, Li et al. ICLR 2023): high, steady gradients train fast.
- ``expressivity``: summed entropy of the normalised principal-component spectrum of each
  block's output features (AZ-NAS, Lee & Ham CVPR 2024): how evenly the channels are used.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, cast

from ..arch.config import ArchConfig
from ..errors import UnknownNameError
from .datasets import ProxyData
from .proxies import build_network, sample_batch

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.utils.hooks import RemovableHandle

    from ..arch.builder import LowFormerNAS

_NONLINEAR_NAMES = ("ReLU", "ReLU6", "LeakyReLU", "Hardswish", "Hardsigmoid", "GELU", "SiLU",
                    "Mish", "Sigmoid", "Tanh", "ELU")


def _nonlinear_modules(model: nn.Module) -> list[nn.Module]:
    import torch.nn as nn

    kinds = tuple(getattr(nn, n) for n in _NONLINEAR_NAMES)
    return [m for m in model.modules() if isinstance(m, kinds)]


def naswot(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """log|K|, K = Hamming similarity of the sign codes of every nonlinearity's input."""
    import torch

    k = torch.zeros(len(x), len(x), dtype=torch.float64)

    def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        c = (inputs[0].detach().flatten(1) > 0).to(torch.float64)
        k.add_(c @ c.T + (1 - c) @ (1 - c).T)

    _forward_with_hooks(model.eval(), x,
                        [m.register_forward_pre_hook(hook) for m in _nonlinear_modules(model)])
    sign, logdet = torch.linalg.slogdet(k)
    return float(logdet) if sign > 0 else float("-inf")


def _forward_with_hooks(model: nn.Module, x: torch.Tensor,
                        hooks: list[RemovableHandle]) -> None:
    """One no-grad forward pass that the given hook handles observe; they are removed after."""
    import torch

    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()


def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """log of sum |theta * grad| of R = sum(f(1)) with |theta| weights (float64).

    Conv and linear weights are also divided by sqrt(fan-in), so a positive all-ones signal
    keeps its scale from layer to layer: without it the 1e45-sized activations of a deep
    variant (E3) overflow in the normalisation layers' backward pass and give NaN.
    """
    import torch

    model = model.double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.weight.div_(math.sqrt(m.weight[0].numel()))
    model.zero_grad()
    out = model(torch.ones_like(x[:1], dtype=torch.float64))
    out.sum().backward()
    with torch.no_grad():
        total = sum(float((p * p.grad).abs().sum()) for p in model.parameters()
                    if p.grad is not None)
    return _log(total)


def gradnorm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """log of the summed per-tensor gradient L2 norms of the loss on one batch."""
    import torch

    model.train().zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    return _log(sum(float(p.grad.norm()) for p in model.parameters() if p.grad is not None))


def zico(model: nn.Module, x: torch.Tensor, y: torch.Tensor, chunks: int = 4) -> float:
    """ZiCo: sum over conv/linear weights of log(sum mean|g| / std(g)) across ``chunks``."""
    import torch

    layers = [m for m in model.modules()
              if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.weight.requires_grad]
    # per layer: sum |g|, sum g, sum g^2 over chunks (tensors once a gradient is added)
    sums: list[list[torch.Tensor | int]] = [[0, 0, 0] for _ in layers]
    n = 0
    model.train()
    for xs, ys in zip(x.chunk(chunks), y.chunk(chunks)):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(xs), ys).backward()
        n += 1
        for acc, m in zip(sums, layers):
            g = m.weight.grad
            if g is not None:
                acc[0], acc[1], acc[2] = acc[0] + g.abs(), acc[1] + g, acc[2] + g * g
    total = 0.0
    for abs_sum, g_sum, sq_sum in sums:
        if n < 2 or not (torch.is_tensor(abs_sum) and torch.is_tensor(g_sum)
                         and torch.is_tensor(sq_sum)):  # all three, or none, are tensors
            continue
        var = ((sq_sum - g_sum * g_sum / n) / (n - 1)).clamp(min=0)
        keep = var > 0
        ratio = float((abs_sum[keep] / n / var[keep].sqrt()).double().sum())
        if ratio > 0:
            total += math.log(ratio)
    return total


def expressivity(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """AZ-NAS expressivity: entropy of each block output's normalised PCA spectrum, summed."""
    import torch

    blocks = _blocks(model)
    feats: list[torch.Tensor] = []
    _forward_with_hooks(model.train(), x,
                        [b.register_forward_hook(lambda _m, _i, out: feats.append(out.detach()))
                         for b in blocks])
    total = 0.0
    for f in feats:
        if not hasattr(f, "dim") or f.dim() != 4:
            continue
        z = f.double().permute(0, 2, 3, 1).reshape(-1, f.shape[1])
        if not bool(torch.isfinite(z).all()):
            return float("-inf")  # NaN/inf features: no spectrum (the search treats it as worst)
        z = z - z.mean(0, keepdim=True)
        try:
            eig = torch.linalg.eigvalsh(z.T @ z / max(1, len(z) - 1)).clamp(min=0)
        except torch.linalg.LinAlgError:  # ill-conditioned beyond LAPACK: this block says nothing
            continue
        if float(eig.sum()) <= 0:
            continue
        p = eig / eig.sum()
        p = p[p > 0]
        total += float(-(p * p.log()).sum())
    return total


def _blocks(model: nn.Module) -> list[nn.Module]:
    """LowFormer: stem parts and every stage's blocks; other timm models: the children of
    their ``nn.Sequential`` containers (a generic notion of block)."""
    import torch.nn as nn

    if hasattr(model, "arch_config"):
        lowformer = cast("LowFormerNAS", model)
        stages = cast("Iterable[nn.Sequential]", lowformer.stages)  # each: a run of blocks
        return list(lowformer.stem) + [b for stage in stages for b in stage]
    return [c for m in model.modules() if isinstance(m, nn.Sequential) for c in m.children()
            if not isinstance(c, nn.Sequential)]


def _log(total: float) -> float:
    return math.log(total) if total > 0 and math.isfinite(total) else float("-inf")


# name -> score(model, x, y): the one list of zero-cost scores (CLI choices, rows, audit)
ZeroCostScore = Callable[["nn.Module", "torch.Tensor", "torch.Tensor"], float]  # (model, x, y)
SCORES: dict[str, ZeroCostScore] = {
    "naswot": naswot, "synflow": synflow, "gradnorm": gradnorm, "zico": zico,
    "expressivity": expressivity}
ZC_SCORES = tuple(SCORES)


def check_scores(names: Sequence[str]) -> None:
    for n in names:
        if n not in SCORES:
            raise UnknownNameError(f"unknown zero-cost score {n!r}; known: {', '.join(SCORES)}")


def zero_cost_scores(cfg: ArchConfig | str, data: ProxyData, resolution: int, seed: int = 0,
                     batch_size: int = 64,
                     names: Sequence[str] = ZC_SCORES) -> dict[str, float]:
    """Zero-cost scores of ``cfg``, each on its own fresh network (same seed, same batch)."""
    check_scores(names)
    x, y = sample_batch(data, batch_size, seed, resolution)
    return {n: SCORES[n](build_network(cfg, data, seed), x, y) for n in names}
