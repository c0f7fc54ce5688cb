"""Latency subsystem without timing: kernel enumeration, profiles, targets, CLI errors."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import replace

import pytest

from lowformer_nas.arch.builder import build_model
from lowformer_nas.arch.registry import OFFICIAL_NAMES, get_arch
from lowformer_nas.cli import main
from lowformer_nas.errors import ProfileError, UnknownNameError
from lowformer_nas.latency import enumerate_kernels, get_target, list_targets, load_profile
from lowformer_nas.latency.tracing.trace import trace_kernels


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWFORMER_NAS_CACHE", str(tmp_path / "cache"))


def _variants():
    base = get_arch("lowformer_test")
    yield "test", base
    yield "unfused-proj", base.replace_stage(3, attn_fused_proj=False)
    yield "no-bias", replace(base, mbconv_bias=False)
    yield "stride4", base.replace_stage(4, attn_stride=4, mlp=True)
    from lowformer_nas.space import load_space

    rng = random.Random(3)
    for name in ("tiny", "lowformer"):
        space = load_space(name)
        for i in range(4):
            yield f"{name}{i}", space.sample(rng)


@pytest.mark.parametrize("name", list(OFFICIAL_NAMES))
def test_analytic_kernels_match_traced_official(name):
    cfg = get_arch(name)
    assert enumerate_kernels(cfg, 64) == trace_kernels(build_model(cfg), (1, 3, 64, 64))


def test_analytic_kernels_match_traced_variants():
    for label, cfg in _variants():
        for res, batch in ((64, 1), (96, 2)):
            traced = trace_kernels(build_model(cfg), (batch, 3, res, res))
            assert enumerate_kernels(cfg, res, batch) == traced, (label, res, batch)


class _TokensToConv:
    """PVT's MLP: tokens (B, N, C) -> transposed view (B, C, H, W) -> depthwise conv, then back
    to tokens for a linear layer with bias (copies) and one without (reads in place)."""

    def __new__(cls):  # noqa: D102
        import torch.nn as nn

        class M(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.dw = nn.Conv2d(16, 16, 3, 1, 1, groups=16)
                self.fc = nn.Linear(16, 16)
                self.fc_nobias = nn.Linear(16, 16, bias=False)

            def forward(self, x):  # noqa: ANN001
                b, c, h, w = x.shape
                tokens = x.flatten(2).transpose(1, 2).contiguous()  # (B, N, C), an element copy
                y = self.dw(tokens.transpose(1, 2).view(b, c, h, w))
                z = y.flatten(2).transpose(1, 2)  # a transposed view of the conv's output
                return self.fc(z) + self.fc_nobias(z)

        return M()


def test_trace_records_the_copies_torch_makes_of_strided_inputs():
    """The dw conv's input is a transposed view (copied by torch: one element copy of its 4,096
    elements first); ``fc`` (addmm) copies its transposed input, ``fc_nobias`` (mm) does not."""
    import torch.nn as nn

    ks = trace_kernels(_TokensToConv(), (1, 16, 16, 16))
    assert [(k.op, k.h if k.op == "copy" else k.bias) for k in ks] == [
        ("copy", 4096), ("copy", 4096), ("dw", True), ("copy", 4096), ("linear", True),
        ("linear", False), ("add", False)]  # .contiguous(), then the two torch makes
    from lowformer_nas.latency.tracing.graph import trace_model

    assert trace_model(_TokensToConv(), (1, 16, 16, 16)).kernel_list(
        ("fuse_conv_bn_act",)) == ks  # the dataflow trace keeps them where their conv runs
    plain = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(8, 8, 3, groups=8), nn.Flatten(),
                          nn.Linear(8 * 28 * 28, 4))
    assert "copy" not in [k.op for k in trace_kernels(plain, (1, 3, 32, 32))]


def test_attention_kernel_with_fewer_keys_is_timed_as_such():
    """PVT attends 3,136 queries to 49 spatially reduced keys: the timing module must not
    attend 3,136 x 3,136 (it did, and timed 40 ms where the model spends ~1)."""
    import torch

    from lowformer_nas.latency.tracing.kernel_modules import kernel_module
    from lowformer_nas.latency.tracing.kernels import Kernel

    mod, x = kernel_module(Kernel("sdpa", 1, 2, 8, 64, 4))
    with torch.inference_mode():
        out = mod(x)
    assert tuple(x.shape) == (1, 2, 64, 8) and tuple(out.shape) == (1, 2, 64, 8)
    assert tuple(mod.k.shape) == (1, 2, 4, 8)


def test_timing_modules_run_what_the_kernel_says():
    """Attention matmuls and softmax were timed as a ReLU, and a linear layer's BN was
    dropped: each module must compute the kernel's own op on the kernel's shapes."""
    import torch
    import torch.nn as nn

    from lowformer_nas.latency.tracing.kernel_modules import kernel_module
    from lowformer_nas.latency.tracing.kernels import Kernel

    mm, x = kernel_module(Kernel("matmul", 1, 16, 49, 196, 1))
    sm, y = kernel_module(Kernel("softmax", 1, 4, 4, 49, 49))
    lin, z = kernel_module(Kernel("linear", 1, 32, 64, 196, 1, bn=True, act="hardswish"))
    with torch.inference_mode():
        assert tuple(mm(x).shape) == (196, 49)
        assert torch.allclose(sm(y).sum(-1), torch.ones(1, 4, 49))
        assert tuple(lin(z).shape) == (196, 64)
    assert any(isinstance(m, nn.BatchNorm1d) for m in lin.modules())


def test_kernels_are_fused_and_typed():
    ks = enumerate_kernels(get_arch("lowformer_test"), 64)
    ops = {k.op for k in ks}
    assert {"conv", "pw", "dw", "convT", "sdpa", "gn", "add", "pool", "linear", "ln"} <= ops
    stem = ks[0]
    assert stem.op == "conv" and stem.bn and stem.act == "hardswish" and stem.s == 2


def test_builtin_targets_predict():
    cfg = get_arch("lowformer_e2")
    jet = get_target("jetson")
    assert jet.name == "jetson-tx2" and get_target("jetson-tx2").sha256 == jet.sha256
    assert "published" in jet.describe() and "MAPE" in jet.describe()
    p = jet.predict(cfg, resolution=224, batch=1)
    assert p.latency_ms > 0 and p.std_ms > 0
    assert sum(p.per_stage.values()) == pytest.approx(p.latency_ms)
    assert set(p.per_stage) >= {"stem", "stage1", "stage4", "head"}
    assert "uncalibrated" in get_target("arm").describe()
    assert get_target("gpu").predict(cfg).latency_ms < p.latency_ms
    names = [t.name for t in list_targets()]
    assert {"local", "jetson-tx2", "rpi5", "titan-rtx"} <= set(names)


def test_bigger_model_predicts_slower():
    prof = get_target("jetson")
    assert prof.predict(get_arch("lowformer_b3")).latency_ms > \
        prof.predict(get_arch("lowformer_b0")).latency_ms


def test_traced_path_predicts_timm_model():
    import timm

    model = timm.create_model("resnet10t", pretrained=False)
    assert get_target("jetson").predict_model(model, resolution=64).latency_ms > 0


@pytest.mark.parametrize("shape", [(2, 14, 14, 48), (3, 48)])
def test_a_layer_norm_is_one_kernel_over_its_last_dim_and_is_measured_at_that_shape(shape):
    """LayerNorm normalises the last dim at every position (convnext's channels-last norm:
    196 positions x 48 channels per image); the kernel and the module timed for it agree."""
    import torch

    from lowformer_nas.latency.tracing.kernel_modules import kernel_module

    model = torch.nn.LayerNorm(shape[-1])
    (kr,) = [k for k in trace_kernels(model, shape) if k.op == "ln"]
    assert (kr.n, kr.cin, kr.h * kr.w) == (shape[0], 48, (196 if len(shape) == 4 else 1))
    module, x = kernel_module(kr)
    assert x.numel() == torch.zeros(shape).numel() and module(x).shape == x.shape


def test_a_copying_reshape_other_than_the_head_merge_copies_its_elements():
    """levit's (n, L, heads, d) -> (n, L, heads*d) after a permute was taken for LowFormer's
    head merge with L as the head count: a copy of 19.7M elements instead of 100k."""
    import torch

    class Merge(torch.nn.Module):
        def forward(self, x):
            return x.permute(0, 2, 1, 3).reshape(1, 196, 512)

    (kr,) = [k for k in trace_kernels(Merge(), (1, 4, 196, 128)) if k.op == "copy"]
    assert kr.n * kr.cin * kr.cout * kr.h * kr.w == 4 * 196 * 128


def test_other_families_get_isolated_kernel_sums_from_a_measured_profile():
    """The whole-model term of a calibrated profile belongs to LowFormer; a timm model is
    the sum of its kernels' times there, while a spec-sheet prior keeps its scale."""
    import timm

    from lowformer_nas.latency import load_profile

    model = timm.create_model("resnet10t", pretrained=False).eval()
    kernels = trace_kernels(model, (1, 3, 64, 64))
    measured = load_profile(os.path.join(os.path.dirname(__file__), "..", "benchmarks",
                                         "results", "latency_profile_local.json"))
    pred = measured.predict_model(model, resolution=64)
    got = pred.latency_ms
    assert got == pytest.approx(float(measured.predictor.kernel_ms(kernels).sum()))
    lo, hi = pred.central_interval(0.9)  # the spread measured on other families, not LowFormer's
    assert (lo / got, hi / got) == pytest.approx((0.69, 1.44), abs=0.01)
    assert got != pytest.approx(measured.predictor.predict_kernel_list(kernels))
    measured.data["params"]["kernel_sum_scale"] = 1.25  # whole models over kernel sums
    measured._predictor = None
    assert measured.predict_model(model, resolution=64).latency_ms == pytest.approx(1.25 * got)
    prior = get_target("jetson")
    assert prior.predict_model(model, resolution=64).latency_ms == pytest.approx(
        prior.predictor.predict_kernel_list(kernels))


