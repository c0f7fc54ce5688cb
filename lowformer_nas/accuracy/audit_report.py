"""Draw an ``AuditResult``: a markdown table, a JSON record and a Plotly page (thin, no maths)."""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import TYPE_CHECKING

from .audit import AuditResult

if TYPE_CHECKING:
    import plotly.graph_objects as go


def _f(v: float, fmt: str = "+.2f") -> str:
    return f"{v:{fmt}}" if isinstance(v, (int, float)) and math.isfinite(v) else "n/a"


def markdown(result: AuditResult) -> str:
    """The audit as Markdown: provenance lines, then one table row per proxy."""
    lines: list[str] = [
        f"# Proxy audit of `{result.table}`", "",
        f"Ground truth: recipe `{result.recipe_id}` ({result.recipe}), {result.n_archs} "
        f"architectures from {result.n_rows} runs (accuracy averaged over seeds).",
        f"Seed-to-seed Spearman of the table itself (noise ceiling, {result.noise_pairs} "
        f"architectures with two seeds): {result.noise.text()}.",
        f"Latency: {result.latency_source}. Settings: "
        + ", ".join(f"{k} {v}" for k, v in result.settings.items()) + ".",
        "Intervals: percentile bootstrap 95% over architectures. Bucket rho: mean Spearman "
        "inside equal-count latency buckets (size is nearly fixed there).", "",
        "| proxy | kind | Spearman [95% CI] | Kendall [95% CI] | bucket rho | top-k overlap "
        "| s / arch |",
        "|---|---|---|---|---|---|---|"]
    for p in sorted(result.proxies, key=lambda p: -_key(p.agreement.spearman.value)):
        a = p.agreement
        lines.append(f"| {p.name} | {p.kind} | {a.spearman.text()} | {a.kendall.text()} | "
                     f"{_f(a.bucket_mean)} | {_f(a.top_k_overlap, '.2f')} (k={a.top_k}) | "
                     f"{_f(p.seconds, '.2f')} |")
    return "\n".join(lines) + "\n"


def _key(v: float) -> float:
    return v if math.isfinite(v) else -9.0


def to_json(result: AuditResult) -> str:
    return json.dumps(asdict(result), indent=1, default=str) + "\n"


def figure(result: AuditResult) -> go.Figure:
    """Spearman with its interval per proxy (bars) and the in-bucket Spearman (markers)."""
    import plotly.graph_objects as go

    ps = sorted(result.proxies, key=lambda p: _key(p.agreement.spearman.value))
    names = [p.name for p in ps]
    rho = [p.agreement.spearman for p in ps]
    fig = go.Figure()
    fig.add_bar(y=names, x=[r.value for r in rho], orientation="h", name="Spearman",
                error_x=dict(type="data", symmetric=False,
                             array=[r.high - r.value for r in rho],
                             arrayminus=[r.value - r.low for r in rho]),
                hovertext=[f"{p.kind}; Kendall {p.agreement.kendall.text()}; top-k "
                           f"{_f(p.agreement.top_k_overlap, '.2f')}; {_f(p.seconds, '.2f')} s"
                           for p in ps])
    fig.add_scatter(y=names, x=[p.agreement.bucket_mean for p in ps], mode="markers",
                    name="inside latency buckets", marker=dict(symbol="diamond", size=10))
    if math.isfinite(result.noise.value):
        fig.add_vline(x=result.noise.value, line_dash="dot",
                      annotation_text="seed-to-seed (ceiling)")
    fig.update_layout(title=f"Proxy audit: {result.n_archs} architectures, recipe "
                            f"{result.recipe_id}", xaxis_title="rank correlation with ground "
                      "truth (95% bootstrap CI)", template="plotly_white",
                      height=300 + 28 * len(names))
    return fig


def html(result: AuditResult) -> str:
    return figure(result).to_html(include_plotlyjs=True, full_html=True)
