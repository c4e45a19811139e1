"""Size limits of rpod's and rootless's source: a module over 600 lines or a function over 80
lines is a failure unless it is listed below with the reason it stays whole."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80

# path (or path::function) -> why it is allowed to be longer
EXCEPTIONS: dict[str, str] = {}


def _sources() -> list[Path]:
    return sorted(p for top in ("rpod", "rootless") for p in (ROOT / top).rglob("*.py"))


def _too_long() -> list[str]:
    out = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        lines = text.count("\n")
        if lines > MAX_MODULE_LINES and rel not in EXCEPTIONS:
            out.append(f"{rel}: {lines} lines (> {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES and f"{rel}::{node.name}" not in EXCEPTIONS:
                    out.append(f"{rel}:{node.lineno} {node.name}: {length} lines (> {MAX_FUNCTION_LINES})")
    return out


def test_no_long_module_or_function() -> None:
    too_long = _too_long()
    assert not too_long, ("split these by job (or list them in EXCEPTIONS with a reason):\n  "
                          + "\n  ".join(too_long))


def test_exceptions_are_still_needed() -> None:
    """An exception whose module or function got short (or went away) is dropped from the list."""
    stale = []
    for key in EXCEPTIONS:
        rel, _, func = key.partition("::")
        path = ROOT / rel
        if not path.exists():
            stale.append(f"{key}: no such file")
            continue
        text = path.read_text()
        if not func:
            if text.count("\n") <= MAX_MODULE_LINES:
                stale.append(f"{key}: now {text.count(chr(10))} lines")
            continue
        lengths = [(n.end_lineno or n.lineno) - n.lineno + 1 for n in ast.walk(ast.parse(text))
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == func]
        if not lengths or max(lengths) <= MAX_FUNCTION_LINES:
            stale.append(f"{key}: now short enough")
    assert not stale, "drop from EXCEPTIONS:\n  " + "\n  ".join(stale)