def test_unknown_target_lists_known():
    with pytest.raises(UnknownNameError, match="jetson"):
        get_target("no-such-device")


def test_foreign_and_corrupt_profiles_rejected(tmp_path):
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"hello": 1}))
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "lowformer-nas/latency-profile", ')
    for path in (foreign, corrupt, tmp_path / "missing.json"):
        with pytest.raises(ProfileError):
            load_profile(path)


def test_user_profile_takes_precedence(tmp_path):
    data = dict(get_target("jetson").data, provenance="my own board")
    path = tmp_path / "cache" / "profiles" / "jetson-tx2.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    assert "my own board" in get_target("jetson").describe()


def test_local_uses_cached_profile(tmp_path):
    from lowformer_nas.latency.targets.profiles import FIT_VERSION

    data = dict(get_target("jetson").data, name="local", provenance="cached local",
                fit_version=FIT_VERSION)
    path = tmp_path / "cache" / "profiles" / "local.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    assert get_target("local").describe().startswith("local: cached local")


def _run(argv, capsys):
    """main() in-process: (exit code, stdout, stderr); argparse errors exit via SystemExit."""
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_predict_cli_json(capsys):
    rc, out, _ = _run(["predict", "lowformer_test", "--target", "jetson", "--json"], capsys)
    data = json.loads(out)
    assert rc == 0 and data["latency_ms"] > 0 and data["profile"] == "jetson-tx2"
    assert data["basis"] is None  # a LowFormer config: the profile's provenance says it all
    rc, out, _ = _run(["predict", "resnet10t", "--target", "jetson", "--resolution", "64",
                       "--json"], capsys)
    data = json.loads(out)
    assert rc == 0 and data["basis"].startswith("traced, priced by this profile's own model")
    rc, out, _ = _run(["predict", "lowformer_b0", "--target", "arm"], capsys)
    assert rc == 0 and "stage3" in out and "uncalibrated" in out


