"""The Optuna backend: one study per proxy stage (``zc``, ``train``), ask-and-tell via optimize.

Storage (see :mod:`.storage`): the run directory's journal (the run directory is locked, so
trials still RUNNING when we open it were left by a killed process: they are marked FAIL and
their params re-enqueued), or ``--storage URL`` shared by many workers with heartbeats.
Sampler: NSGA-II (default; population ``clamp(trials // 4, 8, 50)``) or multi-objective TPE;
both read the latency constraint set with ``trial.set_constraint``. After each finished trial
its row goes to :class:`~lowformer_nas.search.bookkeeping.TrialBook` (a flat cost per trial).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, cast
from collections.abc import Callable, Mapping, Sequence

from ..budget import time_left
from ..halving import LatencyAwareHalving, running_trial
from ..objective import Evaluation, config_key
from ...accuracy.proxies import TrialDiverged, TrialOutOfMemory, as_trial_failure
from .common import CONSTRAINT, counted_trial, evaluate, objective_values, top_k, trials_to_retry
from .storage import find_study, open_study, optuna_module
from ...rundir.config import score_label
from ...rundir.rows import TrialAttrs, TrialRow

if TYPE_CHECKING:  # annotations only
    from optuna import Study, Trial
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial

    from ...space import SearchSpace
    from ..bookkeeping import TrialBook
    from ..context import SearchContext

STAGES = ("zc", "train")


class KnownEvaluations:
    """``config_key -> Evaluation`` of the study's finished trials (duplicates reuse them).

    Local runs add each trial as it finishes (this process is the only writer); with a shared
    ``--storage`` each lookup also reads the trials it has not yet seen finished (other
    workers' too): a pass over the list, no copies.
    """

    def __init__(self, shared: bool) -> None:
        self.shared = shared
        self.by_key: dict[str, Evaluation] = {}
        self._seen = 0  # trials[:_seen] were all looked at
        self._open: list[int] = []  # indices below _seen that were not finished then
        self.counted: set[int] = set()  # numbers of finished trials that use up the budget

    def get(self, study: Study, key: str) -> Evaluation | None:
        if self.shared or self._seen == 0:
            self._refresh(study.get_trials(deepcopy=False))
        return self.by_key.get(key)

    def done(self, study: Study) -> int:
        """Trials of the study that use up the budget (:func:`.common.counted_trial`), read
        incrementally: finished trials are final."""
        self._refresh(study.get_trials(deepcopy=False))
        return len(self.counted)

    def add(self, trial: FrozenTrial) -> None:
        """A finished trial (this process's, or one a refresh found)."""
        if counted_trial(trial.state.name, trial.user_attrs):
            self.counted.add(trial.number)
        if trial.state.name == "COMPLETE" and "config_key" in trial.user_attrs:
            a = trial.user_attrs
            self.by_key.setdefault(a["config_key"], Evaluation(
                a["config_key"], a["latency_ms"], a["latency_std_ms"], a["feasible"], a["zc"],
                a["curve"], a["score"], 0.0))

    def _refresh(self, trials: Sequence[FrozenTrial]) -> None:
        fresh = self._open + list(range(self._seen, len(trials)))
        self._seen, self._open = max(len(trials), 1), []
        for i in fresh:
            if i >= len(trials):
                continue
            if trials[i].state.name in ("RUNNING", "WAITING"):
                self._open.append(i)
            else:
                self.add(trials[i])


def _early_stopper(ctx: SearchContext, study: Study, trial: Trial, latency_ms: float,
                   pruner: LatencyAwareHalving) -> Callable[[int, float, float], None]:
    """After each training epoch: record the curves, then ask the search's pruner (one rule
    for both backends: ``search.halving``)."""
    optuna = optuna_module()
    curve: list[float] = []
    scores: list[float] = []

    def report(epoch: int, acc: float, score: float) -> None:
        curve.append(acc)
        scores.append(score)
        trial.set_user_attr("curve", list(curve))
        trial.set_user_attr("score_curve", list(scores))
        if pruner.prune(study, running_trial(trial.number, latency_ms, scores)):
            raise optuna.TrialPruned(f"{score_label(ctx.settings, 'train')} {score:.4g} at "
                                     f"epoch {epoch} below the top third of faster trials")
    return report


def make_objective(ctx: SearchContext, study: Study, stage: str,
                   known: KnownEvaluations | None = None
                   ) -> Callable[[Trial], tuple[float, float]]:
    dims = ctx.space.dimensions()
    known = known or KnownEvaluations(True)  # no callback of ours adds trials: read them
    budget = ctx.settings.budget_ms
    assert ctx.settings.epochs is not None  # SearchSettings fills it in
    pruner = LatencyAwareHalving(ctx.settings.epochs, ctx.settings.train_score == "accuracy")

    def objective(trial: Trial) -> tuple[float, float]:
        params = {k: trial.suggest_categorical(k, v) for k, v in dims.items()}
        cfg = ctx.space.build(params)
        ev = known.get(study, config_key(cfg))
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
            report = _early_stopper(ctx, study, trial, lat[0], pruner) if stage == "train" else None
            try:
                ev = evaluate(ctx.evaluator, cfg, stage, report=report, latency=lat)
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
        return objective_values(ev)
    return objective


def enqueue_top_k(zc_study: Study, train_study: Study, space: SearchSpace, k: int) -> int:
    """Two-stage: the k best zero-cost trials (:func:`.common.top_k`) go to training."""
    optuna = optuna_module()
    done = optuna.trial.TrialState.COMPLETE
    feas = [t for t in zc_study.get_trials(deepcopy=False, states=(done,))
            if t.user_attrs.get("feasible")]
    train = train_study.get_trials(deepcopy=False)
    seen = {t.user_attrs.get("config_key") for t in train}
    queued = 0
    for t in top_k(feas, k, key=lambda t: t.user_attrs["config_key"],
                   point=lambda t: (t.values[0], t.values[1])):
        if t.user_attrs["config_key"] in seen or len(train) + queued >= k:
            continue
        train_study.enqueue_trial(space.to_params(space.build(t.params)),
                                  user_attrs={"zc_trial": t.number})
        queued += 1
    return queued


def recover_interrupted(study: Study) -> int:
    """Retry what an interrupted local run left behind (see :func:`.common.trials_to_retry`)."""
    todo = trials_to_retry(study)
    for t in todo:
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
    return len(todo)


def done_count(study: Study) -> int:
    return sum(counted_trial(t.state.name, t.user_attrs)
               for t in study.get_trials(deepcopy=False))


def _attrs(t: FrozenTrial) -> TrialAttrs:
    """A trial's user attributes (what the objective recorded), with ``retry_of`` for a
    heartbeat retry (Optuna's attr)."""
    if "failed_trial" in t.system_attrs:
        return cast(TrialAttrs, dict(t.user_attrs, retry_of=t.system_attrs["failed_trial"]))
    return cast(TrialAttrs, t.user_attrs)


def collect_rows(studies: Mapping[str, Study], book: TrialBook) -> list[TrialRow]:
    """Rows of this search's studies (WAITING trials have none), built once per trial."""
    rows: list[TrialRow] = []
    for stage in STAGES:
        study = studies.get(stage)
        for t in (study.get_trials(deepcopy=False) if study is not None else ()):
            if t.state.name != "WAITING":
                rows.append(book.row(stage, t.number, t.state.name, t.params, _attrs(t)))
    return rows


def run_prescreened(ctx: SearchContext, zc_study: Study, study: Study, target: int,
                     on_trial: Callable[[], None], timeout_s: float | None) -> Study:
    """Two-stage with the surrogate pre-screen: refit, queue the best candidate, train it."""
    from ..prescreen import enqueue_next, record_fidelity, trained_rows

    deadline = time_left(timeout_s)
    while done_count(study) < target and deadline() != 0:
        trained = trained_rows(ctx, study)
        record_fidelity(ctx.run.path, trained, ctx.settings.seed)
        if not enqueue_next(ctx, zc_study, study, trained):
            break
        study.optimize(make_objective(ctx, study, "train"), n_trials=1,
                       catch=(TrialDiverged, TrialOutOfMemory))
        on_trial()
    record_fidelity(ctx.run.path, trained_rows(ctx, study), ctx.settings.seed)
    return study


def _whole(book: TrialBook, studies: Mapping[str, Study], stage: str) -> None:
    """trials.csv rewritten from the studies (few, slow trials: the surrogate pre-screen)."""
    book.reset(collect_rows(studies, book))
    book.show(stage)


def run_stage(ctx: SearchContext, storage: BaseStorage, studies: dict[str, Study], stage: str,
              target: int, book: TrialBook, timeout_s: float | None = None) -> None:
    """Run ``stage`` until its study holds ``target`` counted trials (or ``timeout_s`` passes:
    running trials finish, no new one starts)."""
    study = studies[stage] = open_study(storage, ctx.settings, stage)
    shared = bool(ctx.settings.storage)
    if not shared:
        recover_interrupted(study)
    two_stage = stage == "train" and ctx.settings.proxy == "two-stage"
    if two_stage and ctx.settings.prescreen == "surrogate":
        book.reset(collect_rows(studies, book))
        ctx.progress.start_stage(stage, target, book.done(stage))
        run_prescreened(ctx, studies["zc"], study, target,
                        lambda: _whole(book, studies, stage), timeout_s)
        return
    if two_stage:
        enqueue_top_k(studies["zc"], study, ctx.space, target)
    book.reset(collect_rows(studies, book))
    ctx.progress.start_stage(stage, target, book.done(stage))
    remaining = target - book.done(stage)
    if remaining <= 0:
        return

    known = KnownEvaluations(shared)
    objective = make_objective(ctx, study, stage, known)

    def callback(st: Study, t: FrozenTrial) -> None:
        known.add(t)
        book.add(book.row(stage, t.number, t.state.name, t.params, _attrs(t)))
        if book.rewrite_due():
            book.reset(collect_rows(studies, book))
        book.show(stage)
        if (known.done(st) if shared else book.done(stage)) >= target:
            st.stop()

    study.optimize(objective, n_trials=remaining, timeout=timeout_s,
                   catch=(TrialDiverged, TrialOutOfMemory), callbacks=[callback])


def run_optuna(ctx: SearchContext, storage: BaseStorage, stages: Sequence[tuple[str, int]],
               book: TrialBook) -> None:
    """All stages in order, then trials.csv rewritten from the studies."""
    deadline = time_left(ctx.settings.timeout_s)
    found = {s: find_study(storage, ctx.settings, s) for s in STAGES}
    studies = {s: st for s, st in found.items() if st is not None}
    for stage, target in stages:
        if deadline() == 0:
            break  # --timeout: later stages start when the same command is run again
        run_stage(ctx, storage, studies, stage, target, book, deadline())
    book.reset(collect_rows(studies, book))
