"""The device-prior table: loading, validation of bad rows, and its use by the built-in targets."""
from __future__ import annotations

import json

import pytest
import yaml

from lowformer_nas.errors import ProfileError, UnknownNameError
from lowformer_nas.latency.targets.devices import (TABLE, DeviceSpec, check_name, device_table,
                                                   get_device_spec, list_device_specs,
                                                   parse_table)

GOOD = dict(name="board-x", title="Some board", kind="cpu", architecture="aarch64", cuda=False,
            cores=4, peak_gflops=100.0, bandwidth_gbs=10.0, launch_us=15.0, runtime="tflite",
            source="vendor data sheet")


def _table(**change):
    row = dict(GOOD, **change)
    return yaml.safe_dump([{k: v for k, v in row.items() if v is not None}])


def test_packaged_table_has_the_families_asked_for():
    names = set(device_table())
    for name in ("jetson-tx2", "jetson-nano", "jetson-orin-nano", "jetson-orin-nx",
                 "jetson-agx-orin", "rpi4", "rpi5", "snapdragon-845", "snapdragon-855",
                 "snapdragon-888", "snapdragon-8-gen-2", "apple-a15", "apple-a16",
                 "apple-a17-pro", "google-tensor", "gtx-1080-ti", "titan-rtx", "rtx-3090",
                 "rtx-4090", "a40", "a100", "h100", "xeon-gold-6226", "i7-1165g7"):
        assert name in names
    assert all(isinstance(s, DeviceSpec) and s.source.strip() for s in device_table().values())
    assert [s.name for s in list_device_specs("jetson-*")][:2] == ["jetson-tx2", "jetson-nano"]
    assert list_device_specs("no-such-*") == []


def test_roofline_is_the_predictor_prior_format():
    roof = get_device_spec("jetson-tx2").roofline()
    assert roof == {"peak_gflops": 665.0, "bandwidth_gbs": 59.7, "launch_us": 40.0,
                    "cores": 256, "fused_epilogue": True}
    assert get_device_spec("rpi5").roofline()["fused_epilogue"] is False  # torch eager
    assert get_device_spec("apple-a15").precision == "fp16"


def test_builtin_targets_take_their_prior_from_the_table():
    from lowformer_nas.latency import get_target
    from lowformer_nas.latency.targets.builtin import SPECS

    for name in ("jetson-tx2", "titan-rtx", "a40", "rpi5"):
        assert SPECS[name][1] == get_device_spec(name).roofline()
        assert get_target(name).data["params"]["roofline"] == get_device_spec(name).roofline()


def test_unknown_device_lists_known_names():
    with pytest.raises(UnknownNameError) as e:
        get_device_spec("pixel-99")
    assert "'pixel-99'" in str(e.value) and "jetson-nano" in str(e.value)


@pytest.mark.parametrize("change, words", [
    (dict(peak_gflops=0), "peak_gflops must be a positive number, got 0"),
    (dict(bandwidth_gbs="fast"), "bandwidth_gbs must be a positive number, got 'fast'"),
    (dict(launch_us=-1), "launch_us must be a number >= 0, got -1"),
    (dict(cores=2.5), "cores must be a positive integer, got 2.5"),
    (dict(cores=True), "cores must be a positive integer, got True"),
    (dict(kind="fpga"), "kind must be one of cpu, gpu, npu, got 'fpga'"),
    (dict(architecture="riscv"), "architecture must be one of aarch64, x86_64, any"),
    (dict(cuda="yes"), "cuda must be true or false, got 'yes'"),
    (dict(runtime="mystery"), "runtime must be one of"),
    (dict(runtime="coreml"), "runtime 'coreml' has no default traits"),
    (dict(traits=["warp_speed"]), "unknown runtime trait 'warp_speed'"),
    (dict(precision="fp64"), "precision must be one of fp32, fp16, int8, got 'fp64'"),
    (dict(name="Board/X"), "device name 'Board/X' is not allowed"),
    (dict(source=""), "source must be non-empty text"),
    (dict(source=None), "missing source"),
    (dict(colour="red"), "unknown field(s) colour"),
])
def test_bad_rows_are_rejected_naming_the_rule(change, words):
    with pytest.raises(ProfileError) as e:
        parse_table(_table(**change), "t.yaml")
    assert words in str(e.value) and "t.yaml row 1" in str(e.value)


