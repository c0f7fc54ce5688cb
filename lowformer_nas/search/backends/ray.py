"""The Ray Tune backend: Tune runs the trials, an Optuna study (the same NSGA-II / TPE sampler
and the same journal in the run directory) proposes them, and the Optuna backend's
early-stopping rule (``search.halving``) is a Tune scheduler.

:class:`StudySearcher` is a Tune ``Searcher`` that asks and tells an Optuna study through both
libraries' public API, and sets the latency constraint (``trial.set_constraint``) before
telling (Ray's own ``OptunaSearch`` tells only the metric values). Each finished Ray trial
becomes a line in ``ray_trials.jsonl`` (appended; what a rerun resumes from) and a row in
``trials.csv``, so the run directory looks the same as with the Optuna backend. Evaluation,
recovery and top-k are :mod:`.common`'s. ``import ray`` happens here only.
"""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any
from collections.abc import Mapping, Sequence

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no experiment banners on our console
from ray.tune.search import Searcher  # noqa: E402  (this module is the deferred one)

from ..._io import append_text, atomic_write_text, truncate_torn_tail
from ...rundir.rows import TrialAttrs, TrialRow, params_of
from ..budget import time_left
from .common import CONSTRAINT, evaluate, mark_interrupted, objective_values, top_k
from .storage import find_study, open_storage, open_study

if TYPE_CHECKING:  # annotations only
    from optuna import Study, Trial as OptunaTrial
    from optuna.distributions import BaseDistribution
    from ray.tune import Callback, Tuner
    from ray.tune.experiment import Trial

    from ..bookkeeping import TrialBook
    from ..context import SearchContext
    from ..objective import Evaluator

ROWS_FILE = "ray_trials.jsonl"
OLD_ROWS_FILE = "ray_trials.json"  # runs of earlier versions: one JSON list, read once


def _trainable(config: Mapping[str, object], evaluator: Evaluator | None = None,
               stage: str = "zc") -> None:
    """One trial inside a Ray worker: :func:`.common.evaluate`, reported to Tune."""
    import time

    import torch
    from ray import tune

    assert evaluator is not None  # tune.with_parameters passes it
    torch.set_num_threads(1)
    start = time.perf_counter()
    cfg = evaluator.space.build(config)
    lat = evaluator.latency(cfg)
    qlat = evaluator.rule.budget_latency(*lat)  # what the budget is compared with
    curve: list[float] = []
    zc: dict[str, float] = {}

    def report(epoch: int, acc: float, score: float) -> None:  # a training epoch (feasible)
        curve.append(acc)
        tune.report({"latency_ms": lat[0], "latency_std_ms": lat[1], "latency_budget_ms": qlat,
                     "feasible": True,
                     "score": score, "epoch": epoch, "zc": zc,
                     "curve": list(curve), "seconds": time.perf_counter() - start})

    ev = evaluate(evaluator, cfg, stage, report=report if stage == "train" else None,
                  latency=lat, on_zc=zc.update)
    if stage == "zc" or not ev.feasible:  # one report: the whole trial
        score = objective_values(ev)[0]
        tune.report(dict(ev.attrs(), score=score, epoch=1, seconds=ev.seconds,
                         latency_budget_ms=qlat))


def _load_rows(ctx: SearchContext) -> list[TrialRow]:
    old, path = ctx.run.file(OLD_ROWS_FILE), ctx.run.file(ROWS_FILE)
    rows: list[TrialRow] = json.loads(old.read_text(encoding="utf-8")) if old.is_file() else []
    truncate_torn_tail(path)  # the run dir is locked: a torn line is from a killed run
    if path.is_file():
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return rows


def _make_callback(ctx: SearchContext, stage: str, rows: list[TrialRow],
                   book: TrialBook) -> Callback:
    from ray.tune import Callback

    numbers = [sum(1 for r in rows if r["stage"] == stage)]  # the next row's number

    class RowWriter(Callback):
        """After each finished Ray trial: a journal line, a trials.csv row, progress moved."""

        def _add(self, trial: Trial, state: str, error: str = "") -> None:
            res = dict(trial.last_result or {})
            curve = res.get("curve") or []
            if state == "COMPLETE" and stage == "train" and res.get("feasible") \
                    and len(curve) < _epochs(ctx):
                state = "PRUNED"  # stopped early by the halving scheduler
            attrs = TrialAttrs(latency_ms=res.get("latency_ms"),
                               latency_std_ms=res.get("latency_std_ms"),
                               feasible=res.get("feasible"), zc=res.get("zc"), curve=curve,
                               seconds=res.get("seconds"), error=error,
                               # over budget: no proxy ran
                               score=res.get("score") if res.get("feasible") else None)
            row = book.row(stage, numbers[0], state, trial.config, attrs)
            numbers[0] += 1
            rows.append(row)
            append_text(ctx.run.file(ROWS_FILE), json.dumps(row, default=str) + "\n")
            book.add(row)
            book.show(stage)

        def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial,
                              **info: object) -> None:
            self._add(trial, "COMPLETE")

        def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial,
                           **info: object) -> None:
            self._add(trial, "FAIL", error=f"ray trial error: {trial.error_file or 'see logs'}")

    return RowWriter()


