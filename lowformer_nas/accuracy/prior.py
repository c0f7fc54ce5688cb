"""The small-data accuracy prior: the audit's surrogate, fitted once on a ground-truth table.

It ranks the small-data regime of that table (5 epochs on 2,000 Fashion-MNIST images, where
capacity hurts), and so the official family backwards against ImageNet (accuracy/anchors.py):
it is ``--zc-score small-data-prior``, no longer a default. A random forest over the config
encoding, its size (params, MACs) and the zero-cost scores, fitted on every row of the table;
its fidelity on that table is the audit's ``surrogate (LOO)`` figure. The file is written by
``lowformer-nas audit TABLE --prior FILE``; the package ships the project's own
(``data/accuracy_prior.json``).
"""
from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict
from collections.abc import Mapping, Sequence

import numpy as np

from ..arch.config import ArchConfig
from ..errors import ConfigError, RunError
from .audit_stats import FloatArray

if TYPE_CHECKING:
    from ..arch.yaml_io import ArchDict
    from .surrogate import Surrogate

PRIOR = Path(__file__).resolve().parents[1] / "data" / "accuracy_prior.json"
FORMAT = 1


class PriorRow(TypedDict):
    """One row of the prior file: a config, its cheap features and its accuracy."""

    config: ArchDict
    cheap: dict[str, float]
    accuracy: float


def prior_features(configs: Sequence[ArchConfig],
                   cheap: Sequence[Mapping[str, float]]) -> FloatArray:
    """The surrogate's features (one helper for the audit's leave-one-out and the prior):
    the config encoding, then size and zero-cost scores in sorted-name order."""
    from .surrogate import feature_matrix

    return feature_matrix(configs, [{k: float(v) for k, v in c.items()} for c in cheap])


@dataclass(frozen=True)
class AccuracyPrior:
    """A ground-truth table's configs, their cheap features and accuracies."""

    table: str
    recipe_id: str
    dataset: str  # the zero-cost scores' data and input size
    resolution: int
    seed: int
    configs: tuple[ArchConfig, ...]
    cheap: tuple[dict[str, float], ...]
    accuracy: tuple[float, ...]

    def check_setting(self, dataset: str, resolution: int) -> None:
        """The scores it was fitted on mean nothing at another dataset or input size."""
        if (dataset, resolution) != (self.dataset, self.resolution):
            raise RunError(f"--zc-score small-data-prior was fitted on zero-cost scores on "
                           f"{self.dataset} at {self.resolution} px; use --dataset "
                           f"{self.dataset} --proxy-resolution {self.resolution}, but got "
                           f"--dataset {dataset} --proxy-resolution {resolution} (or rank "
                           f"by one score, e.g. --zc-score naswot)")

    def score(self, cfg: object, zc: Mapping[str, float], num_classes: int) -> float:
        """Predicted reference-recipe accuracy of ``cfg`` from its zero-cost scores ``zc``."""
        from ..arch.stats import count_params_macs
        from .surrogate import encode_config

        if not isinstance(cfg, ArchConfig):
            raise ConfigError(f"the accuracy prior scores LowFormer configs, not {cfg!r}")
        params, macs, _ = count_params_macs(cfg, resolution=self.resolution,
                                            num_classes=num_classes)
        row = dict(zc, params=float(params), MACs=float(macs))
        x = np.array([encode_config(cfg) + [float(row.get(n, math.nan))
                                            for n in sorted(self.cheap[0])]])  # as fitted
        _, fill, forest = _fitted(self)
        bad = ~np.isfinite(x[0])
        x[0, bad] = fill[bad]  # a score that overflowed: the table's minimum, as in fitting
        return float(forest.predict(x)[0])


_FITTED: dict[int, tuple[AccuracyPrior, FloatArray, Surrogate]] = {}


def _fitted(prior: AccuracyPrior) -> tuple[AccuracyPrior, FloatArray, Surrogate]:
    """(prior, per-feature fill values, the forest fitted on all rows), fitted once."""
    from .surrogate import Surrogate

    got = _FITTED.get(id(prior))
    if got is None:
        x = prior_features(prior.configs, prior.cheap)
        got = _FITTED[id(prior)] = (prior, x.min(axis=0),
                                    Surrogate(prior.seed).fit(x, prior.accuracy))
    return got


def write_prior(path: os.PathLike[str], prior: AccuracyPrior) -> None:
    from .._io import atomic_write_text
    from ..arch.yaml_io import config_to_dict

    d = {"format": FORMAT, "table": prior.table, "recipe_id": prior.recipe_id,
         "dataset": prior.dataset, "resolution": prior.resolution, "seed": prior.seed,
         "rows": [PriorRow(config=config_to_dict(c), cheap=f, accuracy=a)
                  for c, f, a in zip(prior.configs, prior.cheap, prior.accuracy)]}
    atomic_write_text(path, json.dumps(d, indent=0, default=float) + "\n")


def load_prior(path: os.PathLike[str] | None = None) -> AccuracyPrior:
    """The prior in ``path`` (the shipped one by default)."""
    return _load(str(Path(path) if path is not None else PRIOR))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> AccuracyPrior:
    from ..arch.yaml_io import config_from_dict

    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        rows: list[PriorRow] = d["rows"]
        return AccuracyPrior(
            d["table"], d["recipe_id"], d["dataset"], int(d["resolution"]), int(d["seed"]),
            tuple(config_from_dict(r["config"], source=path) for r in rows),
            tuple({k: float(v) for k, v in r["cheap"].items()} for r in rows),
            tuple(float(r["accuracy"]) for r in rows))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RunError(f"accuracy prior {path!r} cannot be read ({e})") from None
