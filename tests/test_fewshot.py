"""Few-shot fitting, runtime traits and the module API (issue 9)."""
from __future__ import annotations

import pytest

from lowformer_nas.errors import ProfileError
from lowformer_nas.latency.targets.calibrate_models import calibrate_from_models
from lowformer_nas.latency.tracing.traits import TRAITS, check_traits, runtime_traits

ROWS = "model,latency_ms\nlowformer_e1,1.7\nlowformer_e2,2.5\nlowformer_e3,3.6\n"
PRIOR = {"peak_gflops": 1000.0, "bandwidth_gbs": 30.0, "launch_us": 5.0, "cores": 6}


def test_traits_checked_and_ordered():
    assert check_traits(["fold_constants", "dead_code_elimination"]) == (
        "dead_code_elimination", "fold_constants")
    assert runtime_traits("TensorRT") == (
        "dead_code_elimination", "fuse_conv_bn_act", "fold_constants") == check_traits(TRAITS)
    assert runtime_traits("TFLite") == (
        "dead_code_elimination", "fuse_conv_bn_act", "fold_zero_products")
    assert runtime_traits("pytorch") == ()
    with pytest.raises(ProfileError, match="unknown runtime trait 'fuse'.*fold_constants"):
        check_traits(["fuse"])


def test_calibrate_from_models_takes_prior_and_traits(tmp_path):
    path = tmp_path / "pub.csv"
    path.write_text(ROWS)
    prof = calibrate_from_models("my-phone", str(path), prior=PRIOR,
                                 traits=["fuse_conv_bn_act"])
    roof = prof.data["params"]["roofline"]
    assert roof["peak_gflops"] == 1000.0 and roof["fused_epilogue"] is True
    assert prof.data["params"]["traits"] == ["fuse_conv_bn_act"]
    assert "given device prior" in prof.data["provenance"]
    with pytest.raises(ProfileError, match="peak_gflops"):
        calibrate_from_models("my-phone", str(path), prior={"peak_gflops": -1})


# ---- few-shot fits and the module API ------------------------------------------------------
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch.nn as nn  # noqa: E402

from lowformer_nas.latency.fitting.fewshot import fit, predict, predict_many  # noqa: E402
from lowformer_nas.latency.tracing.graph import trace_model  # noqa: E402

SHAPE = (1, 3, 32, 32)


