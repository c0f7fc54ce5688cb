"""The resolved options of one search: validated up front, saved as ``config.yaml``.

Everything a run depends on lives here, so that a resumed run can check it is continuing the
same search and a report can say exactly what was run.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from collections.abc import Mapping

from ..errors import RunError
from ..rundir.config import PROXIES, TRAIN_SCORES
from .budget import parse_budget, parse_duration
from ..accuracy.datasets import check_dataset_spec
from ..accuracy.anchors import ANCHORED
from ..accuracy.zerocost import ZC_SCORES

BACKENDS = ("optuna", "ray")
PRESCREENS = ("zc", "surrogate")  # two-stage: what picks the trained candidates
SAMPLERS = ("nsga2", "tpe", "random")  # random: the baseline the others must beat
# what ranks zero-cost candidates: the capacity model fitted on published ImageNet top-1
# (accuracy/anchors.py), one score, or the small-data prior: a forest fitted on the
# Fashion-MNIST ground-truth table (accuracy/prior.py; it ranks the small-data regime, where
# capacity hurts, and the official family backwards against ImageNet)
SMALL_DATA_PRIOR = "small-data-prior"
SEARCH_ZC_SCORES = (ANCHORED,) + ZC_SCORES + (SMALL_DATA_PRIOR,)
RENAMED = {"prior": SMALL_DATA_PRIOR}  # --zc-score prior, as runs made before 2026-12 say
# options that must match when a run directory is continued (trials may grow)
IDENTITY = ("target", "budget_ms", "space", "proxy", "dataset", "seed", "measure", "epochs",
            "proxy_resolution", "zc_score", "sampler", "max_train", "max_val")
# options added later: part of the study name only when not at the value runs made before
# them had (earlier studies keep their names, and their configs read back as such)
LATER_IDENTITY = {"train_score": "accuracy"}
# settings a space may choose for searches over it (``search_defaults`` in its YAML: the
# proxy that exercises its choices); these values apply where neither the user nor the space
# sets one. train_score has none: "accuracy", or the space's choice where the proxy trains.
FALLBACK = {"proxy": "zero-cost", "proxy_resolution": 32, "zc_score": "naswot", "epochs": 6,
            "max_train": 5000, "top_k": 8}
RESUME_IDENTITY = IDENTITY + ("budget_quantile", "prescreen", *LATER_IDENTITY)


def identity(settings: SearchSettings) -> dict[str, object]:
    """The options that name a search (study names): renamed values keep their old spelling,
    so a run made before a rename continues its own study."""
    old = {new: name for name, new in RENAMED.items()}
    ident = {k: getattr(settings, k) for k in IDENTITY} | later_identity(settings)
    ident["zc_score"] = old.get(ident["zc_score"], ident["zc_score"])
    return ident


def later_identity(settings: SearchSettings) -> dict[str, object]:
    """The options of ``LATER_IDENTITY`` that are not at their default (for study names and
    reference-cache keys: keys made before an option existed stay valid)."""
    return {k: getattr(settings, k) for k, default in LATER_IDENTITY.items()
            if getattr(settings, k) != default}


OLD_RUN_QUANTILE = 0.5  # runs from before --budget-quantile were judged by the mean


@dataclass(frozen=True)
class SearchSettings:
    """One search, fully resolved (defaults filled in) and validated when made; frozen, so
    what config.yaml records is what the search ran with (change a copy: ``replace``)."""

    target: str
    budget: str
    budget_ms: float = 0.0
    space: str = "lowformer"
    trials: int = 300
    proxy: str | None = None  # None: the space's search_defaults, else FALLBACK
    dataset: str = "digits"
    data_dir: str | None = None
    backend: str = "optuna"
    seed: int = 0
    out: str | None = None
    storage: str | None = None
    address: str | None = None
    measure: bool = False
    sampler: str = "nsga2"
    epochs: int | None = None
    proxy_resolution: int | None = None
    zc_score: str | None = None
    train_score: str | None = None  # what ranks trained candidates: accuracy | loss
    top_k: int | None = None
    prescreen: str = "zc"
    max_train: int | None = None
    max_val: int = 1000
    references: list[str] = field(default_factory=lambda: ["all"])
    timeout: str | None = None  # wall-clock limit of this invocation (not of the study)
    heartbeat: int = 30  # --storage: seconds between heartbeats; silent 4x as long = failed
    budget_quantile: float | None = None  # None: the default of search/feasibility.py
    verify: bool = True  # measure-and-refit the picks here, or write a verification kit

    def __post_init__(self) -> None:
        self._fill_defaults()
        # set by _fill_defaults (the space's search_defaults, else FALLBACK)
        assert self.zc_score is not None and self.proxy is not None
        assert self.train_score is not None and self.proxy_resolution is not None
        self._resolve("zc_score", RENAMED.get(self.zc_score, self.zc_score))
        self._resolve("budget_ms", parse_budget(self.budget))
        self._resolve("budget_quantile", check_quantile(self.budget_quantile))
        if self.timeout is not None:
            parse_duration(self.timeout)
        _check_choice("proxy", self.proxy, PROXIES)
        _check_choice("backend", self.backend, BACKENDS)
        _check_choice("sampler", self.sampler, SAMPLERS)
        _check_choice("prescreen", self.prescreen, PRESCREENS)
        if self.prescreen != "zc" and (self.proxy != "two-stage" or self.backend != "optuna"):
            raise RunError(f"--prescreen {self.prescreen} picks the trained candidates of "
                           f"--proxy two-stage with --backend optuna, but got --proxy "
                           f"{self.proxy} --backend {self.backend}")
        _check_choice("zc-score", self.zc_score, SEARCH_ZC_SCORES)
        if self.zc_score == SMALL_DATA_PRIOR and self.proxy != "train":
            from ..accuracy.prior import load_prior

            load_prior().check_setting(self.dataset, self.proxy_resolution)
        _check_choice("train-score", self.train_score, TRAIN_SCORES)
        if self.train_score != "accuracy" and self.proxy == "zero-cost":
            raise RunError(f"--train-score ranks trained candidates and needs --proxy train or "
                           f"two-stage, but got --proxy {self.proxy}")
        check_dataset_spec(self.dataset)
        for name, low in (("trials", 1), ("epochs", 1), ("proxy_resolution", 16), ("top_k", 1),
                          ("max_train", 10), ("max_val", 10), ("seed", 0),
                          ("heartbeat", 1)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise RunError(f"--{name.replace('_', '-')} must be an integer >= {low}, "
                               f"but got {value!r}")
        if self.storage:
            check_storage_url(self.storage)
        if self.storage and self.backend == "ray":
            raise RunError("--storage is for the optuna backend; the ray backend keeps its "
                           "results in the run directory (use --address to share a cluster)")
        if self.address and self.backend != "ray":
            raise RunError(f"--address joins a Ray cluster and needs --backend ray, but "
                           f"--backend is {self.backend!r}")

    def _fill_defaults(self) -> None:
        """Options left unset take the space's ``search_defaults``, then ``FALLBACK``."""
        from ..space import SEARCH_DEFAULT_TYPES, load_space

        unset = [k for k in SEARCH_DEFAULT_TYPES if getattr(self, k) is None]
        if not unset:
            return

        chosen = dict(load_space(self.space).search_defaults)
        for k in unset:
            if k != "train_score":
                self._resolve(k, chosen.get(k, FALLBACK[k]))
        if self.train_score is None:
            trains = self.proxy != "zero-cost"
            self._resolve("train_score",
                          chosen.get("train_score", "accuracy") if trains else "accuracy")

    def _resolve(self, name: str, value: object) -> None:
        """Set a derived or defaulted field while the record is being made (it is frozen)."""
        object.__setattr__(self, name, value)

    @property
    def timeout_s(self) -> float | None:
        return parse_duration(self.timeout) if self.timeout is not None else None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SearchSettings:  # a config.yaml's settings
        names = {f.name for f in fields(cls)}
        d = dict({"budget_quantile": OLD_RUN_QUANTILE, **LATER_IDENTITY}, **d)
        return cls(**{k: v for k, v in d.items() if k in names and k != "budget_ms"})

    def differences(self, other: SearchSettings) -> list[str]:
        """Identity options that differ (``name: old -> new``)."""
        return [f"{k}: {getattr(other, k)!r} -> {getattr(self, k)!r}" for k in RESUME_IDENTITY
                if getattr(self, k) != getattr(other, k)]