@pytest.mark.parametrize("argv", [
    ["predict", "lowformer_b0", "--target", "nowhere"],
    ["predict", "lowformer_b0", "--target", "FOREIGN"],
    ["predict", "no_such_arch", "--target", "jetson"],
    ["measure", "lowformer_b0", "--backend", "tensorflow"],
    ["calibrate", "--budget-minutes", "1"],
    ["calibrate", "--device", "x", "--budget-minutes", "-1"],
])
def test_bad_inputs_one_line_exit_2(argv, tmp_path, capsys):
    foreign = tmp_path / "foreign.json"
    foreign.write_text("[1, 2]")
    argv = [str(foreign) if a == "FOREIGN" else a for a in argv]
    rc, _, err = _run(argv, capsys)
    assert rc == 2 and err.count("\n") == 1 and err.startswith("lowformer-nas: error:")


PUBLISHED = "model,latency_ms,batch,resolution\nlowformer_e1,6.2,1,224\n" \
            "lowformer_e2,14.7,1,224\nlowformer_e3,25.0,1,224\nlowformer_b0,7.0,,\n"


def test_from_measurements_fits_and_reports_loo(tmp_path, capsys):
    csv_path = tmp_path / "pub.csv"
    csv_path.write_text(PUBLISHED)
    out = tmp_path / "p.json"
    rc, text, _ = _run(["calibrate", "--device", "jetson", "--from-measurements",
                        str(csv_path), "--out", str(out)], capsys)
    assert rc == 0 and "LOO MAPE" in text
    prof = load_profile(out)
    assert prof.name == "jetson-tx2" and prof.data["error"]["n_models"] == 4
    assert get_target("jetson").sha256 == prof.sha256  # the user's profile now wins


