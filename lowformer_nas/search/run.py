"""A search run: resolve and validate everything, lock the run directory, run a backend, finish.

Run directory layout (the same for both backends)::

    config.yaml      resolved options, seeds, versions, target profile and its sha256
    trials.csv       every trial (a row appended as each finishes; rewritten whole
                     at stage starts, every 30 s and at the end)
    study.journal    Optuna journal (optuna backend without --storage)
    reference.json   official variants scored the same way (cache)
    pareto.json      the computed Pareto data behind the page
    pareto.html      interactive Pareto page (also every 60 s while the search runs, marked
                     interim, without B0-B3 and references)
    summary.md       counts, front, B0-B3, Spearman, hypervolume (interim likewise)
    models/B0.yaml … B3.yaml
"""
from __future__ import annotations

import sys
import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable

import yaml

from .._io import atomic_write_text
from ..errors import LowFormerNASError, RunError
from ..rundir.lock import lock_run_dir
from ..rundir.config import (CONFIG_NAME, RUN_FORMAT, RUN_FORMAT_VERSION, RunConfig,
                             read_run_config)
from .budget import format_budget
from .context import RunDir, SearchContext
from .references import Finisher
from .settings import SearchSettings, stage_plan

if TYPE_CHECKING:  # for the annotations only; imported where they are used
    from ..accuracy.datasets import ProxyData
    from ..latency.targets.level import LevelCheck
    from ..latency.targets.profiles import Profile
    from ..space import SearchSpace
    from .bookkeeping import TrialBook

__all__ = ["Finisher", "Interim", "RunDir", "SearchContext", "run_search"]

def default_out(settings: SearchSettings) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = Path(settings.target).stem if settings.target.endswith(".json") else settings.target
    return Path("runs") / f"{target}-{format_budget(settings.budget_ms)}-{stamp}"


def read_search_config(path: Path) -> RunConfig:
    """``read_run_config`` plus a check that its settings are a search this version runs."""
    data = read_run_config(path)
    try:
        SearchSettings.from_dict(data["settings"])
    except (TypeError, LowFormerNASError) as e:
        raise RunError(f"{str(path / CONFIG_NAME)!r}: its settings are not a valid "
                       f"lowformer-nas search ({e})") from None
    return data


def check_resumable(settings: SearchSettings, out: Path, profile_sha: str = "") -> bool:
    """True when ``out`` holds this same search (same options and latency profile, so old and
    new trials are comparable); RunError when it holds another search or junk."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise RunError(f"--out {str(out)!r} exists and is not a directory")
    if not (out / CONFIG_NAME).is_file():
        if any(out.iterdir()):
            raise RunError(f"--out {str(out)!r} is a non-empty directory without {CONFIG_NAME}; "
                           f"choose a new or empty directory")
        return False
    config = read_search_config(out)
    diff = settings.differences(SearchSettings.from_dict(config["settings"]))
    prof = config.get("profile")  # the calibration, whatever level checks found since
    old_sha = (prof.get("base_sha256") or prof.get("sha256")) if isinstance(prof, dict) else None
    if old_sha and profile_sha and old_sha != profile_sha:  # e.g. a recalibrated target
        diff.append(f"latency profile sha256: {old_sha[:12]}... -> {profile_sha[:12]}...")
    if diff:
        raise RunError(f"--out {str(out)!r} holds a different search ({'; '.join(diff)}); "
                       f"use another --out to start a new one")
    return True


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("lowformer-nas", "torch", "timm", "optuna", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _seeds(settings: SearchSettings) -> dict[str, object]:
    """Every random stream of a search and its seed (all derive from ``--seed``)."""
    s = settings.seed
    return {"seed": s, "data_split": s, "weight_init": s, "proxy_batches": s,
            "sampler": f"{s} + trials already in the stage's study (a resumed run draws anew)"}


def _machine() -> dict[str, object]:
    """Where it ran; zero-cost scores can differ in the last bits with the thread count."""
    import torch

    return {"platform": platform.platform(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads()}


def _measure_protocol(settings: SearchSettings) -> dict[str, object] | None:
    """``--measure``: how every trial's latency is timed, and where (a fresh worker per trial:
    ``latency/measurement/worker.py``); the verify loop's journal records say it per measurement."""
    if not settings.measure:
        return None
    from ..latency.measurement.host import platform_facts
    from ..latency.measurement.measure import protocol

    import json  # plain types for YAML (torch's version string is a str subclass)

    return json.loads(json.dumps({"protocol": protocol("torch", 1, "cpu"),
                                  "host": platform_facts("torch", 1)}))


