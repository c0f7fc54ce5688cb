"""The end of a run (and of every trial): trials.csv, references, Pareto data, B0-B3, pages."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from .._io import atomic_write_text
from ..rundir.rows import counted_row, read_trials_csv, write_trials_csv


def stage_stats(rows: Sequence[Dict[str, Any]], stage: str) -> Dict[str, Any]:
    """Feasible count and best (score, latency) so far, for the progress line."""
    done = [r for r in rows if r["stage"] == stage and r["state"] == "COMPLETE"]
    feas = [r for r in done if r["feasible"] and r["score"] is not None
            and math.isfinite(r["score"])]
    best = max(feas, key=lambda r: r["score"], default=None)
    return {"evaluated": len(done), "feasible": len(feas),
            "best": (best["score"], best["latency_ms"]) if best else None}


def write_rows(ctx, rows: List[Dict[str, Any]], stage: Optional[str]) -> None:
    """Rewrite trials.csv and move the progress bar."""
    write_trials_csv(ctx.run.file("trials.csv"), rows, ctx.space)
    if stage is not None:
        done = sum(counted_row(r) for r in rows if r["stage"] == stage)
        ctx.progress.update(done, stage_stats(rows, stage))


def finish_run(ctx) -> Dict[str, Any]:
    """References, Pareto data, models/B*.yaml, pareto.html, summary.md; prints the table."""
    from .pareto_data import compute
    from .plots import write_pareto_html
    from ..search.references import evaluate_references

    refs = evaluate_references(ctx.evaluator, ctx.run.file("reference.json"), ctx.profile.sha256)
    rows = read_trials_csv(ctx.run.file("trials.csv"))
    settings = ctx.settings.to_dict()
    data = compute(rows, refs, settings)
    atomic_write_text(ctx.run.file("pareto.json"), json.dumps(data, indent=1, default=str))
    write_family(data, ctx.run.path, ctx.profile, ctx.settings)
    write_pareto_html(data, ctx.run.file("pareto.html"))
    from .summary import summary_markdown

    atomic_write_text(ctx.run.file("summary.md"), summary_markdown(data, settings, ctx.run.path))
    if not ctx.progress.quiet:
        print_family_table(data, ctx.run.path)
    return data


def write_family(data: Dict[str, Any], run_path: Path, profile, settings) -> List[Path]:
    """models/B0..B3.yaml with latency, proxy score and profile in a header comment."""
    from ..arch.yaml_io import config_from_dict, save_config

    written = []
    how = "measured on this machine" if settings.measure else "predicted"
    for name, pick in data["family"].items():
        if pick is None:
            continue
        cfg = config_from_dict(json.loads(pick["config"]))
        header = "\n".join([
            f"lowformer-nas {name}: trial {pick['number']} of {run_path}",
            f"latency: {pick['latency_ms']:.4g} ms ({how}, batch 1, target {profile.name})",
            f"budget: {data['budget_ms']:g} ms; {data['score_name']}: {pick['score']:.6g} "
            f"({data['proxy']} proxy on {settings.dataset})",
            f"profile: {profile.name} sha256 {profile.sha256}",
            f"rule: {data['family_rule']}"])
        path = run_path / "models" / f"{name}.yaml"
        save_config(cfg, path, header=header)
        written.append(path)
    return written


def print_family_table(data: Dict[str, Any], run_path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from .pareto_data import summarize_config

    table = Table(title=f"B0-B3 within {data['budget_ms']:g} ms on {data['target']}")
    for col in ("model", "trial", "latency (ms)", data["score_name"], "config"):
        table.add_column(col)
    for name, p in data["family"].items():
        if p is None:
            table.add_row(name, "-", "-", "-", "no feasible trial in its latency slot")
        else:
            table.add_row(name, str(p["number"]), f"{p['latency_ms']:.3g}", f"{p['score']:.4g}",
                          summarize_config(p["config"]))
    console = Console()
    console.print(table)
    console.print(f"run directory: {run_path}  (pareto.html, summary.md, models/)")