@pytest.mark.parametrize("text, needle", [
    ("model,ms\nlowformer_e1,6.2\n", "missing column"),
    ("model,latency_ms\nlowformer_e1,6.2\nnot_a_model,3\nlowformer_e2,4\n", "not_a_model"),
    ("model,latency_ms\nlowformer_e1,-6.2\nlowformer_e2,3\nlowformer_e3,4\n", "> 0"),
    ("model,latency_ms\nlowformer_e1,abc\nlowformer_e2,3\nlowformer_e3,4\n", "number"),
    ("model,latency_ms\n", "at least 1"),
])
def test_from_measurements_bad_csv(tmp_path, capsys, text, needle):
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(text)
    rc, _, err = _run(["calibrate", "--device", "jetson", "--from-measurements",
                       str(csv_path)], capsys)
    assert rc == 2 and needle in err and err.count("\n") == 1


def test_import_stays_light():
    code = ("import sys; from lowformer_nas.latency import get_target, list_targets; "
            "list_targets(); get_target('jetson'); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ), check=True)
    assert out.stdout.strip() == "False"


def test_stale_local_profile_is_refitted_from_its_journal(tmp_path):
    """A cached 'local' profile from an older fit is refitted (from the kept journal)."""
    from lowformer_nas.latency.targets import profiles, registry

    data = dict(get_target("jetson").data, name="local", provenance="old fit")
    path = tmp_path / "cache" / "profiles" / "local.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    assert registry._stale(path)
    path.write_text(json.dumps(dict(data, fit_version=profiles.FIT_VERSION)))
    assert not registry._stale(path) and get_target("local").describe().startswith("local: old")


def test_profiles_calibrated_under_new_names_are_listed_and_named_in_errors(tmp_path):
    data = dict(get_target("jetson").data, name="pi-zero-2", provenance="calibrated on a Pi")
    path = tmp_path / "cache" / "profiles" / "pi-zero-2.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    assert "pi-zero-2" in [t.name for t in list_targets()]
    assert get_target("pi-zero-2").describe().startswith("pi-zero-2: calibrated on a Pi")
    with pytest.raises(UnknownNameError, match="pi-zero-2"):
        get_target("pi-zero-3")


def test_kernel_correction_does_not_extrapolate_past_its_data():
    """FIT_VERSION 7: a correction fitted on 3x3 depthwise convs predicted a 7x7 one 20x too
    slow (its quadratic log-FLOP term, far outside the data); features are now clamped to
    the fitted range, so beyond the data the correction is that of the nearest fitted shape."""
    import numpy as np

    from lowformer_nas.latency.fitting.predictor import apply_correction, ridge

    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 1.0, size=(40, 2))
    X = np.column_stack([X, X[:, 0] ** 2])  # a quadratic term, as in design()
    y = 0.3 * X[:, 0] + 0.5 * X[:, 2] + rng.normal(0, 0.01, 40)
    corr = ridge(X, y, 0.3)
    edge = apply_correction(corr, np.array([[1.0, 0.5, 1.0]]))
    far = apply_correction(corr, np.array([[5.0, 0.5, 25.0]]))
    assert abs(far[0] - edge[0]) < 1e-9
    inside = apply_correction(corr, np.array([[0.5, 0.5, 0.25]]))
    assert abs(inside[0] - (0.15 + 0.125)) < 0.05  # inside the range the fit is used as is
    old = {k: v for k, v in corr.items() if k not in ("lo", "hi")}  # a profile before v7
    assert apply_correction(old, np.array([[5.0, 0.5, 25.0]]))[0] > far[0] + 1.0


