"""On-device calibration: measure kernels and whole models, fit, write a profile.

Kernel configurations are drawn from the unique kernels of 80 random configs of the search
space; types with too few samples come first, then more samples go to the kernel types whose
fit is worst weighted by their share of the pool. Once that pool is measured, the rest of the
kernel share of the budget goes to whole models, which the fit profits from more. Whole models
(random configs, never the official variants, so benchmarks on those stay clean) teach the
model-level term and give the cross-validated error.
Every measurement is appended to a journal with fsync, so Ctrl-C or a crash loses at most the
group in flight and a rerun continues where it stopped.
"""
from __future__ import annotations

import json
import os
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, overload
from collections.abc import Sequence

from ..._io import truncate_torn_tail
from ...errors import ProfileError
from ..fitting.fit import fit_params, kernel_of
from ..fitting.records import (Correction, FamilyRecord, FitError, KernelRecord, ModelRecord,
                               ProfileParams, Roofline)
from ..tracing.kernels import Kernel
from .pool import kernel_pool, sample_configs, space_resolutions
from .profiles import FIT_VERSION, Profile, cache_dir, make_profile

KERNEL_SHARE, MODEL_SHARE = 0.45, 0.47  # of the budget; the rest covers fitting and overheads
KERNEL_GROUP, MODEL_GROUP = 16, 4
ADAPTIVE_SHARE = 0.4  # of the whole-model share: corner configs chosen by committee spread
CORNER_CONFIGS = 24  # corner configs whose kernels join the kernel pool
if TYPE_CHECKING:
    from ...arch.config import ArchConfig

IDENTITY = ("device", "backend", "threads", "space", "clock")  # a resumed journal must match


