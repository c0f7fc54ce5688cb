"""Structure of ``lowformer_nas.latency``: no import cycle inside it, deferred imports included."""
from __future__ import annotations

import ast
from pathlib import Path

LATENCY = Path(__file__).resolve().parents[1] / "lowformer_nas" / "latency"
PREFIX = "lowformer_nas.latency"


def _targets(node: ast.AST, modules: set[str]) -> set[str]:
    """Sibling modules of ``latency/`` that one import statement names."""
    out: set[str] = set()
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level == 1 or (node.level == 0 and base.startswith(PREFIX)):
            base = base[len(PREFIX) + 1:] if node.level == 0 else base
            if base:
                out.add(base.split(".")[0])
            else:  # ``from . import x``
                out.update(a.name for a in node.names)
    elif isinstance(node, ast.Import):
        out.update(a.name[len(PREFIX) + 1:].split(".")[0] for a in node.names
                   if a.name.startswith(PREFIX + "."))
    return out & modules


def import_graph() -> dict[str, set[str]]:
    """module -> sibling modules it imports anywhere (module level or inside functions)."""
    modules = {p.stem for p in LATENCY.glob("*.py") if p.stem != "__init__"}
    graph = {}
    for name in sorted(modules):
        tree = ast.parse((LATENCY / f"{name}.py").read_text(encoding="utf-8"))
        graph[name] = set().union(*(_targets(n, modules) for n in ast.walk(tree))) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as a path ``[a, b, ..., a]``, or ``[]``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_graph_sees_deferred_and_absolute_imports():
    tree = ast.parse("def f():\n    from .targets import get_target\n"
                     "    import lowformer_nas.latency.host\n    from . import profiles\n")
    found = set().union(*(_targets(n, {"targets", "host", "profiles"}) for n in ast.walk(tree)))
    assert found == {"targets", "host", "profiles"}


def test_no_import_cycle_inside_latency():
    graph = import_graph()
    assert {"profiles", "targets", "host", "builtin"} <= set(graph)
    assert find_cycle(graph) == [], " -> ".join(find_cycle(graph))


def test_format_and_host_modules_are_leaves():
    """The profile format and host probing are (nearly) leaves of latency/."""
    graph = import_graph()
    assert graph["host"] <= {"allocator"}  # records the measurement allocator regime
    assert graph["allocator"] == set()
    assert graph["profiles"] <= {"predictor", "trace", "kernels", "intervals", "host",
                                 "fewshot_terms"}
    assert graph["intervals"] == set()  # Prediction.quantile's interval math
