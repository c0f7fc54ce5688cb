"""The batched RDB storage behaves as Optuna's own, seen from the study and from the database."""
import math
import warnings

import optuna
import pytest

from lowformer_nas.search.backends.rdb_batched import (BatchedRDBStorage, PrefixCachedStorage,
                                                       flush_trial)

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _objective(trial):
    xs = [trial.suggest_categorical(f"c{i}", [1, 2, 3, 4]) for i in range(6)]
    y = trial.suggest_float("y", -1.0, 1.0)
    trial.set_user_attr("early", sum(xs))
    flush_trial(trial)
    trial.set_user_attr("late", {"y": y, "n": trial.number})
    trial.set_user_attr("early", sum(xs) + 1)  # an attribute written twice
    if trial.number == 7:
        raise RuntimeError("a failing trial")
    return sum(xs) + y, -y


def _run(storage, n: int = 24):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler = optuna.samplers.NSGAIISampler(
            seed=3, population_size=6, constraints_func=lambda t: [t.params.get("c0", 1) - 3.5])
    study = optuna.create_study(storage=storage, study_name="s", sampler=sampler,
                                directions=["minimize", "maximize"])
    study.enqueue_trial({"c0": 4, "y": 0.5}, user_attrs={"queued": True})
    study.optimize(_objective, n_trials=n, catch=(RuntimeError,))
    return study


def _view(trials):
    return [(t.number, t.state.name, t.params, t.values, t.user_attrs,
             {k: v for k, v in t.system_attrs.items()}) for t in trials]


def test_same_trials_as_optunas_own_storage_in_memory_and_in_the_database(tmp_path):
    plain = _run(f"sqlite:///{tmp_path / 'plain.db'}")
    url = f"sqlite:///{tmp_path / 'batched.db'}"
    ours = _run(PrefixCachedStorage(BatchedRDBStorage(url)))
    expected = _view(plain.trials)
    assert _view(ours.trials) == expected  # the same sampler draws, attrs, states
    assert _view(optuna.load_study(study_name="s", storage=url).trials) == expected
    assert ours.trials[7].state.name == "FAIL" and ours.trials[0].user_attrs["queued"]
    assert ours.trials[3].user_attrs["early"] == sum(
        ours.trials[3].params[f"c{i}"] for i in range(6)) + 1


def test_a_running_trial_is_written_at_flush_then_at_finish(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    study = optuna.create_study(storage=PrefixCachedStorage(BatchedRDBStorage(url)),
                                study_name="s")
    seen = []

    def outside():  # another worker's view: a fresh storage on the same file
        return optuna.load_study(study_name="s", storage=url).trials[-1]

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        trial.set_user_attr("a", 1)
        assert trial.params == {"x": x}  # this process sees its own writes at once
        seen.append((outside().params, outside().user_attrs))
        flush_trial(trial)
        seen.append((outside().params, outside().user_attrs))
        trial.set_user_attr("b", 2)
        seen.append((outside().params, outside().user_attrs))
        return x

    study.optimize(objective, n_trials=1)
    x = study.trials[0].params["x"]
    assert seen == [({}, {}), ({"x": x}, {"a": 1}), ({"x": x}, {"a": 1})]
    done = outside()
    assert done.state.name == "COMPLETE" and done.user_attrs == {"a": 1, "b": 2}
    assert math.isclose(done.value, x)


def test_a_finished_trial_cannot_be_written_by_its_late_worker(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    storage = PrefixCachedStorage(BatchedRDBStorage(url))
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    other = optuna.load_study(study_name="s", storage=url)  # e.g. a heartbeat failing it
    other._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        study.tell(trial, 1.0)
    assert optuna.load_study(study_name="s", storage=url).trials[0].params == {}


def test_a_param_that_contradicts_the_study_is_refused_as_by_optuna(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    optuna.create_study(storage=url, study_name="s").optimize(
        lambda t: t.suggest_categorical("x", [1, 2]), n_trials=1)
    study = optuna.load_study(study_name="s",  # a new worker: it has not seen "x" yet
                              storage=PrefixCachedStorage(BatchedRDBStorage(url)))
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    with pytest.raises(ValueError, match="different distribution"):  # Optuna's words
        flush_trial(trial)
    assert optuna.load_study(study_name="s", storage=url).trials[1].params == {}
