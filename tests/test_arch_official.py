"""The official variants, built by us, against the reference facts and against timm's LowFormer.

Each variant is built once (ours and timm's) by a module-scoped fixture, so pytest runs all
tests of one variant together and frees it before building the next.
"""
import hashlib
import json

import pytest
import timm
import torch

import lowformer_nas.arch.builder  # noqa: F401  (registers the "lowformer_nas" entrypoint)
from lowformer_nas import build_model, count_params_macs, get_arch
from lowformer_nas.arch.registry import OFFICIAL_NAMES


def _shape_sha1(shapes):
    return hashlib.sha1(json.dumps(sorted(tuple(s) for s in shapes)).encode()).hexdigest()


@pytest.fixture(scope="module", params=OFFICIAL_NAMES)
def pair(request):
    """(name, ours, timm's) with timm's random weights loaded into ours, both in eval mode."""
    name = request.param
    torch.manual_seed(0)
    theirs = timm.create_model(name).eval()
    ours = build_model(get_arch(name)).eval()
    ours.load_state_dict(theirs.state_dict())
    return name, ours, theirs


def test_registry_and_reference_cover_the_same_variants(reference):
    assert sorted(reference) == sorted(OFFICIAL_NAMES)


def test_params_and_shape_hashes_match_reference(pair, reference):
    name, ours, _ = pair
    ref = reference[name]
    params = list(ours.parameters())
    assert sum(p.numel() for p in params) == ref["params"]
    assert len(params) == ref["n_param_tensors"]
    assert _shape_sha1(p.shape for p in params) == ref["param_shapes_sha1"]
    buffers = [b.shape for n, b in ours.named_buffers() if not n.endswith("num_batches_tracked")]
    assert _shape_sha1(buffers) == ref["buffer_shapes_sha1"]


def test_feature_shapes_match_reference(pair, reference):
    name, ours, _ = pair
    expected = reference[name]["stage_shapes"]
    with torch.inference_mode():
        x = ours.stem(torch.randn(1, 3, 224, 224))
        shapes = [list(x.shape)]
        for stage in ours.stages:
            x = stage(x)
            shapes.append(list(x.shape))
        logits = ours.forward_head(x)
    keys = ["stage0", "stage1", "stage2", "stage3", "stage_final"]
    assert shapes == [expected[k] for k in keys]
    assert list(logits.shape) == reference[name]["logits_shape"]


def test_count_params_macs_matches_reference(pair, reference):
    name, _, _ = pair
    params, macs, rows = count_params_macs(get_arch(name), resolution=224)
    assert (params, macs) == (reference[name]["params"], reference[name]["macs_224"])
    assert sum(r["params"] for r in rows) == params and sum(r["macs"] for r in rows) == macs
    assert [r["resolution"] for r in rows[:-1]] == [112, 56, 28, 14, 7]


def test_state_dict_matches_timm(pair):
    _, ours, theirs = pair
    mine = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert mine == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}


def test_outputs_match_timm(pair):
    _, ours, theirs = pair
    x = torch.randn(2, 3, 160, 160, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        feats = ours.forward_features(x)
        torch.testing.assert_close(feats, theirs.forward_features(x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ours.forward_head(feats, pre_logits=True),
                                   theirs.forward_head(feats, pre_logits=True),
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    assert ours.feature_info == theirs.feature_info


def test_timm_entrypoint_builds_the_variant(pair):
    name, ours, _ = pair
    model = timm.create_model("lowformer_nas", arch=name)
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in ours.state_dict().items()}
    assert model.pretrained_cfg["input_size"] == (3, 224, 224)


@pytest.mark.parametrize("arch", ["lowformer_b0", "lowformer_test"])
def test_timm_entrypoint_loads_local_checkpoint(arch, tmp_path):
    torch.manual_seed(3)
    source = build_model(get_arch(arch))
    path = tmp_path / "weights.pth"
    torch.save(source.state_dict(), path)
    model = timm.create_model("lowformer_nas", arch=arch, pretrained=True,
                              pretrained_cfg_overlay=dict(file=str(path)))
    loaded = model.state_dict()
    assert loaded.keys() == source.state_dict().keys()
    for key, value in source.state_dict().items():
        assert torch.equal(loaded[key], value), key