class StudySearcher(Searcher):
    """A Tune searcher that asks an Optuna study for each trial's params and tells it the
    (score, latency) result, with ``latency`` as the constraint the samplers read."""

    def __init__(self, study: Study, space: dict[str, BaseDistribution], budget_ms: float,
                 points: Sequence[dict[str, object]]) -> None:
        super().__init__()  # two objectives: the result is read here, not by Tune's metric
        self.study, self.space, self.budget_ms = study, space, budget_ms
        for p in points:  # proposed first: interrupted trials, the two-stage top k
            study.enqueue_trial(p)
        self.running: dict[str, OptunaTrial] = {}

    def suggest(self, trial_id: str) -> dict[str, object] | None:
        trial = self.study.ask(self.space)
        self.running[trial_id] = trial
        return dict(trial.params)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None,
                          error: bool = False) -> None:  # result: what the trial reported
        from optuna.trial import TrialState

        trial = self.running.pop(trial_id, None)
        if trial is None:
            return
        if error or not result or result.get("score") is None:
            self.study.tell(trial, state=TrialState.FAIL)
            return
        trial.set_constraint(CONSTRAINT, result.get(
            "latency_budget_ms", result["latency_ms"]) - self.budget_ms)
        self.study.tell(trial, [result["score"], result["latency_ms"]])

    def save(self, checkpoint_path: str) -> None:
        """The study is the searcher's state, already in its storage: Tune's checkpoint only
        names it."""
        atomic_write_text(checkpoint_path, json.dumps({"study": self.study.study_name}))

    def restore(self, checkpoint_path: str) -> None:
        """Nothing to load: a rerun reopens the study (``run_ray``)."""

    def __getstate__(self) -> dict[str, object]:  # Tune pickles its searcher: running trials
        return dict(self.__dict__, running={})  # are the live process's, not the copy's


def _searcher(ctx: SearchContext, stage: str, points: Sequence[dict[str, object]]
              ) -> StudySearcher:
    from optuna.distributions import CategoricalDistribution

    s = ctx.settings
    space: dict[str, BaseDistribution] = {
        k: CategoricalDistribution(v) for k, v in ctx.space.dimensions().items()}
    study = open_study(open_storage(s, ctx.run.path), s, stage, prefix="ray-")
    return StudySearcher(study, space, s.budget_ms, points)


def _params(row: TrialRow) -> dict[str, object]:
    return {k: _native(v) for k, v in params_of(row).items()}


def _top_k_points(rows: list[TrialRow], k: int) -> list[dict[str, object]]:
    feas = [r for r in rows if r["stage"] == "zc" and r["state"] == "COMPLETE" and r["feasible"]]
    return [_params(r) for r in top_k(feas, k, key=lambda r: r["config"],
                                      point=lambda r: (r["score"], r["latency_ms"]))]


def _interrupted_points(ctx: SearchContext, stage: str) -> list[dict[str, object]]:
    """Params of trials a killed run left RUNNING in Ray's Optuna study: marked FAIL
    (``interrupted``) and proposed again first, as the Optuna backend does."""
    study = find_study(open_storage(ctx.settings, ctx.run.path), ctx.settings, f"ray-{stage}")
    if study is None:
        return []
    return [{k: _native(v) for k, v in t.params.items()} for t in mark_interrupted(study)]


def _native(v: object) -> object:
    return v.item() if hasattr(v, "item") else v


def _epochs(ctx: SearchContext) -> int:
    assert ctx.settings.epochs is not None  # SearchSettings fills it in
    return ctx.settings.epochs


def _init_ray(ctx: SearchContext) -> None:
    import ray

    if ray.is_initialized():
        return
    if ctx.settings.address:
        ray.init(address=ctx.settings.address, log_to_driver=False)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)


def _tuner(ctx: SearchContext, stage: str, target: int, done: int, time_s: float | None,
           callback: Callback, searcher: StudySearcher) -> Tuner:
    from ray import tune

    from .ray_halving import LatencyAwareHalvingScheduler

    scheduler = LatencyAwareHalvingScheduler(_epochs(ctx)) if stage == "train" else None
    return tune.Tuner(
        tune.with_resources(tune.with_parameters(_trainable, evaluator=ctx.evaluator,
                                                 stage=stage), {"cpu": 1}),
        tune_config=tune.TuneConfig(search_alg=searcher, scheduler=scheduler,
                                    num_samples=target - done, time_budget_s=time_s,
                                    reuse_actors=True),  # not a new worker process a trial
        run_config=tune.RunConfig(name=f"{stage}-{done}",
                                  storage_path=str(ctx.run.path.resolve() / "ray"),
                                  verbose=0, callbacks=[callback]))


def run_ray(ctx: SearchContext, stages: Sequence[tuple[str, int]], book: TrialBook) -> None:
    """Run each stage with Ray Tune until it holds its trial count (resumes from the rows)."""
    _init_ray(ctx)
    rows = _load_rows(ctx)
    book.reset(rows)
    deadline = time_left(ctx.settings.timeout_s)
    for stage, target in stages:
        if deadline() == 0:
            break  # --timeout: later stages start when the same command is run again
        done = sum(1 for r in rows if r["stage"] == stage)
        ctx.progress.start_stage(stage, target, done)
        if done >= target:
            continue
        points = _top_k_points(rows, target - done) if stage == "train" and \
            ctx.settings.proxy == "two-stage" else []
        searcher = _searcher(ctx, stage, _interrupted_points(ctx, stage) + points)
        callback = _make_callback(ctx, stage, rows, book)
        _tuner(ctx, stage, target, done, deadline(), callback, searcher).fit()
    book.reset(rows)