def test_duplicates_and_non_lists_are_rejected():
    row = dict(GOOD)
    with pytest.raises(ProfileError, match="duplicate device name 'board-x'"):
        parse_table(yaml.safe_dump([row, row]), "t.yaml")
    with pytest.raises(ProfileError, match="non-empty list"):
        parse_table("name: x\n", "t.yaml")
    with pytest.raises(ProfileError, match="t.yaml line 1 is not valid YAML"):
        parse_table("- a: b: c\n", "t.yaml")
    spec = parse_table(_table(traits=["fuse_conv_bn_act"]), "t.yaml")["board-x"]
    assert spec.traits == ("fuse_conv_bn_act",) and spec.roofline()["fused_epilogue"]


@pytest.mark.parametrize("bad", ["a/b", "../x", "", "-x", "X", "a b", "x" * 65, None, "a\\b"])
def test_device_names_are_safe(bad):
    with pytest.raises(ProfileError, match="is not allowed: use lower-case"):
        check_name(bad)


def test_table_file_is_packaged_yaml_and_exported_lazily():
    import lowformer_nas.latency as latency

    assert TABLE.name == "devices.yaml" and TABLE.is_file()
    assert latency.get_device_spec("rpi4") is get_device_spec("rpi4")
    assert latency.list_device_specs("rpi*") == [get_device_spec("rpi4"), get_device_spec("rpi5")]


# ---- the CLI: safe names, host identity, refusal, --like -------------------------------------

def _cli(capsys, *argv):
    from lowformer_nas.cli import main

    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else None


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWFORMER_NAS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture()
def rows_csv(tmp_path):
    path = tmp_path / "board.csv"
    path.write_text("model,latency_ms,cpu,machine,onnxruntime\n"
                    "lowformer_e1,6.2,ARMv8 rev 3,aarch64,1.17\n"
                    "lowformer_e2,14.7,ARMv8 rev 3,aarch64,1.17\n"
                    "lowformer_e3,25.0,ARMv8 rev 3,aarch64,1.17\n")
    return path


def _foreign_device():
    """A table device whose architecture is not this host's (the `arm on x86_64` mistake)."""
    from lowformer_nas.latency.measurement.host import architecture

    return "arm" if architecture() != "aarch64" else "xeon-gold-6226"


@pytest.mark.parametrize("argv, words", [
    (lambda: ["--device", _foreign_device()], "but this host is"),
    (lambda: ["--device", "gpu"], "which needs --torch-device cuda, but --torch-device is 'cpu'"),
    (lambda: ["--device", "a/b"], "--device 'a/b' is not allowed: use lower-case"),
    (lambda: ["--device", "../up"], "--device '../up' is not allowed"),
    (lambda: ["--device", "Board"], "--device 'Board' is not allowed"),
    (lambda: ["--device", "x/y", "--from-measurements", "m.csv"], "--device 'x/y' is not allowed"),
    (lambda: ["--device", "b", "--like", "rpi4"], "--like sets the prior of --from-measurements"),
])
def test_calibrate_refuses_in_one_line_writing_nothing(cache, capsys, argv, words):
    cache.mkdir()
    (cache / "keep.txt").write_text("x")
    before = _tree(cache)
    code, out, err = _cli(capsys, "calibrate", "--no-progress", *argv())
    assert code == 2 and out == "" and err.count("\n") == 1 and words in err
    assert err.startswith("lowformer-nas: error: ") and _tree(cache) == before


def test_force_skips_the_host_check(cache, capsys):
    """With --force the architecture check is skipped: the next check (the space) speaks."""
    code, _, err = _cli(capsys, "calibrate", "--device", _foreign_device(), "--force",
                        "--space", "no-such-space", "--no-progress")
    assert code == 2 and "no-such-space" in err and "this host is" not in err


