"""``requirements.lock`` covers ``pyproject.toml``: every dependency (and the locked extras) is
pinned to exactly one version that its specifier allows, so ``pip install -c
requirements.lock -e ".[test,postgres]"`` cannot drift from what the project asks for."""
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: tomllib arrived in 3.11
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            assert canonicalize_name(name) not in pins, f"pinned twice: {name}"
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_lock_pins_every_dependency_within_its_specifier():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + [r for extra in ("test", "postgres")
                                      for r in project["optional-dependencies"][extra]]
    pins = _pins()
    for text in reqs:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock (relock: " \
                             f"python scripts/lock_requirements.py)"
        assert req.specifier.contains(pins[name], prereleases=True), (text, str(pins[name]))

