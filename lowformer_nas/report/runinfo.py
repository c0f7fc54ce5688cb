"""Read a finished (or running) run directory back into Pareto data for report/plot/export."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ..rundir.rows import read_trials_csv
from ..rundir.config import read_run_config
from .pareto_data import ParetoData, RunSettings, compute, summarize_config

if TYPE_CHECKING:
    from ..search.references import ReferenceRow


def load_run_data(run: Path) -> ParetoData:
    """Pareto data recomputed from config.yaml, trials.csv and the cached references."""
    cfg = read_run_config(run)
    rows = read_trials_csv(run / "trials.csv")
    refs: list[ReferenceRow] = []
    ref_path = run / "reference.json"
    if ref_path.is_file():
        refs = json.loads(ref_path.read_text(encoding="utf-8")).get("rows", [])
    data = compute(rows, refs, cast(RunSettings, cfg["settings"]))  # validated by read_run_config
    data["profile"] = cfg.get("profile", {})
    return data


def report_text(data: ParetoData, run: Path) -> str:
    """Human-readable report: counts by state, the front, B0-B3."""
    lines = [f"run {run}: target {data['target']}, budget {data['budget_ms']:g} ms, "
             f"proxy {data['proxy']}"]
    for stage, c in data["counts"].items():
        states = ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k != "total")
        lines.append(f"  {stage}: {c['total']} trials ({states})")
    lines.append(f"front ({len(data['front'])} trials, by latency): "
                 + ", ".join(str(n) for n in data["front"]))
    for name, p in data["family"].items():
        if p is None:
            lines.append(f"  {name}: none")
        else:
            lines.append(f"  {name}: trial {p['number']}, {p['latency_ms']:.4g} ms, "
                         f"{data['score_name']} {p['score']:.4g}  {summarize_config(p['config'])}")
    return "\n".join(lines) + "\n"
