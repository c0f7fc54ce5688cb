"""``lowformer-nas list`` and ``lowformer-nas show``: what exists, and what one architecture costs.

Both stay fast: ``show`` counts parameters and MACs from the analytic kernel list (no torch,
no timm, no module built; tested equal to counting the built network with torch).
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from typing import TYPE_CHECKING, TypedDict
from collections.abc import Callable, Iterable

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..arch.stats import StageCount
    from ..arch.config import ArchConfig

MIN_RESOLUTION = 32


class Figures(TypedDict):
    """What ``show`` prints: totals and the per-stage rows of ``analytic_counts``."""

    params: int
    macs: int
    stages: list[StageCount]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``list`` and ``show`` subcommands."""
    p = subparsers.add_parser("list", help="architectures, search spaces, latency targets and "
                                           "device priors")
    p.add_argument("--devices", action="store_true",
                   help="only the device-prior table (calibrate --like NAME), with sources")
    p.set_defaults(func=cmd_list)
    p = subparsers.add_parser("show", help="params, MACs and per-stage table of an architecture")
    p.add_argument("arch", metavar="NAME_OR_YAML", help="registered name or YAML file")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--yaml", action="store_true", help="print the config as YAML")
    fmt.add_argument("--json", action="store_true",
                     help="print params, macs, stages and config as JSON")
    p.add_argument("--resolution", type=int, default=224, help="input side in pixels (224)")
    p.set_defaults(func=cmd_show)


def _optional_lister(module: str, func: str) -> Callable[[], Iterable[object]] | None:
    """``module.func`` if ``module`` exists as a real module (not yet written: None).

    Only absence is tolerated; an import error inside an existing module propagates.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:  # missing, or an empty namespace directory
        return None
    return getattr(importlib.import_module(module), func)


def _section(title: str, items: Iterable[object]) -> list[str]:
    lines = [f"{title}:"]
    if isinstance(items, dict):
        lines += [f"  {k:<22} {v}" for k, v in items.items()]
    else:
        lines += [f"  {item}" for item in items]
    return lines if len(lines) > 1 else lines + ["  (none)"]


def cmd_list(args: argparse.Namespace) -> int:
    from ..accuracy.anchors import load_anchors
    from ..arch.registry import describe_arch, list_archs
    from ..latency.targets.devices import list_device_specs

    if args.devices:
        sys.stdout.write("\n".join(f"{s.describe()}\n  {s.notes}" for s in list_device_specs())
                         + "\n")
        return 0
    top1 = {a.name: a.top1 for a in load_anchors()}
    lines = _section("Architectures", {n: describe_arch(n) + (
        f", {top1[n]:.1f}% ImageNet-1k top-1 (published)" if n in top1 else "")
        for n in list_archs()})
    for title, module, func in (("Search spaces", "lowformer_nas.space", "list_spaces"),
                                ("Latency targets", "lowformer_nas.latency", "list_targets")):
        lister = _optional_lister(module, func)
        lines += [""] + (_section(title, lister()) if lister else
                         [f"{title}:", "  (not available in this version)"])
    lines += [""] + _section("Device priors (calibrate --from-measurements CSV --like NAME; "
                             "sources: list --devices)",
                             {s.name: s.summary() for s in list_device_specs()})
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _count(cfg: ArchConfig, resolution: int) -> Figures:
    from ..latency.tracing.counts import analytic_counts

    params, macs, rows = analytic_counts(cfg, resolution=resolution)
    return Figures(params=params, macs=macs, stages=rows)


def _table(name: str, resolution: int, figures: Figures) -> str:
    head = f"{'stage':<7} {'width':>6} {'depth':>5} {'out':>5} {'params':>12} {'MACs':>15}"
    lines = [f"{name}: {figures['params']:,} params, {figures['macs']:,} MACs at "
             f"{resolution}x{resolution}", "", head, "-" * len(head)]
    for r in figures["stages"]:
        out = f"{r['resolution']}" if r["stage"] != "head" else "-"
        lines.append(f"{r['stage']:<7} {r['width']:>6} {r['depth']:>5} {out:>5} "
                     f"{r['params']:>12,} {r['macs']:>15,}")
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    from ..arch.registry import resolve_arch
    from ..arch.yaml_io import config_to_dict, config_to_yaml

    if args.resolution < MIN_RESOLUTION:
        raise ConfigError(f"`--resolution >= {MIN_RESOLUTION}` must hold, "
                          f"but got {args.resolution}")
    name, cfg = resolve_arch(args.arch)
    if args.yaml:
        sys.stdout.write(config_to_yaml(cfg))
        return 0
    figures = _count(cfg, args.resolution)
    if args.json:
        out = dict(name=name, resolution=args.resolution, **figures, config=config_to_dict(cfg))
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    else:
        sys.stdout.write(_table(name, args.resolution, figures) + "\n")
    return 0
