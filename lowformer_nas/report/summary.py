"""``summary.md``: what was run, how many trials did what, the front, B0-B3 and the proxy check."""
from __future__ import annotations

from pathlib import Path
from collections.abc import Mapping

from ..rundir.config import SURROGATE_FILE, ZC_SCORES
from .pareto_data import ParetoData, RunSettings, latency_key, summarize_config

SAMPLER_TEXT = {
    "nsga2": "NSGA-II (Optuna), latency as a constraint via trial.set_constraint",
    "tpe": "multi-objective TPE (Optuna), latency as a constraint via trial.set_constraint",
    "random": "random sampling (Optuna RandomSampler): the baseline for the other samplers",
}


def _fmt(x: object, spec: str = ".4g") -> str:
    return "-" if x is None else format(x, spec)


def _counts_table(data: ParetoData) -> list[str]:
    lines = ["| stage | total | complete | feasible | infeasible | pruned | failed |",
             "|---|---|---|---|---|---|---|"]
    for stage, c in data["counts"].items():
        lines.append(f"| {stage} | {c['total']} | {c.get('COMPLETE', 0)} | "
                     f"{c.get('feasible', 0)} | {c.get('infeasible', 0)} | "
                     f"{c.get('PRUNED', 0)} | {c.get('FAIL', 0)} |")
    return lines


def latency_cells(p: Mapping[str, object]) -> str:
    """``latency | predicted [profile] | measured`` cells: where each number comes from."""
    pred = "-" if p.get("predicted_ms") is None else \
        f"{p['predicted_ms']:.4g} [{p.get('profile_sha') or '?'}]"
    return f"{p['latency_ms']:.4g} | {pred} | {_fmt(p.get('measured_ms'))}"


def _family_table(data: ParetoData) -> list[str]:
    lines = [f"| model | trial | latency (ms) | predicted (ms) [profile sha] | measured (ms) "
             f"| {data['score_name']} | config |", "|---|---|---|---|---|---|---|"]
    for name, p in data["family"].items():
        if p is None:
            lines.append(f"| {name} | - | - | - | - | - | no feasible trial in its slot |")
        else:
            lines.append(f"| {name} | {p['number']} | {latency_cells(p)} | "
                         f"{p['score']:.4g} | `{summarize_config(p['config'])}` |")
    return lines


def _basis_line(data: ParetoData) -> str:
    if data.get("latency_basis") == "measured":
        return ("Latency: B0-B3 are picked from latencies *measured* on the target (here, "
                "or imported from its verification kit's results); other trials show the "
                "latest profile's prediction. Every measurement: verify/journal.jsonl.")
    return "Latency: predicted by the target's profile (nothing measured yet)."


def _reference_table(data: ParetoData) -> list[str]:
    """Official variants and timm models; a model the proxy could not run says so."""
    lines = [f"| reference | family | latency (ms) | within budget | {data['score_name']} |",
             "|---|---|---|---|---|"]
    notes = []
    for r in data["references"]:
        score = "not scored" if r.get("note") else _fmt(r.get("score")) + (
            " (published)" if r.get("score_source") else "")
        lines.append(f"| {r['name']} | {r.get('family', 'lowformer')} | "
                     f"{_fmt(r['latency_ms'])} | {r['feasible']} | {score} |")
        notes += [f"- {r['name']}: {r.get('note') or r.get('score_source')}"] \
            if r.get("note") or r.get("score_source") else []
    sources = sorted({r["latency_source"] for r in data["references"] if r.get("latency_source")})
    return lines + ([""] + [f"Latency: {'; '.join(sources)}."] if sources else []) + \
        ([""] + notes if notes else [])


def _spearman_lines(data: ParetoData) -> list[str]:
    sp = data["spearman"]
    if (sp["n"] or 0) < 3:  # "n" is the number of trained trials, never None
        return ["Spearman (zero-cost score vs trained accuracy): n/a, fewer than 3 trained "
                "trials (use `--proxy train` or `--proxy two-stage`)."]
    return [f"Spearman rank correlation of each zero-cost score with trained accuracy over "
            f"{sp['n']} trained trials: " + ", ".join(
                f"{k} {_fmt(sp[k], '.3f')}" for k in ZC_SCORES)]


