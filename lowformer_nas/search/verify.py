"""Measure-and-refit: the latencies of the architectures a search picks, measured, not trusted.

A search that minimises predicted latency is drawn to wherever the predictor is too low; random
held-out configs say nothing about that. So, when the target is this machine, the search
measures its Pareto front and B0-B3 (few configs, short interleaved rounds), appends those
whole-model latencies to the profile's calibration journal, refits, and switches the evaluator
to the refitted profile: after every generation during the search (so the sampler stops
exploiting the same blind spot) and in a few bounded rounds at the end. B0-B3 are then picked
from *measured* latencies. For a target this machine cannot reach, the run gets a verification
kit (ONNX + standalone runner) and ``lowformer-nas verify RUN --import results.csv`` closes
the loop later.

Everything lives in ``RUN/verify/``: ``journal.jsonl`` (every measurement and refit, fsynced;
the source of truth on resume, so a kill loses nothing and nothing is measured twice),
``profile-initial.json`` (the profile the run started with), ``profile.json`` (the latest)
and ``calibration.jsonl`` (the run's copy of the target's calibration journal, which its
refits extend). The refits belong to the run: the target's cached profile and journal are
left as they were unless the user asks (``search --update-profile``, ``calibrate
--update-from RUN``: ``verify_update.py``). The picks are timed in a fresh measurement worker
(``latency/measurement/worker.py``) under the protocol of ``lowformer-nas measure``, and each
journal record names that protocol and the host.
"""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import RunError
from ..rundir.rows import TrialRow, row_key
from .verify_journal import Candidate, MeasureRecord, measures

if TYPE_CHECKING:  # annotations only
    from ..latency.measurement.worker import WorkerRecord
    from ..latency.targets.profiles import Profile
    from ..space import SearchSpace
    from .feasibility import BudgetRule
    from .references import Finisher
    from .settings import SearchSettings

DIR, JOURNAL, INITIAL, CURRENT = "verify", "journal.jsonl", "profile-initial.json", "profile.json"
CALIBRATION = "calibration.jsonl"  # the run's copy of the target's calibration journal
MID_ROUNDS, MID_CAP = 3, 4  # during the search: rounds, configs measured per round
FINAL_ROUNDS, FINAL_CAP = 3, 8  # at the end: until the picks are all measured, bounded
MIN_TIME_S = 2.0  # timing per verified model: the protocol of `lowformer-nas measure`
PROBES = 2  # with no feasible trial, the fastest configs measured instead


def run_profiles(run: Path) -> tuple[Profile, Profile] | None:
    """(initial, latest) profile of a run that verified before, else None."""
    from ..latency.targets.profiles import load_profile

    d = run / DIR
    if not (d / INITIAL).is_file():
        return None
    latest = d / CURRENT if (d / CURRENT).is_file() else d / INITIAL
    return load_profile(d / INITIAL), load_profile(latest)


