"""The target registry: built-in names, aliases, user-calibrated profiles and ``local``.

User-calibrated profiles live in the cache directory under the target's name and take
precedence over the built-in prior of the same name; ``local`` is calibrated on first use.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, NamedTuple

from ..errors import ProfileError, UnknownNameError
from .builtin import BUILTINS
from .profiles import FIT_VERSION, Profile, cache_dir, load_profile

LOCAL_BUDGET_MIN = 1.0  # first use of "local": about 60 s wall here, inside a 10-min search
ALIASES = {"jetson": "jetson-tx2", "gpu": "titan-rtx", "arm": "rpi5", "raspberry-pi-5": "rpi5"}


def user_profile_path(name: str) -> Path:
    return cache_dir() / "profiles" / f"{name}.json"


class TargetInfo(NamedTuple):
    """(name, one-line description); prints as an aligned line."""

    name: str
    description: str

    def __str__(self) -> str:
        return f"{self.name:<12} {self.description}"


def list_targets() -> List[TargetInfo]:
    """Built-in targets with provenance and expected error (user-calibrated ones win)."""
    out = []
    for name in ("local",) + tuple(BUILTINS) + tuple(user_profile_names()):
        alias = ", ".join(a for a, t in ALIASES.items() if t == name)
        user = user_profile_path(name)
        if user.is_file():
            try:
                desc = load_profile(user).describe() + f" [user profile {user}]"
            except ProfileError as e:
                desc = f"damaged user profile: {e}"
        elif name == "local":
            desc = "this machine, torch eager, 1 thread: calibrated on first use (~1 min), cached"
        else:
            desc = BUILTINS[name]().describe()
        out.append(TargetInfo(name, desc + (f" (alias: {alias})" if alias else "")))
    return out


def user_profile_names() -> List[str]:
    """Profiles calibrated under names that are not built in (``calibrate --device pi-zero``)."""
    folder = cache_dir() / "profiles"
    taken = {"local", *BUILTINS, *ALIASES}
    return sorted(p.stem for p in folder.glob("*.json") if p.stem not in taken) \
        if folder.is_dir() else []


def known_targets() -> List[str]:
    return ["local"] + list(BUILTINS) + list(ALIASES) + user_profile_names()


def get_target(name_or_path: str) -> Profile:
    """A built-in target name, an alias, or a profile JSON path -> ``Profile``."""
    if name_or_path.endswith(".json") or os.sep in name_or_path or os.path.isfile(name_or_path):
        return load_profile(name_or_path)
    name = ALIASES.get(name_or_path, name_or_path)
    user = user_profile_path(name)
    if user.is_file() and not (name == "local" and _stale(user)):
        return load_profile(user)
    if name in BUILTINS:
        return BUILTINS[name]()
    if name == "local":
        return _calibrate_local(user)
    raise UnknownNameError(f"unknown latency target {name_or_path!r}; known: "
                           f"{', '.join(known_targets())}, or a profile .json path")


def _stale(path: Path) -> bool:
    """A cached 'local' profile from an older fit: refit it (its journal is kept, so this only
    costs the fit unless the journal is gone)."""
    return load_profile(path).data.get("fit_version", 1) < FIT_VERSION


def _calibrate_local(user: Path) -> Profile:
    """First use of 'local': calibrate once; a file lock makes parallel workers wait for the
    first one instead of calibrating side by side (and disturbing each other's timings)."""
    import fcntl
    import sys

    from .calibrate import calibrate

    user.parent.mkdir(parents=True, exist_ok=True)
    with open(user.parent / ".local.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if user.is_file() and not _stale(user):
            return load_profile(user)
        sys.stderr.write(f"lowformer-nas: calibrating target 'local' on this machine (about "
                         f"{LOCAL_BUDGET_MIN:g} min, once; cached in {user})\n")
        prof = calibrate(device="local", budget_minutes=LOCAL_BUDGET_MIN,
                         progress=sys.stderr.isatty())
        prof.save(user)
    return load_profile(user)
