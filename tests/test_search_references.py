"""``search --references`` with timm models of other families next to the official variants."""
from __future__ import annotations

import json

import pytest

from lowformer_nas.cli import main

ARGS = ["search", "--target", "jetson", "--latency-budget", "1ms", "--space", "tiny",
        "--trials", "3", "--seed", "5"]
TIMM_OK = "mobilenetv3_small_050"
NOT_SCORED = "edgenext_xx_small"  # runs at the tiny space's 32 px, not at a 16 px proxy
NOT_PLACED = "efficientformerv2_s0"  # its attention needs 7x7 at stride 32: not even 32 px


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("refs") / "r"
    assert main(ARGS + ["--out", str(out), "--proxy-resolution", "16", "--references",
                        f"lowformer_b0,{TIMM_OK},{NOT_SCORED},{NOT_PLACED}"]) == 0
    return out


def test_timm_references_are_scored_alike_with_traced_latency(run):
    from lowformer_nas.latency import get_target

    refs = {r["name"]: r for r in json.loads((run / "pareto.json").read_text())["references"]}
    assert list(refs) == ["lowformer_b0", TIMM_OK, NOT_SCORED, NOT_PLACED]
    ok, official = refs[TIMM_OK], refs["lowformer_b0"]
    assert ok["family"] == "timm" and official["family"] == "lowformer"
    assert ok["score"] is not None and ok["zc"]["naswot"] == ok["score"] and ok["note"] == ""
    import timm

    traced = get_target("jetson").predict_model(timm.create_model(TIMM_OK), resolution=32)
    assert ok["latency_ms"] == pytest.approx(traced.latency_ms)  # tiny space: 32 px
    basis = get_target("jetson").other_family_basis()
    assert basis.startswith("traced, priced by this profile's own model")  # a spec-sheet prior
    assert ok["latency_source"] == f"predicted with profile jetson-tx2 ({basis})"
    assert official["latency_source"] == "predicted (analytic) with profile jetson-tx2"
    unscored = refs[NOT_SCORED]
    assert unscored["score"] is None and unscored["latency_ms"] > 0 and unscored["zc"] == {}
    assert unscored["note"].startswith("not scored: the zero-cost proxy cannot run it at 16 px")
    unplaced = refs[NOT_PLACED]
    assert unplaced["latency_ms"] is None and unplaced["score"] is None
    assert unplaced["note"].startswith("not placed: it cannot run at the space's 32 px")


def test_summary_and_page_show_them(run):
    summary = (run / "summary.md").read_text()
    assert f"| {TIMM_OK} | timm |" in summary
    assert f"| {NOT_SCORED} | timm |" in summary and "| not scored |" in summary
    assert f"- {NOT_SCORED}: not scored: the zero-cost proxy" in summary
    assert f"| {NOT_PLACED} | timm | - | False | not scored |" in summary
    assert f"- {NOT_PLACED}: not placed" in summary
    assert "Latency: predicted (analytic) with profile jetson-tx2; predicted with profile " \
        "jetson-tx2 (traced, " in summary
    page = (run / "pareto.html").read_text()
    assert "timm models (same proxy)" in page and f"{NOT_SCORED} (not scored)" in page


def test_unknown_reference_one_line_nothing_written(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(ARGS + ["--out", str(out), "--references", "mobilenetv4_conv_smal"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'mobilenetv4_conv_smal'" in err
    assert "timm model names" in err and "close: mobilenetv4_conv_small" in err
    assert not out.exists()
