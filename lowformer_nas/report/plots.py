"""The interactive Pareto page: a thin Plotly drawing of ``pareto_data.compute`` output."""
from __future__ import annotations

import textwrap
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from collections.abc import Mapping, Sequence

from .._io import atomic_write_text
from .pareto_data import latency_key

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from .pareto_data import ParetoData


def _hover(t: Mapping[str, object], score_name: str) -> str:
    score = "n/a" if t.get("score") is None else f"{t['score']:.4g}"
    extra = f"<br>{t['family']}" if t.get("family") else ""
    lat = f"latency {t['latency_ms']:.3g} ms"
    if t.get("predicted_ms") is not None:
        lat += f"<br>predicted {t['predicted_ms']:.3g} ms (profile {t.get('profile_sha')})"
    if t.get("measured_ms") is not None:
        lat += f"<br>measured here {t['measured_ms']:.3g} ms"
    return (f"trial {t['number']} ({t['state']}){extra}<br>{lat}"
            f"<br>{score_name} {score}<br>{t.get('config_text', '')}")


def _trace(go: ModuleType, pts: Sequence[Mapping[str, object]], name: str,
           marker: Mapping[str, object], score_name: str, y_key: str = "score",
           mode: str = "markers", text: Sequence[str | None] | None = None) -> go.Scatter:
    return go.Scatter(x=[p["latency_ms"] for p in pts], y=[p[y_key] for p in pts], mode=mode,
                      name=name, marker=marker, text=text,
                      hovertext=[_hover(p, score_name) for p in pts], hoverinfo="text",
                      textposition="top center")


def figure(data: ParetoData) -> go.Figure:
    """A Plotly figure: trials, infeasible greyed, front, budget line, B0-B3, references."""
    import plotly.graph_objects as go

    sn = data["score_name"]
    trials = [t for t in data["trials"] if t.get("latency_ms") is not None]
    scored = [t for t in trials if (s := t.get("score")) is not None and s > float("-inf")]
    fig = go.Figure()
    infeasible = [t for t in trials if t["feasible"] is False]
    floor = min([s for t in scored if (s := t["score"]) is not None] or [0.0])
    fig.add_trace(_trace(go, [dict(t, score=floor) for t in infeasible],
                         "infeasible (over budget, not scored)",
                         dict(color="lightgrey", symbol="x", size=6), sn))
    rest = [t for t in scored if t["feasible"] and not t["on_front"]]
    fig.add_trace(_trace(go, rest, "feasible trials", dict(color="#6c8ebf", size=7), sn))
    front = sorted([t for t in scored if t["on_front"]], key=latency_key)
    fig.add_trace(_trace(go, front, "Pareto front", dict(color="#d62728", size=9), sn,
                         mode="lines+markers"))
    fam = [t for t in scored if t.get("family")]
    fig.add_trace(_trace(go, fam, "B0-B3", dict(color="#2ca02c", size=14, symbol="star"), sn,
                         mode="markers+text", text=[t["family"] for t in fam]))
    for family, label, color in (("lowformer", "official LowFormer (same proxy)", "black"),
                                 ("timm", "timm models (same proxy)", "#9467bd")):
        refs = [dict(r, number=r["name"], state="reference", family=None,
                     config_text=r.get("note") or r.get("score_source", ""),
                     score=r["score"] if r.get("score") is not None else floor)
                for r in data["references"] if r.get("family", "lowformer") == family
                and r.get("latency_ms") is not None
                and (r.get("score") is not None or r.get("note"))]
        fig.add_trace(_trace(go, refs, label, dict(color=color, symbol="diamond", size=10), sn,
                             mode="markers+text",
                             text=[str(r["name"]).replace("lowformer_", "") +
                                   (" (not scored)" if r.get("note") else "") +
                                   (" (published)" if r.get("score_source") else "")
                                   for r in refs]))
    fig.add_vline(x=data["budget_ms"], line_dash="dash", line_color="#ff7f0e",
                  annotation_text=f"budget {data['budget_ms']:g} ms")
    title = f"Pareto front on {data['target']} ({data['proxy']} proxy)"
    lines = [data["proxy_fidelity"], data.get("anchor_check", "")]
    for line in (w for text in lines for w in textwrap.wrap(text, 120)):  # titles do not wrap
        title += f"<br><sup>{line}</sup>"
    if data.get("interim"):
        title += f"<br><sup>{data['interim']}</sup>"
    fig.update_layout(title=title,
                      xaxis_title=f"latency on {data['target']} (ms)", yaxis_title=sn,
                      template="plotly_white", hovermode="closest")
    return fig


def write_pareto_html(data: ParetoData, path: Path) -> None:
    """Self-contained HTML (plotly.js embedded, works offline)."""
    html = figure(data).to_html(include_plotlyjs=True, full_html=True)
    atomic_write_text(path, html)
