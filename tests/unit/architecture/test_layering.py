"""The package map, enforced on the import graph (see CONTRIBUTING.md, "Package map").

Every ``import agentdock.…`` in ``src/agentdock`` — at module level, inside functions and
under ``TYPE_CHECKING`` alike — is read with :mod:`ast`.  A package may import only the
packages the map lists for it, and no two modules may import each other, directly or
through others: the layering cannot quietly regress.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src"
PACKAGE = SRC / "agentdock"

#: Modules any package may import: constants and small helpers with no agentdock imports of
#: their own beyond each other.
LEAVES = frozenset({"agentdock", "defaults", "clirun", "paths", "procinfo", "procs", "safefs"})

#: package -> the packages it may import (besides itself and LEAVES).
ALLOWED: dict[str, frozenset[str]] = {
    "proxy": frozenset(),
    "harness": frozenset(),
    "mcphost": frozenset(),
    "qms": frozenset({"mcphost"}),
    "gitgate": frozenset({"mcphost"}),
    "inbox": frozenset({"qms"}),
    "launcher": frozenset({"mcphost", "qms", "inbox"}),
    "soak": frozenset({"launcher", "harness", "proxy", "mcphost", "qms", "inbox"}),
    "rehearsal": frozenset({"launcher", "harness", "proxy", "mcphost", "qms", "inbox", "gitgate", "soak"}),
    # the `agentdock` dispatcher names subcommands by string (importlib), never by import
    "cli": frozenset(),
    "__main__": frozenset({"cli"}),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, name: str) -> Iterator[str]:
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "agentdock":
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "agentdock":
                continue
            yield target
            for alias in node.names:  # `from agentdock.x import y` may name a submodule y
                yield f"{target}.{alias.name}"


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "agentdock"


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {target for target in _imports(path, name) if target in modules and target != name}
    return graph


def test_every_package_is_on_the_map() -> None:
    tops = {_top(m) for m in _modules()}
    assert tops - LEAVES - set(ALLOWED) == set(), "add new packages to ALLOWED (and CONTRIBUTING.md)"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_map_allows(package: str) -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if _top(module) == package
        for target in targets
        if _top(target) not in LEAVES | ALLOWED[package] | {package}
    )
    assert bad == []


def test_leaves_import_only_leaves() -> None:
    bad = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if _top(module) in LEAVES
        for target in targets
        if _top(target) not in LEAVES
    )
    assert bad == []


def test_no_import_cycle_between_modules() -> None:
    graph = _graph()
    # A package's __init__ re-exporting its own submodules is not a loop: drop package -> child edges.
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    # and a child importing one of its parents only to reach a sibling is resolved by the child's
    # own full-path import, so keep child -> parent edges: they are real loops when the parent
    # imports the child back at module level through another module.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The reader finds imports in every position the real code uses (guards the guard)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "import agentdock.launcher\n"
        "if TYPE_CHECKING:\n    from agentdock.qms.service import Qms\n"
        "def f():\n    from agentdock.soak import runner\n"
    )
    found = set(_imports(probe, "agentdock.harness.probe"))
    assert {"agentdock.launcher", "agentdock.qms.service", "agentdock.soak", "agentdock.soak.runner"} <= found
