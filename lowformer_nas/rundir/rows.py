"""Trial rows: the one backend-independent record of a trial (what ``trials.csv`` holds).

Both backends turn their results into these rows; reports, plots and exports read only the
CSV, so a run directory means the same thing whichever backend wrote it.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict, cast

from .._io import append_text, atomic_write_text
from ..errors import RunError
from .config import ZC_SCORES

if TYPE_CHECKING:
    from ..space import ParamValue, SearchSpace

BASE_COLUMNS = ("stage", "number", "state", "feasible", "latency_ms", "latency_std_ms",
                "score", "accuracy", *ZC_SCORES, "epochs_done", "seconds",
                "duplicate", "error", "retry_of", "trial_latency_ms", "predicted_ms",
                "measured_ms", "profile_sha")
# what reports need; later columns (e.g. retry_of) may be absent in older runs
REQUIRED_COLUMNS = ("stage", "number", "state", "feasible", "latency_ms", "score", "config")


class TrialRow(TypedDict, total=False):
    """One trial as ``trials.csv`` holds it, whichever backend ran it. Beside these columns a
    row carries one ``p:<dimension>`` entry per search dimension (the sampled params: their
    names come from the space, so they are not listed here; ``params_of`` reads them)."""

    stage: str
    number: int
    state: str
    feasible: bool | None
    latency_ms: float | None
    latency_std_ms: float | None
    score: float | None
    accuracy: float | None
    naswot: float | None
    synflow: float | None
    gradnorm: float | None
    zico: float | None
    expressivity: float | None
    epochs_done: int | None
    seconds: float | None
    duplicate: bool | None
    error: str
    retry_of: int | str | None  # a trial number (its text in rows read back), or None
    trial_latency_ms: float | None
    predicted_ms: float | None
    measured_ms: float | None
    profile_sha: str | None
    config: str


class TrialAttrs(TypedDict, total=False):
    """What a trial records beside its params (Optuna user attributes, Ray's last result):
    ``search.objective.Evaluation.attrs()``, plus what the run adds (duplicate, error, retry)."""

    config_key: str
    latency_ms: float | None
    latency_std_ms: float | None
    feasible: bool | None
    zc: dict[str, float] | None
    curve: list[float] | None
    score: float | None
    seconds: float | None
    accuracy: float | None
    duplicate: bool
    error: str
    retry_of: int | str | None


def params_of(row: TrialRow) -> dict[str, ParamValue]:
    """The sampled params of a row (its ``p:<dimension>`` entries), by dimension name."""
    return {k[2:]: v for k, v in cast(dict[str, "ParamValue"], row).items()
            if k.startswith("p:")}


FLOAT_COLUMNS = ("latency_ms", "latency_std_ms", "score", "accuracy", *ZC_SCORES, "seconds",
                 "trial_latency_ms", "predicted_ms", "measured_ms")


def make_row(stage: str, number: int, state: str, params: Mapping[str, ParamValue],
             attrs: TrialAttrs, space: SearchSpace) -> TrialRow:
    """A row from a trial's params and recorded attributes (missing numbers stay empty)."""
    zc = attrs.get("zc") or {}
    curve = attrs.get("curve") or []
    row = cast(TrialRow, {
        "stage": stage, "number": number, "state": state,
        "feasible": attrs.get("feasible"), "latency_ms": attrs.get("latency_ms"),
        "latency_std_ms": attrs.get("latency_std_ms"),
        "score": attrs.get("score") if state == "COMPLETE" else None,
        "accuracy": curve[-1] if curve else None,
        **{name: zc.get(name) for name in ZC_SCORES},
        "epochs_done": len(curve) if curve else None, "seconds": attrs.get("seconds"),
        "duplicate": bool(attrs.get("duplicate", False)), "error": attrs.get("error") or "",
        "retry_of": attrs.get("retry_of"),
    })
    cast(dict[str, "ParamValue"], row).update({f"p:{k}": v for k, v in params.items()})
    row["config"] = _config_json(params, space)
    return row


def _config_json(params: Mapping[str, ParamValue], space: SearchSpace) -> str:
    from ..arch.yaml_io import config_to_dict

    if set(space.dimensions()) - set(params):
        return ""
    return json.dumps(config_to_dict(space.build(params)), sort_keys=True)


def csv_columns(space: SearchSpace) -> list[str]:
    """Base columns, one ``p:`` column per dimension, config."""
    return list(BASE_COLUMNS) + [f"p:{k}" for k in space.dimensions()] + ["config"]


def csv_lines(rows: Sequence[Mapping[str, object]], columns: Sequence[str],
              header: bool = False) -> str:
    """Rows as CSV text (each line ends with a newline)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    if header:
        writer.writeheader()
    for row in rows:
        writer.writerow({k: _fmt(row.get(k)) for k in columns})
    return buf.getvalue()


Annotate = Callable[[Sequence[TrialRow]], list[TrialRow]]


@dataclass(frozen=True)
class TrialsFile:
    """The one writer of a run's ``trials.csv``: the search's bookkeeping and ``verify RUN``
    both write through it. ``annotate`` (the verify loop's latest latencies) is applied to
    every row on every write, so no writer can leave it out."""

    path: Path
    space: SearchSpace
    annotate: Annotate | None = None

    def rewrite(self, rows: Sequence[TrialRow]) -> None:
        """Rewrite the file atomically with ``rows``."""
        atomic_write_text(self.path, csv_lines(self._annotated(rows), csv_columns(self.space),
                                               header=True))

    def append(self, rows: Sequence[TrialRow]) -> None:
        """Append rows in one write (a torn last line, from a crash mid-write, is skipped by
        readers and replaced by the next rewrite)."""
        append_text(self.path, csv_lines(self._annotated(rows), csv_columns(self.space)))

    def reannotate(self) -> None:
        """Rewrite the file's own rows with the latest annotation (``verify RUN``)."""
        self.rewrite(read_trials_csv(self.path))

    def _annotated(self, rows: Sequence[TrialRow]) -> Sequence[TrialRow]:
        return self.annotate(rows) if self.annotate is not None else rows


def _fmt(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def read_trials_csv(path: Path) -> list[TrialRow]:
    """Rows with numbers as floats (empty -> None) and booleans restored."""
    if not path.is_file():
        raise RunError(f"{str(path)!r} does not exist: not a run directory, or no trial "
                       f"finished yet")
    text = path.read_bytes().decode("utf-8")
    if text and not text.endswith("\n"):  # a row being appended right now, or torn by a crash
        text = text[:text.rfind("\n") + 1]
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RunError(f"{str(path)!r} is not a lowformer-nas trials.csv: missing "
                           f"column(s) {', '.join(missing)}")
        rows = list(reader)
    out = []
    for line, r in enumerate(rows, start=2):
        try:
            out.append(_parse(r))
        except (ValueError, TypeError) as e:  # a hand-edited or foreign file
            raise RunError(f"{str(path)!r} line {line}: {e}") from None
    return out


def _parse(r: dict[str, str]) -> TrialRow:
    out: dict[str, object] = dict(r)
    for k in FLOAT_COLUMNS:
        out[k] = float(r[k]) if r.get(k) not in (None, "") else None
    out["number"] = int(r["number"])
    out["epochs_done"] = int(r["epochs_done"]) if r.get("epochs_done") else None
    out["feasible"] = _bool(r.get("feasible"))
    out["duplicate"] = _bool(r.get("duplicate"))
    return cast(TrialRow, out)


def _bool(text: str | None) -> bool | None:
    return {"True": True, "False": False}.get(text or "")


def counted_row(row: Mapping[str, object]) -> bool:
    """Rows that use up the trial budget: finished trials, and failures of the trial itself
    (a FAIL with an error; an interrupted trial is retried instead)."""
    return row["state"] in ("COMPLETE", "PRUNED") or (row["state"] == "FAIL" and bool(row["error"]))


def row_key(config_json: str) -> str:
    """Canonical key of a trials.csv ``config`` (same as ``objective.config_key``)."""
    return json.dumps(json.loads(config_json), sort_keys=True, separators=(",", ":"))