def test_the_calibration_pool_holds_the_kernel_shapes_of_other_families():
    """1x1 depthwise, wide depthwise, grouped, standalone element-wise, token-wise linear and
    BN-less kernels are measured too (their absence put timm models' kernels x2-10 off), each pool
    keyed by the correction that will be fitted on it."""
    from lowformer_nas.latency.targets.pool import WIDE_DW, kernel_pool, sample_configs
    from lowformer_nas.latency.fitting.predictor import kernel_type

    rng = random.Random(0)
    pool = kernel_pool(sample_configs("lowformer", rng, 40), [224, 192], rng)
    assert {"conv", "pw", "dw", "dw1", "gconv", "eltwise", "linear", "add", "maxpool",
            "avgpool"} <= set(pool)
    assert all(kernel_type(k) == t for t, ks in pool.items() for k in ks)
    assert {k.k for k in pool["dw"]} >= {3, *WIDE_DW} and {k.k for k in pool["dw1"]} == {1}
    assert any(k.h > 1 for k in pool["linear"])  # token-wise, not only the classifier
    assert any(not k.bn for k in pool["pw"]) and any(not k.bn for k in pool["dw"])
    assert pool["ecopy"] and all(k.cin == k.cout == 1 for k in pool["ecopy"])  # not head merges
    assert min(len(pool["maxpool"]), len(pool["avgpool"])) >= 12  # a fitted correction (MIN_FIT)


@pytest.mark.parametrize("numel", [64 * 49, 3 * 7, 1])
def test_an_element_copy_is_measured_as_a_real_copy(numel):
    """A copy kernel of n elements must move them (a (1, n) transpose is a free view)."""

    from lowformer_nas.latency.tracing.kernel_modules import kernel_module
    from lowformer_nas.latency.tracing.kernels import Kernel

    mod, x = kernel_module(Kernel("copy", 1, 1, 1, numel, 1))
    y = mod(x)
    assert y.numel() == numel and y.data_ptr() != x.data_ptr()


def test_windowed_pools_are_windowed_kernels_not_a_global_pool():
    """ResNet's 3x3/2 stem max pool takes 6 ms here (torch's eager path), EfficientFormer's
    fourteen 3x3/1 average pools about 9 ms; both had been priced as a global average pool
    (0.04 ms). A global average pool keeps its record."""
    import torch

    from lowformer_nas.latency.tracing.kernel_modules import kernel_module
    from lowformer_nas.latency.tracing.kernels import kernel_flops, out_hw

    (kr,) = trace_kernels(torch.nn.MaxPool2d(3, 2, 1), (1, 8, 16, 16))
    assert (kr.op, kr.k, kr.s, out_hw(kr)) == ("maxpool", 3, 2, (8, 8))
    assert kernel_flops(kr) == 8 * 8 * 8 * 9
    mod, x = kernel_module(kr)
    assert tuple(mod(x).shape) == (1, 8, 8, 8)
    (avg,) = trace_kernels(torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False), (1, 8, 16, 16))
    assert (avg.op, avg.k, avg.s, out_hw(avg)) == ("avgpool", 3, 1, (16, 16))
    mod, x = kernel_module(avg)
    assert tuple(mod(x).shape) == (1, 8, 16, 16)
    (glob,) = trace_kernels(torch.nn.AvgPool2d(16), (1, 8, 16, 16))  # a global one
    assert glob.op == "pool"


def test_cat_contiguous_and_upsample_are_traced_as_passes_over_memory():
    import torch

    class Net(torch.nn.Module):
        def forward(self, x):
            torch.cat([x, x], 1).permute(0, 2, 3, 1).contiguous()  # traced, result unused
            return torch.nn.functional.interpolate(x, scale_factor=2.0, mode="bilinear")

    ks = trace_kernels(Net(), (1, 8, 6, 6))
    assert [(k.op, k.h) for k in ks[:2]] == [("copy", 576), ("copy", 576)]
    assert ks[2].op == "eltwise" and (ks[2].cin, ks[2].h, ks[2].w) == (8, 12, 12)


