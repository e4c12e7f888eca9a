"""The package's shape, as docs/architecture.md ("Where code lives") promises it: the top-level
folders import each other without cycles, only the Dagster wiring imports Dagster, no module
grows past 400 lines, and nothing in the product imports the tests."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import curation_assets

PACKAGE = Path(curation_assets.__file__).parent
# The thin Dagster wiring; everything else is pure domain code.
WIRING = {"assets", "definitions", "executors", "partitions", "resources", "sensors", "cli"}
MAX_LINES = 400


def _modules() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))}


def _unit(path: Path) -> str:
    """The top-level folder (or root module) a file belongs to."""
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path, tree in _modules().items():
        unit = _unit(path)
        for name in _imported(tree):
            parts = name.split(".")
            if parts[0] == "curation_assets" and len(parts) > 1 and parts[1] != unit:
                if (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file():
                    graph[unit].add(parts[1])
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_top_level_folders_import_each_other_without_cycles() -> None:
    # config is read by every layer and imports only vocabulary (and, lazily inside functions,
    # the signal catalogue to check filter names): lazy imports are not edges here
    assert _cycles(import_graph()) == []


def test_only_the_wiring_imports_dagster() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path, tree in _modules().items()
        if _unit(path) not in WIRING
        and any(n == "dagster" or n.startswith("dagster.") for n in _imported(tree))
    ]
    assert offenders == []


def test_no_module_is_over_400_lines_and_none_imports_the_tests() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
    tests = [
        str(path.relative_to(PACKAGE))
        for path, tree in _modules().items()
        if any(n.startswith("curation_assets_tests") for n in _imported(tree))
    ]
    assert tests == []
