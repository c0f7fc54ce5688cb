"""Write ``requirements.lock``: exact pins of every package this project needs (with the
``test`` and ``postgres`` extras), read from the environment this is run in.

Why a walk and not ``pip freeze``: a working environment also holds tools someone installed
by hand; the lock holds only what ``pyproject.toml`` pulls in, so ``pip install -c
requirements.lock -e ".[test,postgres]"`` reproduces the environment the suite passed in.

    python scripts/lock_requirements.py            # rewrite requirements.lock
    python scripts/lock_requirements.py --check    # exit 1 if the lock is out of date
"""
from __future__ import annotations

import argparse
import platform
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
EXTRAS = ("test", "postgres")


def roots() -> list[Requirement]:
    """The project's requirements with the locked extras, from pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in EXTRAS:
        reqs += project["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs]


def closure(reqs: list[Requirement]) -> dict[str, str]:
    """name -> installed version for ``reqs`` and everything they require (markers of this
    interpreter; a missing package is an error: lock only a complete environment)."""
    pins: dict[str, str] = {}
    todo: list[tuple[Requirement, set[str]]] = [(r, set()) for r in reqs]
    seen: set[tuple[str, frozenset]] = set()
    while todo:
        req, extras = todo.pop()
        env = {"extra": ""}
        if req.marker and not any(req.marker.evaluate(dict(env, extra=e))
                                  for e in (extras or {""})):
            continue
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            sys.exit(f"lock: {req.name} (required) is not installed in {sys.prefix}")
        pins[key[0]] = dist.version
        todo += [(Requirement(r), set(req.extras)) for r in dist.requires or []]
    return pins


def render(pins: dict[str, str]) -> str:
    head = ["# Exact versions the test suite passed with (CPython "
            f"{platform.python_version()}, {platform.machine()} Linux).",
            "# Install: pip install -c requirements.lock -e \".[test,postgres]\"",
            "# Regenerate from a working environment: python scripts/lock_requirements.py",
            "# (.ci/run keys its cached environment on this file and pyproject.toml)"]
    return "\n".join(head + [f"{n}=={v}" for n, v in sorted(pins.items())]) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the lock differs")
    args = ap.parse_args()
    text = render(closure(roots()))
    if args.check:
        same = LOCK.is_file() and LOCK.read_text() == text
        print("lock: up to date" if same else "lock: requirements.lock is out of date")
        return 0 if same else 1
    LOCK.write_text(text)
    print(f"lock: wrote {LOCK} ({text.count('==')} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
