"""The end of a run: Pareto data, B0-B3 YAMLs, the page and the summary from trials.csv.

The CLI calls this after the search, with the references the search scored
(``search.run.Finisher``); report sits above search and reads only the run directory.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast
from collections.abc import Mapping, Sequence

from .._io import atomic_write_text
from ..rundir.rows import read_trials_csv

if TYPE_CHECKING:
    from ..latency.targets.profiles import Profile
    from ..search.settings import SearchSettings
    from ..search.references import ReferenceRow
    from .pareto_data import FamilyPick, ParetoData, RunSettings


def finish_run(run_path: Path, refs: Sequence[Mapping[str, object]], settings: SearchSettings,
               profile: Profile, quiet: bool) -> dict[str, object]:
    """Pareto data, models/B*.yaml, pareto.html, summary.md; prints the table unless quiet.
    (The signature is ``search.run.Finisher``: reference rows in, the page data out.)"""
    data = _pages(run_path, cast("Sequence[ReferenceRow]", refs), settings, None)
    write_family(data, run_path, profile, settings)
    if data["anchor_inverted"]:  # a plain warning, also under --quiet
        print(f"lowformer-nas: {data['anchor_check']}", file=sys.stderr)
    if not quiet:
        print_family_table(data, run_path)
    return cast("dict[str, object]", data)


def interim_pages(run_path: Path, settings: SearchSettings) -> None:
    """pareto.json, pareto.html and summary.md of a search still running (``search.run.
    Interim``), so that a long search shows its front; B0-B3 YAMLs and the references are
    written when it ends, and the summary says so."""
    import time

    _pages(run_path, (), settings, time.strftime("%Y-%m-%d %H:%M:%S"))


def _pages(run_path: Path, refs: Sequence[ReferenceRow], settings: SearchSettings,
           interim: str | None) -> ParetoData:
    """The Pareto data of trials.csv, written as pareto.json, pareto.html and summary.md."""
    from .pareto_data import compute
    from .plots import write_pareto_html
    from .summary import summary_markdown

    rows = read_trials_csv(run_path / "trials.csv")
    as_dict = cast("RunSettings", settings.to_dict())
    data = compute(rows, list(refs), as_dict)
    data["profile_text"] = _profile_text(run_path)
    if interim:
        data["interim"] = (f"interim: written {interim} while the search runs ({len(rows)} "
                           f"trials so far); B0-B3 and the references come when it ends")
    atomic_write_text(run_path / "pareto.json", json.dumps(data, indent=1, default=str))
    write_pareto_html(data, run_path / "pareto.html")
    atomic_write_text(run_path / "summary.md", summary_markdown(data, as_dict, run_path))
    return data


def _profile_text(run_path: Path) -> str:
    """The run's latency profile as config.yaml recorded it at the start (its provenance,
    expected error and level check)."""
    from ..rundir.config import read_run_config

    prof = read_run_config(run_path).get("profile") or {}
    return str(prof.get("describe", "")) if isinstance(prof, dict) else ""


def write_family(data: ParetoData, run_path: Path, profile: Profile,
                 settings: SearchSettings) -> list[Path]:
    """models/B0..B3.yaml with latency, proxy score and profile in a header comment."""
    from ..arch.yaml_io import config_from_dict, save_config

    written = []
    for name, pick in data["family"].items():
        if pick is None:  # a re-pick (verify) may leave a slot empty: no stale file
            (run_path / "models" / f"{name}.yaml").unlink(missing_ok=True)
            continue
        cfg = config_from_dict(json.loads(pick["config"]))
        header = "\n".join([
            f"lowformer-nas {name}: trial {pick['number']} of {run_path}",
            latency_line(pick, profile, settings),
            f"budget: {data['budget_ms']:g} ms; {data['score_name']}: {pick['score']:.6g} "
            f"({data['proxy']} proxy on {settings.dataset})",
            data["proxy_fidelity"], data["anchor_check"],
            *([data["resolution_note"]] if data["resolution_note"] else []),
            f"profile: {profile.name} sha256 {profile.sha256} (the run's initial profile)",
            f"rule: {data['family_rule']}"])
        path = run_path / "models" / f"{name}.yaml"
        save_config(cfg, path, header=header)
        written.append(path)
    return written


def latency_line(pick: FamilyPick, profile: Profile, settings: SearchSettings) -> str:
    """Measured and predicted latency side by side, each with where it comes from."""
    where = f"batch 1, target {profile.name}"
    if settings.measure:
        return f"latency: {pick['latency_ms']:.4g} ms (measured on this machine, {where})"
    if pick.get("predicted_ms") is not None:
        pred = f"{pick['predicted_ms']:.4g} ms predicted by profile sha256 {pick['profile_sha']}"
    else:
        pred = f"{pick['latency_ms']:.4g} ms predicted by profile sha256 {profile.sha256[:12]}"
    if pick.get("trial_latency_ms") is not None:
        pred += f" ({pick['trial_latency_ms']:.4g} ms when the search ran it)"
    if pick.get("measured_ms") is not None:
        return f"latency: {pick['measured_ms']:.4g} ms measured (verify, {where}); {pred}"
    return f"latency: {pred} ({where})"


def print_family_table(data: ParetoData, run_path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from .pareto_data import summarize_config

    table = Table(title=f"B0-B3 within {data['budget_ms']:g} ms on {data['target']}")
    lat = "measured (ms)" if data.get("latency_basis") == "measured" else "latency (ms)"
    for col in ("model", "trial", lat, data["score_name"], "config"):
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
