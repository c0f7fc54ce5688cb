"""The incremental NSGA-II samples exactly what Optuna's NSGA-II samples, on every storage."""
import optuna
import pytest

from lowformer_nas.search.backends.nsga import IncrementalNSGAII
from lowformer_nas.search.backends.rdb_batched import BatchedRDBStorage, PrefixCachedStorage
from lowformer_nas.search.backends.storage import RunJournalBackend, RunJournalStorage

optuna.logging.set_verbosity(optuna.logging.ERROR)


def _objective(trial):
    xs = [trial.suggest_categorical(f"c{i}", [1, 2, 3, 4, 5]) for i in range(5)]
    if trial.number % 9 == 4:
        raise RuntimeError("failed trials are not counted in a generation")
    return sum(xs), max(xs) - min(xs)


def _params(storage, sampler_cls, n=60):
    sampler = sampler_cls(seed=11, population_size=8)
    study = optuna.create_study(storage=storage, sampler=sampler, study_name="s",
                                directions=["minimize", "minimize"])
    study.enqueue_trial({"c0": 5, "c1": 5})
    study.optimize(_objective, n_trials=n, catch=(RuntimeError,))
    gen = sampler._get_generation_key()
    return [(t.params, t.state.name, t.system_attrs.get(gen)) for t in study.trials]


@pytest.mark.parametrize("where", ["memory", "journal", "sqlite"])
def test_same_samples_and_generations_as_optunas_nsga2(tmp_path, where):
    def storage(name):
        if where == "memory":
            return optuna.storages.InMemoryStorage()
        if where == "journal":
            return RunJournalStorage(RunJournalBackend(str(tmp_path / f"{name}.journal")))
        return PrefixCachedStorage(BatchedRDBStorage(f"sqlite:///{tmp_path / name}.db"))

    theirs = _params(storage("theirs"), optuna.samplers.NSGAIISampler)
    ours = _params(storage("ours"), IncrementalNSGAII)
    assert ours == theirs
    assert max(g for _, _, g in ours) >= 5  # several generations were bred
