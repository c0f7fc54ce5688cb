"""Few-shot fitting, runtime traits and the module API (issue 9)."""
from __future__ import annotations

import pytest

from lowformer_nas.errors import ProfileError
from lowformer_nas.latency.calibrate_models import calibrate_from_models
from lowformer_nas.latency.traits import TRAITS, check_traits, runtime_traits

ROWS = "model,latency_ms\nlowformer_e1,1.7\nlowformer_e2,2.5\nlowformer_e3,3.6\n"
PRIOR = {"peak_gflops": 1000.0, "bandwidth_gbs": 30.0, "launch_us": 5.0, "cores": 6}


def test_traits_checked_and_ordered():
    assert check_traits(["fold_constants", "dead_code_elimination"]) == (
        "dead_code_elimination", "fold_constants")
    assert runtime_traits("TFLite") == TRAITS and runtime_traits("pytorch") == ()
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
