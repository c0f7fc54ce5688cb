"""Wall-clock measurement: inference mode, warm-up, many timed runs in interleaved rounds.

Shared CPUs drift (one round in five can be 10% off), so timings are taken in rounds and the
reported latency is the median of the round medians; p10/p90 are over every timed run.
Backends: torch eager, TorchScript (trace + ``optimize_for_inference``, the LowFormer paper's
protocol) and onnxruntime (deployment-like CPU numbers). On CUDA every run is synchronised.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict
from collections.abc import Callable, Sequence

from ...errors import ConfigError
from .allocator import steady_allocator

if TYPE_CHECKING:
    from torch import Tensor, nn

    from ...arch.config import ArchConfig

BACKENDS = ("torch", "torchscript", "onnxruntime")
CLOCKS = ("wall", "cpu")
CLOCK_ENV = "LOWFORMER_NAS_CLOCK"


def clock_name() -> str:
    """``wall`` (default: what a user of an idle device sees) or ``cpu``: this process's CPU
    time, which on a shared machine leaves out the time other jobs hold the core (only valid
    for 1 thread on the CPU). Set by ``$LOWFORMER_NAS_CLOCK`` so that calibration, ``measure``
    and the benchmarks of one session all use the same clock."""
    name = os.environ.get(CLOCK_ENV, "wall") or "wall"
    if name not in CLOCKS:
        raise ConfigError(f"{CLOCK_ENV} must be one of {', '.join(CLOCKS)}, but got {name!r}")
    return name


def now(clock: str) -> float:
    """Seconds on ``clock`` (see ``clock_name``)."""
    return time.process_time() if clock == "cpu" else time.perf_counter()


def check_clock(clock: str, device: str, threads: int | None) -> str:
    if clock == "cpu" and (device != "cpu" or threads != 1):
        raise ConfigError(f"{CLOCK_ENV}=cpu times one CPU thread, but got device {device!r} "
                          f"and threads {threads!r}; use the wall clock")
    return clock


class MeasurementDict(TypedDict):
    """A ``Measurement`` as JSON holds it (``Measurement.to_dict``)."""

    latency_ms: float
    p10_ms: float
    p90_ms: float
    n: int
    backend: str
    threads: int
    device: str
    resolution: int
    batch: int


@dataclass(frozen=True)
class Measurement:
    """A latency measurement in milliseconds."""

    latency_ms: float  # median of round medians
    p10_ms: float
    p90_ms: float
    n: int  # timed runs
    backend: str
    threads: int
    device: str
    resolution: int
    batch: int

    def to_dict(self) -> MeasurementDict:
        return {"latency_ms": self.latency_ms, "p10_ms": self.p10_ms, "p90_ms": self.p90_ms,
                "n": self.n, "backend": self.backend, "threads": self.threads,
                "device": self.device, "resolution": self.resolution, "batch": self.batch}


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    return backend


def check_device(device: str) -> str:
    """``cpu`` or a usable ``cuda[:N]``, checked before anything is built, timed or written."""
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        kind = None
    if kind not in ("cpu", "cuda"):
        raise ConfigError(f"torch device must be cpu or cuda[:N], but got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"torch device {device!r} needs CUDA, but torch.cuda.is_available() "
                          f"is False on this machine")
    return device


def _sync(device: str) -> Callable[[], None]:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.synchronize
    return lambda: None


def _prepare_torchscript(module: nn.Module, x: Tensor) -> Callable[[], object]:
    import torch

    with torch.no_grad():
        traced = torch.jit.trace(module, x, check_trace=False)
        opt = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))

    def run() -> object:
        with torch.no_grad():
            return opt(x)

    return run


def _prepare_onnxruntime(module: nn.Module, x: Tensor, threads: int, device: str
                         ) -> Callable[[], object]:
    import onnxruntime as ort
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(module, (x,), path, input_names=["x"], opset_version=17,
                              dynamo=False)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        providers = ["CUDAExecutionProvider"] if device.startswith("cuda") else []
        sess = ort.InferenceSession(path, opts, providers=providers + ["CPUExecutionProvider"])
    feed = {"x": x.detach().cpu().numpy()}
    return lambda: sess.run(None, feed)


def prepare(module: nn.Module, x: Tensor, backend: str = "torch", threads: int = 1,
            device: str = "cpu") -> Callable[[], object]:
    """A zero-argument callable running ``module(x)`` through ``backend`` (the allocator is
    put in its measurement regime first: see :mod:`.allocator`)."""
    import torch

    check_backend(backend)
    steady_allocator()
    module = module.eval().to(device)
    x = x.to(device)
    if backend == "torchscript":
        return _prepare_torchscript(module, x)
    if backend == "onnxruntime":
        return _prepare_onnxruntime(module, x, threads, device)

    def run() -> object:
        with torch.inference_mode():
            return module(x)

    return run


def time_once(fn: Callable[[], object], inner: int, sync: Callable[[], None],
              clock: str = "wall") -> float:
    """Milliseconds per call of ``fn``, run ``inner`` times back to back and then ``sync``-ed,
    on ``clock`` (the building block of every timing here; benchmarks time with it too)."""
    start = now(clock)
    for _ in range(inner):
        fn()
    sync()
    return (now(clock) - start) * 1000.0 / inner


def time_interleaved(fns: Sequence[Callable[[], object]], rounds: int = 5, runs: int = 5,
                     device: str = "cpu", min_sample_ms: float = 0.3,
                     warmup: int = 2, clock: str = "wall") -> list[list[list[float]]]:
    """Time several callables round-robin; returns per callable, per round, the run times (ms).

    Interleaving spreads machine drift evenly over all callables. Very fast callables are
    looped ``inner`` times per sample so perf_counter resolution does not matter.
    """
    steady_allocator()  # callables not made by prepare() too; set before their warm-up
    sync = _sync(device)
    inners = []
    for fn in fns:
        for _ in range(warmup):
            fn()
        sync()
        est = time_once(fn, 1, sync, clock)
        inners.append(max(1, min(200, int(min_sample_ms / max(est, 1e-4)))))
    out: list[list[list[float]]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            out[i].append([time_once(fn, inners[i], sync, clock) for _ in range(runs)])
    return out


def time_whole_models(pairs: Sequence[tuple[nn.Module, Tensor]], backend: str, device: str
                      ) -> list[float]:
    """The calibration's whole-model timing of ``(module, input)`` pairs: prepared for
    ``backend``, 3 interleaved rounds x 3 runs on the session's clock, median of round
    medians per model (LowFormer's random models and other families' alike)."""
    fns = [prepare(m, x, backend, 1, device) for m, x in pairs]
    timed = time_interleaved(fns, rounds=3, runs=3, device=device, min_sample_ms=0.0,
                             clock=clock_name())
    return [summarize(t)["latency_ms"] for t in timed]


def summarize(rounds: list[list[float]]) -> dict[str, float]:
    """Median of round medians, p10/p90 over all runs, run count."""
    flat = sorted(t for r in rounds for t in r)
    q = statistics.quantiles(flat, n=10, method="inclusive") if len(flat) > 1 else flat * 9
    med = statistics.median(statistics.median(r) for r in rounds)
    return {"latency_ms": med, "p10_ms": q[0], "p90_ms": q[-1], "n": len(flat)}


class threads_set:
    """Context manager: ``torch.set_num_threads(n)``, restored on exit."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.old: int | None = None

    def __enter__(self) -> threads_set:
        import torch

        if self.n:
            if self.n < 1:
                raise ConfigError(f"threads must be >= 1, but got {self.n}")
            self.old = torch.get_num_threads()
            torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        if self.old:
            torch.set_num_threads(self.old)


