"""The short training proxy and the trial failures it can raise.

``train_proxy`` is a short AdamW + cosine + label-smoothing run built from timm's factories,
with its own complete learning-rate schedule (a short run with a full schedule ranks better
than a long run cut short), reporting validation accuracy and summed training loss per epoch.
The training-free scores live in ``zerocost``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..arch.config import ArchConfig
from ..errors import LowFormerNASError
from .datasets import ProxyData

if TYPE_CHECKING:
    import torch
    from torch import nn

class TrialDiverged(LowFormerNASError, RuntimeError):
    """The training loss became NaN or infinite: the trial failed, the search goes on."""


class TrialOutOfMemory(LowFormerNASError, RuntimeError):
    """A candidate did not fit in memory: the trial failed, the search goes on."""


_OOM_TEXT = ("out of memory", "not enough memory", "can't allocate memory")


def as_trial_failure(e: BaseException) -> LowFormerNASError | None:
    """The trial-level failure ``e`` stands for (divergence, OOM), or None for a real bug."""
    if isinstance(e, (TrialDiverged, TrialOutOfMemory)):
        return e
    if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError" or (
            isinstance(e, RuntimeError) and any(t in str(e).lower() for t in _OOM_TEXT)):
        return TrialOutOfMemory(f"{type(e).__name__}: {str(e)[:200]}")
    return None


def resize(x: torch.Tensor, resolution: int) -> torch.Tensor:
    import torch.nn.functional as F

    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False)


def build_network(cfg: ArchConfig | str, data: ProxyData, seed: int) -> nn.Module:
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


def sample_batch(data: ProxyData, size: int, seed: int,
                 resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.train_y), generator=g)[:size]
    return resize(data.train_x[idx], resolution), data.train_y[idx]


def evaluate_accuracy(model: nn.Module, data: ProxyData, resolution: int, batch_size: int = 256,
                      device: str = "cpu") -> float:
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(data.val_y), batch_size):
            out = model(resize(data.val_x[i:i + batch_size].to(device), resolution))
            correct += int((out.argmax(1).cpu() == data.val_y[i:i + batch_size]).sum())
    return correct / len(data.val_y)


TRAIN_SCORES = ("accuracy", "loss")  # what ranks a trained candidate (search --train-score)


def epoch_score(kind: str, curve: Sequence[float], loss_sums: Sequence[float],
                epochs: int | None = None) -> float:
    """A run's score after its latest epoch: validation accuracy, or the training loss summed
    over every step, negated (Ru et al., NeurIPS 2021: how fast a network trains ranks it; the
    project's audit found it ranks better than accuracy at short budgets). A run stopped
    early has its sum so far scaled to ``epochs`` (its early, higher losses stand for the
    rest), so it never looks better than runs that finished; at the last epoch the scale
    is 1 and runs compared at the same epoch keep their order."""
    if kind == "accuracy":
        return curve[-1]
    return -float(sum(loss_sums)) * (epochs or len(loss_sums)) / len(loss_sums)


@dataclass(frozen=True)
class TrainResult:
    """One training run: validation accuracy and summed training loss after each epoch."""

    curve: tuple[float, ...]
    loss_sums: tuple[float, ...]
    seconds: float

    @property
    def accuracy(self) -> float:
        return self.curve[-1]

    def score(self, kind: str) -> float:
        return epoch_score(kind, self.curve, self.loss_sums)


def train_proxy(cfg: ArchConfig | str, data: ProxyData, resolution: int, epochs: int, seed: int = 0,
                batch_size: int = 128, lr: float = 2e-3, weight_decay: float = 0.05,
                smoothing: float = 0.1,
                report: Callable[[int, float], None] | None = None) -> list[float]:
    """Validation accuracy after each epoch; ``report(epoch, acc)`` may raise to stop early."""
    each = None if report is None else (lambda epoch, acc, _score: report(epoch, acc))
    return list(train_run(cfg, data, resolution, epochs, seed=seed, batch_size=batch_size, lr=lr,
                          weight_decay=weight_decay, smoothing=smoothing, report=each).curve)


def train_run(cfg: ArchConfig | str, data: ProxyData, resolution: int, epochs: int, seed: int = 0,
              batch_size: int = 128, lr: float = 2e-3, weight_decay: float = 0.05,
              smoothing: float = 0.1, train_images: int | None = None, device: str = "cpu",
              score: str = "accuracy",
              report: Callable[[int, float, float], None] | None = None) -> TrainResult:
    """Train ``cfg`` from scratch with a complete warmup + cosine schedule over ``epochs``.

    ``train_images`` uses only the first N training images (the set is already a seeded
    random subset), so budgets can differ in images as well as epochs. ``report(epoch,
    accuracy, score)`` after each epoch (``score``: :func:`epoch_score` of kind ``score``)
    may raise to stop early.
    """
    import time

    import torch
    from timm.loss import LabelSmoothingCrossEntropy
    from timm.optim import create_optimizer_v2
    from timm.scheduler import CosineLRScheduler

    start = time.perf_counter()
    model = build_network(cfg, data, seed).to(device)
    n = min(len(data.train_y), train_images or len(data.train_y))
    steps = max(1, math.ceil(n / batch_size))
    opt = create_optimizer_v2(model, opt="adamw", lr=lr, weight_decay=weight_decay)
    sched = CosineLRScheduler(opt, t_initial=epochs * steps, warmup_t=steps // 2,
                              warmup_lr_init=lr / 10, lr_min=lr / 100, t_in_epochs=False)
    loss_fn = LabelSmoothingCrossEntropy(smoothing=smoothing)
    g = torch.Generator().manual_seed(seed)
    curve: list[float] = []
    sums: list[float] = []
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=g)
        total = 0.0
        for step in range(steps):
            idx = perm[step * batch_size:(step + 1) * batch_size]
            x, y = data.train_x[idx].to(device), data.train_y[idx].to(device)
            loss = loss_fn(model(resize(x, resolution)), y)
            if not torch.isfinite(loss):
                raise TrialDiverged(f"training loss is {float(loss.detach())} at epoch "
                                    f"{epoch + 1}, step {step + 1}")
            total += float(loss.detach()) * len(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step_update(epoch * steps + step + 1)
        curve.append(evaluate_accuracy(model, data, resolution, device=device))
        sums.append(total)
        if report is not None:
            report(epoch + 1, curve[-1], epoch_score(score, curve, sums, epochs))
    return TrainResult(tuple(curve), tuple(sums), time.perf_counter() - start)