def summary_markdown(data: ParetoData, settings: RunSettings, run_path: Path) -> str:
    """The whole summary as Markdown text."""
    hv = data["hypervolume"]
    front = [t for t in data["trials"] if t["on_front"]]
    front.sort(key=latency_key)
    lines = [f"# Search {run_path.name}", ""]
    lines += [f"> {data['interim']}", ""] if data.get("interim") else []
    lines += [
        f"- target `{settings['target']}`, budget {data['budget_ms']:g} ms "
        f"({'measured here' if settings['measure'] else 'predicted'}), space "
        f"`{settings['space']}`", *([f"- latency profile {data['profile_text']}"]
                                    if data.get("profile_text") else []),
        f"- {_proxy_text(settings)}; objective: maximise "
        f"{data['score_name']}, minimise latency", f"- {data['proxy_fidelity']}",
        f"- {data.get('anchor_check', 'anchor check: n/a')}", *_note(data),
        f"- backend `{settings['backend']}`, sampler "
        f"{SAMPLER_TEXT[settings['sampler']]}; seed {settings['seed']}",
        "- over-budget configs are complete trials with constraint latency - budget > 0, "
        "never run through a proxy (score recorded as -inf)", "", "## Trials", ""]
    lines += _counts_table(data) + ["", "## B0-B3", "", f"Rule: {data['family_rule']}.", "",
                                     _basis_line(data), ""]
    lines += _family_table(data) + ([""] + [separation]
                                     if (separation := data.get("family_separation")) else [])
    lines += ["", f"## Pareto front ({len(front)} trials)", "",
                                     "| trial | latency (ms) | predicted (ms) [profile sha] | "
                                     "measured (ms) | score |", "|---|---|---|---|---|"]
    lines += [f"| {t['number']} | {latency_cells(t)} | {t['score']:.4g} |" for t in front]
    lines += ["", "## References (official LowFormer variants, timm models), same target and "
                  "proxy", ""]
    lines += _reference_table(data) + [""]
    if hv:
        lines.append(f"Hypervolume (reference point {data['score_name']} "
                     f"{hv['reference_point'][0]:.4g}, latency {hv['reference_point'][1]:.4g} ms): "
                     f"front {hv['front']:.4g}, official variants {hv['references']:.4g}, "
                     f"ratio {_fmt(hv['ratio'], '.3f')}")
    lines += ["", "## Zero-cost proxy check", ""] + _spearman_lines(data) + [""]
    lines += _surrogate_lines(settings, run_path)
    return "\n".join(lines)


def _proxy_text(settings: RunSettings) -> str:
    from ..accuracy.anchors import ranks_by_anchors

    if ranks_by_anchors(settings["proxy"], settings["zc_score"]):
        return ("proxy `zero-cost`: `imagenet-anchored`, a function of the config's MACs "
                "(no data, no training)")
    return (f"proxy `{settings['proxy']}` on `{settings['dataset']}` at "
            f"{settings['proxy_resolution']}px")


def _note(data: ParetoData) -> list[str]:
    return [f"- {data['resolution_note']}"] if data.get("resolution_note") else []


def _surrogate_lines(settings: RunSettings, run_path: Path) -> list[str]:
    """Two-stage with ``--prescreen surrogate``: the surrogate's held-out fidelity."""
    import json

    if settings.get("prescreen") != "surrogate":
        return []
    try:
        text = json.loads((run_path / SURROGATE_FILE).read_text(encoding="utf-8"))["text"]
    except (OSError, ValueError, KeyError, TypeError):
        text = "not fitted yet (fewer than 4 trained trials)"
    return ["## Surrogate pre-screen", "",
            f"Random forest over the config, predicted latency and zero-cost scores, refitted "
            f"after every trained trial; held-out fidelity: {text}.", ""]
