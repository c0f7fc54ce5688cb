"""Optuna and Ray through their public API only (issue 22): no import of a private module
(``optuna.storages._rdb``, ``ray.tune._internal``) and no ``obj._name`` on an object of
theirs, in any module that uses them. Read from the source with ``ast``: a private name is
foreign when the package never defines it itself (``self._x``, our own ``_helpers``)."""
from __future__ import annotations

import ast
from pathlib import Path

import lowformer_nas

ROOT = Path(lowformer_nas.__file__).parent
FOREIGN = ("optuna", "ray")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _trees() -> dict[Path, ast.AST]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(ROOT.rglob("*.py"))}


def _own_names(trees: dict[Path, ast.AST]) -> set[str]:
    """Every private name the package defines: functions, classes, attributes, variables."""
    own: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                own.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            elif isinstance(node, ast.arg):
                own.add(node.arg)
    return {n for n in own if _private(n)}


def _uses_foreign(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
        if any(n.split(".")[0] in FOREIGN for n in names):
            return True
    return False


def foreign_private_uses(trees: dict[Path, ast.AST]) -> list[str]:
    own = _own_names(trees)
    found = []
    for path, tree in trees.items():
        if not _uses_foreign(tree):
            continue
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                parts = node.module.split(".")
                if parts[0] in FOREIGN and any(_private(p) for p in parts):
                    found.append(f"{where}:{node.lineno} imports {node.module}")
                found += [f"{where}:{node.lineno} imports {node.module}.{a.name}"
                          for a in node.names if parts[0] in FOREIGN and _private(a.name)]
            elif isinstance(node, ast.Import):
                found += [f"{where}:{node.lineno} imports {a.name}" for a in node.names
                          if a.name.split(".")[0] in FOREIGN
                          and any(_private(p) for p in a.name.split("."))]
            elif isinstance(node, ast.Attribute) and _private(node.attr) \
                    and node.attr not in own:
                found.append(f"{where}:{node.lineno} uses .{node.attr}")
    return found


def test_no_private_optuna_or_ray_api():
    found = foreign_private_uses(_trees())
    assert not found, "\n".join(found)


def test_the_checker_sees_private_use():
    """It finds what the old storage fork did (else the test above could not fail)."""
    src = ("import optuna\n"
           "from optuna.storages._cached_storage import _CachedStorage\n"
           "import optuna.storages._rdb.models\n"
           "def f(study, trial):\n"
           "    self._mine = 1\n"
           "    return study._storage.get_trial(trial._trial_id), self._mine\n")
    found = foreign_private_uses({ROOT / "x.py": ast.parse(src)})
    assert len(found) == 5, found  # two imports (module, name), one more, two attributes
    assert not any("_mine" in f for f in found)
