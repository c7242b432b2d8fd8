"""The shape docs/architecture.md promises: no import cycle between packages, argparse only in
cli/, and a README layout table that names every package there is (and nothing that is not)."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "vasa_bridge"


def _module(path: Path) -> tuple[str, bool]:
    parts = path.relative_to(ROOT).with_suffix("").parts
    is_init = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_init else parts), is_init


def _top(module: str) -> str:
    """The package (or top-level module) of vasa_bridge a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "vasa_bridge"


def _imports(path: Path) -> tuple[set[str], bool]:
    """The vasa_bridge modules `path` imports, and whether it imports argparse."""
    module, is_init = _module(path)
    base = module.split(".") if is_init else module.split(".")[:-1]
    found, argparse = set(), False
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            argparse |= target == "argparse"
            if target.startswith("vasa_bridge"):
                found.add(target)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                argparse |= alias.name == "argparse"
                if alias.name.startswith("vasa_bridge"):
                    found.add(alias.name)
    return found, argparse


def import_graph() -> dict[str, set[str]]:
    """Package -> the other packages it imports (relative imports resolved)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PKG.rglob("*.py"):
        mine = _top(_module(path)[0])
        for target in _imports(path)[0]:
            if _top(target) not in (mine, "vasa_bridge"):
                graph[mine].add(_top(target))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def test_the_graph_sees_relative_imports_and_finds_a_cycle():
    graph = import_graph()
    assert {"audio", "motion", "outputs", "protocol"} <= graph["runtime"]  # `from ..x import`
    assert "runtime" in graph["session"] and "cli" not in graph["session"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_between_packages():
    assert _cycle(import_graph()) is None


def test_only_the_command_line_reads_argparse():
    readers = sorted(str(p.relative_to(ROOT)) for p in PKG.rglob("*.py") if _imports(p)[1])
    assert readers and all(r.startswith("vasa_bridge/cli/") for r in readers), readers


def test_the_readme_layout_table_matches_the_tree():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `vasa_bridge/([\w.]+?)/?` \|", layout, re.M))
    packages = {p.name for p in PKG.iterdir() if (p / "__init__.py").exists()}
    assert packages - named == set(), "packages missing from the README's layout table"
    for name in named:
        assert (PKG / name).exists(), f"README names vasa_bridge/{name}, which does not exist"
    for path in re.findall(r"^\| `([\w./-]+?)/?` \|", layout, re.M):
        assert (ROOT / path).exists(), f"README's layout names {path}, which does not exist"
