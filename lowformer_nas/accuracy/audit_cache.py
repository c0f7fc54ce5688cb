"""Proxy values the audit has already computed, kept so a growing table costs only its new rows.

A ground-truth table is filled over several sessions; re-running the audit on it must not
retrain every short-training proxy of the architectures it already scored. Each computed
group of values (all zero-cost scores of one architecture, or one training budget of one
architecture) is appended as one JSON line to ``proxy_values.jsonl`` in the audit's output
folder, keyed by the architecture's config hash and a key naming everything that changes the
values (data, resolution, budget, seed). A killed audit loses at most the group in flight; a
torn last line is skipped on reading and cut before the next append.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from collections.abc import Callable

from .._io import append_text, truncate_torn_tail

Values = dict[str, tuple[float, float]]  # proxy name -> (value, seconds)
FILE = "proxy_values.jsonl"


class ProxyCache:
    """Computed proxy values of one audit folder; ``None`` path keeps them in memory only."""

    def __init__(self, path: os.PathLike[str] | None, data_key: str) -> None:
        self.path = Path(path) if path is not None else None
        self.data_key = data_key
        self._values: dict[tuple[str, str], Values] = {}
        self.hits = 0
        if self.path is not None and self.path.exists():
            truncate_torn_tail(self.path)
            for line in self.path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                self._values[(rec["key"], rec["config_hash"])] = {
                    k: (float(v[0]), float(v[1])) for k, v in rec["values"].items()}

    def get(self, key: str, config_hash: str, compute: Callable[[], Values]) -> Values:
        """The values of ``key`` for one architecture: read back, or computed and appended."""
        full = f"{self.data_key}|{key}"
        hit = self._values.get((full, config_hash))
        if hit is not None:
            self.hits += 1
            return hit
        values = compute()
        self._values[(full, config_hash)] = values
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            append_text(self.path, json.dumps(
                {"key": full, "config_hash": config_hash,
                 "values": {k: [v, s] for k, (v, s) in values.items()}}) + "\n")
        return values
