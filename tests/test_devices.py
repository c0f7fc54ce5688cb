"""The device-prior table: loading, validation of bad rows, and its use by the built-in targets."""
from __future__ import annotations

import pytest
import yaml

from lowformer_nas.errors import ProfileError, UnknownNameError
from lowformer_nas.latency.devices import (TABLE, DeviceSpec, check_name, device_table,
                                           get_device_spec, list_device_specs, parse_table)

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
    from lowformer_nas.latency.builtin import SPECS

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


def test_table_file_is_packaged_yaml():
    assert TABLE.name == "devices.yaml" and TABLE.is_file()
