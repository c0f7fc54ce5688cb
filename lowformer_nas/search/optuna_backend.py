"""The Optuna backend: one study per proxy stage (``zc``, ``train``), ask-and-tell via optimize.

Storage is a journal file in the run directory (crash-safe appends; the run directory is
locked, so trials still RUNNING when we open it were left by a killed process: they are
marked FAIL and their params re-enqueued), or ``--storage URL`` (RDB, e.g. PostgreSQL) with
heartbeats so that many workers share one study and stale trials are failed and retried.
Sampler: NSGA-II (default; population ``clamp(trials // 4, 8, 50)``) or multi-objective TPE;
both read the latency constraint set with ``trial.set_constraint``.
"""
from __future__ import annotations

import math
import os
from typing import Any, Callable, Dict, List, Optional

from ..errors import RunError
from .budget import time_left
from .objective import Evaluation, config_key, should_stop_early
from ..accuracy.proxies import TrialDiverged, TrialOutOfMemory, as_trial_failure

STUDY_PREFIX = "lowformer-nas"
CONSTRAINT = "latency"


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failures are recorded in trials.csv
    return optuna


def open_storage(settings, run_dir) -> Any:
    """Journal file in the run dir, or an RDB URL with heartbeats and retry of stale trials."""
    optuna = _optuna()
    if settings.storage:
        import warnings

        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5: known, used
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)
            return _rdb_storage(optuna, settings.storage, settings.heartbeat, retry)
    from optuna.storages.journal import JournalFileBackend

    from .._io import truncate_torn_tail

    path = run_dir / "study.journal"
    truncate_torn_tail(path)  # the run dir is locked: a torn line is from a crashed run
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def check_storage(settings) -> None:
    """Open ``--storage`` once before the run directory exists, so an unreachable database is
    a one-line error with nothing written."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        open_storage(settings, None)
    except ImportError as e:  # Optuna re-raises the driver's ImportError without its name
        name = getattr(e.__cause__, "name", None) or e.name
        raise RunError(f"cannot open --storage {settings.storage!r}: its database driver "
                       f"{name!r} is not installed (PostgreSQL: pip install "
                       f"'lowformer-nas[postgres]')") from None
    except SQLAlchemyError as e:
        reason = str(getattr(e, "orig", None) or e).splitlines()[0]
        raise RunError(f"cannot open --storage {settings.storage!r}: {reason}") from None


def _retry_races(make: Callable[[], Any], attempts: int = 5) -> Any:
    """``make()``, retried: workers started together on a fresh database race to create its
    schema and studies, and all but one fail (IntegrityError, or OperationalError "table ...
    already exists" / "database is locked"); on retry the winner's work is there. An
    unreachable database fails every attempt and its error is raised."""
    import random
    import time

    from sqlalchemy.exc import IntegrityError, OperationalError

    for attempt in range(attempts):
        try:
            return make()
        except (IntegrityError, OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 + random.random() * 0.4 * (attempt + 1))


def _rdb_storage(optuna, url: str, heartbeat: int, retry: Any) -> Any:
    """Heartbeat every ``heartbeat`` s while a trial runs; any worker starting a trial fails
    the trials silent for 4x as long (their worker died) and ``retry`` re-enqueues them."""
    return _retry_races(lambda: optuna.storages.RDBStorage(
        engine_url(url), heartbeat_interval=heartbeat, grace_period=4 * heartbeat,
        heartbeat_stale_trial_callback=retry))


def engine_url(url: str) -> str:
    """``postgresql://`` names no driver, and SQLAlchemy then wants psycopg2; the
    ``postgres`` extra installs psycopg (3), so use it when psycopg2 is absent."""
    from importlib.util import find_spec

    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.drivername == "postgresql" and not find_spec("psycopg2") and find_spec("psycopg"):
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _sampler(settings, offset: int):
    optuna = _optuna()
    seed = settings.seed + offset  # a resumed run must not redraw the first run's samples
    if settings.storage:  # workers sharing a study must not all draw the same samples
        seed += os.getpid()
    if settings.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if settings.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=10, multivariate=True,
                                          group=True)
    return optuna.samplers.NSGAIISampler(seed=seed, population_size=population_size(settings))


def population_size(settings) -> int:
    """NSGA-II's generation size (also the cadence of verify rounds during a search)."""
    return max(8, min(50, settings.trials // 4))


def study_name(settings, stage: str) -> str:
    """``lowformer-nas-<stage>-<key>``: the key hashes the options that define a search, so
    workers of one search share a study and different searches in one database never mix."""
    import hashlib
    import json

    from .settings import IDENTITY

    ident = json.dumps({k: getattr(settings, k) for k in IDENTITY}, sort_keys=True, default=str)
    return f"{STUDY_PREFIX}-{stage}-{hashlib.sha1(ident.encode()).hexdigest()[:10]}"


def metric_names(settings, stage: str) -> List[str]:
    """What the two objective values are, as optuna-dashboard and Optuna's plots label them."""
    return ["accuracy" if stage == "train" else settings.zc_score, "latency_ms"]


def name_metrics(study, names: List[str]) -> None:
    """Store ``names`` on ``study`` unless already there (one write, not one per worker)."""
    import warnings

    optuna = _optuna()
    if study.metric_names != names:
        with warnings.catch_warnings():  # "experimental" since Optuna 3.2: known, used
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(names)


def open_study(storage: Any, settings, stage: str):
    optuna = _optuna()
    name = study_name(settings, stage)

    def create() -> Any:
        study = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                    directions=["maximize", "minimize"])
        name_metrics(study, metric_names(settings, stage))
        return study
    study = _retry_races(create)
    n = len(study.get_trials(deepcopy=False))
    return optuna.load_study(study_name=name, storage=storage, sampler=_sampler(settings, n))


def recover_interrupted(study) -> int:
    """Retry what an interrupted process left behind (local runs: the run dir is locked).

    Trials still RUNNING were cut off by a kill: they are marked FAIL (``interrupted``). Those
    and trials failed by Ctrl-C (FAIL without an ``error``) get their params enqueued again,
    once each.
    """
    optuna = _optuna()
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    n = 0
    for t in trials:
        if t.state.name == "RUNNING":
            study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
            study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
        elif not (t.state.name == "FAIL" and "error" not in t.user_attrs):
            continue
        if t.number not in retried and t.params:
            study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
            n += 1
    return n


def counted(t) -> bool:
    """Trials that use up the trial budget: finished ones, and failures of the trial itself."""
    state = t.state.name
    return state in ("COMPLETE", "PRUNED") or (state == "FAIL" and "error" in t.user_attrs)


def done_count(study) -> int:
    return sum(counted(t) for t in study.get_trials(deepcopy=False))


def _finished_evaluations(study) -> Dict[str, Evaluation]:
    out: Dict[str, Evaluation] = {}
    for t in study.get_trials(deepcopy=False):
        if t.state.name == "COMPLETE" and "config_key" in t.user_attrs:
            a = t.user_attrs
            out.setdefault(a["config_key"], Evaluation(
                a["config_key"], a["latency_ms"], a["latency_std_ms"], a["feasible"], a["zc"],
                a["curve"], a["score"], 0.0))
    return out


def _history(study) -> List[tuple]:
    return [(t.user_attrs["latency_ms"], t.user_attrs.get("curve") or [])
            for t in study.get_trials(deepcopy=False)
            if t.state.name in ("COMPLETE", "PRUNED") and "latency_ms" in t.user_attrs]


def _early_stopper(ctx, study, trial, latency_ms: float) -> Callable[[int, float], None]:
    optuna = _optuna()
    history = _history(study)
    curve: List[float] = []

    def report(epoch: int, acc: float) -> None:
        curve.append(acc)
        trial.set_user_attr("curve", list(curve))
        if should_stop_early(epoch, acc, latency_ms, history, ctx.settings.epochs):
            raise optuna.TrialPruned(f"accuracy {acc:.3f} at epoch {epoch} below the top "
                                     f"third of faster trials")
    return report


def make_objective(ctx, study, stage: str) -> Callable[[Any], Any]:
    dims = ctx.space.dimensions()
    budget = ctx.settings.budget_ms

    def objective(trial):
        params = {k: trial.suggest_categorical(k, v) for k, v in dims.items()}
        cfg = ctx.space.build(params)
        key = config_key(cfg)
        ev = _finished_evaluations(study).get(key)
        if ev is not None:  # the same network again: reuse, don't retrain
            trial.set_user_attr("duplicate", True)
        else:
            lat = ctx.evaluator.latency(cfg)
            qlat = ctx.evaluator.rule.budget_latency(*lat)
            if CONSTRAINT not in trial.constraints:  # a heartbeat retry inherits its trial's
                trial.set_constraint(CONSTRAINT, qlat - budget)
            trial.set_user_attr("latency_ms", lat[0])
            trial.set_user_attr("latency_std_ms", lat[1])
            trial.set_user_attr("latency_budget_ms", qlat)  # what the budget was compared with
            trial.set_user_attr("feasible", qlat <= budget)
            report = _early_stopper(ctx, study, trial, lat[0]) if stage == "train" else None
            try:
                ev = ctx.evaluator.evaluate_config(cfg, stage, report=report, latency=lat)
            except (RuntimeError, MemoryError) as e:
                failure = as_trial_failure(e)
                if failure is None:
                    raise  # a bug, not a property of this candidate
                trial.set_user_attr("error", f"{type(failure).__name__}: {failure}")
                raise failure from e
        if CONSTRAINT not in trial.constraints:
            trial.set_constraint(CONSTRAINT, ctx.evaluator.rule.budget_latency(
                ev.latency_ms, ev.latency_std_ms) - budget)
        for k, v in ev.attrs().items():
            trial.set_user_attr(k, v)
        return ev.values()
    return objective


def enqueue_top_k(zc_study, train_study, space, k: int) -> int:
    """Two-stage: the k best zero-cost trials by non-dominated rank, then score, go to training."""
    from .prescreen import zc_order

    seen = {t.user_attrs.get("config_key") for t in train_study.get_trials(deepcopy=False)}
    already = sum(1 for t in train_study.get_trials(deepcopy=False))
    queued = 0
    for t in zc_order(zc_study, seen)[:max(0, k - already)]:
        train_study.enqueue_trial(space.to_params(space.build(t.params)),
                                  user_attrs={"zc_trial": t.number})
        queued += 1
    return queued


def run_stage(ctx, storage, stage: str, target: int, on_trial: Callable[[], None],
              timeout_s: Optional[float] = None) -> Any:
    """Run ``stage`` until its study holds ``target`` counted trials (or ``timeout_s`` passes:
    running trials finish, no new one starts); returns the study."""
    study = open_study(storage, ctx.settings, stage)
    if not ctx.settings.storage:
        recover_interrupted(study)
    two_stage = stage == "train" and ctx.settings.proxy == "two-stage"
    if two_stage and ctx.settings.prescreen == "surrogate":
        from .prescreen import run_prescreened

        return run_prescreened(ctx, open_study(storage, ctx.settings, "zc"), study, target,
                               on_trial, timeout_s)
    if two_stage:
        enqueue_top_k(open_study(storage, ctx.settings, "zc"), study, ctx.space, target)
    remaining = target - done_count(study)
    if remaining <= 0:
        return study

    def callback(st, _trial) -> None:
        on_trial()
        if done_count(st) >= target:
            st.stop()

    study.optimize(make_objective(ctx, study, stage), n_trials=remaining, timeout=timeout_s,
                   catch=(TrialDiverged, TrialOutOfMemory),
                   callbacks=[callback])
    return study


def run_optuna(ctx, storage, stages: List[tuple], on_trial: Callable[[str], None]) -> None:
    """All stages in order; ``on_trial(stage)`` after each finished trial (progress, CSV)."""
    deadline = time_left(ctx.settings.timeout_s)
    for stage, target in stages:
        if deadline() == 0:
            break  # --timeout: later stages start when the same command is run again
        ctx.progress.start_stage(stage, target, _count_now(storage, ctx.settings, stage))
        run_stage(ctx, storage, stage, target, lambda s=stage: on_trial(s), deadline())


def _count_now(storage, settings, stage: str) -> int:
    return done_count(open_study(storage, settings, stage))


def collect_rows(storage, settings, space) -> List[Dict[str, Any]]:
    """Rows (see ``rows.make_row``) of this search's studies in ``storage``."""
    from ..rundir.rows import make_row

    optuna = _optuna()
    names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
    rows: List[Dict[str, Any]] = []
    for stage in ("zc", "train"):
        name = study_name(settings, stage)
        if name not in names:
            continue
        for t in optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False):
            if t.state.name != "WAITING":
                attrs = t.user_attrs
                if "failed_trial" in t.system_attrs:  # a heartbeat retry (Optuna's attr)
                    attrs = dict(attrs, retry_of=t.system_attrs["failed_trial"])
                rows.append(make_row(stage, t.number, t.state.name, t.params, attrs, space))
    return rows
