"""``search``, ``report``, ``plot`` and ``export``: one small function each, thin over the
library."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import cast
from collections.abc import Callable, Sequence


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_search(sub)
    p = sub.add_parser("report", help="trial counts by state, the front and B0-B3 of a run")
    p.add_argument("run", help="run directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("plot", help="(re)draw pareto.html of a run")
    p.add_argument("run", help="run directory")
    p.add_argument("--output", help="HTML path (default RUN/pareto.html)")
    p.set_defaults(func=cmd_plot)
    p = sub.add_parser("export", help="export B0-B3 of a run as YAML, ONNX or TorchScript")
    p.add_argument("run", help="run directory")
    p.add_argument("--format", default="yaml", choices=("yaml", "onnx", "torchscript"))
    p.add_argument("--output", help="directory (default RUN/export/FORMAT)")
    p.add_argument("--num-classes", type=int, default=1000)
    p.set_defaults(func=cmd_export)


def _setting_defaults() -> dict[str, object]:
    """Each ``SearchSettings`` field's default: the one place search defaults are written."""
    from dataclasses import MISSING, fields

    from ..search.settings import SearchSettings

    out: dict[str, object] = {}
    for f in fields(SearchSettings):
        if f.default is not MISSING:
            out[f.name] = f.default
        elif f.default_factory is not MISSING:
            out[f.name] = f.default_factory()
    return out


def _register_search(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ..accuracy.proxies import TRAIN_SCORES
    from ..search.settings import BACKENDS, PRESCREENS, PROXIES, SAMPLERS, SEARCH_ZC_SCORES

    d = _setting_defaults()
    _space_default = _space_defaults_help()
    p = sub.add_parser("search", help="hardware-aware search under a latency budget",
                       description="Search the space for the best proxy accuracy under a latency "
                                   "budget on a target; writes a run directory.")
    p.add_argument("--target", required=True, help="latency target name or profile JSON")
    p.add_argument("--latency-budget", required=True, metavar="B",
                   help="e.g. 5ms, '5 ms', 0.005s, 5000us")
    p.add_argument("--space", default=d["space"], help=f"space name or YAML (default {d['space']})")
    p.add_argument("--trials", type=int, default=d["trials"],
                   help=f"trials (zero-cost stage in two-stage); default {d['trials']}")
    p.add_argument("--proxy", default=None, help=" | ".join(PROXIES) + _space_default("proxy"))
    p.add_argument("--dataset", default=d["dataset"],
                   help="digits | fashion-mnist | cifar10 | imagefolder:PATH")
    p.add_argument("--data", dest="data_dir", help="dataset directory (fashion-mnist, cifar10)")
    p.add_argument("--backend", default=d["backend"], help=_choices(BACKENDS, d["backend"]))
    p.add_argument("--sampler", default=d["sampler"], help=_choices(SAMPLERS, d["sampler"]))
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--out", help="run directory (default runs/<target>-<budget>-<timestamp>)")
    p.add_argument("--storage", help="Optuna RDB URL shared by many workers (PostgreSQL)")
    p.add_argument("--heartbeat", type=int, default=d["heartbeat"], metavar="SECONDS",
                   help="--storage: heartbeat interval; a trial whose worker is silent for 4x "
                        f"as long is marked failed and retried (default {d['heartbeat']})")
    p.add_argument("--address", help="Ray cluster address to join (--backend ray)")
    p.add_argument("--measure", action="store_true",
                   help="measure latency on this machine instead of predicting it")
    p.add_argument("--budget-quantile", metavar="Q",
                   help="feasible when the predicted Q-quantile latency fits the budget "
                        "(default 0.9 for a profile calibrated on this machine, else 0.5)")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs of a trained trial" + _space_default("epochs"))
    p.add_argument("--proxy-resolution", type=int, default=None,
                   help="image size for proxies (latency always at the space's resolution)"
                        + _space_default("proxy_resolution"))
    p.add_argument("--zc-score", default=None,
                   help=" | ".join(SEARCH_ZC_SCORES) + _space_default("zc_score"))
    p.add_argument("--train-score", default=None,
                   help="what ranks trained candidates: validation accuracy, or the summed "
                        "training loss (negated; ranked architectures better in the audit at "
                        "short budgets): " + " | ".join(TRAIN_SCORES)
                        + _space_default("train_score"))
    p.add_argument("--top-k", type=int, default=None,
                   help="two-stage: trained candidates" + _space_default("top_k"))
    p.add_argument("--prescreen", default=d["prescreen"],
                   help="two-stage: " + _choices(PRESCREENS, d["prescreen"]))
    p.add_argument("--max-train", type=int, default=None,
                   help="training images used" + _space_default("max_train"))
    p.add_argument("--max-val", type=int, default=d["max_val"], help="validation images used")
    p.add_argument("--references", default=",".join(cast("Sequence[str]", d["references"])),
                   help="models to score alike on the same target: official LowFormer names "
                        "and/or timm model names (e.g. mobilenetv4_conv_small,fastvit_t8), "
                        "all (official variants), none, or a comma list")
    p.add_argument("--timeout", help="stop starting new trials after this long (e.g. 30m, 2h); "
                   "everything is written and the same command continues later")
    p.add_argument("--verify", action=argparse.BooleanOptionalAction, default=True,
                   help="measure the front and B0-B3 here and refit the run's copy of the "
                   "target's profile when the target is this machine (local, or a profile "
                   "calibrated here), else write a verification kit to RUN/verify/kit "
                   "(default: on)")
    _update_arg(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar or table")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("verify", help="measured latencies for a run's picks: import a kit's "
                       "results, or measure here; re-picks B0-B3",
                       description="Close the latency loop of a search run. With --import, "
                       "refit the target's profile with the whole-model latencies the run's "
                       "verification kit measured on the device, and re-pick B0-B3 from them. "
                       "Without it, measure the front and B0-B3 here (target = this machine) or "
                       "(re)write the kit.")
    p.add_argument("run", help="run directory")
    p.add_argument("--import", dest="import_csv", metavar="CSV",
                   help="results.csv written by RUN/verify/kit/run_kit.py on the target")
    _update_arg(p)
    p.add_argument("--quiet", action="store_true", help="no table")
    p.set_defaults(func=cmd_verify)


def _update_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--update-profile", action="store_true",
                   help="also refit the target's own profile (e.g. the cached `local`) with "
                        "the measured picks; without it the refits stay in RUN/verify/"
                        "profile.json (later: lowformer-nas calibrate --update-from RUN)")


