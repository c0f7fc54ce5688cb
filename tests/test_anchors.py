"""The ImageNet anchors: the tables, the default signal's leave-one-out agreement, its
monotonicity on nested networks, and the anchor check's warning for a signal that inverts them."""
import math

import pytest

from lowformer_nas.accuracy.anchors import (anchor_check, fit_line, load_anchors,
                                            load_published)
from lowformer_nas.arch.registry import OFFICIAL_NAMES, get_arch
from lowformer_nas.space import load_space
from lowformer_nas.search.signal import anchored_check, anchored_score, run_anchor_check
from lowformer_nas.search.settings import SearchSettings, identity


def test_anchor_table_covers_the_official_family_in_the_space():
    anchors = {a.name: a for a in load_anchors()}
    assert sorted(anchors) == sorted(OFFICIAL_NAMES)
    space = load_space("lowformer")
    for a in anchors.values():
        assert space.contains(get_arch(a.name)) and a.resolution == 224 and a.source
        assert 70 < a.top1 < 90


def test_published_table_names_timm_models():
    import timm

    rows = load_published()
    assert len(rows) >= 15
    for name, r in rows.items():
        assert timm.is_model(name) and r.checkpoint and r.source, name


def test_default_signal_meets_the_anchor_goal_leave_one_out():
    """Issue goal: leave-one-out Spearman >= 0.95, Kendall >= 0.85 on the 8 anchors."""
    check = anchored_check()
    assert check.n == 8 and check.how == "leave-one-out predictions"
    assert check.spearman.value >= 0.95 and check.kendall.value >= 0.85
    assert check.mae < 1.0 and not check.inverted


def test_fit_line_never_learns_smaller_is_better():
    assert fit_line([1, 2, 3], [3, 2, 1])[1] == 0.0
    assert fit_line([1, 2, 3], [1, 2, 3]) == pytest.approx((0.0, 1.0))


@pytest.mark.parametrize("seed", range(6))
def test_default_signal_ranks_a_network_above_one_it_contains(seed):
    """Every stage at least as wide and as deep, same block kinds: never ranked lower."""
    space = load_space("tiny")
    cfg = space.sample(seed)
    base = anchored_score(cfg)
    for i, stage in enumerate(cfg.stages):
        deeper = cfg.replace_stage(i, depth=stage.depth + 1)
        wider = cfg.replace_stage(i, width=stage.width + 8)
        assert anchored_score(deeper) > base and anchored_score(wider) > base


def test_anchor_check_warns_for_a_signal_that_inverts_the_anchors():
    from lowformer_nas.report.pareto_data import anchor_fields

    inverted = {a.name: -a.top1 for a in load_anchors()}
    check = anchor_check(inverted)
    assert check.inverted and check.kendall.value < -0.8
    fields = anchor_fields(check, True)
    assert fields["anchor_inverted"] and fields["anchor_check"].startswith("WARNING")
    refs = [{"name": n, "family": "lowformer", "score": s} for n, s in inverted.items()]
    settings = {"proxy": "train", "zc_score": "naswot"}
    assert run_anchor_check(settings, refs).inverted  # trained proxies are checked too
    assert anchor_check({"lowformer_b0": 1.0}) is None  # too few to rank


def test_timm_references_take_their_published_top1():
    assert anchored_score("repvit_m1_1") == pytest.approx(80.826)
    with pytest.raises(ValueError, match="no published ImageNet-1k top-1"):
        anchored_score("resnet18")
    assert math.isfinite(anchored_score(get_arch("lowformer_test")))


def test_renamed_prior_keeps_old_runs_study_names():
    new = SearchSettings(target="jetson", budget="5ms", zc_score="small-data-prior")
    old = SearchSettings(target="jetson", budget="5ms", zc_score="prior")
    assert old.zc_score == "small-data-prior" and identity(old)["zc_score"] == "prior"
    assert identity(new) == identity(old)


@pytest.mark.slow
def test_default_run_states_its_anchor_check_and_places_timm_at_published(tmp_path):
    """The bare command's signal, as a user runs it (progress on): the anchor check in the
    summary, the page and each B*.yaml; timm references at their published top-1."""
    from clirun import run_cli

    out = tmp_path / "run"
    code, text = run_cli(["search", "--target", "jetson", "--latency-budget", "20ms",
                          "--trials", "8", "--references", "all,repvit_m1_1,resnet18",
                          "--out", str(out)], tty=True)
    assert code == 0, text
    summary = (out / "summary.md").read_text()
    assert "- anchor check: Kendall tau +0.91" in summary and "WARNING" not in text
    assert "| repvit_m1_1 | timm |" in summary and "80.83 (published)" in summary
    assert "- resnet18: not scored: no published ImageNet-1k top-1" in summary
    assert "predicted top-1 steps B0->B1" in summary
    assert "anchor check: Kendall tau" in (out / "pareto.html").read_text()
    for path in (out / "models").glob("B*.yaml"):
        assert "# anchor check: Kendall tau +0.91" in path.read_text()


@pytest.mark.slow
def test_a_signal_that_inverts_the_anchors_is_warned_about(tmp_path):
    """The small-data prior ranks the official family backwards: stderr and summary say so."""
    from clirun import run_cli

    out = tmp_path / "run"
    code, text = run_cli(["search", "--target", "jetson", "--latency-budget", "5ms",
                          "--space", "tiny", "--trials", "2", "--zc-score", "small-data-prior",
                          "--proxy-resolution", "64", "--out", str(out)], tty=False)
    assert code == 0, text
    assert "lowformer-nas: WARNING: this accuracy signal does not rank the official" in text
    summary = (out / "summary.md").read_text()
    assert "- WARNING: this accuracy signal does not rank" in summary
