"""The measurement worker: a fresh process that times one batch of models and exits.

A latency timed inside a long-running search process reads slower than the same model timed
by ``lowformer-nas measure`` in a new process (issue 21; ``benchmarks/measure_protocol.py``:
the zero-cost stage leaves the process in a state where the same networks time 20-80% slower).
So every latency the search reports (the verify loop, ``verify RUN``, ``search --measure``)
is taken here, under the one protocol of ``measure.protocol`` that ``lowformer-nas measure``
uses too: ``python -m lowformer_nas.latency.measurement.worker`` reads one JSON request on
stdin, builds the models, times them round-robin and writes one JSON line per model on stdout,
each with the ``protocol`` string and the ``host`` facts. One worker per batch, not per model;
a worker can be started ahead (``Worker``) so its imports overlap the caller's work.

Request: ``{"items": [{"arch": {...}} | {"name": "lowformer_b1" | "path.yaml"} |
{"timm": "resnet18"}, ...], "resolution": 224, "batch": 1, "backend": "torch", "threads": 1,
"device": "cpu", "min_time_s": 2.0, "rounds": 5}``.
"""
from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, TypedDict, cast
from collections.abc import Sequence

from ...errors import ProfileError
from .host import HostFacts
from .measure import MeasurementDict

if TYPE_CHECKING:
    from torch import nn

    from ...arch.config import ArchConfig
    from ...arch.yaml_io import ArchDict

MODULE = "lowformer_nas.latency.measurement.worker"


class MeasureItem(TypedDict, total=False):
    """One model of a request: exactly one of its keys (``item_of``)."""

    arch: ArchDict
    name: str  # a registry name or a YAML path
    timm: str


class MeasureOptions(TypedDict, total=False):
    """A request's timing options: ``measure.measure_many``'s keyword arguments."""

    resolution: int
    batch: int
    backend: str
    threads: int
    device: str
    min_time_s: float
    rounds: int


class Request(MeasureOptions):
    """What the worker reads on stdin."""

    items: list[MeasureItem]


class WorkerRecord(MeasurementDict):
    """What the worker writes per model: the ``Measurement`` and how and where it was taken."""

    protocol: str
    host: HostFacts


_OPTIONS = frozenset(MeasureOptions.__annotations__)


def item_of(model: ArchConfig | ArchDict | str) -> MeasureItem:
    """A request item for an ``ArchConfig``, a timm model name or a registry name / YAML."""
    from ...arch.config import ArchConfig

    if isinstance(model, ArchConfig):
        from ...arch.yaml_io import config_to_dict

        return {"arch": config_to_dict(model)}
    if isinstance(model, dict):
        return {"arch": model}
    if isinstance(model, str):
        import timm

        return {"timm": model} if timm.is_model(model) and not model.startswith("lowformer") \
            else {"name": os.path.abspath(model) if os.path.isfile(model) else model}
    raise ProfileError(f"the measurement worker takes configs or names, not {type(model)!r}")


def _module(item: MeasureItem) -> nn.Module:
    from ...arch.builder import build_model

    if "arch" in item:
        from ...arch.yaml_io import config_from_dict

        return build_model(config_from_dict(item["arch"]))
    if "timm" in item:
        import timm

        return timm.create_model(item["timm"], pretrained=False)
    from ...arch.registry import resolve_arch

    return build_model(resolve_arch(item["name"])[1])


def serve(request: Request) -> list[WorkerRecord]:
    """Time a request's models in this process (the worker's body); one record per model."""
    from .host import platform_facts
    from .measure import measure_many, protocol

    # the request's keys other than ``items``, which are ``MeasureOptions``'s
    kw = cast("MeasureOptions", {k: v for k, v in request.items() if k in _OPTIONS})
    got = measure_many([_module(i) for i in request["items"]], **kw)
    words = protocol(got[0].backend, got[0].threads, got[0].device, kw.get("rounds", 5),
                     kw.get("min_time_s", 2.0))
    host = platform_facts(got[0].backend, got[0].threads, got[0].device)
    return [{**m.to_dict(), "protocol": words, "host": host} for m in got]


class Worker:
    """One fresh measurement process, started now and used once (``measure``)."""

    def __init__(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", MODULE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                     text=True)

    def measure(self, items: Sequence[MeasureItem], **kw: object) -> list[WorkerRecord]:
        out, err = self.proc.communicate(json.dumps(dict(kw, items=list(items))))
        lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        if self.proc.returncode != 0 or len(lines) != len(items):
            last = (err.strip().splitlines() or ["no output"])[-1]
            raise ProfileError(f"the measurement worker failed (exit {self.proc.returncode}): "
                               f"{last}")
        return lines

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


_spare: Worker | None = None


def measure_in_worker(models: Sequence[ArchConfig | ArchDict | str], resolution: int = 224,
                      backend: str = "torch", threads: int = 1, device: str = "cpu", batch: int = 1,
                      min_time_s: float = 2.0, spare: bool = False) -> list[WorkerRecord]:
    """Records (``Measurement`` fields + ``protocol`` + ``host``) of ``models`` timed in one
    fresh worker. ``spare``: once done, start the next worker, so that a caller measuring one
    model at a time (``search --measure``) does not wait for its imports next time (it is
    started after the timing, never beside it)."""
    global _spare
    from .measure import check_shape

    check_shape(backend, device, resolution, batch)
    items = [item_of(m) for m in models]
    worker, _spare = (_spare or Worker()), None
    try:
        return worker.measure(items, resolution=resolution, batch=batch, backend=backend,
                              threads=threads, device=device, min_time_s=min_time_s)
    finally:
        worker.close()
        if spare:
            _spare = Worker()
            atexit.register(_spare.close)


def main() -> int:
    """``python -m lowformer_nas.latency.measurement.worker``: one request on stdin, one line
    per model."""
    from ...errors import LowFormerNASError
    from ...arch import builder  # noqa: F401  (torch and timm, loaded while a spare waits)


    text = sys.stdin.read()
    if not text.strip():  # a spare worker its caller never used
        return 0
    request = json.loads(text)
    try:
        recs = serve(request)
    except LowFormerNASError as e:
        sys.stderr.write(f"{e}\n")
        return 2
    for rec in recs:
        sys.stdout.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
