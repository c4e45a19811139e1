"""Every import of every module of the repository, top level and inside functions (for the
layering tests): ``imports()`` → [(importer, imported module, line)]."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("rpod", "rootless")


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = importer.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


@cache
def imports() -> tuple[tuple[str, str, int], ...]:
    """(importer, imported, line) for every import in rpod/ and rootless/ (``from pkg import mod``
    counts as importing ``pkg.mod`` when ``mod`` is a module)."""
    out: list[tuple[str, str, int]] = []
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            importer = module_name(path)
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    out += [(importer, alias.name, node.lineno) for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = _resolve(importer, path.name == "__init__.py", node)
                    for alias in node.names:
                        sub = f"{base}.{alias.name}"
                        out.append((importer, sub if _is_module(sub) else base, node.lineno))
    return tuple(out)


def ours(name: str) -> bool:
    """Whether ``name`` is a module of this repository (rpod or rootless)."""
    return name.split(".")[0] in PACKAGES
