"""The boundaries of ARCHITECTURE.md, read from the source: who may import whom, no cycles.

Every `import` counts, at module level, inside functions and under TYPE_CHECKING alike: a
function-level import is still a dependency, only a later one.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "sage200_doctor"
OURS = (
    "catalogue", "checks", "commands", "config", "emulator", "engine", "errors", "guidance",
    "http", "login", "postman", "pytest_plugin", "recorded", "redact", "report", "rules",
)  # fmt: skip

# area: the areas it may import (everything else of ours is forbidden).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "redact": set(),
    "catalogue": set(),
    "guidance": set(),
    "config": {"errors", "redact", "catalogue"},
    "http": {"engine", "redact", "errors"},  # engine: only its leaf data modules (below)
    "rules": {"http", "catalogue", "guidance"},
    "engine": {"config", "http", "rules", "redact", "errors", "catalogue"},
    "checks": {"engine", "http", "rules", "config", "redact", "catalogue", "errors"},
    "report": {"engine", "guidance", "redact", "errors", "catalogue"},
    "recorded": {"errors", "redact", "http", "rules", "engine", "catalogue", "guidance", "config"},
    "postman": {"errors", "redact", "http", "rules", "engine", "config", "catalogue", "guidance"},
    "login": {"config", "http", "redact", "errors"},
    "emulator": {"catalogue"},
    "pytest_plugin": {"config", "engine", "report", "redact", "errors"},
    "commands": set(OURS) - {"pytest_plugin"},
}
HTTP_MAY_USE_FROM_ENGINE = {"engine.results", "engine.control"}
"""The client layer records evidence (results.Exchange) and obeys the stop switch
(control.RunControl); the rest of the engine sits above it."""


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / PACKAGE).rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imported(name: str, path: Path) -> Iterator[str]:
    """Every module of ours `name` imports, however and wherever it does."""
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, path, node)
            submodules = [f"{base}.{alias.name}" for alias in node.names]
            if not any(sub in modules() for sub in submodules):
                yield base  # `from pkg import name`: the package itself
            yield from submodules


def _absolute(name: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, *([node.module] if node.module else [])])


@cache
def graph() -> dict[str, set[str]]:
    known = modules()
    # A package's own __init__ runs before its modules: an edge to an enclosing package is
    # not a dependency the module chose.
    return {
        name: {
            target
            for target in imported(name, path)
            if target in known and target != name and not name.startswith(f"{target}.")
        }
        for name, path in known.items()
    }


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_area_is_in_the_table() -> None:
    areas = {area(name) for name in modules()} - {PACKAGE, "__main__"}
    assert areas <= set(ALLOWED)


@pytest.mark.parametrize("source", sorted(ALLOWED))
def test_an_area_imports_only_what_it_may(source: str) -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in graph().items()
        if area(name) == source
        for target in targets
        if area(target) != source and area(target) not in ALLOWED[source] | {PACKAGE}
    )
    assert wrong == []


def test_the_client_uses_only_the_engines_leaf_data() -> None:
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in graph().items()
        if area(name) == "http"
        for target in targets
        if area(target) == "engine"
        and target.removeprefix(f"{PACKAGE}.") not in HTTP_MAY_USE_FROM_ENGINE
    )
    assert wrong == []


def test_client_and_emulator_never_meet() -> None:
    for name, targets in graph().items():
        if area(name) in ("http", "checks", "rules", "engine"):
            assert not [t for t in targets if area(t) == "emulator"], name
        if area(name) == "emulator":
            assert not [t for t in targets if area(t) in ("http", "checks", "rules")], name


def test_no_import_cycles() -> None:
    cycles = _cycles(graph())
    assert cycles == []


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
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

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_the_engine_never_imports_pytest() -> None:
    users = [
        name
        for name, path in modules().items()
        if area(name) in ("engine", "checks", "rules", "report", "http", "config")
        and any(
            t == "pytest" or t.startswith("pytest.") or t.startswith("_pytest")
            for t in imported(name, path)
        )
    ]
    assert users == []


def test_the_plugin_entry_point_loads_nothing_of_ours() -> None:
    # Loaded into every pytest run on the machine: it must stay inert and light until asked.
    code = (
        "import sys, sage200_doctor.pytest_plugin.plugin as p; "
        "print(sorted(m for m in sys.modules if m.startswith('sage200_doctor')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert eval(out.stdout) == [  # noqa: S307 - our own subprocess printed a list of names
        "sage200_doctor",
        "sage200_doctor.pytest_plugin",
        "sage200_doctor.pytest_plugin.plugin",
    ]
