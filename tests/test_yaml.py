"""YAML round trips, and invalid configs rejected with the key path and the bad value."""
import copy

import pytest
import yaml

import lowformer_nas
from lowformer_nas import config_from_dict, config_to_dict, get_arch, list_archs, load_config, \
    save_config
from lowformer_nas.arch.config import ArchConfig, StageConfig
from lowformer_nas.errors import ConfigError


@pytest.mark.parametrize("name", list_archs())
def test_yaml_roundtrip_registered(name, tmp_path):
    cfg = get_arch(name)
    path = tmp_path / f"{name}.yaml"
    save_config(cfg, path, header=f"{name}\nexported by the tests")
    assert load_config(path) == cfg
    assert path.read_text().startswith(f"# {name}\n# exported by the tests\n")
    assert config_from_dict(config_to_dict(cfg)) == cfg
    # the text is a fixed point: saving what was loaded writes the same bytes
    again = tmp_path / "again.yaml"
    save_config(load_config(path), again, header=f"{name}\nexported by the tests")
    assert again.read_bytes() == path.read_bytes()


def test_yaml_roundtrip_sampled_configs(tmp_path):
    """200 points of the default search space survive save -> load unchanged."""
    space = lowformer_nas.load_space("lowformer")
    path = tmp_path / "sampled.yaml"
    configs = [space.sample(seed) for seed in range(200)]
    assert len(set(configs)) > 150  # the sampler really varies the config
    for seed, cfg in enumerate(configs):
        save_config(cfg, path)
        assert load_config(path) == cfg, f"seed {seed}"


def _base():
    return config_to_dict(get_arch("lowformer_test"))


def _with(path, value):
    d = _base()
    *parents, last = path
    target = d
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return d


_DELETE = object()
INVALID_DICTS = [
    ("unknown top key", dict(_base(), colour="red"), ["'colour'", "allowed"]),
    ("unknown stage key", _with(("stages", 3, "attn_strides"), 2),
     ["stages[3].attn_strides"]),
    ("wrong type", _with(("stages", 1, "width"), "32"), ["stages[1].width", "'32'", "int"]),
    ("bool as int", _with(("stages", 2, "depth"), True), ["stages[2].depth", "True"]),
    ("width not multiple of 4", _with(("stages", 2, "width"), 30), ["width % 4 == 0", "30",
                                                                    "stage 2"]),
    ("depth 0 in stage 1", _with(("stages", 1, "depth"), 0), ["stage 1", "depth", "got 0"]),
    ("attn_stride 3", _with(("stages", 3, "attn_stride"), 3), ["attn_stride", "got 3"]),
    ("attention in stage 1", _with(("stages", 1, "attention"), True),
     ["stages[1].attention"]),
    ("head_widths length", dict(_base(), head_widths=[64]), ["head_widths", "[64]"]),
    ("expansion 0", _with(("stages", 2, "expand"), 0), ["expand", "stage 2", "got 0"]),
    ("version mismatch", dict(_base(), version=2), ["version", "got 2"]),
    ("stage count", dict(_base(), stages=_base()["stages"][:4]), ["stages", "list of 5"]),
    ("missing width", _with(("stages", 4, "width"), _DELETE), ["stages[4].width", "required"]),
    ("stage not a mapping", _with(("stages", 0), [8, 1]), ["stages[0]", "mapping"]),
]


@pytest.mark.parametrize("case, data, needles", INVALID_DICTS, ids=[c[0] for c in INVALID_DICTS])
def test_invalid_config_rejected_with_key_and_value(case, data, needles, tmp_path):
    with pytest.raises(ConfigError) as err:
        config_from_dict(data)
    for needle in needles:
        assert needle in str(err.value), (case, str(err.value))
    path = tmp_path / "bad.yaml"  # the same through a file: the message names the file too
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(path)


@pytest.mark.parametrize("text, needles", [
    ("- 1\n- 2\n", ["mapping", "list"]),
    ("just a string\n", ["mapping", "str"]),
    ("version: 1\nstages: [\n  {width: 8\n", ["not valid YAML", "line"]),
    ("", ["mapping", "NoneType"]),
])
def test_invalid_yaml_files_rejected(text, needles, tmp_path):
    path = tmp_path / "arch.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    for needle in needles + ["arch.yaml"]:
        assert needle in str(err.value)


def test_missing_file_rejected(tmp_path):
    with pytest.raises(ConfigError, match="does not exist") as err:
        load_config(tmp_path / "nope.yaml")
    assert "nope.yaml" in str(err.value)


def test_constructor_validates_like_yaml():
    stages = list(get_arch("lowformer_test").stages)
    stages[1] = StageConfig(width=8, depth=1, attention=True)
    with pytest.raises(ConfigError, match=r"stage 1\.attention is not used in stage 1"):
        ArchConfig(stages=tuple(stages))
    with pytest.raises(ConfigError, match=r"len\(stages\) == 5"):
        ArchConfig(stages=tuple(stages[:3]))


def test_defaults_fill_omitted_optional_fields():
    d = copy.deepcopy(_base())
    del d["head_widths"], d["mbconv_bias"], d["version"]
    for stage in d["stages"]:
        stage.pop("fused")
    cfg = config_from_dict(d)
    assert cfg.head_widths == (1536, 1600) and cfg.mbconv_bias is True
    assert all(s.fused for s in cfg.stages)
