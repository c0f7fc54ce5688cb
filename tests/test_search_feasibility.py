"""The budget rule: a config is feasible when its --budget-quantile latency fits the budget."""
from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import yaml

from lowformer_nas.errors import RunError
from lowformer_nas.latency import get_target
from lowformer_nas.latency.fitting.intervals import interval_table
from lowformer_nas.latency.targets.profiles import make_profile
from lowformer_nas.search.feasibility import (BudgetRule, calibrated_here, check_quantile,
                                              default_quantile)
from lowformer_nas.search.settings import SearchSettings


def _profile(tmp_path, journal: bool):
    """A calibrated-looking profile whose LOO residuals say: up to 20% slower than predicted."""
    params = dict(get_target("jetson").data["params"])
    params["interval"] = interval_table(np.linspace(-0.05, math.log(1.2), 200))
    path = tmp_path / "j.jsonl"
    if journal:
        path.write_text("{}\n")
    return make_profile("here", "here", "test", "calibrated", params, journal=str(path))


def test_quantile_rule_tightens_feasibility(tmp_path):
    prof = _profile(tmp_path, journal=True)
    assert calibrated_here(prof) and default_quantile(prof) == 0.9
    mean = BudgetRule(10.0, 0.5, prof)
    q90 = BudgetRule(10.0, 0.9, prof)
    assert mean.fits(9.0, 0.5) and not q90.fits(9.0, 0.5)  # 9 ms x ~1.16 > 10 ms
    assert q90.budget_latency(9.0, 0.5) == pytest.approx(9.0 * math.exp(
        np.quantile(np.linspace(-0.05, math.log(1.2), 200), 0.9)), rel=0.02)
    assert BudgetRule(10.0, 0.9, prof, measured=True).fits(9.9, 3.0)  # measured: as is


def test_default_is_median_for_profiles_not_measured_here(tmp_path):
    assert default_quantile(_profile(tmp_path, journal=False)) == 0.5
    assert default_quantile(get_target("jetson")) == 0.5


@pytest.mark.parametrize("q", [0, 1, 1.5, -0.1, float("nan"), True, "0.9"])
def test_bad_quantile_one_line(q):
    with pytest.raises(RunError, match="--budget-quantile") as e:
        check_quantile(q)
    assert "\n" not in str(e.value)


def test_search_records_quantile_and_flags_trials(tmp_path):
    """The real search (tiny space, jetson prior): a high quantile turns trials infeasible."""
    from lowformer_nas.cli import main

    rows = {}
    for q in ("0.5", "0.99"):
        out = tmp_path / f"q{q}"
        assert main(["search", "--target", "jetson", "--latency-budget", "1.1ms", "--space",
                     "tiny", "--trials", "12", "--references", "none", "--budget-quantile", q,
                     "--out", str(out)]) == 0
        cfg = yaml.safe_load((out / "config.yaml").read_text())
        assert cfg["settings"]["budget_quantile"] == float(q)
        with open(out / "trials.csv", newline="") as fh:
            rows[q] = sum(r["feasible"] == "True" for r in csv.DictReader(fh))
    assert 0 < rows["0.99"] < rows["0.5"], rows
    s = SearchSettings(target="jetson", budget="5ms")
    assert s.budget_quantile is None and "budget_quantile" in s.to_dict()


def test_runs_from_before_the_option_resume_as_median_and_keep_their_study_name():
    from lowformer_nas.search.backends.storage import study_name

    old = SearchSettings.from_dict({"target": "jetson", "budget": "5ms"})
    assert old.budget_quantile == 0.5
    new = SearchSettings(target="jetson", budget="5ms", budget_quantile=0.9)
    assert new.differences(old) == ["budget_quantile: 0.5 -> 0.9"]
    assert study_name(new, "zc") == study_name(old, "zc")


def test_settings_are_settled_once():
    """SearchSettings is frozen: a search (or anything after validation) cannot change what
    config.yaml records; a changed copy is made with dataclasses.replace and validated again."""
    import dataclasses

    from lowformer_nas.errors import RunError
    from lowformer_nas.search.settings import SearchSettings

    s = SearchSettings(target="jetson", budget="5ms")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.out = "elsewhere"  # type: ignore[misc]
    assert dataclasses.replace(s, out="runs/x").out == "runs/x" and s.out is None
    with pytest.raises(RunError, match="--trials"):
        dataclasses.replace(s, trials=0)
