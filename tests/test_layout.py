"""The package's shape, checked: no import cycles, nobody imports another module's private names.

The import graph is read from the source (every ``import``/``from ... import`` in ``lab/``,
function-level ones included, since a lazy import is still a dependency; only imports under
``if TYPE_CHECKING:`` are left out, as they never run). Importing ``a.b.c`` also runs ``a/b``'s
``__init__``, so a module depends on every package above what it imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

LAB = Path(__file__).resolve().parent.parent / "lab"


def _modules() -> dict[str, Path]:
    out = {}
    for path in LAB.rglob("*.py"):
        parts = path.relative_to(LAB.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def import_graph() -> tuple[dict[str, set[str]], list[str]]:
    """(module -> modules it imports, private names imported from other modules)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    private: list[str] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skip = _type_checking_nodes(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                private += [f"{name} imports {base}.{a.name}" for a in node.names
                            if a.name.startswith("_") and not a.name.startswith("__") and base != name]
            for target in targets:
                parts = target.split(".")
                for i in range(1, len(parts) + 1):  # the target and every package above it
                    dep = ".".join(parts[:i])
                    if dep in modules and dep != name and not name.startswith(dep + "."):
                        graph[name].add(dep)
    return graph, private


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_import_cycles() -> None:
    graph, _ = import_graph()
    assert len(graph) > 30  # the parser found the package
    assert find_cycles(graph) == [], "\n".join(" -> ".join(c) for c in find_cycles(graph))


def test_no_private_names_across_modules() -> None:
    _, private = import_graph()
    assert private == []


def test_the_checker_sees_a_cycle() -> None:
    """Negative control: a two-module cycle is found."""
    assert find_cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]


def test_backends_are_named_only_by_the_registry() -> None:
    """The CLI and run state name no backend: what a backend brings is declared in lab.backends."""
    graph, _ = import_graph()
    for module in ("lab.cli", "lab.runstate", "lab.harness"):
        assert not {d for d in graph[module] if d.startswith(("lab.nginx", "lab.twisted"))}, module
    text = (LAB / "cli.py").read_text()
    assert '"nginx"' not in text and "'nginx'" not in text
