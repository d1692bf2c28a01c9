"""The shape of the app code (STYLE.md 14): no function over 60 lines, no import cycle — counting
the imports inside functions, which hide a cycle from Python but not from a reader."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("portal", "mfa", "keys", "tenants", "renewals")
MAX_FUNCTION_LINES = 60


def _modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _trees():
    for name, path in MODULES.items():
        yield name, path, ast.parse(path.read_text(), filename=str(path))


def long_functions(limit: int = MAX_FUNCTION_LINES) -> list[str]:
    found = []
    for _name, path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length})")
    return found


def _targets(module: str, is_package: bool, node: ast.AST) -> set[str]:
    """The project's modules an import statement loads (its own module and, for `from x import
    y`, y when it is a module)."""
    names = set()
    if isinstance(node, ast.Import):
        names = {alias.name for alias in node.names}
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        names = {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in names if name in MODULES}


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for name, path, tree in _trees():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(tree):
            edges |= _targets(name, is_package, node)
        edges.discard(name)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_it_has_no_function_over_60_lines():
    assert long_functions() == []


def test_it_has_no_import_cycle():
    assert import_cycles(import_graph()) == []


def test_it_finds_a_cycle_hidden_in_a_function():
    """The checker itself: an import inside a function counts."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse("def f():\n    from tenants.models import Tenant\n")
    edges = set().union(*(_targets("x", False, node) for node in ast.walk(tree)))
    assert edges == {"tenants.models"}


@pytest.mark.parametrize("limit", [1])
def test_it_counts_long_functions(limit):
    assert long_functions(limit)  # every module has a function of more than one line