def _resolution_note(profile: Profile, resolution: int) -> str | None:
    """A profile calibrated at other input sizes than the space's: said on stderr, kept in
    config.yaml (the search's latencies are extrapolated)."""
    import sys

    note = profile.resolution_note(resolution)
    if note:
        sys.stderr.write(f"lowformer-nas: warning: target {profile.name!r}: {note}\n")
    return note or None


def open_run(settings: SearchSettings, space: SearchSpace, profile: Profile) -> RunDir:
    """Create or reopen the run directory ``settings.out``, take its lock, write
    ``config.yaml``."""
    assert settings.out, "settled by run_search (default_out)"
    out = Path(settings.out)
    resumed = check_resumable(settings, out, profile.base_sha256)
    out.mkdir(parents=True, exist_ok=True)
    fd = lock_run_dir(out)
    old = read_run_config(out) if resumed else {}
    doc = {"format": RUN_FORMAT, "format_version": RUN_FORMAT_VERSION,
           "settings": settings.to_dict(), "created": old.get("created", time.ctime()),
           "updated": time.ctime(), "resumed": old.get("resumed", -1) + 1,
           "stages": stage_plan(settings), "seeds": _seeds(settings),
           "space": {"name": space.name, "resolution": space.resolution, "size": space.size()},
           "profile": {"name": profile.name, "sha256": profile.sha256,
                       "base_sha256": profile.base_sha256,
                       "source": profile.source, "describe": str(profile.describe()),
                       "resolution_note": _resolution_note(profile, space.resolution)},
           "machine": _machine(), "versions": _versions(),
           "measure_protocol": _measure_protocol(settings)}
    atomic_write_text(out / CONFIG_NAME, yaml.safe_dump(doc, sort_keys=False))
    return RunDir(out, fd)


# Finisher (``references.py``): the report files at the end, ``report.finish.finish_run``.
# (run dir, settings) -> None: pages of a search still running (``report.finish.
# interim_pages``), called every ``bookkeeping.PAGES_S`` seconds.
Interim = Callable[[Path, SearchSettings], None]


def run_search(settings: SearchSettings, quiet: bool = False, finish: Finisher | None = None,
               interim: Interim | None = None) -> tuple[RunDir, dict[str, object]]:
    """Validate everything, then search and write trials.csv (``interim`` writes pages while
    it runs); ``finish`` then writes the report files (B0-B3, pages). Returns (run dir, what
    ``finish`` returned, or ``{"references": [...]}`` without it)."""
    from ..space import load_space
    from .feasibility import with_quantile
    from .objective import Evaluator
    from .progress import SearchProgress
    from .references import reference_names

    space = load_space(settings.space)
    profile, latest, level = _profiles(settings)
    # settled once, before config.yaml is compared or written: the quantile and the directory
    settings = with_quantile(settings, profile)
    if not settings.out:
        settings = replace(settings, out=str(default_out(settings)))
    reference_names(settings)
    data = _load_data(settings)
    if settings.storage:
        from .backends.storage import check_storage

        check_storage(settings)
    run = open_run(settings, space, profile)
    _keep_level(profile, level)
    try:
        with SearchProgress(quiet) as progress:
            ctx = SearchContext(settings, space, profile,
                                Evaluator(settings, space, latest, data), run, progress)
            if settings.verify and not settings.measure:
                from .verify import Verifier

                ctx.verify = Verifier(run.path, settings, space.resolution, profile, latest,
                                      quiet=quiet)
                ctx.evaluator = ctx.evaluator.with_profile(ctx.verify.current)
            _run_backend(ctx, interim)
            if ctx.verify is not None:
                from ..rundir.rows import read_trials_csv

                ctx.verify.final(read_trials_csv(run.file("trials.csv")),
                                 stage_plan(settings)[-1][0])
        return run, _finish(ctx, finish)
    finally:
        run.release()


