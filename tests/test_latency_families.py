"""Other families' level: whole models of other families timed during a calibration."""
import os

import pytest

from lowformer_nas.latency.tracing.kernels import Kernel

PROFILE = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "results",
                       "latency_profile_local.json")


class _Journal:
    def __init__(self, records):
        self.records = records

    def of_kind(self, kind):
        return [r for r in self.records if r.get("kind") == kind]


def test_family_models_are_traced_timed_and_set_the_level_of_other_families():
    """Really timed here. The level (scale x kernel sum + a charge per kernel) fits the
    family models at least as well as LowFormer's scale alone (least squares over both
    terms, that scale being one of its candidates), and is what other families get."""
    import numpy as np

    from lowformer_nas.latency.fitting.families import family_level, measure_families
    from lowformer_nas.latency.fitting.predictor import Predictor
    from lowformer_nas.latency.targets.profiles import load_profile

    recs = measure_families("torch", "cpu", names=("mobilenetv1_100", "no_such_timm_model",
                                                   "lcnet_050"))
    assert [r["name"] for r in recs] == ["mobilenetv1_100", "lcnet_050"]
    assert all(r["kind"] == "family" and r["ms"] > 0 for r in recs)
    kernels = [[Kernel(*k) for k in r["kernels"]] for r in recs]
    assert {"conv", "dw", "pw", "linear"} <= {k.op for k in kernels[0]}
    params = load_profile(PROFILE).data["params"]
    base, ms = Predictor(params), np.array([r["ms"] for r in recs])
    level = family_level(recs, base)
    assert level["scale"] >= 0 and level["per_kernel_ms"] >= 0
    fitted = Predictor(dict(params, family_level=level))
    with_level = np.array([fitted.predict_kernel_list(ks, family_term=False) for ks in kernels])
    sums = np.array([base.kernel_ms(ks).sum() for ks in kernels])
    assert with_level == pytest.approx(level["scale"] * sums + level["per_kernel_ms"] *
                                       np.array([len(ks) for ks in kernels]))
    alone = base.kernel_sum_scale * sums
    assert np.array([base.predict_kernel_list(ks, family_term=False) for ks in kernels]) == \
        pytest.approx(alone)  # no family records: LowFormer's level
    assert np.sum((with_level / ms - 1) ** 2) <= np.sum((alone / ms - 1) ** 2) + 1e-9
    assert family_level(recs[:1], base) is None


@pytest.mark.parametrize("backend, budget_s, done, wanted", [
    ("torch", 60.0, False, True), ("torch", 30.0, False, False),
    ("onnxruntime", 300.0, False, False), ("torch", 300.0, True, False)])
def test_family_models_are_timed_once_by_torch_calibrations_of_a_minute_or_more(
        backend, budget_s, done, wanted):
    from lowformer_nas.latency.fitting.families import wants_families

    journal = _Journal([{"kind": "family", "name": "x", "kernels": [], "ms": 1.0}] if done
                       else [{"kind": "kernel"}])
    assert wants_families(journal, backend, budget_s) is wanted


def test_the_family_set_is_disjoint_from_the_benchmark_models():
    """The benchmark's 42 timm models judge the level; none of them may set it."""
    from benchmarks.latency_timm import SETS
    from lowformer_nas.latency.fitting.families import FAMILY_MODELS

    assert not set(FAMILY_MODELS) & set(SETS["all"]) and len(set(FAMILY_MODELS)) == 9


def test_the_family_level_is_centred_on_the_family_models():
    """Least squares on relative error leans low (its fits ran 2-4% under their own family
    models in the median); the level is rescaled so that their median error is zero."""
    import numpy as np
    import timm

    from lowformer_nas.latency.fitting.families import family_level
    from lowformer_nas.latency.fitting.predictor import Predictor
    from lowformer_nas.latency.targets.profiles import load_profile
    from lowformer_nas.latency.tracing.trace import trace_kernels

    base = Predictor(load_profile(PROFILE).data["params"])
    names = ("mobilenetv1_100", "lcnet_050", "resnet10t", "mobilenetv3_small_050")
    kernels = [trace_kernels(timm.create_model(n), (1, 3, 96, 96)) for n in names]
    sums = np.array([base.kernel_ms(ks).sum() for ks in kernels])
    ms = sums * np.array([1.3, 0.8, 1.1, 1.6])  # models above and below their kernel sums
    recs = [{"kernels": [list(k) for k in ks], "ms": float(m)} for ks, m in zip(kernels, ms)]
    level = family_level(recs, base)
    fitted = level["scale"] * sums + level["per_kernel_ms"] * np.array([len(k) for k in kernels])
    assert np.median(np.log(fitted / ms)) == pytest.approx(0.0, abs=1e-9)
    assert level["n_models"] == 4
