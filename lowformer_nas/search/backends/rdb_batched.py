"""Optuna's RDB storage with a running trial's writes sent in a few transactions, not ~55.

Optuna writes every suggested param and every attribute of a trial in its own transaction.
A predicted-only trial of the default space sets 38 params and ~15 attributes, and each
transaction costs SQLAlchemy's ORM round (~1 ms here, a network round trip on PostgreSQL),
most of such a trial's time. :class:`BatchedRDBStorage` keeps a running trial's params and
attributes in memory, answers reads of that trial from memory, and writes them in one
transaction when the search calls :meth:`BatchedRDBStorage.flush` (after the trial's params
and latency are known, before its evaluation, so a killed worker's trial can still be retried
with the same params) and when the trial finishes. Other workers see a trial's params from
the first flush on; before it, they see it running without params, as if just started.
"""
from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from optuna.storages import RDBStorage
from optuna.storages._cached_storage import _CachedStorage

from .listing import prefix_listing

LISTING_TTL_S = 0.5  # how stale a listing of *other* workers' trials may be

Param = tuple[str, float, Any, Any]  # name, internal value, distribution, previous one


@dataclass
class _Pending:
    params: list[Param] = field(default_factory=list)
    user: dict[str, Any] = field(default_factory=dict)
    system: dict[str, Any] = field(default_factory=dict)


class BatchedRDBStorage(RDBStorage):
    """``RDBStorage`` whose running trials' writes wait for :meth:`flush` or the finish."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending: dict[int, _Pending] = {}
        self._own: dict[int, Any] = {}  # FrozenTrial of each trial this process created
        self._final: dict[int, Any] = {}  # ... and just finished
        self._plock = threading.RLock()

    def _create_new_trial(self, study_id: int, template_trial: Any = None) -> Any:
        trial = super()._create_new_trial(study_id, template_trial)
        if trial.state.name == "RUNNING":  # not an enqueued (WAITING) one: another may run it
            with self._plock:
                self._own[trial._trial_id] = copy.deepcopy(trial)
        return trial

    def _set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                         distribution: Any, previous_distribution: Any) -> None:
        if previous_distribution is not None:  # a mismatch fails here, as Optuna's does
            from optuna.distributions import check_distribution_compatibility

            check_distribution_compatibility(previous_distribution, distribution)
        with self._plock:
            self._pending.setdefault(trial_id, _Pending()).params.append(
                (param_name, param_value_internal, distribution, previous_distribution))

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: Any) -> None:
        self._set_trial_param(trial_id, param_name, param_value_internal, distribution, None)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._plock:
            self._pending.setdefault(trial_id, _Pending()).user[key] = _as_stored(value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._plock:
            self._pending.setdefault(trial_id, _Pending()).system[key] = _as_stored(value)

    def set_trial_state_values(self, trial_id: int, state: Any,
                               values: Any | None = None) -> bool:
        self.flush(trial_id)
        with self._plock:
            own = self._own.pop(trial_id, None)  # from now on its state is the database's
        done = super().set_trial_state_values(trial_id, state, values)
        if done and own is not None and state.is_finished():
            import datetime

            own.state, own.values = state, values  # as just committed (its time: ~1 ms apart)
            own.datetime_complete = datetime.datetime.now()
            with self._plock:
                self._final[trial_id] = own
        return done

    def take_final(self, trial_id: int) -> Any | None:
        """This process's trial as it just finished it (once), else None."""
        with self._plock:
            return self._final.pop(trial_id, None)

    def flush(self, trial_id: int) -> None:
        """Write the trial's waiting params and attributes in one transaction."""
        with self._plock:
            pending = self._pending.pop(trial_id, None)
            if pending is None:
                return
            try:
                self._write(trial_id, pending, self._own.get(trial_id))
            except BaseException:
                self._pending[trial_id] = pending  # nothing was committed: keep it all
                raise
            own = self._own.get(trial_id)
            if own is not None:
                self._own[trial_id] = _overlay(own, pending)

    def _write(self, trial_id: int, pending: _Pending, own: Any | None) -> None:
        from optuna.distributions import distribution_to_json
        from optuna.storages._rdb import models
        from optuna.storages._rdb.storage import _create_scoped_session
        from sqlalchemy import insert

        with _create_scoped_session(self.scoped_session, True) as session:
            # Optuna's models declare untyped Columns: on a loaded row they are plain values
            trial: Any = models.TrialModel.find_or_raise_by_id(trial_id, session)
            self.check_trial_is_updatable(trial_id, trial.state)
            for name, _, dist, previous in pending.params:
                if previous is None:  # first sighting in this process: check as Optuna does
                    _check_against_study(session, models, trial.study_id, name, dist)
            if pending.params:  # one INSERT of many rows, in the order they were suggested
                session.execute(insert(models.TrialParamModel), [
                    {"trial_id": trial_id, "param_name": name, "param_value": value,
                     "distribution_json": distribution_to_json(dist)}
                    for name, value, dist, _ in pending.params])
            for model, attrs, have in (
                    (models.TrialUserAttributeModel, pending.user, own and own.user_attrs),
                    (models.TrialSystemAttributeModel, pending.system, own and own.system_attrs)):
                _upsert_attrs(session, model, trial_id, attrs, None if own is None else have)

    def get_trial(self, trial_id: int) -> Any:
        own = self.running_own(trial_id)
        return own if own is not None else self._overlaid(super().get_trial(trial_id))

    def _get_trials(self, study_id: int, states: Any, included_trial_ids: Any,
                    trial_id_greater_than: int) -> list[Any]:
        trials = super()._get_trials(study_id, states, included_trial_ids,
                                     trial_id_greater_than)
        return [self._overlaid(t) for t in trials]

    def running_own(self, trial_id: int) -> Any | None:
        """This process's running trial as it stands (waiting writes applied), else None."""
        with self._plock:
            own = self._own.get(trial_id)
            return None if own is None else _overlay(own, self._pending.get(trial_id))

    def _overlaid(self, trial: Any) -> Any:
        with self._plock:
            pending = self._pending.get(trial._trial_id)
        return trial if pending is None else _overlay(trial, pending)


