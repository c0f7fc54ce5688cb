"""The target registry: built-in names, aliases, user-calibrated profiles and ``local``.

User-calibrated profiles live in the cache directory under the target's name and take
precedence over the built-in prior of the same name; ``local`` is calibrated on first use.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from ...errors import ProfileError, UnknownNameError
from .builtin import BUILTINS
from .devices import NAME_RULE, check_name, device_table
from .level import levelled, load_check
from .profiles import FIT_VERSION, Profile, cache_dir, load_profile

LOCAL_BUDGET_MIN = 1.0  # first use of "local": about 60 s wall here, inside a 10-min search
ALIASES = {"jetson": "jetson-tx2", "gpu": "titan-rtx", "arm": "rpi5", "raspberry-pi-5": "rpi5"}


def user_profile_path(name: str) -> Path:
    """Where the user profile of ``name`` lives; a name that is not safe raises (never a path)."""
    return cache_dir() / "profiles" / f"{check_name(name, 'profile name')}.json"


def device_profile_name(name: str) -> str:
    """``calibrate --device NAME`` -> the profile name it writes (alias resolved), checked safe."""
    return ALIASES.get(check_name(name, "--device"), name)


def host_contradiction(name: str, torch_device: str = "cpu") -> str | None:
    """Why calibrating device ``name`` on this host would store the wrong machine's timings
    (architecture or CUDA differ from the device table's row), or None."""
    from ..measurement.host import architecture

    target = ALIASES.get(name, name)
    spec = device_table().get(target)
    if spec is None:
        return None
    means = f"--device {name!r} is {spec.title}" + (f" (target {target})" if target != name
                                                    else "")
    fix = "run calibrate on that device, use --export-kit DIR, or pass --force"
    here, cuda = architecture(), torch_device.startswith("cuda")
    if spec.architecture not in ("any", here):
        return f"{means}, an {spec.architecture} device, but this host is {here}; {fix}"
    if spec.cuda != cuda:
        need = "--torch-device cuda" if spec.cuda else "a CPU torch device"
        return f"{means}, which needs {need}, but --torch-device is {torch_device!r}; {fix}"
    return None


class TargetInfo(NamedTuple):
    """(name, one-line description); prints as an aligned line."""

    name: str
    description: str
    host: str = ""

    def __str__(self) -> str:
        return f"{self.name:<12} {self.description}" + (f"\n{'':<15}{self.host}" if self.host
                                                        else "")


def list_targets() -> list[TargetInfo]:
    """Built-in targets with provenance and expected error (user-calibrated ones win)."""
    out = []
    for name in ("local",) + tuple(BUILTINS) + tuple(user_profile_names()):
        alias = ", ".join(a for a, t in ALIASES.items() if t == name)
        user, host = user_profile_path(name), ""
        if user.is_file():
            try:
                prof = load_profile(user)
                desc, host = prof.describe() + f" [user profile {user}]", prof.describe_host()
            except ProfileError as e:
                desc = f"damaged user profile: {e}"
        elif name == "local":
            desc = "this machine, torch eager, 1 thread: calibrated on first use (~1 min), cached"
        else:
            desc, host = BUILTINS[name]().describe(), BUILTINS[name]().describe_host()
        out.append(TargetInfo(name, desc + (f" (alias: {alias})" if alias else ""), host))
    return out


def user_profile_names() -> list[str]:
    """Profiles calibrated under names that are not built in (``calibrate --device pi-zero``)."""
    folder = cache_dir() / "profiles"
    taken = {"local", *BUILTINS, *ALIASES}
    return sorted(p.stem for p in folder.glob("*.json") if p.stem not in taken and
                  NAME_RULE.fullmatch(p.stem)) if folder.is_dir() else []


def known_targets() -> list[str]:
    return ["local"] + list(BUILTINS) + list(ALIASES) + user_profile_names()


def get_target(name_or_path: str) -> Profile:
    """A built-in target name, an alias, or a profile JSON path -> ``Profile``."""
    if name_or_path.endswith(".json") or os.sep in name_or_path or os.path.isfile(name_or_path):
        return load_profile(name_or_path)
    name = ALIASES.get(name_or_path, name_or_path)
    user = user_profile_path(name) if NAME_RULE.fullmatch(name) else None
    if user is not None and user.is_file() and not (name == "local" and _stale(user)):
        return levelled(load_profile(user), load_check(user))
    if name in BUILTINS:
        return BUILTINS[name]()
    if name == "local" and user is not None:
        return levelled(_calibrate_local(user), load_check(user))
    raise UnknownNameError(f"unknown latency target {name_or_path!r}; known: "
                           f"{', '.join(known_targets())}, or a profile .json path")


def _stale(path: Path) -> bool:
    """A cached 'local' profile from an older fit: refit it (its journal is kept, so this only
    costs the fit unless the journal is gone)."""
    return load_profile(path).data.get("fit_version", 1) < FIT_VERSION


def _calibrate_local(user: Path) -> Profile:
    """First use of 'local': calibrate once, in a fresh process (``lowformer-nas calibrate``:
    the caller's state, e.g. a search's, cannot change its timings); a file lock makes
    parallel workers wait for the first one instead of calibrating side by side (and
    disturbing each other's timings)."""
    import fcntl
    import subprocess
    import sys

    user.parent.mkdir(parents=True, exist_ok=True)
    with open(user.parent / ".local.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if user.is_file() and not _stale(user):
            return load_profile(user)
        sys.stderr.write(f"lowformer-nas: calibrating target 'local' on this machine (about "
                         f"{LOCAL_BUDGET_MIN:g} min, once; cached in {user})\n")
        cmd = [sys.executable, "-m", "lowformer_nas", "calibrate", "--device", "local",
               "--budget-minutes", f"{LOCAL_BUDGET_MIN:g}"]
        tty = sys.stderr.isatty()  # then its progress bar shows on the caller's terminal
        done = subprocess.run(cmd if tty else cmd + ["--no-progress"], text=True,
                              stdout=subprocess.DEVNULL, stderr=None if tty else subprocess.PIPE)
        if done.returncode != 0 or not user.is_file():
            said = (done.stderr or "see above").strip().splitlines() or ["no output"]
            raise ProfileError(f"the first-use calibration of 'local' failed: {said[-1]}")
    return load_profile(user)
