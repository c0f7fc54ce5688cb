"""Structure of ``lowformer_nas.latency``: its sub-packages, and no import cycle between its
modules, deferred imports included."""
from __future__ import annotations

import ast
from pathlib import Path

LATENCY = Path(__file__).resolve().parents[1] / "lowformer_nas" / "latency"
PREFIX = "lowformer_nas.latency"
SUBPACKAGES = ("measurement", "tracing", "fitting", "targets")


def _module_names() -> set[str]:
    """Every module of ``latency/`` as its dotted name below it (``measurement.host``)."""
    return {".".join(p.relative_to(LATENCY).with_suffix("").parts)
            for p in LATENCY.rglob("*.py") if p.stem != "__init__"}


def _targets(node: ast.AST, modules: set[str], package: str = "") -> set[str]:
    """Modules of ``latency/`` that one import statement names; ``package`` is the importing
    module's package below ``latency`` (``"measurement"``, or ``""`` for ``latency`` itself)."""
    names: list[str] = []
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = [*PREFIX.split("."), *filter(None, package.split("."))]
            base = base[:len(base) - node.level + 1]
            mod = ".".join(base + ([node.module] if node.module else []))
        else:
            mod = node.module or ""
        names = [mod] + [f"{mod}.{a.name}" for a in node.names]  # ``from . import x``
    elif isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    return {n[len(PREFIX) + 1:] for n in names if n.startswith(PREFIX + ".")} & modules


def import_graph() -> dict[str, set[str]]:
    """module -> modules of ``latency/`` it imports anywhere (module level or in functions)."""
    modules = _module_names()
    graph = {}
    for name in sorted(modules):
        package = name.rpartition(".")[0]
        path = LATENCY.joinpath(*name.split(".")).with_suffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[name] = set().union(*(_targets(n, modules, package) for n in ast.walk(tree)))
        graph[name].discard(name)
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


def test_graph_sees_deferred_relative_and_absolute_imports():
    tree = ast.parse("def f():\n    from ..targets.registry import get_target\n"
                     "    import lowformer_nas.latency.measurement.host\n"
                     "    from . import profiles\n    from .builtin import SPECS\n")
    known = {"targets.registry", "measurement.host", "targets.profiles", "targets.builtin"}
    found = set().union(*(_targets(n, known, "targets") for n in ast.walk(tree)))
    assert found == known


def test_latency_is_four_subpackages():
    """Every module lives in one of the sub-packages; ``latency/__init__`` is the public face."""
    assert {p.name for p in LATENCY.glob("*.py")} == {"__init__.py"}
    assert {p.parent.name for p in LATENCY.glob("*/__init__.py")} == set(SUBPACKAGES)
    assert {name.split(".")[0] for name in _module_names()} == set(SUBPACKAGES)


def test_no_import_cycle_inside_latency():
    graph = import_graph()
    assert {"targets.profiles", "targets.registry", "measurement.host",
            "targets.builtin"} <= set(graph)
    assert find_cycle(graph) == [], " -> ".join(find_cycle(graph))


def test_measurement_and_tracing_stand_alone():
    """Measuring and tracing know nothing of predictors, profiles or targets."""
    graph = import_graph()
    for name, deps in graph.items():
        if name.split(".")[0] in ("measurement", "tracing"):
            assert {d.split(".")[0] for d in deps} <= {"measurement", "tracing"}, (name, deps)


def test_format_and_host_modules_are_leaves():
    """The profile format and host probing are (nearly) leaves of latency/."""
    graph = import_graph()
    assert graph["measurement.host"] <= {"measurement.allocator"}  # records the allocator regime
    assert graph["measurement.allocator"] == set()
    assert graph["targets.profiles"] <= {"fitting.predictor", "tracing.trace", "tracing.kernels",
                                         "fitting.intervals", "measurement.host",
                                         "fitting.fewshot_terms", "targets.level",
                                         "fitting.records"}
    # the records' types (a profile's params, journal records): for annotations only
    assert graph["fitting.records"] <= {"measurement.host", "fitting.intervals"}
    assert graph["fitting.intervals"] == set()  # Prediction.quantile's interval math