def _update(run: Path, asked: bool) -> None:
    """``--update-profile``: the run's measured picks into the target's profile."""
    if asked:
        from ..search.verify_update import say_updated, update_target

        print(say_updated(update_target(run)))


def _choices(allowed: Sequence[str], default: object) -> str:
    return f"{' | '.join(allowed)} (default {default})"


def _space_defaults_help() -> Callable[[str], str]:
    """Help text of the options a space may choose (``search_defaults`` in its YAML), naming
    the default space's choice (its YAML is read once per parser)."""
    from ..search.settings import FALLBACK
    from ..space import load_space

    d = dict(load_space("lowformer").search_defaults)

    def text(name: str) -> str:
        if name == "train_score":
            return (f" (default: the space's choice where the proxy trains, lowformer: "
                    f"{d.get(name, 'accuracy')}; else accuracy)")
        return (f" (default: the space's choice, lowformer: {d.get(name, FALLBACK[name])}; "
                f"else {FALLBACK[name]})")
    return text


def _quantile_arg(text: str | None) -> float | None:
    """``--budget-quantile`` text -> number (range checked by ``SearchSettings``)."""
    from ..errors import RunError

    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise RunError(f"--budget-quantile must be a number between 0 and 1 (exclusive), "
                       f"e.g. 0.9, but got {text!r}") from None


def cmd_search(args: argparse.Namespace) -> int:
    from ..report.finish import finish_run, interim_pages
    from ..search.run import run_search
    from ..search.settings import SearchSettings

    if args.update_profile and (args.measure or not args.verify):
        from ..errors import RunError

        raise RunError(f"--update-profile refits the target with the picks --verify measures; "
                       f"it cannot be used with {'--measure' if args.measure else '--no-verify'}")
    settings = SearchSettings(
        target=args.target, budget=args.latency_budget, space=args.space, trials=args.trials,
        proxy=args.proxy, dataset=args.dataset, data_dir=args.data_dir, backend=args.backend,
        seed=args.seed, out=args.out, storage=args.storage, address=args.address,
        measure=args.measure, sampler=args.sampler, epochs=args.epochs,
        proxy_resolution=args.proxy_resolution, zc_score=args.zc_score, top_k=args.top_k,
        train_score=args.train_score,
        prescreen=args.prescreen,
        max_train=args.max_train, max_val=args.max_val, timeout=args.timeout,
        heartbeat=args.heartbeat,
        budget_quantile=_quantile_arg(args.budget_quantile),
        verify=args.verify,
        references=[r.strip() for r in args.references.split(",") if r.strip()])
    run, _ = run_search(settings, quiet=args.quiet, finish=finish_run, interim=interim_pages)
    kit = run.path / "verify" / "kit"
    if kit.is_dir():
        if not args.quiet:
            print(f"target {settings.target!r} is not this machine: verification kit of the "
                  f"front and B0-B3 in {kit} (run_kit.py there, then `lowformer-nas verify "
                  f"{run.path} --import results.csv" + (" --update-profile`)" if
                                                        args.update_profile else "`)"))
    else:
        _update(run.path, args.update_profile)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from ..report.finish import finish_run
    from ..search.verify import DIR, verify_run

    run = Path(args.run)
    data = verify_run(run, args.import_csv, quiet=args.quiet, finish=finish_run)
    kit = run / DIR / "kit"
    if data.get("latency_basis") != "measured" and kit.is_dir():
        print(f"verification kit in {kit}: copy it to the device, run `python3 run_kit.py "
              f"--threads N` there, then `lowformer-nas verify {run} --import results.csv`")
    _update(run, args.update_profile and data.get("latency_basis") == "measured")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..report.runinfo import load_run_data, report_text

    data = load_run_data(Path(args.run))
    if args.json:
        json.dump(data, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(report_text(data, Path(args.run)))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from ..report.plots import write_pareto_html
    from ..report.runinfo import load_run_data

    run = Path(args.run)
    data = load_run_data(run)
    out = Path(args.output) if args.output else run / "pareto.html"
    write_pareto_html(data, out)
    print(out)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..report.export import export_family

    if args.num_classes < 1:
        from ..errors import RunError

        raise RunError(f"--num-classes must be >= 1, but got {args.num_classes}")
    for path in export_family(Path(args.run), args.format, args.output, args.num_classes):
        print(path)
    return 0
