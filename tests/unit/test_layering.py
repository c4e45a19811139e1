"""The layers of rpod, enforced on the source (see ``rpod/engine/__init__.py``):

    front ends (rpod/cli, rpod/api) → engine (rpod/engine) → domain (every other rpod module)
    → rootless/ (stdlib + ctypes, never imports rpod)

Every ``import`` and ``from ... import`` is counted, at module level and inside functions
(``from . import x`` resolved).  Imports under ``if TYPE_CHECKING:`` never run: they count for
the direction rules but not for the circles.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONT_ENDS = ("rpod.cli", "rpod.api", "rpod.__main__")
ENGINE = "rpod.engine"
# what a front end may import besides the engine: the error types it maps to exit codes, the
# output formatter, and the package itself (its version)
FRONT_END_SHARED = ("rpod", "rpod.errors", "rpod.format", "rpod.log",  # cross-cutting: errors, output, logging,
                    "rpod.containersconf")  # and the containers.conf the global options read


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module (rpod/rootless ones resolved to a module that exists)
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for top in ("rpod", "rootless") for p in sorted((ROOT / top).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, type_only: bool = False):  # -> Iterator[tuple[ast.AST, bool]]
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield stmt, True
                yield from _walk(stmt, True)
            for stmt in child.orelse:
                yield stmt, type_only
                yield from _walk(stmt, type_only)
            continue
        yield child, type_only
        yield from _walk(child, type_only)


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            prefix = ".".join([*base, *([node.module] if node.module else [])])
        else:
            prefix = node.module or ""
        names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in known else prefix for a in node.names]
    out = []
    for name in names:
        if name.split(".")[0] not in ("rpod", "rootless"):
            out.append(name)  # stdlib or third party: kept for the rootless rule
            continue
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name:
            out.append(name)
    return out


def imports() -> list[Import]:
    mods = _modules()
    known = set(mods)
    out = []
    for module, path in mods.items():
        tree = ast.parse(path.read_text(), str(path))
        for node, type_only in _walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(module, path.name == "__init__.py", node, known):
                    if target != module:
                        out.append(Import(module, target, node.lineno, type_only))
    return out


def _inside(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _is_domain(module: str) -> bool:
    return _inside(module, "rpod") and not any(_inside(module, f) for f in (*FRONT_ENDS, ENGINE))


def _group(module: str) -> str:
    """The node of the package graph: ``rpod.<subpackage or top-level module>`` (likewise for
    rootless), ``rpod``/``rootless`` for the packages' own ``__init__``."""
    return ".".join(module.split(".")[:2])


def _cycles(edges: dict[str, dict[str, Import]]) -> list[list[Import]]:
    """One cycle (as its import statements) per strongly connected component of ``edges``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(comp)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(edges):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    out = []
    for comp in components:  # a shortest way back to the start, by breadth-first search
        start = min(comp)
        prev: dict[str, tuple[str, Import]] = {}
        frontier = [start]
        while frontier and start not in prev:
            nxt = []
            for v in frontier:
                for w, imp in sorted(edges.get(v, {}).items()):
                    if w in comp and w not in prev:
                        prev[w] = (v, imp)
                        nxt.append(w)
            frontier = nxt
        path, v = [], start
        while True:
            v, imp = prev[v]
            path.append(imp)
            if v == start:
                break
        out.append(list(reversed(path)))
    return out


def _describe(cycles: list[list[Import]]) -> str:
    return "\n\n".join("circle:\n  " + "\n  ".join(map(str, c)) for c in cycles)


# ---------------------------------------------------------------------------------------- rules
def test_domain_never_imports_the_engine_or_a_front_end() -> None:
    bad = [i for i in imports() if _is_domain(i.source)
           and any(_inside(i.target, up) for up in (*FRONT_ENDS, ENGINE))]
    assert not bad, "domain modules import upward:\n  " + "\n  ".join(map(str, bad))


def test_engine_never_imports_a_front_end() -> None:
    bad = [i for i in imports() if _inside(i.source, ENGINE) and any(_inside(i.target, f) for f in FRONT_ENDS)]
    assert not bad, "the engine imports a front end:\n  " + "\n  ".join(map(str, bad))


def test_rootless_stands_alone() -> None:
    """rootless/ never imports rpod, and nothing outside the standard library."""
    bad = [i for i in imports() if _inside(i.source, "rootless") and not _inside(i.target, "rootless")
           and (_inside(i.target, "rpod") or i.target.split(".")[0] not in sys.stdlib_module_names)]
    assert not bad, "rootless/ imports outside itself and the stdlib:\n  " + "\n  ".join(map(str, bad))


def test_no_circle_between_packages() -> None:
    """The graph of rpod's (and rootless's) subpackages and top-level modules has no circle."""
    edges: dict[str, dict[str, Import]] = {}
    for i in imports():
        a, b = _group(i.source), _group(i.target)
        if not i.type_only and a != b and b.split(".")[0] in ("rpod", "rootless"):
            edges.setdefault(a, {}).setdefault(b, i)
    cycles = _cycles(edges)
    assert not cycles, _describe(cycles)


def test_no_circle_between_modules() -> None:
    """Nor between any two modules (a circle inside a package is a tangle too)."""
    edges: dict[str, dict[str, Import]] = {}
    for i in imports():
        if not i.type_only and i.target.split(".")[0] in ("rpod", "rootless"):
            edges.setdefault(i.source, {}).setdefault(i.target, i)
    cycles = _cycles(edges)
    assert not cycles, _describe(cycles)


def test_front_ends_import_only_the_engine() -> None:
    """A CLI (or API) module imports the engine, the error types and the formatter: never a
    domain package nor rootless/ directly."""
    allowed = (*FRONT_ENDS, ENGINE)
    bad = [i for i in imports() if any(_inside(i.source, f) for f in FRONT_ENDS)
           and i.target.split(".")[0] in ("rpod", "rootless")
           and not any(_inside(i.target, a) for a in allowed)
           and i.target not in FRONT_END_SHARED and not _inside(i.target, "rpod.format")]
    assert not bad, "front ends reach past the engine:\n  " + "\n  ".join(map(str, bad))


# ------------------------------------------------------------------------- the checker itself
def test_the_checker_sees_circles_and_function_level_imports(tmp_path: Path) -> None:
    """The walker counts imports inside functions and resolves ``from . import x``; a circle is
    reported with its import statements."""
    tree = ast.parse("def f():\n    from . import b\n    import rpod.errors\nif TYPE_CHECKING:\n    import rpod.cli\n")
    found = [(n.lineno, t) for n, t in _walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert found == [(2, False), (3, False), (5, True)]
    node = next(n for n, _ in _walk(tree) if isinstance(n, ast.ImportFrom))
    assert _targets("rpod.network.plan", False, node, {"rpod.network", "rpod.network.b"}) == ["rpod.network.b"]
    a_b, b_c, c_a = (Import("rpod.a", "rpod.b", 1, False), Import("rpod.b", "rpod.c", 2, False),
                     Import("rpod.c", "rpod.a", 3, False))
    cycles = _cycles({"rpod.a": {"rpod.b": a_b}, "rpod.b": {"rpod.c": b_c}, "rpod.c": {"rpod.a": c_a},
                      "rpod.d": {"rpod.a": Import("rpod.d", "rpod.a", 4, False)}})
    assert cycles == [[a_b, b_c, c_a]]
    assert "rpod.c:3 imports rpod.a" in _describe(cycles)
