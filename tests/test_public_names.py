"""Public names mean one thing: no package exports a function or class under the name of one of
its own submodules.

Such a name flips from the function to the module as soon as anything imports the submodule
(``import pkg.measure`` sets ``pkg.measure``), so ``from pkg import measure`` then hands back a
module and calling it fails with ``'module' object is not callable`` (issue 11, found 1).
"""
from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import lowformer_nas

# names a package deliberately exports as a module (``lowformer_nas.compat`` -> arch.compat)
MODULE_EXPORTS = {("lowformer_nas", "compat")}


def _packages() -> list[str]:
    out = ["lowformer_nas"]
    for info in pkgutil.walk_packages(lowformer_nas.__path__, "lowformer_nas."):
        if info.ispkg:
            out.append(info.name)
    return out


def _submodules(package: str) -> dict[str, str]:
    """Short name -> full name of the direct submodules of ``package``."""
    pkg = importlib.import_module(package)
    return {i.name: f"{package}.{i.name}" for i in pkgutil.iter_modules(pkg.__path__)
            if i.name != "__main__"}  # importing ``__main__`` runs the command line


def _exported(package: str) -> list[str]:
    pkg = importlib.import_module(package)
    return sorted(set(getattr(pkg, "__all__", [])) | set(getattr(pkg, "_LAZY", {})))


@pytest.mark.parametrize("package", _packages())
def test_no_export_is_named_like_a_submodule(package):
    clashes = sorted(set(_exported(package)) & set(_submodules(package)))
    clashes = [n for n in clashes if (package, n) not in MODULE_EXPORTS]
    assert not clashes, f"{package} exports {clashes}, which are also its submodules"


@pytest.mark.parametrize("package", _packages())
def test_exports_stay_what_they_are_after_every_submodule_is_imported(package):
    """Import every submodule first (what a long session ends up doing), then every exported
    name, by attribute and by ``from ... import``, must still be the function/class/value."""
    for full in _submodules(package).values():
        importlib.import_module(full)
    pkg = importlib.import_module(package)
    for name in _exported(package):
        if (package, name) in MODULE_EXPORTS or name == "__version__":
            continue
        value = getattr(pkg, name)
        assert not isinstance(value, types.ModuleType), f"{package}.{name} is a module"
        namespace: dict[str, object] = {}
        exec(f"from {package} import {name}", namespace)
        assert namespace[name] is value


def test_search_measures_after_the_timing_module_was_imported():
    """The sequence of found 1: calibrating the local target imports the timing submodule,
    then ``search --measure`` asks the latency package for its measuring function."""
    from lowformer_nas.latency import get_target
    from lowformer_nas.search.objective import Evaluator
    from lowformer_nas.search.settings import SearchSettings
    from lowformer_nas.space import load_space

    for full in _submodules("lowformer_nas.latency").values():
        importlib.import_module(full)
    space = load_space("tiny")
    settings = SearchSettings(target="jetson", budget="40ms", space="tiny", measure=True)
    evaluator = Evaluator(settings, space, profile=get_target("jetson"), data=None)
    ms, std = evaluator.latency(space.sample(0))
    assert ms > 0 and std >= 0
