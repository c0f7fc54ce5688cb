"""After each finished trial: trials.csv and the progress line (reports read only the CSV)."""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

from ..rundir.rows import counted_row, write_trials_csv


def stage_stats(rows: Sequence[Dict[str, Any]], stage: str) -> Dict[str, Any]:
    """Feasible count and best (score, latency) so far, for the progress line."""
    done = [r for r in rows if r["stage"] == stage and r["state"] == "COMPLETE"]
    feas = [r for r in done if r["feasible"] and r["score"] is not None
            and math.isfinite(r["score"])]
    best = max(feas, key=lambda r: r["score"], default=None)
    return {"evaluated": len(done), "feasible": len(feas),
            "best": (best["score"], best["latency_ms"]) if best else None}


def write_rows(ctx, rows: List[Dict[str, Any]], stage: Optional[str]) -> None:
    """Rewrite trials.csv (with the latest latencies when the run verifies) and move the
    progress bar."""
    if getattr(ctx, "verify", None) is not None:
        rows = ctx.verify.annotate(rows)
    write_trials_csv(ctx.run.file("trials.csv"), rows, ctx.space)
    if stage is not None:
        done = sum(counted_row(r) for r in rows if r["stage"] == stage)
        ctx.progress.update(done, stage_stats(rows, stage))
