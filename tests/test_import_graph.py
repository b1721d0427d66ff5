"""The shape of gmail_send's own imports, read from the source with `ast`.

- No cycle among runtime imports. Module-level imports and imports inside functions both count;
  imports under `if TYPE_CHECKING:` do not (they never run). Names loaded by a PEP 562
  `__getattr__` through `importlib` are not imports in the source and are not counted.
- The core never imports `gmail_send.cli`, `gmail_send.testing` or `gmail_send.contrib`; those
  three build on the core (`gmail_send.__main__` runs the CLI, so it may import it).
- Few modules sit directly in `gmail_send/`: the rest belongs in a package by concern.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import gmail_send

PACKAGE_DIR = Path(gmail_send.__file__).resolve().parent
ROOT_PACKAGE = "gmail_send"
OUTSIDE_CORE = ("gmail_send.cli", "gmail_send.testing", "gmail_send.contrib")
MAY_IMPORT_OUTSIDE_CORE = {"gmail_send.__main__": ("gmail_send.cli",)}
MAX_TOP_LEVEL_MODULES = 16


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def find_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_DIR.rglob("*.py"))}


def is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: at module level, in functions, in classes."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:  # `else:` of `if TYPE_CHECKING:` does run
                yield from runtime_imports(ast.Module(body=[child], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from runtime_imports(node)


def imported_modules(
    name: str, is_package: bool, tree: ast.AST, known: set[str]
) -> Iterator[tuple[str, int]]:
    """(own module imported, line) for each runtime import in `tree` of module `name`."""
    for node in runtime_imports(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ROOT_PACKAGE or alias.name.startswith(ROOT_PACKAGE + "."):
                    yield alias.name, node.lineno
            continue
        if node.level:
            parts = name.split(".")
            base_parts = parts if is_package else parts[:-1]
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join([*base_parts, *([node.module] if node.module else [])])
        else:
            base = node.module or ""
        if base != ROOT_PACKAGE and not base.startswith(ROOT_PACKAGE + "."):
            continue
        # `from . import _auth_checks` imports a submodule; its package is its parent, whose
        # import is implied by every submodule's and (as for `import a.b`) no edge of its own.
        names = [alias.name for alias in node.names]
        submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
        if len(submodules) < len(names):
            yield base, node.lineno
        for submodule in submodules:
            yield submodule, node.lineno


def build_graph() -> dict[str, dict[str, int]]:
    """module -> {own module it imports at run time: first line of that import}."""
    modules = find_modules()
    known = set(modules)
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: dict[str, int] = {}
        for target, line in imported_modules(name, path.name == "__init__.py", tree, known):
            if target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
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
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def in_any(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def test_the_parser_reads_what_runs() -> None:
    source = """
from __future__ import annotations
import os
from typing import TYPE_CHECKING
import gmail_send.errors
from . import _sibling, not_a_module
from ..events import emit

if TYPE_CHECKING:
    from .only_for_types import Thing
else:
    from .at_run_time import other

def later():
    from ..testing import _server
"""
    known = {"gmail_send.pkg._sibling", "gmail_send.testing._server"}
    found = {
        target
        for target, _ in imported_modules("gmail_send.pkg.mod", False, ast.parse(source), known)
    }
    assert found == {
        "gmail_send.errors",
        "gmail_send.pkg",
        "gmail_send.pkg._sibling",
        "gmail_send.events",
        "gmail_send.pkg.at_run_time",
        "gmail_send.testing._server",
    }
    in_package = imported_modules("gmail_send.pkg", True, ast.parse("from ._a import b"), set())
    assert [target for target, _ in in_package] == ["gmail_send.pkg._a"]


def test_the_graph_covers_the_package() -> None:
    graph = build_graph()
    assert set(graph) == set(find_modules())
    assert "gmail_send.smtp._connection" in graph["gmail_send._sender"]
    # Present only under TYPE_CHECKING, so not an edge:
    assert "gmail_send.smtp._connection" not in graph["gmail_send.smtp._transaction"]


def test_no_import_cycles() -> None:
    graph = build_graph()
    found = cycles(graph)
    described = [
        "; ".join(
            f"{module} imports "
            + ", ".join(
                f"{target} (line {line})"
                for target, line in graph[module].items()
                if target in component
            )
            for module in component
        )
        for component in found
    ]
    assert found == [], "modules that import each other at run time:\n" + "\n".join(described)


def test_the_core_never_imports_cli_testing_or_contrib() -> None:
    offending = []
    for module, targets in build_graph().items():
        if in_any(module, OUTSIDE_CORE):
            continue
        allowed = MAY_IMPORT_OUTSIDE_CORE.get(module, ())
        for target, line in targets.items():
            if in_any(target, OUTSIDE_CORE) and not in_any(target, allowed):
                offending.append(f"{module} line {line} imports {target}")
    assert offending == []


def test_few_modules_directly_in_the_package() -> None:
    top_level = sorted(path.name for path in PACKAGE_DIR.glob("*.py"))
    assert len(top_level) <= MAX_TOP_LEVEL_MODULES, top_level
