"""The Ray Tune backend: ``OptunaSearch`` (the same NSGA-II / TPE sampler and the same journal
in the run directory) with ``ASHAScheduler`` stopping trained trials early on accuracy.

Ray's ``OptunaSearch`` only tells Optuna the metric values, so a small subclass sets the
latency constraint (``trial.set_constraint``, Optuna 5) on the Optuna trial just before telling.
Each finished Ray trial becomes a row in ``ray_trials.json`` and ``trials.csv``, so the run
directory looks the same as with the Optuna backend. ``import ray`` happens here only.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Tuple

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no experiment banners on our console
from ray.tune.search.optuna import OptunaSearch  # noqa: E402  (this module is the deferred one)

from .._io import atomic_write_text
from .budget import time_left
from .objective import config_key
from ..rundir.rows import make_row

ROWS_FILE = "ray_trials.json"


def _trainable(config: Dict[str, Any], evaluator: Any = None, stage: str = "zc") -> None:
    """One trial inside a Ray worker: latency gate, zero-cost scores, optional training."""
    import time

    import torch
    from ray import tune

    from ..accuracy.proxies import train_proxy
    from ..accuracy.zerocost import zero_cost_scores

    torch.set_num_threads(1)
    start = time.perf_counter()
    s, cfg = evaluator.settings, evaluator.space.build(config)
    lat, std = evaluator.latency(cfg)
    qlat = evaluator.rule.budget_latency(lat, std)
    base = {"latency_ms": lat, "latency_std_ms": std, "latency_budget_ms": qlat,
            "feasible": qlat <= s.budget_ms,
            "config_key": config_key(cfg)}
    if not base["feasible"]:  # worst score (ASHA needs a finite one in the train stage)
        worst = 0.0 if stage == "train" else -math.inf
        tune.report(dict(base, score=worst, epoch=1, zc={}, curve=[], seconds=0.0))
        return
    zc = zero_cost_scores(cfg, evaluator.data, s.proxy_resolution, seed=s.seed)
    if stage == "zc":
        tune.report(dict(base, score=zc[s.zc_score], epoch=1, zc=zc, curve=[],
                         seconds=time.perf_counter() - start))
        return
    curve: List[float] = []

    def report(epoch: int, acc: float) -> None:
        curve.append(acc)
        tune.report(dict(base, score=acc, epoch=epoch, zc=zc, curve=list(curve),
                         seconds=time.perf_counter() - start))
    train_proxy(cfg, evaluator.data, s.proxy_resolution, s.epochs, seed=s.seed, report=report)


def _load_rows(ctx) -> List[Dict[str, Any]]:
    path = ctx.run.file(ROWS_FILE)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def _make_callback(ctx, stage: str, rows: List[Dict[str, Any]]):
    from ray.tune import Callback

    from .bookkeeping import write_rows

    class RowWriter(Callback):
        """After each finished Ray trial: a row, trials.csv rewritten, progress moved."""

        def _add(self, trial: Any, state: str, error: str = "") -> None:
            res = dict(trial.last_result or {})
            curve = res.get("curve") or []
            if state == "COMPLETE" and stage == "train" and res.get("feasible") \
                    and len(curve) < ctx.settings.epochs:
                state = "PRUNED"  # stopped early by ASHA
            attrs = {k: res.get(k) for k in ("latency_ms", "latency_std_ms", "feasible", "zc",
                                              "curve", "score", "seconds")}
            attrs["error"] = error
            if not res.get("feasible"):
                attrs["score"] = None  # over budget: no proxy ran
            rows.append(make_row(stage, len([r for r in rows if r["stage"] == stage]), state,
                                 trial.config, attrs, ctx.space))
            atomic_write_text(ctx.run.file(ROWS_FILE), json.dumps(rows, default=str))
            write_rows(ctx, rows, stage)

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any):
            self._add(trial, "COMPLETE")

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any):
            self._add(trial, "FAIL", error=f"ray trial error: {trial.error_file or 'see logs'}")

    return RowWriter()


class ConstrainedOptunaSearch(OptunaSearch):
    """OptunaSearch that sets ``latency`` as an Optuna 5 constraint before telling."""

    def __init__(self, *args: Any, budget_ms: float = 0.0, metric_names: Any = None,
                 **kwargs: Any) -> None:
        self.budget_ms, self.metric_names = budget_ms, metric_names
        super().__init__(*args, **kwargs)

    def _setup_study(self, mode: Any) -> None:
        from .optuna_backend import name_metrics

        super()._setup_study(mode)
        if self.metric_names:
            name_metrics(self._ot_study, self.metric_names)

    def on_trial_complete(self, trial_id: str, result: Any = None, error: bool = False) -> None:
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is not None and result and result.get("latency_ms") is not None:
            ot_trial.set_constraint("latency", result.get("latency_budget_ms",
                                                          result["latency_ms"]) - self.budget_ms)
        super().on_trial_complete(trial_id, result, error)


def _searcher(ctx, stage: str, points: List[Dict[str, Any]]):
    from optuna.distributions import CategoricalDistribution

    from .optuna_backend import _sampler, metric_names, open_storage, study_name

    s = ctx.settings
    space = {k: CategoricalDistribution(v) for k, v in ctx.space.dimensions().items()}
    return ConstrainedOptunaSearch(
        space=space, metric=["score", "latency_ms"], mode=["max", "min"],
        sampler=_sampler(s, 0), storage=open_storage(s, ctx.run.path), budget_ms=s.budget_ms,
        metric_names=metric_names(s, stage),
        study_name=study_name(s, f"ray-{stage}"), points_to_evaluate=points or None)


def _top_k_points(rows: List[Dict[str, Any]], space: Any, k: int) -> List[Dict[str, Any]]:
    import numpy as np

    from ..rundir.pareto import non_dominated_sort

    feas = {r["config"]: r for r in rows if r["stage"] == "zc" and r["state"] == "COMPLETE"
            and r["feasible"] and r["score"] is not None and math.isfinite(r["score"])}
    cands = list(feas.values())
    if not cands:
        return []
    ranks = non_dominated_sort(np.array([[r["score"], r["latency_ms"]] for r in cands]),
                               [True, False])
    order = sorted(range(len(cands)), key=lambda i: (ranks[i], -cands[i]["score"]))
    return [{k[2:]: _native(v) for k, v in cands[i].items() if k.startswith("p:")}
            for i in order[:k]]


def _interrupted_points(ctx, stage: str) -> List[Dict[str, Any]]:
    """Params of trials a killed run left RUNNING in Ray's Optuna study: marked FAIL
    (``interrupted``) and proposed again first, as the Optuna backend does."""
    import optuna

    from .optuna_backend import open_storage, study_name

    storage = open_storage(ctx.settings, ctx.run.path)
    name = study_name(ctx.settings, f"ray-{stage}")
    if name not in {st.study_name for st in optuna.get_all_study_summaries(storage)}:
        return []
    study = optuna.load_study(study_name=name, storage=storage)
    points = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        points.append({k: _native(v) for k, v in t.params.items()})
    return points


def _native(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _init_ray(ctx) -> None:
    import ray

    if ray.is_initialized():
        return
    if ctx.settings.address:
        ray.init(address=ctx.settings.address, log_to_driver=False)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)


def run_ray(ctx, stages: List[Tuple[str, int]]) -> None:
    """Run each stage with Ray Tune until it holds its trial count (resumes from the rows)."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    _init_ray(ctx)
    rows = _load_rows(ctx)
    deadline = time_left(ctx.settings.timeout_s)
    for stage, target in stages:
        if deadline() == 0:
            break  # --timeout: later stages start when the same command is run again
        done = sum(1 for r in rows if r["stage"] == stage)
        ctx.progress.start_stage(stage, target, done)
        if done >= target:
            continue
        points = _top_k_points(rows, ctx.space, target - done) if stage == "train" and \
            ctx.settings.proxy == "two-stage" else []
        points = _interrupted_points(ctx, stage) + points
        scheduler = ASHAScheduler(time_attr="epoch", metric="score", mode="max",
                                  max_t=ctx.settings.epochs, grace_period=1,
                                  reduction_factor=3) if stage == "train" else None
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(_trainable, evaluator=ctx.evaluator,
                                                     stage=stage), {"cpu": 1}),
            tune_config=tune.TuneConfig(search_alg=_searcher(ctx, stage, points),
                                        scheduler=scheduler, num_samples=target - done,
                                        time_budget_s=deadline()),
            run_config=tune.RunConfig(name=f"{stage}-{done}",
                                      storage_path=str(ctx.run.path.resolve() / "ray"),
                                      verbose=0, callbacks=[_make_callback(ctx, stage, rows)]))
        tuner.fit()
