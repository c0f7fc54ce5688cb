"""The end of a run: Pareto data, B0-B3 YAMLs, the page and the summary from trials.csv.

The search calls this with the references it scored; nothing here imports the search.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Sequence

from .._io import atomic_write_text
from ..rundir.rows import read_trials_csv


def finish_run(run_path: Path, refs: Sequence[Dict[str, Any]], settings, profile,
               quiet: bool) -> Dict[str, Any]:
    """Pareto data, models/B*.yaml, pareto.html, summary.md; prints the table unless quiet."""
    from .pareto_data import compute
    from .plots import write_pareto_html
    from .summary import summary_markdown

    rows = read_trials_csv(run_path / "trials.csv")
    as_dict = settings.to_dict()
    data = compute(rows, list(refs), as_dict)
    atomic_write_text(run_path / "pareto.json", json.dumps(data, indent=1, default=str))
    write_family(data, run_path, profile, settings)
    write_pareto_html(data, run_path / "pareto.html")
    atomic_write_text(run_path / "summary.md", summary_markdown(data, as_dict, run_path))
    if not quiet:
        print_family_table(data, run_path)
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
