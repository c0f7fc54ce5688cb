"""The shipped accuracy prior (``--zc-score prior``): loads, scores every registered arch with
finite, repeatable values, agrees with its own table, and refuses settings it was not fitted at."""
import math

import pytest

from lowformer_nas.accuracy.datasets import load_dataset
from lowformer_nas.accuracy.prior import load_prior
from lowformer_nas.accuracy.zerocost import zero_cost_scores
from lowformer_nas.arch.registry import get_arch, list_archs
from lowformer_nas.errors import ConfigError, RunError
from lowformer_nas.search.settings import SearchSettings


@pytest.fixture(scope="module")
def prior():
    return load_prior()


@pytest.fixture(scope="module")
def data(prior):
    return load_dataset(prior.dataset, None, max_train=200, max_val=50, seed=0)


def test_shipped_prior_is_the_ground_truth_table(prior):
    assert prior.table == "ground_truth_v1.csv" and prior.dataset == "digits"
    assert prior.resolution == 64 and len(prior.configs) >= 40
    assert all(0.0 < a < 1.0 for a in prior.accuracy)
    assert {"params", "MACs", "naswot", "zico"} <= set(prior.cheap[0])


def test_fitted_rows_score_near_their_own_accuracy(prior, data):
    """A forest fitted on every row reproduces those rows closely (from the stored features,
    the same path a search takes minus the zero-cost computation)."""
    for cfg, cheap, acc in list(zip(prior.configs, prior.cheap, prior.accuracy))[:5]:
        zc = {k: v for k, v in cheap.items() if k not in ("params", "MACs")}
        assert prior.score(cfg, zc, data.num_classes) == pytest.approx(acc, abs=0.02)


@pytest.mark.parametrize("name", list_archs("lowformer_*"))
def test_every_registered_arch_gets_a_finite_repeatable_score(prior, data, name):
    cfg = get_arch(name)
    zc = zero_cost_scores(cfg, data, 32, seed=0, names=["naswot", "synflow"])
    first = prior.score(cfg, zc, data.num_classes)  # missing scores: the table's minimum
    assert math.isfinite(first) and 0.5 < first < 1.0
    assert prior.score(cfg, zc, data.num_classes) == first


def test_prior_refuses_what_it_cannot_score(prior, data):
    with pytest.raises(ConfigError, match="LowFormer configs"):
        prior.score("mobilenetv3_small_050", {}, data.num_classes)
    with pytest.raises(RunError, match="fitted on zero-cost scores on digits at 64 px"):
        SearchSettings(target="jetson", budget="5ms", zc_score="prior", proxy_resolution=32)
    with pytest.raises(RunError, match="--dataset digits"):
        SearchSettings(target="jetson", budget="5ms", zc_score="prior", dataset="cifar10")
