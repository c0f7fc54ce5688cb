"""The records of a run's verify journal (``RUN/verify/journal.jsonl``) and of its picks.

``verify.py`` writes them, ``verify_kit.py`` and ``verify_update.py`` read them back; they sit
here, below all three. A journal line is JSON: the kind (``measure``, ``refit``) says which
record it is (``measures`` picks the measurements out of a journal's lines).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict, cast
from collections.abc import Iterable, Mapping

from ..rundir.rows import TrialRow

if TYPE_CHECKING:
    from ..latency.measurement.host import HostFacts


class _MeasureHere(TypedDict, total=False):
    """Only a measurement taken here has them: the timing's cost, protocol and host."""

    cost_s: float
    protocol: str  # ``latency.measurement.measure.protocol``, in words
    host: HostFacts


class MeasureRecord(_MeasureHere):
    """One whole-model latency of a pick: measured here, or imported from a kit's results."""

    kind: str  # "measure"
    key: str  # the config's canonical JSON (``rundir.rows.row_key``)
    ms: float
    stage: str
    number: int
    predicted_ms: float
    profile_sha: str
    phase: str  # "search", "final" or "import"
    round: int
    resolution: int
    source: str  # "here", or the results.csv imported


class Candidate(TrialRow, total=False):
    """A pick to measure: its (annotated) trial row and config key."""

    key: str


def measures(records: Iterable[Mapping[str, object]]) -> list[MeasureRecord]:
    """The ``measure`` records of journal lines (JSON, read back as written)."""
    return [cast(MeasureRecord, r) for r in records if r.get("kind") == "measure"]