@pytest.mark.parametrize("size, k", [((1, 5), 3), ((5, 1), 3), ((1, 11), 5), ((3, 3), 3),
                                     ((1, 1), 1)])
def test_a_non_square_depthwise_conv_is_recorded_as_the_square_of_as_many_taps(size, k):
    """GhostNetV2's 1x5 / 5x1 depthwise convs had been recorded by their width: the 5x1 as a
    1x1 depthwise conv, priced on torch's slow per-group path (+66-71% on the model)."""
    import torch

    from lowformer_nas.latency.fitting.predictor import kernel_type

    conv = torch.nn.Conv2d(32, 32, size, padding=(size[0] // 2, size[1] // 2), groups=32)
    (kr,) = [kr for kr in trace_kernels(conv, (1, 32, 14, 14)) if kr.op == "dw"]
    assert kr.k == k and (kernel_type(kr) == "dw1") == (k == 1)


def test_a_1x1_depthwise_conv_has_its_own_correction_and_old_profiles_keep_theirs():
    import numpy as np

    from lowformer_nas.latency.tracing.kernels import Kernel
    from lowformer_nas.latency.fitting.predictor import DW1_GROUP_LAUNCH, Predictor, fit_kernels

    roof = {"peak_gflops": 50.0, "bandwidth_gbs": 10.0, "launch_us": 5.0}
    dw1, dw3 = Kernel("dw", 1, 256, 256, 14, 14, 1, 1, 256), Kernel("dw", 1, 256, 256, 14, 14,
                                                                    3, 1, 256)
    old = {"roofline": roof, "corrections": {"dw": {"intercept": 0.0, "coef": []}}}
    new = {"roofline": roof, "corrections": {"dw": {"intercept": 0.0, "coef": []},
                                             "dw1": {"intercept": float(np.log(8.0)),
                                                     "coef": [],
                                                     "per_channel": DW1_GROUP_LAUNCH}}}
    a, b = Predictor(old).kernel_ms([dw1, dw3]), Predictor(new).kernel_ms([dw1, dw3])
    # its own correction multiplies the roofline plus a cost per channel (torch's per-group
    # path); a profile without it keeps the depthwise correction on the roofline alone
    per_channel = 256 * roof["launch_us"] * 1e-3 * DW1_GROUP_LAUNCH
    assert b[0] == pytest.approx(8.0 * (a[0] + per_channel)) and b[1] == pytest.approx(a[1])
    # a calibration's fit records that prior with the correction (older fits have none)
    fitted = fit_kernels([dw1, dw3], [1.0, 0.2], roof)
    assert fitted["dw1"]["per_channel"] == DW1_GROUP_LAUNCH and "per_channel" not in fitted["dw"]


def test_predict_outside_the_calibrated_resolutions_says_so(tmp_path, capsys):
    """LowFormer-B0 at 96 px ran 20-41% above a profile calibrated at 160-224 px (torch's slow
    path for 3x3 maps): such a prediction is flagged, one inside the span is not."""
    data = json.loads(open(os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks",
                                        "results", "latency_timm_profile_local.json")).read())
    path = tmp_path / "p.json"
    path.write_text(json.dumps(dict(data, resolutions=[160, 224])))
    for res, flagged in ((96, True), (192, False), (256, True)):
        assert main(["predict", "lowformer_b0", "--target", str(path),
                     "--resolution", str(res)]) == 0
        out = capsys.readouterr().out
        assert ("extrapolated: " + f"{res} px is outside the 160-224 px" in out) == flagged
    assert main(["predict", "lowformer_b0", "--target", str(path), "--resolution", "96",
                 "--json"]) == 0
    assert "outside the 160-224 px" in json.loads(capsys.readouterr().out)["note"]
    from lowformer_nas.latency import load_profile
    from lowformer_nas.search.run import _resolution_note

    assert "outside the 160-224 px" in _resolution_note(load_profile(path), 32)
    assert "warning: target" in capsys.readouterr().err  # a search of the tiny space says so
    assert _resolution_note(load_profile(path), 224) is None