class Journal:
    """Append-only JSONL file; each line is flushed and fsynced before the next measurement."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path, self.header = path, header
        self._repaired = False
        self.records = self._read()
        if not self.records:
            self.append(dict(header, kind="header"))
        elif {k: self.records[0].get(k, "wall" if k == "clock" else None) for k in IDENTITY} \
                != {k: header.get(k, "wall" if k == "clock" else None) for k in IDENTITY}:
            raise ProfileError(f"calibration journal {self.path} belongs to "
                               f"{self.records[0]!r}, not {header!r}; delete it to start over")
        self.header = {k: v for k, v in self.records[0].items() if k != "kind"}

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash: that group is simply measured again
        return out

    def append(self, rec: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._repaired:  # a torn last line would swallow this record
            truncate_torn_tail(self.path)
            self._repaired = True
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.records.append(rec)

    @property
    def roofline(self) -> Roofline:
        return cast("Roofline", self.header["roofline"])  # ``local_roofline``'s, journalled

    # a calibration's kinds first; the Literal-vs-str overlap is intended (as in typeshed)
    @overload
    def of_kind(self, kind: Literal["kernel"]) -> list[KernelRecord]: ...  # type: ignore[overload-overlap]
    @overload
    def of_kind(self, kind: Literal["model"]) -> list[ModelRecord]: ...  # type: ignore[overload-overlap]
    @overload
    def of_kind(self, kind: Literal["family"]) -> list[FamilyRecord]: ...  # type: ignore[overload-overlap]
    @overload
    def of_kind(self, kind: str) -> list[dict[str, Any]]: ...  # other journals' kinds (search)

    def of_kind(self, kind: str) -> list[KernelRecord] | list[ModelRecord] | \
            list[FamilyRecord] | list[dict[str, Any]]:
        """The records of one kind (a calibration's are each written here as that kind's)."""
        return [r for r in self.records if r.get("kind") == kind]

    @property
    def spent_s(self) -> float:
        return float(sum(r.get("cost_s", 0.0) for r in self.records))


def _now() -> float:
    """The calibration clock: measurement cost is counted on the clock timings are taken on."""
    from ..measurement.measure import clock_name, now

    return now(clock_name())


def measure_kernels(kernels: Sequence[Kernel], backend: str, device: str) -> list[float]:
    """Median-of-round-medians of each kernel, timed round-robin."""
    from ..tracing.kernel_modules import kernel_module
    from ..measurement.measure import clock_name, prepare, summarize, time_interleaved

    fns = []
    for kr in kernels:
        mod, x = kernel_module(kr)
        fns.append(prepare(mod, x, backend, 1, device))
    timed = time_interleaved(fns, rounds=5, runs=3, device=device, clock=clock_name())
    return [summarize(t)["latency_ms"] for t in timed]


def measure_models(items: Sequence[tuple[ArchConfig, int]], backend: str, device: str
                   ) -> list[float]:
    import torch

    from ...arch.builder import build_model
    from ..measurement.measure import time_whole_models

    return time_whole_models([(build_model(cfg), torch.randn(1, 3, r, r)) for cfg, r in items],
                             backend, device)


def _type_weights(pool: dict[str, list[Kernel]], corr: dict[str, Correction],
                  counts: dict[str, int]) -> dict[str, float]:
    """Sampling weight per type: share of (prior) time x current CV error; unfit types first."""
    from ..fitting.predictor import MIN_FIT

    weights = {}
    for op, ks in pool.items():
        share = len(ks)
        if counts.get(op, 0) < MIN_FIT:
            weights[op] = 1e6
        else:
            weights[op] = share * ((corr[op].get("cv_rmse", 0.3) if op in corr else 0.3) + 0.05)
    return weights


def _pick_kernels(pool: dict[str, list[Kernel]], done: set[Kernel], weights: dict[str, float],
                  rng: random.Random, n: int) -> list[Kernel]:
    avail = {op: [k for k in ks if k not in done][:64] for op, ks in pool.items()}
    avail = {op: ks for op, ks in avail.items() if ks}
    out: list[Kernel] = []
    while avail and len(out) < n:
        ops = list(avail)
        op = rng.choices(ops, [weights.get(o, 1.0) for o in ops])[0]
        kr = avail[op].pop(rng.randrange(len(avail[op])))
        out.append(kr)
        done.add(kr)
        if not avail[op]:
            del avail[op]
    return out


def fit_journal(journal: Journal, roof: Roofline) -> tuple[ProfileParams, FitError | None]:
    """``fit_params`` over every kernel and whole-model record of a journal, plus the level
    of other families where the journal timed some (``families.py``)."""
    from ..fitting.families import family_level
    from ..fitting.predictor import Predictor

    mrecs = journal.of_kind("model")
    if len(mrecs) < 4:
        raise ProfileError(f"calibration has only {len(mrecs)} whole-model measurements "
                           f"(need >= 4); give it a larger --budget-minutes")
    params, err = fit_params(journal.of_kind("kernel"), mrecs, roof)
    level = family_level(journal.of_kind("family"), Predictor(params))
    if level is not None:
        params["family_level"] = level
    return params, err


class _Progress:
    """rich progress bar over the time budget, with counts; silent when disabled."""

    def __init__(self, enabled: bool, total_s: float, done_s: float) -> None:
        self.bar = None
        if enabled:
            from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.fields[counts]}"), TimeElapsedColumn(),
                                TextColumn("ETA"), TimeRemainingColumn())
            self.bar.start()
            self.task = self.bar.add_task("calibrating", total=total_s, counts="")
            self.bar.update(self.task, completed=done_s)  # add_task's stub takes an int only

    def update(self, done_s: float, phase: str, kernels: int, models: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done_s, description=phase,
                            counts=f"kernels {kernels}, models {models}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def journal_path(device: str, backend: str, threads: int, space: str) -> Path:
    """One journal per device, space, backend, threads and allocator regime (measurements
    under glibc's default regime depend on process history and must not mix with steady
    ones: :mod:`.allocator`)."""
    from ..measurement.allocator import allocator_label

    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{device}-{space}")
    alloc = allocator_label()
    tail = "" if alloc == "glibc-default" else f"-{alloc}"  # default: the pre-v6 name
    return cache_dir() / "calibration" / f"{safe}-{backend}-t{threads}{tail}.jsonl"


def _measure_kernel_phase(j: Journal, pool: dict[str, list[Kernel]], until_s: float,
                          backend: str, device: str, bar: _Progress,
                          rng: random.Random) -> None:
    """Kernel groups, the worst-fitted types first, until ``until_s`` of measurement."""
    from ..fitting.predictor import fit_kernels, kernel_type

    done = {kernel_of(r) for r in j.of_kind("kernel")}
    corr: dict[str, Correction] = {}
    roof = j.roofline
    while j.spent_s < until_s:
        krecs = j.of_kind("kernel")
        counts: dict[str, int] = {}
        for r in krecs:
            t = kernel_type(kernel_of(r))
            counts[t] = counts.get(t, 0) + 1
        if len(krecs) >= 100 and len(krecs) % 64 < KERNEL_GROUP:
            corr = fit_kernels([kernel_of(r) for r in krecs], [r["ms"] for r in krecs], roof)
        group = _pick_kernels(pool, done, _type_weights(pool, corr, counts), rng, KERNEL_GROUP)
        if not group:
            break
        t0 = _now()
        times = measure_kernels(group, backend, device)
        cost = (_now() - t0) / len(group)
        for kr, ms in zip(group, times):
            j.append({"kind": "kernel", "kernel": list(kr), "ms": ms, "cost_s": cost})
        bar.update(j.spent_s, "kernels", len(j.of_kind("kernel")), len(j.of_kind("model")))


def _measure_model_group(j: Journal, items: list[tuple[ArchConfig, int]], source: str,
                         extra_s: float,
                         backend: str, device: str, bar: _Progress) -> None:
    """Time ``items`` interleaved and journal them; ``extra_s`` (choosing them) is charged too."""
    from ...arch.yaml_io import config_to_dict

    t0 = _now()
    times = measure_models(items, backend, device)
    cost = (_now() - t0 + extra_s) / len(items)
    for (cfg, r), ms in zip(items, times):
        j.append({"kind": "model", "arch": config_to_dict(cfg), "resolution": r, "batch": 1,
                  "ms": ms, "cost_s": cost, "source": source})
    bar.update(j.spent_s, f"whole models ({source})", len(j.of_kind("kernel")),
               len(j.of_kind("model")))


def _run_phases(j: Journal, space: str, res: list[int], budget_s: float, backend: str,
                device: str, bar: _Progress, rng: random.Random) -> None:
    """Kernels (random and corner configs), random whole models, then adaptive whole models:
    corner candidates the bootstrap committee disagrees on most (``adaptive.py``)."""
    from ...space import load_space
    from ..fitting.adaptive import corner_configs, pick_uncertain
    from ..fitting.families import measure_families, wants_families

    sp = load_space(space)
    configs = sample_configs(space, rng, 80) + corner_configs(sp, rng, CORNER_CONFIGS)
    _measure_kernel_phase(j, kernel_pool(configs, res, rng), KERNEL_SHARE * budget_s,
                          backend, device, bar, rng)
    if wants_families(j, backend, budget_s):  # other families' level (families.py)
        t0 = _now()
        recs = measure_families(backend, device)
        for rec in recs:
            j.append(dict(rec, cost_s=(_now() - t0) / len(recs)))
    while j.spent_s < (KERNEL_SHARE + MODEL_SHARE * (1 - ADAPTIVE_SHARE)) * budget_s:
        items = [(cfg, rng.choice(res)) for cfg in sample_configs(space, rng, MODEL_GROUP)]
        _measure_model_group(j, items, "random", 0.0, backend, device, bar)
    while j.spent_s < (KERNEL_SHARE + MODEL_SHARE) * budget_s:
        if len(j.of_kind("model")) < 4:
            break  # too little to fit a committee: a budget this small stays random
        t0 = _now()
        items = pick_uncertain(j.of_kind("kernel"), j.of_kind("model"), j.roofline,
                               sp, res, rng, MODEL_GROUP)
        _measure_model_group(j, items, "adaptive", _now() - t0, backend, device,
                             bar)


def _profile_of(j: Journal, budget_minutes: float | None) -> Profile:
    """Fit a journal and wrap it as a calibrated profile (provenance names what it holds)."""
    from ..measurement.host import platform_facts

    h = j.header
    params, err = fit_journal(j, j.roofline)
    models = j.of_kind("model")
    by_source: dict[str, int] = {}
    for r in models:
        by_source[r.get("source", "random")] = by_source.get(r.get("source", "random"), 0) + 1
    split = ", ".join(f"{n} {s}" for s, n in sorted(by_source.items()))
    fams = len(j.of_kind("family"))
    split += f"; {fams} of other families for their level" if fams else ""
    prov = (f"calibrated on this machine ({len(j.of_kind('kernel'))} kernels, "
            f"{len(models)} whole models: {split}; {h['backend']}, {h['threads']} thread(s)"
            + (", process CPU-time clock)" if h.get("clock") == "cpu" else ")"))
    return make_profile(h["device"], h["device"], prov, "calibrated", params, error=err,
                        host=dict(platform_facts(h["backend"], h["threads"],
                                                 h.get("torch_device", "cpu")),
                                  clock=h.get("clock", "wall")),
                        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                        space=h["space"], budget_minutes=budget_minutes, journal=str(j.path),
                        fit_version=FIT_VERSION, resolutions=_span(models))


def _span(models: list[ModelRecord]) -> list[int] | None:
    """[smallest, largest] input side of the measured whole models (None: none measured)."""
    res = [int(r.get("resolution", 224)) for r in models]
    return [min(res), max(res)] if res else None


def calibrate_device(device: str = "local", backend: str = "torch", threads: int = 1,
              budget_minutes: float = 5.0, out: str | None = None, space: str = "lowformer",
              resolutions: Sequence[int] | None = None, progress: bool = True,
              torch_device: str = "cpu") -> Profile:
    """Calibrate this machine as ``device``; resumes from the journal of an earlier run."""
    from ..measurement.host import local_roofline
    from ...space import load_space
    from .level import with_baseline
    from ..measurement.measure import (check_backend, check_clock, check_device, clock_name,
                                       threads_set)

    check_backend(backend)
    check_device(torch_device)
    if budget_minutes <= 0 or threads < 1:
        raise ProfileError(f"need --budget-minutes > 0 and --threads >= 1, got "
                           f"{budget_minutes}, {threads}")
    load_space(space)  # a bad space fails here, before the journal is created
    res = space_resolutions(space, resolutions)
    header = {"device": device, "backend": backend, "threads": threads, "space": space,
              "roofline": local_roofline(threads, backend, torch_device),
              "torch_device": torch_device, "clock": check_clock(clock_name(), torch_device,
                                                                 threads)}
    j = Journal(journal_path(device, backend, threads, space), header)
    budget_s = 60.0 * budget_minutes
    rng = random.Random(len(j.records) * 7919 + 1)
    bar = _Progress(progress, budget_s, min(j.spent_s, budget_s))
    try:
        with threads_set(threads):
            _run_phases(j, space, res, budget_s, backend, torch_device, bar, rng)
    finally:
        bar.close()
    prof = with_baseline(_profile_of(j, budget_minutes))  # level checks compare with it
    if out:
        prof.save(out)
    return prof


def refit_with_models(profile_or_journal: Profile | str | os.PathLike[str],
                      rows: Sequence[dict[str, Any]], source: str = "verify") -> Profile:
    """Append whole-model latencies measured on the profile's device to its calibration
    journal and refit (the search's measure-and-refit loop calls this).

    ``rows``: dicts with ``arch`` (an ``ArchConfig`` or its dict), ``ms`` (measured latency),
    optional ``resolution`` (224) and ``batch`` (1), timed on the journal's clock (``measure``
    follows ``$LOWFORMER_NAS_CLOCK``; checked). Each row is fsynced before the refit, so
    a crash loses nothing already appended. Returns the refitted profile (not saved: the
    caller decides where it goes); its ``error.n_models`` and sha256 change with the journal.
    """
    from ...arch.yaml_io import config_from_dict, config_to_dict
    from ..measurement.measure import clock_name

    path = profile_or_journal.data.get("journal") if isinstance(profile_or_journal, Profile) \
        else str(profile_or_journal)
    if not path or not Path(path).is_file():
        raise ProfileError(f"cannot refit: the profile has no calibration journal on this "
                           f"machine (journal {path!r}); measured rows need a profile "
                           f"calibrated here")
    j = Journal(Path(path), journal_header(Path(path)))
    if j.header.get("clock", "wall") != clock_name():
        raise ProfileError(f"journal {path} was timed on the {j.header.get('clock', 'wall')!r} "
                           f"clock but this process measures on {clock_name()!r} "
                           f"($LOWFORMER_NAS_CLOCK); rows must use the journal's clock")
    budget = profile_or_journal.data.get("budget_minutes") \
        if isinstance(profile_or_journal, Profile) else None
    for row in rows:
        arch = row["arch"] if isinstance(row["arch"], dict) else config_to_dict(row["arch"])
        config_from_dict(arch)  # a bad row fails before anything is appended
        ms = float(row["ms"])
        if not ms > 0:
            raise ProfileError(f"measured latency must be > 0 ms, got {row['ms']!r}")
    for row in rows:
        arch = row["arch"] if isinstance(row["arch"], dict) else config_to_dict(row["arch"])
        j.append({"kind": "model", "arch": arch, "resolution": int(row.get("resolution", 224)),
                  "batch": int(row.get("batch", 1)), "ms": float(row["ms"]), "cost_s": 0.0,
                  "source": source})
    new = _profile_of(j, budget)
    if isinstance(profile_or_journal, Profile):  # the same machine: its level stays known
        kept = {k: v for k, v in profile_or_journal.data.items() if k in ("reference", "level")}
        new = Profile(dict(new.data, **kept), new.source)
    return new


def journal_header(path: Path) -> dict[str, Any]:
    """The header of the calibration journal at ``path`` (its first line, less ``kind``)."""
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    try:
        rec = json.loads(first)
    except json.JSONDecodeError:
        raise ProfileError(f"calibration journal {path} has no readable header line") from None
    return {k: v for k, v in rec.items() if k != "kind"}
