"""The shape of the code: server modules import one way, without cycles, and stay readable.

Read from the source (every import, TYPE_CHECKING and function-level ones included), so the
checks hold for code that is not run by the other tests.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "server"
MOST_LINES = 400

ALLOWED = {
    # package -> the packages its modules may import (besides their own)
    "settings": set(),
    "text": {"settings"},
    "model": {"text", "settings"},
    "memory": {"text", "settings"},
    "personal": {"memory", "model", "text", "settings"},
    "engine": {"memory", "model", "personal", "text", "settings"},
    "lsp": {"engine", "memory", "model", "personal", "text", "settings"},
    "commands": {"lsp", "engine", "memory", "model", "personal", "text", "settings"},
    "cli": set(),
}
LSP_LIBRARIES = ("lsprotocol", "pygls")


def module_name(path: Path) -> str:
    parts = path.relative_to(SERVER).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(("nextword", "server", *parts))


def server_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SERVER.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> tuple[set[str], set[str]]:
    """(server modules, other top-level packages) the module imports, anywhere in it."""
    inside: set[str] = set()
    outside: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            if name.startswith("nextword.server"):
                while name not in known:  # `from package import name`: the name's module
                    name = name.rpartition(".")[0]
                inside.add(name)
            else:
                outside.add(name.split(".")[0])
    return inside, outside


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else "server"


def import_graph() -> dict[str, set[str]]:
    modules = server_modules()
    known = set(modules)
    graph = {}
    for name, path in modules.items():
        inside, _ = imports(path, known)
        # A package's own __init__ is imported with every module in it: not a dependency.
        graph[name] = {target for target in inside if target != name and target in known}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_no_import_cycle_among_server_modules() -> None:
    graph = import_graph()
    assert len(graph) > 30
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_dependencies_run_one_way() -> None:
    wrong = []
    for module, targets in import_graph().items():
        package = package_of(module)
        if package == "server":
            continue
        for target in targets:
            other = package_of(target)
            if other not in (package, "server") and other not in ALLOWED[package]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_only_the_lsp_package_speaks_the_protocol() -> None:
    modules = server_modules()
    speaking = sorted(
        name
        for name, path in modules.items()
        if package_of(name) != "lsp" and set(LSP_LIBRARIES) & imports(path, set(modules))[1]
    )
    assert speaking == [], speaking


def test_the_memory_is_never_handed_the_engine() -> None:
    for path in sorted((SERVER / "memory").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
        names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert not {"engine", "Engine"} & names, path.name


@pytest.mark.parametrize("folder", ["server", "exporter"])
def test_modules_stay_readable_in_one_sitting(folder: str) -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / folder).rglob("*.py"))
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MOST_LINES
    }
    assert not long, long


def test_every_package_is_installed() -> None:
    """A wheel carries only the packages pyproject names: a new folder must be named there."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    listing = re.search(r"^packages = \[(.*?)\]", pyproject, re.S | re.M)
    assert listing, "pyproject.toml names no packages"
    named = set(re.findall(r'"([\w.]+)"', listing.group(1)))
    roots = {"nextword.server": SERVER, "nextword.exporter": ROOT / "exporter"}
    found = {
        ".".join((name, *init.parent.relative_to(root).parts))
        for name, root in roots.items()
        for init in root.rglob("__init__.py")
    }
    assert found <= named, f"not in pyproject's packages: {sorted(found - named)}"
