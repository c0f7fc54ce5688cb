"""The search's samplers pickle and sample on as Optuna's own (Ray Tune pickles them)."""
import threading

import optuna
import pytest

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _objective(trial):
    xs = [trial.suggest_categorical(f"c{i}", [1, 2, 3, 4, 5]) for i in range(5)]
    if trial.number % 9 == 4:
        raise RuntimeError("failed trials are not counted in a generation")
    return sum(xs), max(xs) - min(xs)


def test_nsga2_samples_what_optunas_own_samples():
    """The picklable subclass changes pickling only: same seed, same samples, same
    generations as ``optuna.samplers.NSGAIISampler``."""
    from lowformer_nas.search.backends.nsga import PicklableNSGAII

    def run(cls):
        sampler = cls(seed=11, population_size=8)
        study = optuna.create_study(sampler=sampler, directions=["minimize", "minimize"])
        study.enqueue_trial({"c0": 5, "c1": 5})
        study.optimize(_objective, n_trials=60, catch=(RuntimeError,))
        return [(t.params, t.state.name) for t in study.trials]

    assert run(PicklableNSGAII) == run(optuna.samplers.NSGAIISampler)


@pytest.mark.parametrize("sampler", ["nsga2", "tpe", "random"])
def test_every_sampler_of_a_search_pickles(tmp_path, sampler):
    """Ray Tune pickles its search algorithm and with it the sampler (``tuner.pkl``, searcher
    checkpoints). Optuna 5.1's GA samplers hold a lock: ``cannot pickle '_thread.lock'``
    inside ``tune.Tuner(...)``. A copy, pickled mid-study, samples on as the original."""
    import pickle

    from lowformer_nas.search.backends.storage import make_sampler
    from lowformer_nas.search.settings import SearchSettings

    settings = SearchSettings(target="jetson", budget="5ms", space="tiny", sampler=sampler,
                              trials=16, references=["none"], out=str(tmp_path / "run"))
    original = make_sampler(settings, 0)
    study = optuna.create_study(sampler=original, directions=["minimize", "minimize"])
    study.optimize(_objective, n_trials=12, catch=(RuntimeError,))
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is type(original)
    for name, value in vars(original).items():  # a lock is a fresh one, not held
        if type(value) in (type(threading.Lock()), type(threading.RLock())):
            assert type(getattr(copy, name)) is type(value) and getattr(copy, name) is not value
            assert getattr(copy, name).acquire(blocking=False)
            getattr(copy, name).release()  # the copy samples on below: Optuna 5.1 takes it

    def next_params(s):  # what the sampler proposes next, on its own copy of the study
        twin = optuna.create_study(sampler=s, directions=["minimize", "minimize"])
        twin.add_trials(study.trials)
        twin.optimize(_objective, n_trials=6, catch=(RuntimeError,))
        return [t.params for t in twin.trials[12:]]

    assert next_params(copy) == next_params(original)
