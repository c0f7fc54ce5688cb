"""The package's layers: each package imports only the ones below it, and no two import each other.

Order (the project brief's): ``_io``/``errors`` -> arch -> space -> latency -> accuracy -> rundir
-> search -> report -> cli. ``report`` reads a run directory (``rundir``) and never a live study;
the search never imports it: the CLI hands the search a finisher (``search.run.Finisher``) that
writes the pages at the end of a run. Read from the source with
``ast`` (every ``import``, also the deferred ones inside functions), so a violation fails here
before it becomes an import cycle at run time.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lowformer_nas

ROOT = Path(lowformer_nas.__file__).parent
LAYERS = ("_io", "errors", "arch", "space", "latency", "accuracy", "rundir", "search", "report",
          "cli")
RANK = {name: (0 if name in ("_io", "errors") else i) for i, name in enumerate(LAYERS)}
TOP = ("__init__", "__main__")  # the package facade and `python -m`: may import anything


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every lowformer_nas import in one file."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out += [(node.lineno, _from_target(mod, a.name, node.module)) for a in node.names]
    return [(line, m) for line, m in out if m.split(".")[0] == "lowformer_nas"]


def _from_target(mod: str, name: str, module) -> str:
    """``from .. import x`` names a submodule x when there is one, else an attribute of mod."""
    if module:
        return mod
    sub = ROOT.parent.joinpath(*mod.split("."), name)
    return f"{mod}.{name}" if sub.is_dir() or sub.with_suffix(".py").is_file() else mod


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _package_graph() -> tuple[dict[str, set[str]], list[str]]:
    graph: dict[str, set[str]] = {}
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        src = _layer(_module_name(path)) if path.parent != ROOT else path.stem
        for line, target in _imports(path):
            dst = _layer(target)
            if dst in TOP or src == dst:
                continue
            graph.setdefault(src, set()).add(dst)
            if src in TOP:
                continue
            if src not in RANK or dst not in RANK:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target}: package "
                              f"not in the layer list {LAYERS}")
            elif RANK[dst] > RANK[src]:
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {target} "
                              f"({dst} is above {src})")
    return graph, list(dict.fromkeys(upward))


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every package-level cycle (as a path), found by depth-first search."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_from_a_higher_layer():
    _, upward = _package_graph()
    assert not upward, "\n".join(upward)


def test_no_import_cycle_between_packages():
    graph, _ = _package_graph()
    assert not _cycles(graph), _cycles(graph)


def _module_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (deferred imports too)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ROOT.rglob("*.py")):
        src = _module_name(path)
        graph[src] = {m for _, m in _imports(path) if m != src}
    return graph


def test_no_import_cycle_between_modules():
    """Not even a deferred one (issue 22: run <-> verify, the Optuna backend <-> prescreen,
    builder <-> timm entrypoint were such cycles): a module that needs another's function
    either sits above it or the function moves down."""
    cycles = _cycles(_module_graph())
    assert not cycles, cycles


def test_the_checker_sees_a_violation(tmp_path):
    """The walk resolves relative and deferred imports (else the tests above could not fail)."""
    mod = ROOT / "report" / "runinfo.py"
    found = [m for _, m in _imports(mod)]
    assert "lowformer_nas.rundir.rows" in found
    assert "lowformer_nas" in [m for _, m in _imports(ROOT / "cli" / "__init__.py")]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("layer", [name for name in LAYERS if name not in ("_io", "errors")])
def test_every_layer_is_a_package_or_planned(layer):
    """A renamed package must be renamed here too, or its imports would go unchecked."""
    assert (ROOT / layer).is_dir() or layer == "accuracy"
