"""The Ray Tune backend on a real local Ray instance: same run directory layout as Optuna."""
import csv

import pytest

from lowformer_nas.cli import main

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.parametrize("sampler", ["nsga2", "tpe", "random"])
def test_the_searcher_pickles_as_ray_pickles_it(tmp_path, sampler):
    """``tune.Tuner(...)`` pickles its search algorithm into ``tuner.pkl`` and Tune checkpoints
    it with ``save`` while it runs. With Optuna 5.1 the NSGA-II sampler in it held a lock:
    ``TypeError: cannot pickle '_thread.lock' object`` inside ``tune.Tuner``."""
    from types import SimpleNamespace

    from ray import cloudpickle

    from lowformer_nas import load_space
    from lowformer_nas.search.backends.ray import _searcher
    from lowformer_nas.search.settings import SearchSettings

    settings = SearchSettings(target="jetson", budget="5ms", space="tiny", backend="ray",
                              sampler=sampler, trials=6, references=["none"],
                              out=str(tmp_path))
    ctx = SimpleNamespace(settings=settings, space=load_space("tiny"),
                          run=SimpleNamespace(path=tmp_path))
    searcher = _searcher(ctx, "zc", [])
    searcher.set_search_properties(None, None, {})  # what Tune calls first
    asked = [searcher.suggest(f"t{i}") for i in range(3)]
    assert all(asked)
    copy = cloudpickle.loads(cloudpickle.dumps(searcher))
    assert type(copy.study.sampler) is type(searcher.study.sampler)
    assert copy.running == {} and len(searcher.running) == 3  # asked trials stay with Tune
    searcher.save(str(tmp_path / "searcher.pkl"))  # Tune's searcher checkpoint
    assert (tmp_path / "searcher.pkl").stat().st_size > 0


@pytest.mark.slow
def test_ray_two_stage_with_latency_aware_halving(tmp_path, local_ray):
    out = tmp_path / "ray-run"
    args = ["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
            "--backend", "ray", "--proxy", "two-stage", "--trials", "10", "--top-k", "4",
            "--epochs", "3", "--max-train", "400", "--references", "none", "--quiet",
            "--out", str(out)]
    assert main(args) == 0
    for name in ("config.yaml", "trials.csv", "pareto.html", "pareto.json", "summary.md",
                 "study.journal"):
        assert (out / name).is_file(), name
    with open(out / "trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    zc = [r for r in rows if r["stage"] == "zc"]
    train = [r for r in rows if r["stage"] == "train"]
    assert len(zc) == 10 and len(train) == 4
    for r in zc:
        assert r["feasible"] == str(float(r["latency_ms"]) <= 1.0)
    assert {r["state"] for r in train} <= {"COMPLETE", "PRUNED"}
    assert all(r["feasible"] == "True" for r in train)  # only feasible configs are trained
    assert "Spearman" in (out / "summary.md").read_text()
    assert main(args) == 0  # rerun: nothing left, nothing duplicated
    with open(out / "trials.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 14


@pytest.mark.slow
def test_ray_retries_a_trial_a_killed_run_left_running(tmp_path, local_ray):
    """A kill leaves a trial asked but never told in Ray's Optuna study: the rerun marks it
    failed and evaluates its config first (nothing lost, nothing counted twice)."""
    import optuna
    from optuna.distributions import CategoricalDistribution

    from lowformer_nas import load_space
    from lowformer_nas.search.backends.storage import open_storage, study_name
    from lowformer_nas.search.settings import SearchSettings

    out = tmp_path / "ray-kill"
    base = ["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
            "--backend", "ray", "--references", "none", "--quiet", "--out", str(out)]
    assert main(base + ["--trials", "3"]) == 0
    settings = SearchSettings(target="jetson", budget="1ms", space="tiny", backend="ray",
                              trials=3, references=["none"], out=str(out))
    storage = open_storage(settings, out)
    study = optuna.load_study(study_name=study_name(settings, "ray-zc"), storage=storage)
    params = dict(study.trials[0].params, **{"stage4.width": 48, "stage3.width": 32})
    study.enqueue_trial(params)
    dims = load_space("tiny").dimensions()
    killed = study.ask({k: CategoricalDistribution(v) for k, v in dims.items()})
    # ^ what a killed worker leaves behind: asked (RUNNING), never told
    assert killed.params == params
    assert main(base + ["--trials", "4"]) == 0
    states = {t.number: t.state.name for t in study.trials}
    assert states[killed.number] == "FAIL"
    with open(out / "trials.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    last = rows[-1]
    assert last["p:stage4.width"] == "48" and last["p:stage3.width"] == "32"


@pytest.mark.slow
def test_both_backends_tell_the_sampler_the_same_values(tmp_path, local_ray):
    """Found 6: an over-budget trial of the train stage was told to Ray's Optuna study as
    score 0.0 (an accuracy a real model can reach) but as -inf by the Optuna backend. Now
    both use one evaluation: over budget -> -inf, within -> the last epoch's accuracy."""
    import math

    import optuna

    from lowformer_nas.search.backends.storage import open_storage, study_name
    from lowformer_nas.search.settings import SearchSettings

    told = {}
    for backend in ("optuna", "ray"):
        out = tmp_path / backend
        assert main(["search", "--target", "jetson", "--latency-budget", "1ms", "--space",
                     "tiny", "--backend", backend, "--proxy", "train", "--trials", "8",
                     "--epochs", "1", "--max-train", "200", "--max-val", "100",
                     "--references", "none", "--quiet", "--out", str(out)]) == 0
        settings = SearchSettings(target="jetson", budget="1ms", space="tiny", backend=backend,
                                  proxy="train", trials=8, epochs=1, max_train=200,
                                  max_val=100, references=["none"], out=str(out))
        stage = "train" if backend == "optuna" else "ray-train"
        study = optuna.load_study(study_name=study_name(settings, stage),
                                  storage=open_storage(settings, out))
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        told[backend] = [(t.values[0], t.values[1]) for t in done]
        with open(out / "trials.csv", newline="") as fh:
            rows = {int(r["number"]): r for r in csv.DictReader(fh)}
        assert len(rows) == 8
    for backend, values in told.items():
        over = [v for v in values if v[1] > 1.0]
        within = [v for v in values if v[1] <= 1.0]
        assert over and within, (backend, values)  # both kinds were evaluated
        assert all(score == -math.inf for score, _ in over), (backend, over)
        assert all(0.0 <= score <= 1.0 for score, _ in within), (backend, within)


def test_ray_writes_pages_while_it_runs(tmp_path, local_ray, monkeypatch):
    """Interim pages with the Ray backend too (its rows reach the same TrialBook): every
    PAGES_S seconds (0 here) pareto.html and summary.md, marked interim until the end."""
    from lowformer_nas.report import finish
    from lowformer_nas.search import bookkeeping

    seen = []
    real = finish.interim_pages

    def spy(run_path, settings):
        real(run_path, settings)
        seen.append((run_path / "summary.md").read_text())

    monkeypatch.setattr(bookkeeping, "PAGES_S", 0.0)
    monkeypatch.setattr(finish, "interim_pages", spy)
    out = tmp_path / "r"
    assert main(["search", "--target", "jetson", "--latency-budget", "5ms", "--space", "tiny",
                 "--backend", "ray", "--trials", "3", "--references", "none",
                 "--out", str(out)]) == 0
    assert len(seen) == 3 and "(3 trials so far)" in seen[-1]
    assert "interim" not in (out / "summary.md").read_text()
