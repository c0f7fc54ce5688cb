"""The pure-numpy Pareto module and the B0-B3 rule, on their own (no search involved)."""
import itertools

import numpy as np
import pytest

from lowformer_nas.rundir.family import NAMES, pick_family
from lowformer_nas.rundir.pareto import (front_indices, hypervolume_2d, non_dominated_sort,
                                         pareto_mask)

MAX_MIN = (True, False)  # maximise score, minimise latency


def _brute_front(pts):
    out = []
    for i, a in enumerate(pts):
        dominated = any(b[0] >= a[0] and b[1] <= a[1] and (b[0] > a[0] or b[1] < a[1])
                        for b in pts)
        out.append(not dominated)
    return np.array(out)


def test_front_matches_brute_force_on_random_points():
    rng = np.random.default_rng(0)
    for _ in range(20):
        pts = rng.integers(0, 6, size=(30, 2)).astype(float)  # many ties on purpose
        assert (pareto_mask(pts, MAX_MIN) == _brute_front(pts)).all()


def test_non_dominated_sort_ranks_are_layers():
    pts = np.array([[0.9, 10], [0.8, 5], [0.7, 6], [0.95, 20], [0.5, 1], [0.6, 7]])
    ranks = non_dominated_sort(pts, MAX_MIN)
    assert list(ranks) == [0, 0, 1, 0, 0, 2]
    for r in range(ranks.max() + 1):  # no point dominates another of its own layer
        layer = pts[ranks == r]
        assert pareto_mask(layer, MAX_MIN).all()


def test_front_indices_sorted_by_latency():
    pts = np.array([[0.9, 10], [0.8, 5], [0.7, 6], [0.95, 20], [0.5, 1]])
    assert front_indices(pts, MAX_MIN, sort_col=1) == [4, 1, 0, 3]


def test_hypervolume_known_values():
    pts = np.array([[0.9, 10], [0.8, 5], [0.7, 6], [0.95, 20], [0.5, 1]])
    # strips over score: 0.5*29 + 0.3*25 + 0.1*20 + 0.05*10
    assert hypervolume_2d(pts, [0.0, 30.0], MAX_MIN) == pytest.approx(24.5)
    assert hypervolume_2d(pts[:0], [0.0, 30.0], MAX_MIN) == 0.0
    assert hypervolume_2d(np.array([[0.5, 40.0]]), [0.0, 30.0], MAX_MIN) == 0.0


def test_hypervolume_matches_grid_count():
    rng = np.random.default_rng(1)
    pts = np.column_stack([rng.integers(1, 20, 15), rng.integers(1, 20, 15)]).astype(float)
    ref = [0.0, 20.0]
    cells = sum(1 for s, m in itertools.product(range(20), range(20))
                if any(p[0] >= s + 1 and p[1] <= m for p in pts))  # cell [s,s+1]x[m,m+1]
    assert hypervolume_2d(pts, ref, MAX_MIN) == pytest.approx(cells)


def test_hypervolume_ignores_dominated_points():
    pts = np.array([[0.9, 5.0], [0.8, 6.0]])
    assert hypervolume_2d(pts, [0, 10], MAX_MIN) == hypervolume_2d(pts[:1], [0, 10], MAX_MIN)


def test_family_latencies_strictly_increase_and_respect_budget():
    rng = np.random.default_rng(2)
    for _ in range(50):
        lat = rng.uniform(1, 10, 40)
        score = lat * 0.1 + rng.normal(0, 0.2, 40)
        picks = pick_family(lat, score, 10.0)
        chosen = [picks[n] for n in NAMES if picks[n] is not None]
        lats = [lat[i] for i in chosen]
        assert lats == sorted(lats) and len(set(lats)) == len(lats)
        assert picks["B3"] == int(np.argmax(score))  # all within budget: B3 is the best
        fastest = lat.min()
        for name, frac in zip(NAMES, (0.25, 0.5, 0.75, 1.0)):
            if picks[name] is not None:
                assert lat[picks[name]] <= fastest + frac * (10.0 - fastest) + 1e-12


def test_family_picks_are_on_the_front():
    rng = np.random.default_rng(3)
    lat, score = rng.uniform(1, 10, 60), rng.uniform(0, 1, 60)
    mask = pareto_mask(np.column_stack([score, lat]), MAX_MIN)
    for idx in pick_family(lat, score, 10.0).values():
        assert idx is None or mask[idx]


def test_family_empty_and_single_point():
    assert pick_family([], [], 5.0) == {n: None for n in NAMES}
    assert pick_family([3.0], [0.5], 5.0) == {"B0": None, "B1": None, "B2": None, "B3": 0}
