"""The ground-truth table: longer reference training runs that proxies are judged against.

One fixed ``Recipe`` trains each architecture from scratch; each run appends one row to a CSV
(append-only, flushed and fsynced per row, a torn last line cut before appending), keyed by
(config hash, seed, recipe id), so a table can be built over many sessions and machines and
a run killed at any moment loses at most the run in flight, never duplicating a row.
"""
from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
import platform
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from .._io import append_text, truncate_torn_tail
from ..arch.config import ArchConfig
from ..arch.yaml_io import config_from_dict, config_to_dict
from ..errors import DatasetError, RunError

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

FORMAT_VERSION = 1
COLUMNS = ("format_version", "recipe_id", "config_hash", "name", "seed", "accuracy",
           "loss_sum", "curve", "wall_s", "cpu_s", "device", "host", "date", "recipe", "config")


@dataclass(frozen=True)
class Recipe:
    """How every ground-truth run trains: same data, resolution, budget and schedule."""

    dataset: str = "fashion-mnist"
    resolution: int = 64
    train_images: int = 2000
    val_images: int = 1000
    epochs: int = 5
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    smoothing: float = 0.1
    data_seed: int = 0

    @property
    def recipe_id(self) -> str:
        """Short, stable name: readable prefix + hash of every field."""
        digest = hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.dataset.split(':')[0]}-{self.resolution}px-e{self.epochs}-" \
               f"n{self.train_images}-{digest}"

    @property
    def image_passes(self) -> int:
        """Training budget in images seen (epochs x images): proxies are compared on it."""
        return self.epochs * self.train_images

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        d = json.loads(text)
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def config_hash(cfg: ArchConfig) -> str:
    """Hash of the canonical config text: equal hashes build equal networks."""
    text = json.dumps(config_to_dict(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class GroundTruthRow:
    """One finished reference run."""

    recipe_id: str
    config_hash: str
    name: str
    seed: int
    accuracy: float
    loss_sum: float
    curve: tuple[float, ...]
    wall_s: float
    cpu_s: float  # process CPU time: the run's cost on an idle machine, whatever the load
    device: str
    host: str
    date: str
    recipe: str
    config: str

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.config_hash, self.seed, self.recipe_id)

    def arch(self) -> ArchConfig:
        return config_from_dict(json.loads(self.config))


def make_row(cfg: ArchConfig, name: str, seed: int, recipe: Recipe, curve: Sequence[float],
             loss_sum: float,
             wall_s: float, cpu_s: float, device: str) -> GroundTruthRow:
    return GroundTruthRow(
        recipe.recipe_id, config_hash(cfg), name, seed, float(curve[-1]), float(loss_sum),
        tuple(float(a) for a in curve), round(wall_s, 2), round(cpu_s, 2), device, platform.node(),
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), recipe.to_json(),
        json.dumps(config_to_dict(cfg), sort_keys=True, separators=(",", ":")))


def read_ground_truth(path: os.PathLike[str]) -> list[GroundTruthRow]:
    """Rows of a ground-truth CSV; a torn last line (killed mid-append) is skipped."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"ground-truth table {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8", errors="replace")
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RunError(f"{str(path)!r} is not a ground-truth table: columns "
                       f"{', '.join(missing)} missing (expected {', '.join(COLUMNS)})")
    rows = []
    for i, r in enumerate(reader, start=2):
        try:
            rows.append(_parse(r))
        except (ValueError, TypeError, KeyError) as e:
            raise RunError(f"{str(path)!r} line {i}: bad ground-truth row ({e})") from None
    return rows


def _parse(r: dict[str, str]) -> GroundTruthRow:
    if int(r["format_version"]) > FORMAT_VERSION:
        raise ValueError(f"format_version {r['format_version']} is newer than {FORMAT_VERSION}")
    curve = tuple(float(a) for a in json.loads(r["curve"]))
    return GroundTruthRow(r["recipe_id"], r["config_hash"], r["name"], int(r["seed"]),
                          float(r["accuracy"]), float(r["loss_sum"]), curve,
                          float(r["wall_s"]), float(r["cpu_s"]), r["device"], r["host"], r["date"],
                          r["recipe"], r["config"])


class GroundTruthTable:
    """Append-only writer. One process owns the table, or several own disjoint shards of a plan.

    An unsharded writer holds the table's exclusive lock. Shard ``k`` of ``n`` holds a shared
    lock on the table (so an unsharded writer cannot start beside it) and an exclusive lock on
    its own side file; rows go out as one ``O_APPEND`` write each, so shards never interleave.
    """

    def __init__(self, path: os.PathLike[str]) -> None:
        self.path = Path(path)

    @contextmanager
    def open(self, shard: tuple[int, int] | None = None) -> Iterator[GroundTruthTable]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as lock:  # the table itself is the lock
            if shard is None:
                _lock(lock, fcntl.LOCK_EX, f"{str(self.path)!r} is being written by another "
                                           f"process (it holds the file's lock)")
                truncate_torn_tail(self.path)
                yield self
                return
            try:  # the first shard to start cuts a torn line left by a kill
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                truncate_torn_tail(self.path)
            except BlockingIOError:
                pass
            _lock(lock, fcntl.LOCK_SH, f"{str(self.path)!r} is being written by an unsharded "
                                       f"process (it holds the file's lock)")
            side = self.path.with_name(f".{self.path.name}.shard-{shard[0]}-of-{shard[1]}")
            with open(side, "a") as mine:
                _lock(mine, fcntl.LOCK_EX, f"shard {shard[0]}/{shard[1]} of {str(self.path)!r} "
                                           f"is being written by another process")
                yield self

    def done(self) -> set[tuple[str, int, str]]:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return set()
        return {r.key for r in read_ground_truth(self.path)}

    def append(self, row: GroundTruthRow) -> None:
        """Write one row in a single append and fsync it; the header goes with the first row."""
        values = asdict(row)
        values["curve"] = json.dumps(list(row.curve))
        values["format_version"] = FORMAT_VERSION
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
        if not self.path.exists() or self.path.stat().st_size == 0:
            writer.writeheader()
        writer.writerow(values)
        append_text(self.path, text.getvalue(), fsync=True)


def _lock(fh: FileDescriptorLike, mode: int, busy: str) -> None:
    try:
        fcntl.flock(fh, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        raise RunError(busy) from None


def check_recipe_data(recipe: Recipe) -> None:
    """The recipe's numbers must make sense before any run starts."""
    for name in ("resolution", "train_images", "val_images", "epochs", "batch_size"):
        if getattr(recipe, name) < 1:
            raise DatasetError(f"recipe {name} must be >= 1, but got {getattr(recipe, name)}")


def mean_by_config(rows: list[GroundTruthRow],
                   recipe_id: str | None = None) -> dict[str, tuple[GroundTruthRow, float]]:
    """config hash -> (first row, mean accuracy over its seeds), for one recipe."""
    ids = {r.recipe_id for r in rows}
    if recipe_id is None and len(ids) > 1:
        raise RunError(f"the table mixes recipes {', '.join(sorted(ids))}; pick one "
                       f"(--recipe-id)")
    out: dict[str, list[GroundTruthRow]] = {}
    for r in rows:
        if recipe_id is None or r.recipe_id == recipe_id:
            out.setdefault(r.config_hash, []).append(r)
    return {h: (rs[0], sum(r.accuracy for r in rs) / len(rs)) for h, rs in out.items()}
