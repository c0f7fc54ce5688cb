"""Every registered architecture builds, runs, and offers timm's model interface."""
import pytest
import timm
import torch

import lowformer_nas.arch.builder  # noqa: F401  (registers the "lowformer_nas" entrypoint)
from lowformer_nas import build_model, config_to_dict, get_arch, list_archs

RES = 64
SMALL = [n for n in list_archs() if get_arch(n).widths[-1] <= 320]  # the large take seconds


@pytest.fixture(scope="module", params=list_archs())
def built(request):
    name = request.param
    torch.manual_seed(0)
    return name, get_arch(name), build_model(get_arch(name)).eval()


def _x(batch=2, res=RES):
    return torch.randn(batch, 3, res, res, generator=torch.Generator().manual_seed(0))


def test_forward_shapes(built):
    _, cfg, model = built
    with torch.inference_mode():
        feats = model.forward_features(_x())
        assert feats.shape == (2, cfg.widths[-1], RES // 32, RES // 32)
        assert model.forward_head(feats, pre_logits=True).shape == (2, cfg.head_widths[1])
        logits = model(_x())
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    assert model.num_features == cfg.widths[-1]
    assert model.head_hidden_size == cfg.head_widths[1]


def test_feature_info_and_intermediates(built):
    _, cfg, model = built
    with torch.inference_mode():
        final, inter = model.forward_intermediates(_x(1))
    assert [f["num_chs"] for f in model.feature_info] == list(cfg.widths[1:])
    assert [t.shape[1] for t in inter] == list(cfg.widths[1:])
    assert [RES // t.shape[-1] for t in inter] == [f["reduction"] for f in model.feature_info]
    assert torch.equal(final, inter[-1])


def test_reset_classifier(built):
    _, cfg, model = built
    model.reset_classifier(7)
    with torch.inference_mode():
        assert model(_x()).shape == (2, 7)
    model.reset_classifier(0)
    with torch.inference_mode():
        assert model(_x()).shape == (2, cfg.head_widths[1])
    model.reset_classifier(5, global_pool="")
    with torch.inference_mode():
        assert model(_x()).shape == (2, 5, RES // 32, RES // 32)


@pytest.mark.parametrize("name", SMALL)
def test_build_is_pure_and_honours_num_classes_and_in_chans(name):
    before = config_to_dict(get_arch(name))  # a value snapshot, not the registry's object
    model = build_model(get_arch(name), num_classes=10, in_chans=1).eval()
    with torch.inference_mode():
        assert model(torch.zeros(1, 1, RES, RES)).shape == (1, 10)
    assert config_to_dict(get_arch(name)) == before  # building never mutates the registry


@pytest.mark.parametrize("name", ["lowformer_b0", "lowformer_e1"])
def test_head_api_matches_timm(name):
    """The same sequence of head calls on ours and timm's (same weights) gives the same tensors."""
    torch.manual_seed(0)
    theirs = timm.create_model(name).eval()
    ours = build_model(get_arch(name)).eval()
    ours.load_state_dict(theirs.state_dict())
    steps = [dict(num_classes=7), dict(num_classes=3, global_pool=""),
             dict(num_classes=0, global_pool="avg", reset_other=True)]
    for kwargs in steps:
        for model in (ours, theirs):  # same seed: the new classifiers get the same weights
            torch.manual_seed(1)
            model.reset_classifier(**kwargs)
        with torch.inference_mode():
            torch.testing.assert_close(ours(_x()), theirs(_x()), atol=1e-5, rtol=1e-5)
        assert ours.head_hidden_size == theirs.head_hidden_size


def test_timm_features_only_on_a_yaml_arch(tmp_path):
    from lowformer_nas import save_config

    path = tmp_path / "arch.yaml"
    save_config(get_arch("lowformer_test"), path)
    model = timm.create_model("lowformer_nas", arch=str(path), features_only=True).eval()
    with torch.inference_mode():
        feats = model(_x(1))
    assert [f.shape[1] for f in feats] == list(get_arch("lowformer_test").widths[1:])
    assert model.feature_info.reduction() == [4, 8, 16, 32]


def test_build_model_registers_the_timm_entrypoint():
    """After any build_model call, exported configs can be created through timm directly."""
    import timm

    from lowformer_nas import build_model, get_arch

    build_model(get_arch("lowformer_test"))
    assert "lowformer_nas" in timm.list_models("lowformer_nas")
    model = timm.create_model("lowformer_nas", arch="lowformer_test", num_classes=3)
    assert model.arch_config == get_arch("lowformer_test")
