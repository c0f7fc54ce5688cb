"""Proxies for accuracy: training-free scores (seconds) and a short real training run.

Zero-cost scores run on a freshly initialised network at the proxy resolution:
``synflow`` (log of the summed |theta * dR/dtheta| with |theta| weights and an all-ones input,
in float64 so deep nets don't overflow), ``naswot`` (log-determinant of the kernel of binary
activation codes over a batch, Mellor et al. 2021) and ``gradnorm`` (log of the summed
gradient norms of the cross-entropy on one batch). ``train_proxy`` is a short AdamW + cosine +
label-smoothing run built from timm's factories, reporting validation accuracy per epoch.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional

from ..arch.config import ArchConfig
from ..errors import LowFormerNASError
from ..rundir.config import ZC_SCORES  # noqa: F401  (the names this module computes)
from .datasets import ProxyData


class TrialDiverged(LowFormerNASError, RuntimeError):
    """The training loss became NaN or infinite: the trial failed, the search goes on."""


class TrialOutOfMemory(LowFormerNASError, RuntimeError):
    """A candidate did not fit in memory: the trial failed, the search goes on."""


_OOM_TEXT = ("out of memory", "not enough memory", "can't allocate memory")


def as_trial_failure(e: BaseException) -> "LowFormerNASError | None":
    """The trial-level failure ``e`` stands for (divergence, OOM), or None for a real bug."""
    if isinstance(e, (TrialDiverged, TrialOutOfMemory)):
        return e
    if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or (
            isinstance(e, RuntimeError) and any(t in str(e).lower() for t in _OOM_TEXT)):
        return TrialOutOfMemory(f"{type(e).__name__}: {str(e)[:200]}")
    return None


def _resize(x, resolution: int):
    import torch.nn.functional as F

    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)


def _build(cfg: "ArchConfig | str", data: ProxyData, seed: int):
    """A fresh network for ``cfg``: an ``ArchConfig``, or a timm model name (a reference from
    another family, built with the same head and input channels, random init)."""
    import torch

    torch.manual_seed(seed)
    if isinstance(cfg, str):
        import timm

        return timm.create_model(cfg, pretrained=False, num_classes=data.num_classes,
                                 in_chans=data.in_chans)
    from ..arch.builder import build_model

    return build_model(cfg, num_classes=data.num_classes, in_chans=data.in_chans)


def _batch(data: ProxyData, size: int, seed: int, resolution: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.train_y), generator=g)[:size]
    return _resize(data.train_x[idx], resolution), data.train_y[idx]


def naswot(model, x) -> float:
    """log|K| of the Hamming-similarity kernel of ReLU-like activation codes over the batch."""
    import torch

    codes: List[torch.Tensor] = []
    acts = (torch.nn.Hardswish, torch.nn.GELU, torch.nn.ReLU, torch.nn.SiLU)
    hooks = [m.register_forward_hook(lambda _m, _i, out: codes.append(
        (out.detach().flatten(1) > 0).to(torch.float64))) for m in model.modules()
        if isinstance(m, acts)]
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for h in hooks:
            h.remove()
    c = torch.cat(codes, dim=1)
    k = c @ c.T + (1 - c) @ (1 - c).T
    sign, logdet = torch.linalg.slogdet(k)
    return float(logdet) if sign > 0 else float("-inf")


def synflow(model, x) -> float:
    """log of sum |theta * grad| with theta -> |theta| and an all-ones input (float64)."""
    import torch

    model = model.double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    model.zero_grad()
    out = model(torch.ones_like(x[:1], dtype=torch.float64))
    out.sum().backward()
    with torch.no_grad():
        total = sum(float((p * p.grad).abs().sum()) for p in model.parameters()
                    if p.grad is not None)
    return math.log(total) if total > 0 and math.isfinite(total) else float("-inf")


def gradnorm(model, x, y) -> float:
    """log of the summed per-tensor gradient L2 norms of the loss on one batch."""
    import torch

    model.train().zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    total = sum(float(p.grad.norm()) for p in model.parameters() if p.grad is not None)
    return math.log(total) if total > 0 and math.isfinite(total) else float("-inf")


def zero_cost_scores(cfg: "ArchConfig | str", data: ProxyData, resolution: int, seed: int = 0,
                     batch_size: int = 64) -> Dict[str, float]:
    """All zero-cost scores of ``cfg`` (each on its own fresh network, same seed and batch)."""
    x, y = _batch(data, batch_size, seed, resolution)
    return {"naswot": naswot(_build(cfg, data, seed), x),
            "gradnorm": gradnorm(_build(cfg, data, seed), x, y),
            "synflow": synflow(_build(cfg, data, seed), x)}


def evaluate_accuracy(model, data: ProxyData, resolution: int, batch_size: int = 256) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(data.val_y), batch_size):
            out = model(_resize(data.val_x[i:i + batch_size], resolution))
            correct += int((out.argmax(1) == data.val_y[i:i + batch_size]).sum())
    return correct / len(data.val_y)


def train_proxy(cfg: "ArchConfig | str", data: ProxyData, resolution: int, epochs: int, seed: int = 0,
                batch_size: int = 128, lr: float = 2e-3, weight_decay: float = 0.05,
                smoothing: float = 0.1,
                report: Optional[Callable[[int, float], None]] = None) -> List[float]:
    """Validation accuracy after each epoch; ``report(epoch, acc)`` may raise to stop early."""
    import torch
    from timm.loss import LabelSmoothingCrossEntropy
    from timm.optim import create_optimizer_v2
    from timm.scheduler import CosineLRScheduler

    model = _build(cfg, data, seed)
    steps = max(1, math.ceil(len(data.train_y) / batch_size))
    opt = create_optimizer_v2(model, opt="adamw", lr=lr, weight_decay=weight_decay)
    sched = CosineLRScheduler(opt, t_initial=epochs * steps, warmup_t=steps // 2,
                              warmup_lr_init=lr / 10, lr_min=lr / 100, t_in_epochs=False)
    loss_fn = LabelSmoothingCrossEntropy(smoothing=smoothing)
    g = torch.Generator().manual_seed(seed)
    curve: List[float] = []
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(data.train_y), generator=g)
        for step in range(steps):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            loss = loss_fn(model(_resize(data.train_x[idx], resolution)), data.train_y[idx])
            if not torch.isfinite(loss):
                raise TrialDiverged(f"training loss is {float(loss.detach())} at epoch {epoch + 1}, "
                                    f"step {step + 1}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step_update(epoch * steps + step + 1)
        curve.append(evaluate_accuracy(model, data, resolution))
        if report is not None:
            report(epoch + 1, curve[-1])
    return curve