def test_from_measurements_records_and_shows_the_host(cache, capsys, rows_csv):
    code, out, _ = _cli(capsys, "calibrate", "--device", "my-board", "--from-measurements",
                        str(rows_csv))
    assert code == 0
    from lowformer_nas.latency import get_target

    host = get_target("my-board").host
    assert host["measured_here"] is False and host["note"] == \
        "not measured here; rows from board.csv"
    assert (host["cpu"], host["machine"], host["onnxruntime"]) == ("ARMv8 rev 3", "aarch64",
                                                                  "1.17")
    shown = "host: not measured here; rows from board.csv; the file says: ARMv8 rev 3 (aarch64)"
    assert shown in out
    code, out, _ = _cli(capsys, "predict", "lowformer_e1", "--target", "my-board")
    assert code == 0 and shown in out
    code, out, _ = _cli(capsys, "list")
    assert code == 0 and shown in out
    code, out, _ = _cli(capsys, "predict", "lowformer_e1", "--target", "my-board", "--json")
    assert json.loads(out)["profile_host"]["cpu"] == "ARMv8 rev 3"


def test_like_uses_the_table_prior_and_its_traits(cache, capsys, rows_csv):
    from lowformer_nas.latency import get_target

    code, out, _ = _cli(capsys, "calibrate", "--device", "nano", "--from-measurements",
                        str(rows_csv), "--like", "jetson-nano")
    assert code == 0
    prof = get_target("nano")
    spec = get_device_spec("jetson-nano")
    assert prof.data["params"]["roofline"] == spec.roofline()
    assert prof.data["params"]["traits"] == list(spec.traits)
    assert "jetson-nano spec-sheet prior (NVIDIA Jetson Nano" in prof.describe()
    # explicit numbers override the row; --runtime sets the traits
    code, _, _ = _cli(capsys, "calibrate", "--device", "nano2", "--from-measurements",
                      str(rows_csv), "--like", "jetson", "--peak-gflops", "300",
                      "--runtime", "pytorch")
    roof = get_target("nano2").data["params"]["roofline"]
    assert code == 0 and roof["peak_gflops"] == 300 and roof["bandwidth_gbs"] == 59.7
    assert roof["fused_epilogue"] is False and get_target("nano2").data["params"]["traits"] == []
    # the prior changes the fit: another prior gives other predictions for an unseen model
    from lowformer_nas.arch.registry import get_arch

    b1 = get_arch("lowformer_b1")
    assert get_target("nano").predict(b1).latency_ms != \
        pytest.approx(get_target("nano2").predict(b1).latency_ms, rel=1e-3)


def test_explicit_prior_and_its_errors(cache, capsys, rows_csv):
    from lowformer_nas.latency import get_target

    code, _, _ = _cli(capsys, "calibrate", "--device", "mine", "--from-measurements",
                      str(rows_csv), "--peak-gflops", "500", "--bandwidth-gbs", "20",
                      "--cores", "6")
    roof = get_target("mine").data["params"]["roofline"]
    assert code == 0 and (roof["peak_gflops"], roof["bandwidth_gbs"], roof["cores"]) == \
        (500, 20, 6)
    assert "a user-given prior (peak_gflops 500" in get_target("mine").describe()
    before = _tree(cache)
    for argv, words in ((["--peak-gflops", "500"], "needs --like DEVICE or both"),
                        (["--like", "pixel-99"], "unknown device 'pixel-99'; known: jetson-tx2"),
                        (["--peak-gflops", "-1", "--bandwidth-gbs", "2"], "expected a number > 0"),
                        (["--like", "rpi4", "--runtime", "magic"], "unknown runtime 'magic'")):
        code, out, err = _cli(capsys, "calibrate", "--device", "bad", "--from-measurements",
                              str(rows_csv), *argv)
        assert code == 2 and err.count("\n") == 1 and words in err, err
    assert _tree(cache) == before


def test_list_shows_the_device_table(cache, capsys):
    code, out, _ = _cli(capsys, "list")
    assert code == 0 and "Device priors" in out
    assert any(line.split()[:2] == ["jetson-orin-nano", "1280"] for line in out.splitlines())
    code, out, _ = _cli(capsys, "list", "--devices")
    assert code == 0 and len(out.splitlines()) == 2 * len(device_table())
    assert "source: Intel ARK" in out


def test_unsafe_names_are_never_paths(cache):
    from lowformer_nas.latency import get_target
    from lowformer_nas.latency.targets.registry import user_profile_path

    with pytest.raises(ProfileError, match="profile name '../x' is not allowed"):
        user_profile_path("../x")
    with pytest.raises(UnknownNameError, match="unknown latency target 'Weird Name'"):
        get_target("Weird Name")