def _net(c: int, depth: int, k: int = 3) -> nn.Module:
    body = [nn.Sequential(nn.Conv2d(c, c, k, 1, k // 2, bias=False), nn.BatchNorm2d(c), nn.ReLU())
            for _ in range(depth)]
    return nn.Sequential(nn.Conv2d(3, c, 3, 2, 1), nn.BatchNorm2d(c), nn.ReLU(), *body,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))


class _DeadBranch(nn.Module):
    """out = conv(x) + 0 * branch(x): the branch is dead for a folding, pruning runtime."""

    def __init__(self, c: int, dead: int) -> None:
        super().__init__()
        self.main = _net(c, 1)
        self.branch = _net(c, dead)

    def forward(self, x):  # noqa: ANN001
        return self.main(x) + self.branch(x).mul(0.0)


def test_one_row_fit_is_the_prior_scaled_to_it():
    prof = fit([(_net(16, 2), SHAPE, 2.0)], prior=PRIOR)
    assert predict(prof, _net(16, 2), SHAPE).latency_ms == pytest.approx(2.0, rel=1e-6)
    assert "scale only" in prof.data["provenance"] and "error" not in prof.data
    bigger = predict(prof, _net(32, 4), SHAPE).latency_ms
    assert bigger > 2.0


def test_two_row_fit_bends_the_prior_towards_both_rows():
    """Two free numbers would fit two rows exactly and extrapolate their noise; held to the
    prior's shape, the fit comes closer to both rows than the prior scaled to one of them."""
    rows = [(_net(16, 1), SHAPE, 0.8), (_net(32, 6), SHAPE, 5.0)]
    prof = fit(rows, prior=PRIOR)
    got = [predict(prof, m, s).latency_ms for m, s, _ in rows]
    scaled = fit(rows[:1], prior=PRIOR)
    one = [predict(scaled, m, s).latency_ms for m, s, _ in rows]
    assert got == pytest.approx([0.8, 5.0], rel=0.15)
    assert abs(got[1] / 5.0 - 1) < abs(one[1] / 5.0 - 1)
    assert "scale + overhead" in prof.data["provenance"]


def test_three_rows_report_leave_one_out_and_predict_lowformer_configs():
    from lowformer_nas.arch.registry import resolve_arch

    truth = fit([(_net(16, 1), SHAPE, 0.5), (_net(32, 6), SHAPE, 4.0)], prior=PRIOR)
    models = [_net(c, d) for c, d in ((8, 1), (16, 3), (24, 2), (32, 5), (48, 1))]
    ms = predict_many(truth, models, SHAPE)
    prof = fit([(m, SHAPE, t) for m, t in zip(models, ms)], prior=PRIOR)
    err = prof.data["error"]
    assert err["method"] == "LOO" and err["n_models"] == 5 and err["mape_pct"] < 5.0
    assert prof.predict(resolve_arch("lowformer_b0")[1], 224).latency_ms > 0  # search path


def test_trace_model_replays_runtime_traits():
    tm = trace_model(_DeadBranch(16, 4), SHAPE)
    eager = tm.kernel_list(())
    pruned = tm.kernel_list(TRAITS)
    ops = [k.op for k in eager]
    assert ops.count("bn") == 7 and ops.count("conv") == 7  # BN runs separately in eager
    assert [k.op for k in pruned].count("conv") == 2 and "bn" not in [k.op for k in pruned]
    assert len(tm.kernel_list(("dead_code_elimination",))) == len(
        tm.kernel_list(("dead_code_elimination", "fuse_conv_bn_act"))) + 14  # BN + ReLU x 7


class _ZeroFed(nn.Module):
    """out = main(x) + branch(0 * x): the branch computes on zeros only."""

    def __init__(self, c: int, fed: int) -> None:
        super().__init__()
        self.main = _net(c, 1)
        self.branch = _net(c, fed)

    def forward(self, x):  # noqa: ANN001
        return self.main(x) + self.branch(x.mul(0.0))


def test_zero_products_fold_without_folding_what_runs_on_zeros():
    """fold_zero_products drops ``x * 0`` and dead branches, but a conv fed with zeros still
    runs (the Pixel 3 TFLite data); fold_constants evaluates that conv at conversion time."""
    dce = ("dead_code_elimination", "fuse_conv_bn_act")
    fed = trace_model(_ZeroFed(16, 4), SHAPE)
    convs = {t: [k.op for k in fed.kernel_list(dce + (t,))].count("conv")
             for t in ("fold_constants", "fold_zero_products")}
    assert [k.op for k in fed.kernel_list(dce)].count("conv") == 7
    assert convs == {"fold_constants": 2, "fold_zero_products": 7}
    dead = trace_model(_DeadBranch(16, 4), SHAPE)
    assert len(dead.kernel_list(dce + ("fold_zero_products",))) == len(
        dead.kernel_list(dce + ("fold_constants",)))
    assert check_traits(["fold_zero_products", "fold_constants"]) == ("fold_constants",)


class _ZeroInput(nn.Module):
    """out = net(0 * x): the output no longer depends on the input."""

    def __init__(self, c: int, depth: int) -> None:
        super().__init__()
        self.net = _net(c, depth)

    def forward(self, x):  # noqa: ANN001
        return self.net(x.mul(0.0))


def test_zero_products_fold_a_model_whose_output_ignores_its_input():
    """TFLite measures such NAS-Bench-201 networks at ~0.01 ms: the whole model is one
    constant. Without dead-code removal the kernels still run, and a live model keeps its."""
    dead = trace_model(_ZeroInput(16, 3), SHAPE)
    dz = ("dead_code_elimination", "fold_zero_products")
    assert dead.kernel_list(dz) == []
    assert [k.op for k in dead.kernel_list(("fold_zero_products",))].count("conv") == 4
    assert [k.op for k in trace_model(_ZeroFed(16, 4), SHAPE).kernel_list(dz)].count(
        "conv") == 7


def test_fit_is_not_dragged_by_one_outlier():
    """Least absolute relative error: one row measured 3x too slow (a throttled phone)
    leaves the predictions of the rows that agree with each other where they were."""
    truth = fit([(_net(16, 1), SHAPE, 0.5), (_net(16, 6), SHAPE, 3.0)], prior=PRIOR)
    models = [trace_model(_net(c, d), SHAPE) for c in (8, 16, 24) for d in (1, 3, 5)]
    ms = predict_many(truth, models, SHAPE)
    bad = ms.copy()
    bad[4] *= 3.0
    prof = fit([(m, SHAPE, t) for m, t in zip(models, bad)], prior=PRIOR, traits=())
    got = predict_many(prof, models, SHAPE)
    clean = np.arange(len(ms)) != 4
    assert np.max(np.abs(got[clean] / ms[clean] - 1.0)) < 0.01  # least squares: +2.7% each


def test_traits_decided_from_rows_alone():
    """Latencies of a pruning runtime: leave-one-out must pick dead-code removal."""
    truth = fit([(_net(16, 1), SHAPE, 0.5), (_net(16, 6), SHAPE, 3.0)], prior=PRIOR,
                traits=TRAITS)
    assert truth.data["params"]["traits"] == list(check_traits(TRAITS))
    models = [trace_model(_DeadBranch(16, d), SHAPE) for d in (0, 2, 4, 6, 8)]
    models += [trace_model(_net(16, d), SHAPE) for d in (1, 3, 5)]
    ms = predict_many(truth, models, SHAPE)
    prof = fit([(m, SHAPE, t) for m, t in zip(models, ms)], prior=PRIOR)
    traits = prof.data["params"]["traits"]
    assert "dead_code_elimination" in traits and "fold_constants" in traits
    assert "decided by LOO" in prof.data["provenance"]


def test_fit_rejects_bad_rows():
    with pytest.raises(ProfileError, match="at least 1"):
        fit([], prior=PRIOR)
    with pytest.raises(ProfileError, match="> 0 ms"):
        fit([(_net(8, 1), SHAPE, -1.0)], prior=PRIOR)


CSV = Path("/work/shared/reference/device_latency/nb201_latency.csv")


@pytest.mark.skipif(not CSV.is_file(), reason="shared NAS-Bench-201 latency CSV not here")
def test_nb201_slice_fit(tmp_path, capsys):
    """20 Xeon rows of an 80-row slice predict the other 60 (full-table figure: ~95%)."""
    from benchmarks import device_latency_nb201 as b

    lines = CSV.read_text().splitlines()[:81]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    args = ["--csv", str(tmp_path / "s.csv"), "--device", "gold_6226_ms", "--train", "20",
            "--json", "--trace-cache", str(tmp_path / "t.jsonl")]
    assert b.main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_test"] == 60 and out["spearman"] > 0.85 and out["within10"] > 0.6
    assert b.main(args[:3] + ["nope"] + args[4:]) == 2
    assert "not a latency column" in capsys.readouterr().err


def test_from_measurements_one_and_two_rows(tmp_path):
    """1 row: scale only (reproduces it); 2 rows: scale + overhead; no LOO below 3."""
    from lowformer_nas.arch.registry import resolve_arch

    one = tmp_path / "one.csv"
    one.write_text("model,latency_ms\nlowformer_e1,1.7\n")
    prof = calibrate_from_models("phone-a", str(one), prior=PRIOR)
    cfg = resolve_arch("lowformer_e1")[1]
    assert prof.predict(cfg).latency_ms == pytest.approx(1.7, rel=1e-6)
    assert "scale only" in prof.data["provenance"] and "error" not in prof.data
    two = tmp_path / "two.csv"
    two.write_text("model,latency_ms\nlowformer_e1,1.7\nlowformer_e3,3.6\n")
    prof = calibrate_from_models("phone-a", str(two), prior=PRIOR)
    got = [prof.predict(resolve_arch(m)[1]).latency_ms for m in ("lowformer_e1", "lowformer_e3")]
    assert got == pytest.approx([1.7, 3.6], rel=0.05)


def test_a_priors_traits_are_the_incumbent():
    """Rows that cannot tell trait sets apart (no dead code, no zero products) keep the
    prior's traits, given in any order, instead of the simplest set."""
    models = [trace_model(_net(c, d), SHAPE) for c in (8, 16) for d in (1, 2, 4, 6)]
    truth = fit([(_net(16, 1), SHAPE, 0.5), (_net(16, 6), SHAPE, 3.0)], prior=PRIOR)
    ms = predict_many(truth, models, SHAPE)
    prior = dict(PRIOR, traits=["fold_constants", "dead_code_elimination"])
    prof = fit([(m, SHAPE, t) for m, t in zip(models, ms)], prior=prior)
    assert prof.data["params"]["traits"] == ["dead_code_elimination", "fold_constants"]
    assert fit([(m, SHAPE, t) for m, t in zip(models, ms)], prior=PRIOR).data[
        "params"]["traits"] == []