def _ok(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


class Verifier:
    """The verify state of one run directory (see the module docstring)."""

    def __init__(self, run: Path, settings: SearchSettings, resolution: int, initial: Profile,
                 current: Profile, quiet: bool = True) -> None:
        """``initial``/``current``: the run's first and latest profile (equal on a new run;
        a new run's ``initial.source`` is the target's file, written only on request:
        ``verify_update``)."""
        from ..latency.targets.calibrate import Journal
        from ..latency.fitting.refit import measurable_here

        self.run, self.settings, self.resolution = run, settings, resolution
        self.initial, self.current, self.quiet = initial, current, quiet
        self.dir = run / DIR
        if not (self.dir / INITIAL).is_file():
            initial.save(self.dir / INITIAL)
        src = initial.source if initial.source and Path(initial.source).is_file() and \
            Path(initial.source).parent.resolve() != self.dir.resolve() else None
        header = {"device": initial.name, "backend": "verify", "threads": 0,
                  "space": settings.space, "target_file": src}
        self.log = Journal(self.dir / JOURNAL, header)
        self.measurable = measurable_here(current) and not settings.measure
        if self.measurable:
            self._own_journal()
        self._t0 = time.perf_counter()
        self._pred: dict[str, tuple[str, float, float]] = {}  # key: (profile sha, ms, std)
        self._reconcile()

    # -- what is known -------------------------------------------------------------------------
    @property
    def measured(self) -> dict[str, MeasureRecord]:
        return {r["key"]: r for r in measures(self.log.records)}

    def _rounds_done(self, phase: str) -> int:
        return sum(1 for r in self.log.of_kind("refit") if r.get("phase") == phase)

    def predicted(self, key: str) -> float:
        """Latest profile's prediction (ms) for a config key (cached per profile)."""
        return self._predict(key)[0]

    def _predict(self, key: str) -> tuple[float, float]:
        """(ms, std ms) by the latest profile, cached per profile."""
        from ..arch.yaml_io import config_from_dict

        sha = self.current.sha256
        got = self._pred.get(key)
        if got is None or got[0] != sha:
            p = self.current.predict(config_from_dict(json.loads(key)), self.resolution, 1)
            got = (sha, p.latency_ms, p.std_ms)
            self._pred[key] = got
        return got[1], got[2]

    def rule(self) -> BudgetRule:
        """The search's feasibility rule (``--budget-quantile``) with the latest profile."""
        from .feasibility import budget_rule, with_quantile

        return budget_rule(with_quantile(self.settings, self.initial), self.current)

    def latency(self, key: str) -> float:
        m = self.measured.get(key)
        return float(m["ms"]) if m else self.predicted(key)

    # -- rows ----------------------------------------------------------------------------------
    def annotate(self, rows: Sequence[TrialRow]) -> list[TrialRow]:
        """Rows with ``trial_latency_ms`` (what the sampler saw), ``predicted_ms`` and
        ``profile_sha`` (latest profile), ``measured_ms``; ``latency_ms`` and ``feasible``
        become measured-else-latest-prediction."""
        measured, rule, sha = self.measured, self.rule(), self.current.sha256[:12]
        return [self._annotated(row, measured, rule, sha) for row in rows]

    def _annotated(self, row: TrialRow, measured: Mapping[str, MeasureRecord],
                   rule: BudgetRule, sha: str) -> TrialRow:
        r = row.copy()
        config, lat = r.get("config"), r.get("latency_ms")
        if not config or lat is None:
            return r
        key = row_key(config)
        trial = r.get("trial_latency_ms")
        r["trial_latency_ms"] = trial if _ok(trial) else lat
        pred, std = self._predict(key)
        r["predicted_ms"], r["profile_sha"] = pred, sha
        m = measured.get(key)
        ms = float(m["ms"]) if m else None
        r["measured_ms"] = ms
        r["latency_ms"] = new = ms if ms is not None else pred
        r["latency_std_ms"] = 0.0 if m else std
        if r.get("state") == "COMPLETE":  # measured: as it is; else the quantile rule
            r["feasible"] = new <= self.settings.budget_ms if m else rule.fits(new, std)
        return r

    def annotate_references(self, refs: Sequence[Mapping[str, object]]
                            ) -> list[dict[str, object]]:
        """Official variants re-predicted by the latest profile (their scores are cached);
        other references keep the prediction they were scored with."""
        from ..arch.registry import OFFICIAL_NAMES, get_arch

        if self.current.sha256 == self.initial.sha256:  # nothing refitted: as they were scored
            return [dict(r) for r in refs]
        out, rule, sha = [], self.rule(), self.current.sha256[:12]
        for r in refs:
            name = r.get("name")
            if isinstance(name, str) and name in OFFICIAL_NAMES \
                    and r.get("latency_ms") is not None:
                p = self.current.predict(get_arch(name), self.resolution, 1)
                r = dict(r, latency_ms=p.latency_ms, predicted_ms=p.latency_ms, profile_sha=sha,
                         feasible=rule.fits(p.latency_ms, p.std_ms),
                         latency_source=f"predicted (analytic) with profile "
                                        f"{self.current.name} sha256 {sha} (refitted)")
            out.append(dict(r))
        return out

    def candidates(self, rows: Sequence[TrialRow], stage: str) -> list[Candidate]:
        """B0-B3 then the rest of the front (latest latencies), unique configs; with no
        feasible trial, the fastest ones (the profile may over-predict)."""
        from ..rundir.family import pick_family
        from ..rundir.pareto import front_indices

        pts: list[Candidate] = []
        seen: set[str] = set()
        for r in self.annotate(rows):
            config = r.get("config")
            if r["stage"] == stage and r["state"] == "COMPLETE" and r.get("feasible") \
                    and _ok(r.get("score")) and config and not r.get("duplicate"):
                key = row_key(config)
                if key not in seen:
                    seen.add(key)
                    pts.append(_candidate(r, key))
        if not pts:  # nothing feasible: probe the fastest configs, the profile may over-predict
            return self._fastest(rows, stage, PROBES)
        arr = np.array([[p["score"], p["latency_ms"]] for p in pts])
        fam = [i for i in pick_family(arr[:, 1], arr[:, 0], self.settings.budget_ms).values()
               if i is not None]
        front = [int(i) for i in front_indices(arr, (True, False), sort_col=1)]
        return [pts[i] for i in dict.fromkeys(fam + front)]

    def _fastest(self, rows: Sequence[TrialRow], stage: str, n: int) -> list[Candidate]:
        done: dict[str, TrialRow] = {}
        for r in self.annotate(rows):
            config = r.get("config")
            if r["stage"] == stage and r["state"] == "COMPLETE" and config:
                done.setdefault(row_key(config), r)
        fast = sorted(done.items(), key=lambda kv: cast(float, kv[1]["latency_ms"]))[:n]
        return [_candidate(r, k) for k, r in fast]

    # -- measuring and refitting ---------------------------------------------------------------
    def round(self, rows: Sequence[TrialRow], stage: str, phase: str, cap: int) -> bool:
        """Measure up to ``cap`` unmeasured picks, journal them, refit; False if none left."""
        todo = [c for c in self.candidates(rows, stage) if c["key"] not in self.measured][:cap]
        if not todo:
            return False
        t0 = self._t0 = time.perf_counter()  # round_s: measuring + refit, for the benchmark
        recs = self._measure([c["key"] for c in todo])
        cost = (time.perf_counter() - t0) / len(todo)
        n = self._rounds_done(phase) + 1
        for c, m in zip(todo, recs):
            self.log.append({"kind": "measure", "key": c["key"], "ms": m["latency_ms"],
                             "stage": stage, "number": c["number"],
                             "predicted_ms": c["predicted_ms"],
                             "profile_sha": self.current.sha256, "phase": phase, "round": n,
                             "resolution": self.resolution, "cost_s": cost, "source": "here",
                             "protocol": m["protocol"], "host": m["host"]})
        self._refit(phase, n, rows)
        return True

    def _measure(self, keys: Sequence[str]) -> list[WorkerRecord]:
        """Whole-model latencies with the profile's own setup, timed in one fresh worker."""
        from ..latency.fitting.refit import measure_setup
        from ..latency.measurement.worker import measure_in_worker

        s = measure_setup(self.current)
        return measure_in_worker([json.loads(k) for k in keys], self.resolution, s["backend"],
                                 s["threads"], s["device"], min_time_s=MIN_TIME_S)

    def _own_journal(self) -> None:
        """The run's copy of the target's calibration journal (made once): the run's refits
        extend the copy, never the target's own journal."""
        import shutil

        from ..latency.fitting.refit import journal_of

        own = self.dir / CALIBRATION
        src = journal_of(self.initial)
        if not own.is_file() and src is not None and src.resolve() != own.resolve():
            tmp = own.with_suffix(".tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(own)

    def _reconcile(self) -> None:
        """After a kill: a round cut between its measurements and its refit is refitted now
        (measurements not yet in the calibration journal are appended then)."""
        recs = self.log.records
        if self.measurable and recs and recs[-1].get("kind") == "measure":
            self._refit(recs[-1]["phase"], recs[-1]["round"], [])

    def _refit(self, phase: str, n: int, rows: Sequence[TrialRow]) -> None:
        """Append this run's measurements the calibration journal lacks, refit, save, log."""
        from ..latency.targets.calibrate import refit_with_models
        from ..latency.fitting.refit import verified_in_journal

        path = self.dir / CALIBRATION
        if not path.is_file():
            return
        have = verified_in_journal(path)
        new = [{"arch": json.loads(m["key"]), "ms": m["ms"], "resolution": m["resolution"]}
               for m in measures(self.log.records) if (m["key"], m["ms"]) not in have]
        old = self.current
        self.current = refit_with_models(str(path), new)
        self._save(old)
        self.log.append({"kind": "refit", "phase": phase, "round": n,
                         "sha": self.current.sha256, "from_sha": old.sha256,
                         "error": self.current.data.get("error", {}),
                         "round_s": time.perf_counter() - self._t0})
        self._say(phase, n, old)

    def _save(self, old: Profile) -> None:
        """The run's profile (``verify/profile.json``); the target's own file is left as it
        was (``verify_update.update_target`` writes it when the user asks)."""
        self.current.save(self.dir / CURRENT)

    def _say(self, phase: str, n: int, old: Profile) -> None:
        if self.quiet:
            return
        new = [m for m in measures(self.log.records) if m["round"] == n
               and m["phase"] == phase]
        errs = [100 * (m["predicted_ms"] / m["ms"] - 1) for m in new]
        err = self.current.data.get("error", {})
        sys.stderr.write(
            f"verify ({phase} round {n}): measured {len(new)} picks here, prediction error "
            f"{min(errs):+.0f}%..{max(errs):+.0f}%; profile {old.sha256[:8]} -> "
            f"{self.current.sha256[:8]} (LOO MAPE {err.get('mape_pct', float('nan')):.1f}%)\n")

    # -- the two places the search calls -------------------------------------------------------
    def during_search(self, rows: Sequence[TrialRow], stage: str, done: int,
                      every: int) -> Profile | None:
        """After a finished trial: every ``every`` trials (a generation) one short round;
        returns the refitted profile for the evaluator, or None."""
        n = self._rounds_done("search")
        if not self.measurable or n >= MID_ROUNDS or done < (n + 1) * every:
            return None
        if not self.round(rows, stage, "search", MID_CAP):
            self.log.append({"kind": "refit", "phase": "search", "round": n + 1,
                             "sha": self.current.sha256, "from_sha": self.current.sha256,
                             "note": "nothing new to measure"})
            return None
        return self.current

    def final(self, rows: Sequence[TrialRow], stage: str) -> None:
        """Bounded rounds until every pick is measured; or, unreachable target, the kit."""
        if self.measurable:
            for _ in range(FINAL_ROUNDS - self._rounds_done("final")):
                if not self.round(rows, stage, "final", FINAL_CAP):
                    break
        elif not self.settings.measure:
            from .verify_kit import write_kit

            write_kit(self, rows, stage)


def publish(run: Path, space: SearchSpace, ver: Verifier,
            refs: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """trials.csv with the latest latencies; returns the references annotated the same way,
    for the report files (B0-B3 re-picked from them) that the caller's finisher writes."""
    from ..rundir.rows import TrialsFile

    TrialsFile(run / "trials.csv", space, ver.annotate).reannotate()
    return ver.annotate_references(refs)


def verify_run(run: Path, import_csv: str | None = None, quiet: bool = False,
               finish: Finisher | None = None) -> dict[str, object]:
    """``lowformer-nas verify RUN``: import a kit's results (any target), or measure the picks
    here (a measurable target); then re-pick B0-B3 and rewrite the run's files."""
    import os

    from ..latency import get_target
    from ..rundir.lock import lock_run_dir
    from ..space import load_space
    from ..rundir.config import read_run_config
    from ..rundir.rows import read_trials_csv
    from .references import _load
    from .settings import SearchSettings, stage_plan
    from .verify_kit import import_results, write_kit

    config = read_run_config(run)
    settings = SearchSettings.from_dict(config["settings"])
    if settings.measure:
        raise RunError(f"{str(run)!r} was searched with --measure: its latencies are measured "
                       f"already, there is nothing to verify")
    space = load_space(settings.space)
    rows = read_trials_csv(run / "trials.csv")
    own = run_profiles(run)
    initial, latest = own if own else (get_target(settings.target),) * 2
    recorded = config.get("profile") or {}  # the calibration; level checks since do not count
    if initial.base_sha256 != recorded.get("base_sha256", recorded.get("sha256",
                                                                       initial.base_sha256)):
        raise RunError(f"the target {settings.target!r} changed since {str(run)!r} was searched "
                       f"(profile sha256 differs); verify the run with the profile it used")
    fd = lock_run_dir(run)
    try:
        ver = Verifier(run, settings, space.resolution, initial, latest, quiet=quiet)
        stage = stage_plan(settings)[-1][0]
        if import_csv:
            import_results(ver, import_csv, rows)
        elif ver.measurable:
            ver.final(rows, stage)
        else:
            write_kit(ver, rows, stage)
        refs = publish(run, space, ver, [dict(r) for r in _load(run / "reference.json")
                                         .get("rows", [])])
        if finish is None:  # see run.Finisher: the CLI passes report.finish.finish_run
            return {"references": refs}
        return finish(run, refs, settings, initial, quiet)
    finally:
        os.close(fd)


def _candidate(row: TrialRow, key: str) -> Candidate:
    c: Candidate = {**row, "key": key}
    return c
