"""Search spaces: every sample valid and contained, official variants members, bad YAML rejected."""
import random

import pytest
import yaml

from lowformer_nas import get_arch, list_archs, load_space
from lowformer_nas.arch.registry import OFFICIAL_NAMES
from lowformer_nas.errors import SpaceError, UnknownNameError
from lowformer_nas.space import list_spaces, space_from_dict


@pytest.mark.parametrize("name", ["lowformer", "quick", "tiny"])
def test_shipped_spaces_sample_valid_contained_configs(name):
    space = load_space(name)
    rng = random.Random(0)
    for _ in range(200):
        cfg = space.sample(rng)
        assert space.contains(cfg)
        assert space.build(space.to_params(cfg)) == cfg


def test_sampling_is_deterministic_per_seed():
    space = load_space("lowformer")
    assert [space.sample(s) for s in range(20)] == [space.sample(s) for s in range(20)]
    assert len({space.sample(s) for s in range(50)}) > 40


@pytest.mark.parametrize("name", OFFICIAL_NAMES)
def test_official_variants_are_members_of_default_space(name):
    space = load_space("lowformer")
    cfg = get_arch(name)
    assert space.contains(cfg)
    assert space.build(space.to_params(cfg)) == cfg


def test_tiny_space_excludes_official_variants_and_test_arch_is_registered():
    tiny = load_space("tiny")
    assert not any(tiny.contains(get_arch(n)) for n in OFFICIAL_NAMES)
    assert "lowformer_test" in list_archs("lowformer_t*")


def test_size_counts_distinct_networks():
    # stage fields that build nothing (stride without attention) must not inflate the count
    space = load_space("tiny")
    dims = space.dimensions()
    naive = 1
    for choices in dims.values():
        naive *= len(choices)
    assert 0 < space.size() < naive
    assert {"lowformer", "quick", "tiny"} <= set(list_spaces())


def _tiny_dict():
    return yaml.safe_load(open(load_space.__globals__["SPACES_DIR"] / "tiny.yaml"))


@pytest.mark.parametrize("mutate, fragment", [
    (lambda d: d["stages"][3].update(attn_stride=[1, 3]), "stage3.attn_stride=3"),
    (lambda d: d["stages"][1].update(attention=[True]), "stages[1].attention"),
    (lambda d: d["stages"][2].update(width=[]), "stages[2].width"),
    (lambda d: d.update(colour="red"), "'colour'"),
    (lambda d: d["stages"].pop(), "stages"),
    (lambda d: d["stages"][1].update(depth=[0, 1]), "stage1.depth=0"),
    (lambda d: d.update(head_widths=[[64]]), "head_widths"),
    (lambda d: d["stages"][0].update(width=[6]), "stage 0, but got 6"),
    (lambda d: d.update(search_defaults={"colour": 1}), "'colour' in t.search_defaults"),
    (lambda d: d.update(search_defaults={"epochs": "2"}), "search_defaults.epochs must be int"),
    (lambda d: d.update(search_defaults=[1]), "search_defaults must be a mapping"),
])
def test_invalid_spaces_are_rejected_with_the_key(mutate, fragment):
    d = _tiny_dict()
    mutate(d)
    with pytest.raises(SpaceError, match=None) as err:
        space_from_dict(d, where="t")
    assert fragment in str(err.value)


def test_unknown_space_lists_known(tmp_path):
    with pytest.raises(UnknownNameError, match="lowformer, quick, tiny"):
        load_space("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [unclosed")
    with pytest.raises(SpaceError, match="not valid YAML"):
        load_space(bad)
