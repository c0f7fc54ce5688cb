"""Other families' level: whole models of other families timed during a calibration."""
import os

import pytest

from lowformer_nas.latency.kernels import Kernel

PROFILE = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "results",
                       "latency_profile_local.json")


class _Journal:
    def __init__(self, records):
        self.records = records

    def of_kind(self, kind):
        return [r for r in self.records if r.get("kind") == kind]


def test_a_family_model_is_traced_timed_and_sets_the_level_of_other_families():
    """Really timed here: with one family model its own latency is what the profile then
    predicts for it, and the LowFormer level no longer does."""
    from lowformer_nas.latency.families import family_scale, measure_families
    from lowformer_nas.latency.predictor import Predictor
    from lowformer_nas.latency.profiles import load_profile

    (rec,) = measure_families("torch", "cpu", names=("mobilenetv1_100",))
    assert rec["kind"] == "family" and rec["name"] == "mobilenetv1_100" and rec["ms"] > 0
    kernels = [Kernel(*k) for k in rec["kernels"]]
    assert {"conv", "dw", "pw", "linear"} <= {k.op for k in kernels}
    params = load_profile(PROFILE).data["params"]
    scale = family_scale([rec], Predictor(params))
    assert scale == pytest.approx(rec["ms"] / Predictor(params).kernel_ms(kernels).sum())
    pred = Predictor(dict(params, family_scale=scale))
    assert pred.predict_kernel_list(kernels, family_term=False) == pytest.approx(rec["ms"])
    assert Predictor(params).family_scale == Predictor(params).kernel_sum_scale
    assert family_scale([], pred) is None


@pytest.mark.parametrize("backend, budget_s, done, wanted", [
    ("torch", 60.0, False, True), ("torch", 30.0, False, False),
    ("onnxruntime", 300.0, False, False), ("torch", 300.0, True, False)])
def test_family_models_are_timed_once_by_torch_calibrations_of_a_minute_or_more(
        backend, budget_s, done, wanted):
    from lowformer_nas.latency.families import wants_families

    journal = _Journal([{"kind": "family", "name": "x", "kernels": [], "ms": 1.0}] if done
                       else [{"kind": "kernel"}])
    assert wants_families(journal, backend, budget_s) is wanted


def test_the_family_set_is_disjoint_from_the_benchmark_models():
    """The benchmark's 42 timm models judge the level; none of them may set it."""
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
    from latency_timm import SETS

    from lowformer_nas.latency.families import FAMILY_MODELS

    assert not set(FAMILY_MODELS) & set(SETS["all"]) and len(set(FAMILY_MODELS)) == 9
