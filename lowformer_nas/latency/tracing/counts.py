"""Parameter and MAC counts from the analytic kernel list: no torch, no module built.

The same figures as ``arch.stats.count_params_macs`` (which builds the network and runs torch's
FLOP counter; tested equal), in milliseconds instead of seconds, for ``show`` and the search.
"""
from __future__ import annotations


from ...arch.config import ArchConfig
from ...arch.stats import StageCount
from .kernels import STAGE_NAMES, Kernel, config_blocks, block_kernels, kernel_flops, out_hw

_CONV_OPS = ("conv", "pw", "dw")


def kernel_params(kr: Kernel) -> int:
    """Learnable parameters of one kernel (conv/linear weights, bias, folded-in BN, norms)."""
    if kr.op in _CONV_OPS:
        return (kr.cout * (kr.cin // kr.g) * kr.k * kr.k + kr.cout * int(kr.bias)
                + 2 * kr.cout * int(kr.bn))
    if kr.op == "convT":
        return kr.cin * (kr.cout // kr.g) * kr.k * kr.k + kr.cout * int(kr.bias)
    if kr.op == "linear":
        return kr.cin * kr.cout + kr.cout * int(kr.bias)
    if kr.op in ("gn", "ln"):
        return 2 * kr.cin
    return 0


def _macs(kr: Kernel) -> int:
    """MACs as torch's FLOP counter sees them: convolutions, matmuls and attention only."""
    if kr.op in _CONV_OPS + ("convT", "linear", "sdpa"):
        return int(kernel_flops(kr) if kr.op != "sdpa" else 4 * kr.n * kr.cin * kr.h * kr.w
                   * kr.cout) // 2
    return 0


def analytic_counts(cfg: ArchConfig, resolution: int = 224
                    ) -> tuple[int, int, list[StageCount]]:
    """(params, MACs, per-stage rows) like ``count_params_macs``, from the kernel list."""
    widths = list(cfg.widths) + [cfg.head_widths[1]]
    depths = list(cfg.depths) + [1]
    rows = {name: StageCount(stage=name, width=w, depth=d, resolution=1, params=0, macs=0)
            for name, w, d in zip(STAGE_NAMES, widths, depths)}
    for stage, block, count in config_blocks(cfg, resolution, 1):
        row = rows[stage]
        for kr in block_kernels(block):
            row["params"] += kernel_params(kr) * count
            row["macs"] += _macs(kr) * count
            if kr.op in _CONV_OPS and stage != "head":
                row["resolution"] = out_hw(kr)[0]
    out = [rows[name] for name in STAGE_NAMES]
    return sum(r["params"] for r in out), sum(r["macs"] for r in out), out
