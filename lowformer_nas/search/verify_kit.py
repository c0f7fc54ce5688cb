"""The verify loop for a target this machine cannot time: the kit of picks, and its results.

``write_kit`` puts the front and B0-B3 of a run in ``RUN/verify/kit`` (ONNX + the standalone
runner); ``import_results`` journals the latencies the device measured with it and refits the
run's profile (model level). The target's own profile changes only on request
(``verify_update.py``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from collections.abc import Iterable, Mapping, Sequence

from ..errors import RunError
from ..rundir.rows import TrialRow, row_key
from .verify_journal import Candidate, MeasureRecord

if TYPE_CHECKING:  # annotations only
    from ..latency.fitting.refit import PickRow
    from ..latency.targets.calibrate import Journal
    from ..latency.targets.profiles import Profile
    from .settings import SearchSettings


class KitVerifier(Protocol):
    """What the kit needs of ``verify.Verifier`` (which imports this module: a protocol, not
    the class, keeps the import one-way)."""

    run: Path
    dir: Path
    resolution: int
    settings: SearchSettings
    initial: Profile
    current: Profile
    log: Journal

    @property
    def measured(self) -> Mapping[str, MeasureRecord]: ...

    def candidates(self, rows: Sequence[TrialRow], stage: str) -> list[Candidate]: ...

    def predicted(self, key: str) -> float: ...

    def _rounds_done(self, phase: str) -> int: ...

    def _save(self, old: Profile) -> None: ...


def write_kit(ver: KitVerifier, rows: Sequence[TrialRow], stage: str) -> Path | None:
    """``RUN/verify/kit``: the front and B0-B3 as ONNX (constant weights) + ``run_kit.py``;
    rewritten only when the set of picks changed."""
    from ..arch.builder import build_model
    from ..arch.yaml_io import config_from_dict
    from ..latency.targets.export_kit import kit_item, write_manifest

    import torch

    picks = ver.candidates(rows, stage)
    if not picks:
        return None
    root = ver.dir / "kit"
    ids = [f"{stage}-{c['number']}" for c in picks]
    man = root / "manifest.json"
    if man.is_file() and [i["id"] for i in json.loads(man.read_text())["items"]] == ids:
        return root
    r = ver.resolution
    items = [kit_item(root, {"id": i, "kind": "model", "spec": json.loads(c["key"]),
                             "resolution": r, "trial": c["number"], "stage": stage,
                             "predicted_ms": c["predicted_ms"]},
                      build_model(config_from_dict(json.loads(c["key"]))),
                      torch.randn(1, 3, r, r))
             for i, c in zip(ids, picks)]
    return write_manifest(root, items, space=ver.settings.space, run=str(ver.run),
                          target=ver.current.name, profile_sha=ver.current.sha256)


def model_rows(measures: Iterable[MeasureRecord]) -> list[PickRow]:
    """Journal ``measure`` records as the whole-model rows of a model-level refit."""
    return [{"model": f"verify:{m['key'][:12]}:{i}", "arch": json.loads(m["key"]),
             "resolution": m["resolution"], "latency_ms": m["ms"]}
            for i, m in enumerate(measures)]


def import_results(ver: KitVerifier, csv_path: str, rows: Sequence[TrialRow]) -> int:
    """Journal a kit's whole-model latencies, refit the target with them; returns the count."""
    from ..latency.targets.export_kit import read_results
    from ..latency.fitting.refit import refit_model_level

    known = {row_key(r["config"]): r for r in rows if r.get("config")}
    new = []
    for res in read_results(csv_path):
        key = json.dumps(res["spec"], sort_keys=True, separators=(",", ":"))
        if res["kind"] != "model" or key not in known:
            continue
        if res["resolution"] != ver.resolution:
            raise RunError(f"{csv_path}: a model timed at {res['resolution']}px, but this run "
                           f"predicts at {ver.resolution}px; use the kit written for this run")
        new.append((key, res["ms"]))
    if not new:
        raise RunError(f"{csv_path} has no whole-model row of a trial of {str(ver.run)!r}; "
                       f"run the kit in {ver.dir / 'kit'} and import its results.csv")
    n = ver._rounds_done("import") + 1
    for key, ms in new:
        ver.log.append({"kind": "measure", "key": key, "ms": ms, "stage": known[key]["stage"],
                        "number": known[key]["number"], "predicted_ms": ver.predicted(key),
                        "profile_sha": ver.current.sha256, "phase": "import", "round": n,
                        "resolution": ver.resolution, "source": csv_path})
    fit = model_rows(ver.measured.values())
    old = ver.current
    ver.current = refit_model_level(ver.initial, fit)
    ver._save(old)  # the run's own; the target's profile changes on request (verify_update.py)
    ver.log.append({"kind": "refit", "phase": "import", "round": n, "sha": ver.current.sha256,
                    "from_sha": old.sha256, "error": ver.current.data.get("error", {})})
    return len(new)
