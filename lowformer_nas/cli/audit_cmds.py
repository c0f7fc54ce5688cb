"""``audit``: rank every accuracy proxy against a ground-truth table (thin over accuracy.audit)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable

if TYPE_CHECKING:
    from ..arch.config import ArchConfig
    from ..errors import RunError

DEFAULT_BUDGETS = "1x500,1x1000,2x1250"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="how well each accuracy proxy ranks a ground-truth table, "
                                     "or published ImageNet top-1 (--anchors)")
    p.add_argument("table", nargs="?", default=None,
                   help="ground-truth CSV (benchmarks/ground_truth.py writes one)")
    p.add_argument("--anchors", action="store_true",
                   help="rank every signal against the official variants' published ImageNet "
                        "top-1 instead of a table (fitted signals leave-one-out)")
    p.add_argument("--target", default=None,
                   help="latency target whose predictions are audited too (default: none)")
    p.add_argument("--data", default=None, help="dataset directory (default: the usual places)")
    p.add_argument("--proxy-dataset", default=None, metavar="NAME",
                   help="compute the proxies on this dataset instead of the table's (e.g. "
                        "digits: how the bare command's own setting ranks the table's ground "
                        "truth)")
    p.add_argument("--budgets", default=DEFAULT_BUDGETS,
                   help=f"short-training budgets EPOCHSxIMAGES,... or none ({DEFAULT_BUDGETS})")
    p.add_argument("--zc-resolution", default=None,
                   help="zero-cost input size (default: the table's recipe resolution; with "
                        "--anchors a list, default 32,64)")
    p.add_argument("--train-resolution", type=int, default=None,
                   help="short-training input size (default: the table's recipe resolution)")
    p.add_argument("--recipe-id", default=None, help="which recipe, if the table mixes several")
    p.add_argument("--buckets", type=int, default=3, help="latency buckets (3)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default audit-<table name>)")
    p.add_argument("--evidence", default=None, metavar="JSON",
                   help="also write each proxy's figures where searches read them (the "
                        "package's data/proxy_evidence.json is the project's)")
    p.add_argument("--prior", default=None, metavar="JSON",
                   help="also write the table as an accuracy prior for `search --zc-score "
                        "small-data-prior` (the package's data/accuracy_prior.json is the "
                        "project's)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_audit)


def _check(args: argparse.Namespace) -> None:
    from ..accuracy.datasets import check_dataset_spec
    from ..errors import RunError

    if args.proxy_dataset is not None:
        check_dataset_spec(args.proxy_dataset)
    if (args.table is None) == (not args.anchors):
        raise RunError(f"audit takes a ground-truth TABLE or --anchors (one of them), but got "
                       f"{'both' if args.anchors else 'neither'}")
    args.zc_resolution = _resolutions(args.zc_resolution, many=args.anchors)
    for name, low in (("buckets", 1), ("bootstrap", 100), ("seed", 0),
                      ("train_resolution", 16)):
        v = getattr(args, name)
        if v is not None and v < low:
            raise RunError(f"--{name.replace('_', '-')} must be an integer >= {low}, "
                           f"but got {v!r}")


def cmd_audit(args: argparse.Namespace) -> int:
    _check(args)
    if args.anchors:
        return cmd_audit_anchors(args)
    from .._io import atomic_write_text
    from ..accuracy.audit import parse_budgets, run_audit
    from ..accuracy.audit_cache import FILE as CACHE_FILE, ProxyCache
    from ..accuracy.audit_report import html, markdown, to_json
    from ..accuracy.datasets import load_dataset
    from ..accuracy.groundtruth import Recipe, mean_by_config, read_ground_truth

    rows = read_ground_truth(args.table)
    budgets = parse_budgets(args.budgets)
    means = mean_by_config(rows, args.recipe_id)
    if not means:
        raise _no_rows(args)
    if len(means) < 3:
        from ..errors import RunError

        raise RunError(f"{args.table!r} holds {len(means)} architectures; the audit needs >= 3")
    recipe = Recipe.from_json(next(iter(means.values()))[0].recipe)
    latency_fn, source = _latency(args.target)
    out = Path(args.out or f"audit-{Path(args.table).stem}")
    dataset = args.proxy_dataset or recipe.dataset
    data = load_dataset(dataset, args.data, max_train=max(
        [recipe.train_images] + [n for _, n in budgets]), max_val=recipe.val_images,
        seed=recipe.data_seed)
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    cache = ProxyCache(out / CACHE_FILE, f"{dataset}/{args.data or ''}/seed"
                       f"{recipe.data_seed}/n{len(data.train_y)}/v{len(data.val_y)}")
    say(f"audit: {len(means)} architectures, {len(budgets)} training budgets; values already "
        f"in {out / CACHE_FILE} are reused")
    result = run_audit(rows, args.table, data, zc_resolution=args.zc_resolution or
                       recipe.resolution, train_resolution=args.train_resolution or
                       recipe.resolution, budgets=budgets, latency_fn=latency_fn,
                       latency_source=source, recipe_id=args.recipe_id, seed=args.seed,
                       n_buckets=args.buckets, n_boot=args.bootstrap, progress=say,
                       cache=cache)
    say(f"audit: {cache.hits} value groups reused from {out / CACHE_FILE}")
    result.settings["proxy data"] = dataset
    text = markdown(result)
    atomic_write_text(out / "audit.md", text)
    atomic_write_text(out / "audit.json", to_json(result))
    atomic_write_text(out / "audit.html", html(result))
    if args.evidence:
        from ..accuracy.evidence import evidence_records, write_evidence

        write_evidence(args.evidence, evidence_records(
            result, dataset, args.train_resolution or recipe.resolution,
            args.zc_resolution or recipe.resolution))
    if args.prior:
        from ..accuracy.audit import audit_prior
        from ..accuracy.prior import write_prior

        write_prior(args.prior, audit_prior(rows, args.table, data, dataset,
                                            args.zc_resolution or recipe.resolution,
                                            args.seed, args.recipe_id, cache))
    print(text + f"\nwrote {out}/audit.md, audit.json, audit.html")
    return 0


def _resolutions(text: str | None, many: bool) -> list[int] | int | None:
    """``--zc-resolution``: one size >= 16 (a table's audit) or a list (``--anchors``)."""
    from ..errors import RunError

    if text is None:
        return [32, 64] if many else None
    try:
        values = [int(v) for v in str(text).split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 16 or (len(values) > 1 and not many):
        raise RunError(f"--zc-resolution must be {'sizes like 32,64' if many else 'an integer'}"
                       f" >= 16, but got {text!r}")
    return values if many else values[0]


def cmd_audit_anchors(args: argparse.Namespace) -> int:
    """``audit --anchors``: every signal against published ImageNet top-1 (audit-anchors/)."""
    import json

    from .._io import atomic_write_text
    from ..accuracy.anchor_audit import anchor_audit, anchor_features, audit_markdown, \
        audit_records
    from ..accuracy.datasets import load_dataset

    dataset = args.proxy_dataset or "digits"
    data = load_dataset(dataset, args.data, max_train=500, max_val=50, seed=args.seed)
    say = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    rows = anchor_audit(anchor_features(data, args.zc_resolution, args.seed, say))
    settings = (f"zero-cost scores on {dataset} at {', '.join(map(str, args.zc_resolution))} "
                f"px, seed {args.seed}")
    text = audit_markdown(rows, settings)
    out = Path(args.out or "audit-anchors")
    atomic_write_text(out / "anchors.md", text)
    atomic_write_text(out / "anchors.json", json.dumps(
        {"settings": settings, "rows": audit_records(rows)}, indent=1) + "\n")
    print(text + f"\nwrote {out}/anchors.md, anchors.json")
    return 0


def _no_rows(args: argparse.Namespace) -> RunError:
    from ..errors import RunError

    return RunError(f"{args.table!r} has no rows for recipe {args.recipe_id!r}")


def _latency(target: str | None
             ) -> tuple[Callable[[ArchConfig], float] | None, str]:
    """(cfg -> predicted ms at 224x224 batch 1, description) for ``--target``, or (None, ...)."""
    if target is None:
        return None, "not audited (no --target)"
    from ..latency import get_target

    profile = get_target(target)
    fn = lambda cfg: profile.predict(cfg, resolution=224, batch=1).latency_ms  # noqa: E731
    return fn, f"predicted by profile {profile.name!r} ({profile.source}), 224x224, batch 1"
