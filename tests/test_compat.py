"""``from_official``/``to_official`` against the reference and an independent shape count.

``_official_shapes`` derives every parameter shape straight from the spec and the official
flag semantics, without ``ArchConfig`` or the builder; it is first checked against the
reference facts, then used to check ``from_official`` on every flag combination.
"""
import hashlib
import itertools
import json

import pytest
import torch

from lowformer_nas import build_model, get_arch
from lowformer_nas.arch.compat import FLAGS, from_official, official_lists, to_official
from lowformer_nas.arch.registry import OFFICIAL_NAMES, list_archs
from lowformer_nas.errors import ConfigError


def _bn(c):
    return [(c,), (c,)]


def _fused(cin, cout, e, bias):
    mid = round(cin * e)
    return [(mid, cin, 3, 3)] + [(mid,)] * bias + _bn(mid) + [(cout, mid, 1, 1)] + _bn(cout)


def _unfused(cin, cout, e, bias):
    mid = round(cin * e)
    return ([(mid, cin, 1, 1)] + [(mid,)] * bias + [(mid, 1, 3, 3)] + [(mid,)] * bias
            + [(cout, mid, 1, 1)] + _bn(cout))


def _attention(c, s, fused_proj):
    heads = int(max(1, (c * 0.5) // 30))
    inner = heads * int((c // heads) * 0.5)
    k, up = (5, 2 * s) if s > 1 else (3, 3)
    shapes = [(c, 1, k, k)] + _bn(c) + [(3 * inner, c, 1, 1)]
    if fused_proj:
        return shapes + [(inner, c, up, up), (c,)]
    return shapes + [(c, inner, 1, 1), (c,), (c, 1, up, up), (c,)]


def _lowformer_block(c, stage, f):
    attention = not f["noattention"]
    mlp = attention and f["bb_convin2"] and not f["mlpremoved"]
    shapes = []
    if attention:
        stride = 2 if stage == 3 and not f["nostrideatt"] else 1
        shapes += _bn(c) * mlp + _attention(c, stride, f["fastit"])
    if mlp:
        r = 4 if f["fastit"] else 2
        shapes += _bn(c) + [(r * c, c, 1, 1), (r * c,), (c, r * c, 1, 1), (c,)]
    local = _fused if f["fastit"] and c < 256 else _unfused
    return shapes + local(c, c, 4, True)


def _official_shapes(widths, depths, **flags):
    """Every parameter shape the official code builds for these lists and flags (1000 classes)."""
    f = {k: flags.get(k, False) for k in FLAGS}
    block = _fused if f["fastit"] else _unfused
    w0 = widths[0]
    shapes = [(w0, 3, 3, 3)] + _bn(w0) + depths[0] * block(w0, w0, 4 if f["huge_model"] else 2, 0)
    cin = w0
    for i in (1, 2, 3, 4):
        w, d = widths[i], depths[i]
        big = f["bigit"] or (f["huge_model"] and i <= 3)
        shapes += block(cin, w, 6 if big else 4, 0)
        shapes += (d - 1) * block(w, w, 4, 0) if i <= 2 else d * _lowformer_block(w, i, f)
        cin = w
    h0, h1 = (2304, 2560) if f["bighead"] else (1536, 1600)
    return shapes + [(h0, cin, 1, 1)] + _bn(h0) + [(h1, h0)] + _bn(h1) + [(1000, h1), (1000,)]


def _sha1(shapes):
    return hashlib.sha1(json.dumps(sorted(tuple(s) for s in shapes)).encode()).hexdigest()


def _model_shapes(cfg):
    with torch.device("meta"):  # shapes only
        return sorted(tuple(p.shape) for p in build_model(cfg).parameters())


def _numel(shapes):
    total = 0
    for s in shapes:
        n = 1
        for d in s:
            n *= d
        total += n
    return total


@pytest.mark.parametrize("name", OFFICIAL_NAMES)
def test_hand_count_reproduces_reference(name, reference):
    ref = reference[name]
    shapes = _official_shapes(*official_lists(ref["official"]), **ref["net_config"])
    assert (_numel(shapes), len(shapes)) == (ref["params"], ref["n_param_tensors"])
    assert _sha1(shapes) == ref["param_shapes_sha1"]


@pytest.mark.parametrize("name", OFFICIAL_NAMES)
def test_official_net_config_gives_registered_arch(name, reference):
    ref = reference[name]
    cfg = from_official(*official_lists(ref["official"]), **ref["net_config"])
    assert cfg == get_arch(name)
    assert _sha1(_model_shapes(cfg)) == ref["param_shapes_sha1"]


@pytest.mark.parametrize("lists", [((16, 32, 64, 128, 256), (1, 2, 1, 1, 2)),
                                   ((20, 40, 80, 160, 320), (0, 1, 2, 2, 1))])
def test_every_flag_combination_matches_hand_count(lists):
    """All 256 combinations of the eight shaping flags, incl. non-fastit, nostrideatt, ..."""
    for values in itertools.product((False, True), repeat=len(FLAGS)):
        flags = dict(zip(FLAGS, values))
        cfg = from_official(*lists, **flags)
        assert _model_shapes(cfg) == sorted(_official_shapes(*lists, **flags)), flags


def test_one_small_unfused_config_by_arithmetic():
    """Non-fastit, no attention, small head: the count written out term by term."""
    cfg = from_official([8, 8, 16, 16, 32], [0, 1, 1, 0, 0], noattention=True)
    stem = 8 * 3 * 9 + 2 * 8
    # unfused entry blocks without biases: expand 1x1, depthwise 3x3, project 1x1, BN
    entry = [8 * 32 + 32 * 9 + 32 * 8 + 16, 8 * 32 + 32 * 9 + 32 * 16 + 32,
             16 * 64 + 64 * 9 + 64 * 16 + 32, 16 * 64 + 64 * 9 + 64 * 32 + 64]
    head = 32 * 1536 + 2 * 1536 + 1536 * 1600 + 2 * 1600 + 1600 * 1000 + 1000
    assert sum(p.numel() for p in build_model(cfg).parameters()) == stem + sum(entry) + head


def test_ignored_keys_change_nothing():
    lists = official_lists("b1")
    plain = from_official(*lists, fastit=True, bigit=True, bb_convin2=True)
    noisy = from_official(*lists, fastit=True, bigit=True, bb_convin2=True, name="x",
                          dropout=0.1, bb_convattention=False, smallv2=True, smallv3=False,
                          middlev1=True, middlev2=True, model_mult=1.0, grouping=1,
                          fastitv2=False, head_dim_mul=False, actit=False, old_way_norm=False)
    assert plain == noisy


@pytest.mark.parametrize("kwargs, needles", [
    (dict(fastit=True, whatever=1), ["'whatever'", "accepted", "bighead"]),
    (dict(grouping=2), ["grouping == 1", "2"]),
    (dict(fastitv2=True), ["fastitv2 == False", "True"]),
    (dict(model_mult=1.5), ["model_mult == 1.0", "1.5"]),
    (dict(fastit="yes"), ["fastit", "bool", "'yes'"]),
])
def test_bad_net_config_rejected(kwargs, needles):
    with pytest.raises(ConfigError) as err:
        from_official(*official_lists("b0"), **kwargs)
    for needle in needles:
        assert needle in str(err.value)


@pytest.mark.parametrize("widths, depths, needles", [
    (*official_lists("b2"), ["stage 1", "depth >= 1", "got 0"]),
    ([16, 32, 64, 128], [0, 1, 1, 3], ["width_list", "5 ints"]),
    ([16, 32, 64, 128, 256], [0, 1, 1, 3, 4.0], ["depth_list", "4.0"]),
    ([16, 32, 64, 128, 258], [0, 1, 1, 3, 4], ["width", "258"]),
])
def test_bad_lists_rejected(widths, depths, needles):
    with pytest.raises(ConfigError) as err:
        from_official(widths, depths, fastit=True)
    for needle in needles:
        assert needle in str(err.value)


@pytest.mark.parametrize("name", list_archs())
def test_to_official_round_trip(name):
    cfg = get_arch(name)
    if name not in OFFICIAL_NAMES:
        with pytest.raises(ConfigError, match="outside the official"):
            to_official(cfg)
        return
    widths, depths, net_config = to_official(cfg)
    assert from_official(widths, depths, **net_config) == cfg


def test_to_official_inverts_from_official_on_flag_combinations():
    lists = ((16, 32, 64, 128, 256), (1, 1, 1, 1, 1))
    for values in itertools.product((False, True), repeat=len(FLAGS)):
        cfg = from_official(*lists, **dict(zip(FLAGS, values)))
        widths, depths, net_config = to_official(cfg)
        assert from_official(widths, depths, **net_config) == cfg
