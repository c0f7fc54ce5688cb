"""The analytic (torch-free) counts behind ``show`` equal counting the built network."""
import sys
import subprocess

import pytest

from lowformer_nas import get_arch, list_archs, load_space
from lowformer_nas.arch.stats import count_params_macs
from lowformer_nas.latency.tracing.counts import analytic_counts

CASES = [(n, get_arch(n)) for n in list_archs()] + [
    (f"{s}-{i}", load_space(s).sample(i)) for s in ("lowformer", "tiny") for i in range(6)]


@pytest.mark.parametrize("name, cfg", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("resolution", [224, 96])
def test_analytic_counts_equal_built_model_counts(name, cfg, resolution):
    params, macs, rows = analytic_counts(cfg, resolution)
    ref_params, ref_macs, ref_rows = count_params_macs(cfg, resolution)
    assert (params, macs) == (ref_params, ref_macs)
    def key(r):
        return r["stage"], r["params"], r["macs"], r["resolution"], r["width"], r["depth"]

    assert [key(r) for r in rows] == [key(r) for r in ref_rows]


def test_show_does_not_import_torch():
    code = ("import sys; from lowformer_nas.cli import main; main(['show', 'lowformer_b3']); "
            "assert 'torch' not in sys.modules and 'timm' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "57,086,920 params" in out.stdout