def _as_stored(value: Any) -> Any:
    """An attribute as the database gives it back (JSON: tuples become lists); also fails
    at once, as Optuna's write does, on a value JSON cannot hold."""
    return json.loads(json.dumps(value))


def _check_against_study(session: Any, models: Any, study_id: int, name: str,
                         dist: Any) -> None:
    """A param's distribution must match the one the study already stores for that name."""
    from optuna.distributions import check_distribution_compatibility, json_to_distribution

    first = (session.query(models.TrialParamModel).join(models.TrialModel)
             .filter(models.TrialModel.study_id == study_id)
             .filter(models.TrialParamModel.param_name == name).first())
    if first is not None:
        check_distribution_compatibility(json_to_distribution(first.distribution_json), dist)


def _upsert_attrs(session: Any, model: Any, trial_id: int, attrs: dict[str, Any],
                  have: dict[str, Any] | None) -> None:
    """Set ``attrs`` of one trial: updates of the keys it has (``have``; read from the
    database if None), one INSERT of many rows for the others."""
    from sqlalchemy import insert

    if not attrs:
        return
    if have is None:
        rows = {a.key: a for a in session.query(model).filter(model.trial_id == trial_id)
                .filter(model.key.in_(list(attrs)))}
        for key in set(attrs) & set(rows):
            rows[key].value_json = json.dumps(attrs[key])
        have = rows
    else:
        for key in set(attrs) & set(have):
            session.query(model).filter(model.trial_id == trial_id, model.key == key).update(
                {"value_json": json.dumps(attrs[key])}, synchronize_session=False)
    new = [{"trial_id": trial_id, "key": k, "value_json": json.dumps(v)}
           for k, v in attrs.items() if k not in have]
    if new:
        session.execute(insert(model), new)


def _overlay(trial: Any, pending: _Pending | None) -> Any:
    """A copy of ``trial`` with the waiting writes applied (its own dicts: Optuna's ``Trial``
    updates the params of the copy it holds)."""
    out = copy.copy(trial)
    out.params, out.distributions = dict(trial.params), dict(trial.distributions)
    out.user_attrs, out.system_attrs = dict(trial.user_attrs), dict(trial.system_attrs)
    out.intermediate_values, out.values = dict(trial.intermediate_values), trial.values
    if pending is not None:
        for name, value, dist, _ in pending.params:
            out.params[name], out.distributions[name] = dist.to_external_repr(value), dist
        out.user_attrs.update(pending.user)
        out.system_attrs.update(pending.system)
    return out


class PrefixCachedStorage(_CachedStorage):
    """Optuna's caching wrapper of a :class:`BatchedRDBStorage`, listing trials with
    :mod:`.listing` (Optuna's sorts every cached trial) and reading other workers' changes at
    most every ``LISTING_TTL_S`` (Optuna's queries the database on every listing, ~6 times a
    trial). This process's own changes are in the cache at once: a trial it created is added
    by Optuna, its running trials are answered by the backend from memory, and a trial whose
    state it set is read back. ``optuna.get_storage`` passes this class through."""

    _backend: BatchedRDBStorage  # Optuna's _CachedStorage declares the base RDBStorage

    def __init__(self, backend: BatchedRDBStorage) -> None:
        super().__init__(backend)
        self._prefix: dict[int, list[Any]] = {}
        self._read_at: dict[int, float] = {}

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Any = None) -> list[Any]:
        now = time.monotonic()
        if now - self._read_at.get(study_id, -LISTING_TTL_S) >= LISTING_TTL_S:
            self._read_trials_from_remote_storage(study_id)
            self._read_at[study_id] = now
        with self._lock:
            trials = self._studies[study_id].trials
            if len(trials) and len(trials) - 1 not in trials:  # numbers not 0..n-1: Optuna's
                found = None
            else:
                found = prefix_listing(self._prefix.setdefault(study_id, []),
                                       trials.__getitem__, len(trials), states,
                                       fresh=self._fresh)
        if found is None:
            return super().get_all_trials(study_id, deepcopy, states)
        return copy.deepcopy(found) if deepcopy else found

    def _fresh(self, trial: Any) -> Any:
        return self._backend.running_own(trial._trial_id) or trial

    def set_trial_state_values(self, trial_id: int, state: Any,
                               values: Any | None = None) -> bool:
        done = super().set_trial_state_values(trial_id, state, values)
        trial = self._backend.take_final(trial_id) or self._backend.get_trial(trial_id)
        with self._lock:
            study_id, number = self._trial_id_to_study_id_and_number[trial_id]
            self._studies[study_id].trials[number] = trial
        return done

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._prefix, self._read_at = {}, {}


def flush_trial(trial: Any) -> None:
    """Send a running trial's waiting writes now (no-op on other storages)."""
    backend = getattr(trial.storage, "_backend", trial.storage)
    if isinstance(backend, BatchedRDBStorage):
        backend.flush(trial._trial_id)