def check_quantile(q: float | None) -> float | None:
    """``--budget-quantile`` must be a number strictly between 0 and 1 (None: the default)."""
    if q is None:
        return None
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 < float(q) < 1.0 \
            or not math.isfinite(q):
        raise RunError(f"--budget-quantile must be a number between 0 and 1 (exclusive), "
                       f"e.g. 0.9, but got {q!r}")
    return float(q)


def check_storage_url(url: str) -> None:
    """``--storage`` must be a database URL SQLAlchemy knows (checked before anything opens)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError):
        raise RunError(f"--storage must be a database URL such as "
                       f"postgresql://USER:PASSWORD@HOST/DB or sqlite:///PATH.db, "
                       f"but got {url!r}") from None


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise RunError(f"--{name} must be one of {', '.join(allowed)}, but got {value!r}")


def stage_plan(settings: SearchSettings) -> list[tuple[str, int]]:
    """(stage, trial count) in order: two-stage scores ``trials`` then trains ``top_k``."""
    if settings.proxy == "zero-cost":
        return [("zc", settings.trials)]
    if settings.proxy == "train":
        return [("train", settings.trials)]
    assert settings.top_k is not None  # SearchSettings fills it in
    return [("zc", settings.trials), ("train", min(settings.top_k, settings.trials))]