def _as_module(model_or_cfg: nn.Module | ArchConfig | str) -> nn.Module:
    from ...arch.config import ArchConfig

    if isinstance(model_or_cfg, ArchConfig):
        from ...arch.builder import build_model

        return build_model(model_or_cfg)
    if isinstance(model_or_cfg, str):
        from ...arch.builder import build_model
        from ...arch.registry import resolve_arch

        return build_model(resolve_arch(model_or_cfg)[1])
    return model_or_cfg


PROTOCOL_VERSION = "lfn-measure/1"
WARMUP = 3  # untimed runs per model before its runs are sized


def protocol(backend: str, threads: int, device: str, rounds: int = 5,
             min_time_s: float = 2.0) -> str:
    """The one measuring protocol, in words: every latency ``measure``, ``search --measure``,
    the verify loop and ``verify RUN`` report is taken this way, in a process that does
    nothing else (``latency/measurement/worker.py``), and each record names it."""
    from .allocator import allocator_label

    return (f"{PROTOCOL_VERSION}: fresh process, allocator {allocator_label()}, {backend}, "
            f"{threads} thread(s), {device}, {clock_name()} clock, {WARMUP} warm-up runs, "
            f"{rounds} interleaved rounds of about {min_time_s:g} s per model, median of "
            f"round medians")