def _finish(ctx: SearchContext, finish: Finisher | None) -> dict[str, object]:
    """Score the references (cached), then let the reports read the run directory."""
    from .references import evaluate_references

    refs = [dict(r) for r in evaluate_references(ctx.evaluator, ctx.run.file("reference.json"),
                                                 ctx.profile.sha256)]
    if ctx.verify is not None:
        from .verify import publish

        refs = publish(ctx.run.path, ctx.space, ctx.verify, refs)
    if finish is None:
        return {"references": list(refs)}
    return finish(ctx.run.path, refs, ctx.settings, ctx.profile, ctx.progress.quiet)


def _verify_during_search(ctx: SearchContext, every: int
                          ) -> Callable[[TrialBook, str], bool]:
    """After a finished trial: a verify round every ``every`` trials; True when it refitted
    the profile (every row's prediction changed: trials.csv is rewritten whole)."""
    verify = ctx.verify
    assert verify is not None  # only made when the run verifies

    def after_trial(book: TrialBook, stage: str) -> bool:
        new = verify.during_search(list(book.rows.values()), stage, book.done(stage), every)
        if new is None:
            return False
        ctx.evaluator = ctx.evaluator.with_profile(new)  # the rest: predicted by the refit
        return True
    return after_trial


def _profiles(settings: SearchSettings) -> tuple[Profile, Profile, LevelCheck | None]:
    """(initial, latest) profile of the run and a level check to keep (or None): a run that
    verified before continues with its own; a new one with the target's, level-checked."""
    from ..latency import get_target

    own = _run_profiles(settings)
    if own:
        return own[0], own[1], None
    profile, level = _checked_level(settings, get_target(settings.target))
    return profile, profile, level


def _checked_level(settings: SearchSettings, profile: Profile
                   ) -> tuple[Profile, LevelCheck | None]:
    """A new search that will measure on this machine first checks the profile's level (a
    reference set, seconds: ``latency/targets/level.py``) and predicts at today's level.
    Returns the profile and the check (None: none made), which the caller keeps beside the
    cached profile once the run directory is open (bad input changes nothing on disk)."""
    from ..latency.fitting.refit import measurable_here
    from ..latency.targets.level import check_cached, needs_check

    if not (settings.verify and not settings.measure and needs_check(profile)
            and os.path.isfile(profile.source) and measurable_here(profile)):
        return profile, None
    if settings.out and (Path(settings.out) / CONFIG_NAME).is_file():
        return profile, None  # a resumed run keeps the level it started with (config.yaml)
    return check_cached(profile)


def _keep_level(profile: Profile, check: LevelCheck | None) -> None:
    from ..latency.targets.level import save_check

    if check is not None:
        save_check(Path(profile.source), check)
        sys.stderr.write(f"lowformer-nas: target {profile.name!r}: {check.describe()}\n")


def _run_profiles(settings: SearchSettings) -> tuple[Profile, Profile] | None:
    """A run that verified before continues with its own (initial, latest) profiles, not
    with the target's file, which its own refits (or a recalibration) have since changed."""
    if not settings.out:
        return None
    from .verify import run_profiles

    return run_profiles(Path(settings.out))


def _load_data(settings: SearchSettings) -> ProxyData:
    from ..accuracy.datasets import load_dataset

    # SearchSettings fills these in (the space's search_defaults, else FALLBACK)
    assert settings.max_train is not None and settings.proxy_resolution is not None
    return load_dataset(settings.dataset, settings.data_dir, settings.max_train,
                        settings.max_val, settings.seed, image_size=settings.proxy_resolution)


def _run_backend(ctx: SearchContext, interim: Interim | None = None) -> None:
    from ..rundir.rows import TrialsFile
    from .bookkeeping import TrialBook

    annotate = ctx.verify.annotate if ctx.verify is not None else None
    book = TrialBook(TrialsFile(ctx.run.file("trials.csv"), ctx.space, annotate), ctx.progress)
    if interim is not None:
        book.pages = lambda: interim(ctx.run.path, ctx.settings)
    if ctx.settings.backend == "ray":
        from .backends.ray import run_ray

        run_ray(ctx, stage_plan(ctx.settings), book)
        return
    from .backends.optuna import run_optuna
    from .backends.storage import open_storage, population_size

    if ctx.verify is not None and not ctx.settings.storage:
        book.after_trial = _verify_during_search(ctx, population_size(ctx.settings))

    run_optuna(ctx, open_storage(ctx.settings, ctx.run.path), stage_plan(ctx.settings), book)
