"""One early-stopping rule: the Optuna pruner and the Ray scheduler, fed the same trials one
after another (latency, per-epoch scores), stop the same trials at the same epochs."""
import random

import optuna

from lowformer_nas.search.halving import LatencyAwareHalving, running_trial

EPOCHS = 9  # rungs at epochs 1 and 3


class _RayTrial:
    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


def _trials(n: int, seed: int):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        lat, base = rng.uniform(2.0, 10.0), rng.uniform(0.3, 0.8)
        out.append((lat, [base + 0.02 * e + rng.uniform(-0.05, 0.05) for e in range(EPOCHS)]))
    return out


def _optuna_decisions(trials):
    study = optuna.create_study(directions=["maximize", "minimize"])
    pruner = LatencyAwareHalving(EPOCHS)
    out = []
    for number, (lat, curve) in enumerate(trials):
        seen = []
        for score in curve:
            seen.append(score)
            if pruner.prune(study, running_trial(number, lat, seen)):
                break
        out.append(len(seen))
        state = optuna.trial.TrialState.PRUNED if len(seen) < EPOCHS else \
            optuna.trial.TrialState.COMPLETE
        study.add_trial(optuna.trial.create_trial(
            state=state, values=[seen[-1], lat] if len(seen) == EPOCHS else None,
            user_attrs={"latency_ms": lat, "score_curve": seen}))
    return out


def _ray_decisions(trials):
    from ray.tune.schedulers import TrialScheduler

    from lowformer_nas.search.backends.ray_halving import LatencyAwareHalvingScheduler

    sched = LatencyAwareHalvingScheduler(EPOCHS)
    out = []
    for number, (lat, curve) in enumerate(trials):
        trial, epochs = _RayTrial(f"t{number}"), 0
        for epoch, score in enumerate(curve, start=1):
            epochs = epoch
            got = sched.on_trial_result(None, trial, {"feasible": True, "latency_ms": lat,
                                                      "score": score, "epoch": epoch})
            if got == TrialScheduler.STOP:
                break
        else:
            sched.on_trial_complete(None, trial, {})
        out.append(epochs)
    return out


def test_both_backends_stop_the_same_trials_at_the_same_epochs():
    trials = _trials(40, seed=3)
    optuna_stops, ray_stops = _optuna_decisions(trials), _ray_decisions(trials)
    assert optuna_stops == ray_stops
    assert {1, 3} <= set(optuna_stops) and EPOCHS in optuna_stops  # both rungs stop, some run


def test_over_budget_reports_are_not_halved():
    from ray.tune.schedulers import TrialScheduler

    from lowformer_nas.search.backends.ray_halving import LatencyAwareHalvingScheduler

    sched = LatencyAwareHalvingScheduler(EPOCHS)
    got = sched.on_trial_result(None, _RayTrial("x"), {"feasible": False, "score": float("-inf"),
                                                       "epoch": 1, "latency_ms": 99.0})
    assert got == TrialScheduler.CONTINUE and sched.history == []
