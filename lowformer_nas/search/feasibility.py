"""The one rule deciding whether a config fits the latency budget (both backends, references).

A predicted latency is a distribution, not a number: the search counts a config feasible only
when its ``--budget-quantile`` Q latency fits the budget, so a B3 "at 30 ms" stays under 30 ms
on the device with probability about Q. Default: 0.9 for a profile calibrated on this machine
(its intervals are conformal quantiles of cross-validated residuals, checked by
``benchmarks/latency_accuracy.py``), 0.5 for any other profile (spec-sheet priors and a few
published latencies: their spread is a guess, and a 0.9 would only move the budget by a guessed
factor). Measured latencies (``--measure``) are compared as they are.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .settings import check_quantile  # noqa: F401  (re-exported: it was defined here)

if TYPE_CHECKING:  # annotations only
    from ..latency.targets.profiles import Profile
    from .settings import SearchSettings

MEASURED_HERE_Q = 0.9  # default for profiles calibrated on this machine (journal here)
OTHER_Q = 0.5  # default for spec-sheet priors and profiles fitted to published latencies


def calibrated_here(profile: Profile) -> bool:
    """Whether ``profile`` was measured on this machine (its calibration journal is here)."""
    journal = profile.data.get("journal")
    return profile.data.get("status") == "calibrated" and bool(journal) \
        and Path(str(journal)).is_file()


def default_quantile(profile: Profile) -> float:
    return MEASURED_HERE_Q if calibrated_here(profile) else OTHER_Q


def with_quantile(settings: SearchSettings, profile: Profile) -> SearchSettings:
    """``settings`` with ``--budget-quantile`` resolved (its default depends on the profile),
    once, before config.yaml is compared or written: a new record, the old one unchanged."""
    if settings.budget_quantile is not None:
        return settings
    from dataclasses import replace

    return replace(settings, budget_quantile=default_quantile(profile))


def budget_rule(settings: SearchSettings, profile: Profile) -> BudgetRule:
    """The search's feasibility rule for ``profile`` (settings resolved by ``with_quantile``;
    a ``--measure`` search compares its measurements as they are)."""
    assert settings.budget_quantile is not None, "resolve the quantile first (with_quantile)"
    return BudgetRule(settings.budget_ms, settings.budget_quantile, profile,
                      measured=settings.measure)


class BudgetRule:
    """``budget_latency(ms, std)``: the latency compared with the budget; ``fits``: the rule."""

    def __init__(self, budget_ms: float, quantile: float, profile: Profile,
                 measured: bool = False) -> None:
        self.budget_ms, self.quantile, self.measured = budget_ms, quantile, measured
        self.interval = None if profile is None else profile.data["params"].get("interval")

    def budget_latency(self, latency_ms: float, std_ms: float) -> float:
        """The Q-quantile of a predicted latency (a measured one as it is)."""
        if self.measured or latency_ms <= 0:
            return latency_ms
        from ..latency.fitting.intervals import factor_at

        return latency_ms * factor_at(self.interval, std_ms / latency_ms, self.quantile,
                                      latency_ms)

    def fits(self, latency_ms: float, std_ms: float) -> bool:
        return self.budget_latency(latency_ms, std_ms) <= self.budget_ms

    def describe(self) -> str:
        if self.measured:
            return "feasible: measured latency <= budget"
        return f"feasible: predicted {self.quantile:g}-quantile latency <= budget"
