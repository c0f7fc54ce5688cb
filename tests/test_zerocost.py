"""Zero-cost scores: finite and seed-stable on every registered architecture, and not ReLU-bound."""
import math

import pytest

from lowformer_nas.accuracy.datasets import load_dataset
from lowformer_nas.accuracy.zerocost import ZC_SCORES, naswot, zero_cost_scores
from lowformer_nas.arch.registry import get_arch, list_archs
from lowformer_nas.errors import UnknownNameError
from lowformer_nas.space import load_space


@pytest.fixture(scope="module")
def digits():
    import torch

    torch.set_num_threads(1)  # several threads spin against each other on a busy machine
    return load_dataset("digits", max_train=200, max_val=50)


@pytest.mark.parametrize("name", list_archs())
def test_every_score_finite_and_seed_stable_on_every_arch(digits, name):
    cfg = get_arch(name)
    a = zero_cost_scores(cfg, digits, resolution=32, seed=3, batch_size=8)
    b = zero_cost_scores(cfg, digits, resolution=32, seed=3, batch_size=8)
    assert tuple(a) == ZC_SCORES
    assert all(math.isfinite(v) for v in a.values()), a
    assert a == pytest.approx(b, rel=1e-9)


def test_scores_tell_networks_apart(digits):
    space = load_space("tiny")
    per_score = {n: set() for n in ZC_SCORES}
    for s in range(4):
        for n, v in zero_cost_scores(space.sample(s), digits, 32, batch_size=8).items():
            per_score[n].add(round(v, 9))
    assert all(len(v) > 1 for v in per_score.values()), per_score


def test_naswot_sees_gelu_and_hardswish_not_only_relu():
    """A net with only GELU/Hardswish nonlinearities still gets codes (published NASWOT: none)."""
    import torch

    torch.manual_seed(0)
    x = torch.randn(6, 4)
    for act in (torch.nn.GELU(), torch.nn.Hardswish()):
        net = torch.nn.Sequential(torch.nn.Linear(4, 64), act, torch.nn.Linear(64, 2))
        assert math.isfinite(naswot(net, x, None))
    with pytest.raises(Exception):  # no nonlinearity at all: no codes, singular kernel
        assert not math.isfinite(naswot(torch.nn.Linear(4, 2), x, None)) and False


def test_unknown_score_lists_known(digits):
    with pytest.raises(UnknownNameError, match="known: naswot"):
        zero_cost_scores(get_arch("lowformer_test"), digits, 32, names=["snip"])


def test_nan_inputs_give_scores_not_exceptions(digits):
    """A diverging dataset (NaN images) must not crash the search inside a score."""
    import copy

    bad = copy.copy(digits)
    bad.train_x = digits.train_x.clone()
    bad.train_x[:] = float("nan")
    out = zero_cost_scores(get_arch("lowformer_test"), bad, 32, batch_size=8)
    assert out["expressivity"] == float("-inf")