def check_shape(backend: str, device: str, resolution: int, batch: int) -> None:
    """Backend, torch device and input shape checked before anything is built or timed."""
    check_backend(backend)
    check_device(device)
    if resolution < 16 or batch < 1:
        raise ConfigError(f"need resolution >= 16 and batch >= 1, but got {resolution}, {batch}")


def measure_many(modules: Sequence[nn.Module], resolution: int = 224, batch: int = 1,
                 backend: str = "torch", threads: int | None = 1, device: str = "cpu",
                 min_time_s: float = 2.0, rounds: int = 5) -> list[Measurement]:
    """Latency of several ``nn.Module``s end to end, timed round-robin under ``protocol``:
    runs per round are chosen so each model's timing takes about ``min_time_s`` seconds."""
    import torch

    check_shape(backend, device, resolution, batch)
    with threads_set(threads):
        used = threads or torch.get_num_threads()
        clock = check_clock(clock_name(), device, threads)
        fns = [prepare(m, torch.randn(batch, 3, resolution, resolution), backend, used, device)
               for m in modules]
        runs = _runs_per_round(fns, _sync(device), clock, min_time_s, rounds)
        timed = _time_rounds(fns, runs, rounds, device, clock)
    out = []
    for t in timed:
        s = summarize(t)
        out.append(Measurement(latency_ms=s["latency_ms"], p10_ms=s["p10_ms"],
                               p90_ms=s["p90_ms"], n=int(s["n"]), backend=backend,
                               threads=used, device=device, resolution=resolution, batch=batch))
    return out


def _runs_per_round(fns: Sequence[Callable[[], object]], sync: Callable[[], None], clock: str,
                    min_time_s: float, rounds: int) -> list[int]:
    """Warm each callable up, then size its runs per round from the median of 3 timings."""
    runs = []
    for fn in fns:
        for _ in range(WARMUP):
            fn()
        sync()
        est = statistics.median(time_once(fn, 1, sync, clock) for _ in range(3))
        runs.append(max(3, min(100, int(min_time_s * 1000.0 / max(est, 1e-3) / rounds))))
    return runs


def _time_rounds(fns: Sequence[Callable[[], object]], runs: Sequence[int], rounds: int,
                 device: str, clock: str) -> list[list[list[float]]]:
    """``rounds`` round-robin rounds; in each, callable i runs ``runs[i]`` timed runs (after
    one untimed run, so a model follows the others warm)."""
    sync = _sync(device)
    out: list[list[list[float]]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            fn()
            sync()
            out[i].append([time_once(fn, 1, sync, clock) for _ in range(runs[i])])
    return out


def measure_latency(model_or_cfg: nn.Module | ArchConfig | str, resolution: int = 224,
                    batch: int = 1, backend: str = "torch", threads: int | None = 1,
                    device: str = "cpu",
                    min_time_s: float = 2.0, rounds: int = 5) -> Measurement:
    """Latency of a model (``nn.Module``, ``ArchConfig`` or registry name/YAML path) end to end
    in this process, under ``protocol`` (``measure_many`` of one model)."""
    check_shape(backend, device, resolution, batch)
    return measure_many([_as_module(model_or_cfg)], resolution, batch, backend, threads, device,
                        min_time_s, rounds)[0]
