"""Profiles change on purpose: a run's measurements go into the target's profile on request.

A search's verify loop refits the run's own profile (``RUN/verify/profile.json``); the cached
profile of the target, which later searches read, is left as it was. ``update_target`` is the
one way a run's measurements reach it: ``search --update-profile``, ``verify RUN
--update-profile`` and ``lowformer-nas calibrate --update-from RUN`` call it. Measurements
taken here are appended to the target's calibration journal (those it has already are
skipped) and the whole fit is redone; a kit's imported latencies refit the target's model
level. The result is written atomically where the target was read from (a built-in: the
user's profile of that name).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from ..errors import RunError
from .verify_journal import MeasureRecord, measures

if TYPE_CHECKING:  # annotations only
    from ..latency.targets.profiles import Profile


class Updated(TypedDict):
    """What ``update_target`` did: the file written, the sha256 before and after, how many
    measurements it added."""

    path: str
    from_sha: str
    sha: str
    added: int


def _target_path(profile: Profile) -> Path:
    """Where the target's profile lives: its file, or the user profile that replaces a
    built-in."""
    from ..latency.targets.registry import user_profile_path

    src = Path(profile.source) if profile.source else None
    return src if src is not None and src.is_file() else user_profile_path(profile.name)


def _refit_here(target: Profile, run: Path, rows: list[MeasureRecord]) -> tuple[Profile, int]:
    """The target refitted from its calibration journal plus the run's measurements here."""
    import json

    from ..latency.targets.calibrate import refit_with_models
    from ..latency.fitting.refit import journal_of, measurable_here, verified_in_journal

    path = journal_of(target)
    if path is None or not measurable_here(target):
        raise RunError(f"the picks of {str(run)!r} were measured on this machine, but the "
                       f"target {target.name!r} has no calibration journal here; only a "
                       f"profile calibrated on this machine can take them")
    have = verified_in_journal(path)
    new = [{"arch": json.loads(m["key"]), "ms": m["ms"], "resolution": m["resolution"]}
           for m in rows if (m["key"], m["ms"]) not in have]
    return refit_with_models(target, new), len(new)


def update_target(run: Path) -> Updated:
    """Refit the run's target profile with the run's measured picks and save it; returns
    ``{"path", "from_sha", "sha", "added"}``. RunError when the run measured nothing."""
    from ..latency import get_target
    from ..latency.fitting.refit import refit_model_level
    from ..rundir.config import read_run_config
    from .verify import DIR, JOURNAL
    from .verify_kit import model_rows

    settings = read_run_config(run)["settings"]
    log = run / DIR / JOURNAL
    recs = measures(_records(log))
    if not recs:
        raise RunError(f"{str(run)!r} has no measured picks ({log} lists none); run "
                       f"`lowformer-nas verify {run}` first")
    target = get_target(settings["target"])
    here = [r for r in recs if r.get("phase") != "import"]
    if here:
        new, added = _refit_here(target, run, here)
    else:
        new, added = refit_model_level(target, model_rows(recs)), len(recs)
    path = _target_path(target)
    new.save(path)
    return {"path": str(path), "from_sha": target.sha256, "sha": new.sha256, "added": added}


def _records(path: Path) -> list[dict[str, object]]:
    import json

    out = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def say_updated(res: Updated) -> str:
    """One line for the CLI."""
    return (f"profile {res['path']} updated with {res['added']} measured pick(s): "
            f"{res['from_sha'][:8]} -> {res['sha'][:8]}")
