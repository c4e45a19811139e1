"""Resolve a path inside a container's root, following its symlinks as if that root were ``/``
(``..`` stops at the root; 40 links at most, as the kernel allows).  Where the names are looked
up is the caller's: a real directory (the runtime's mounts) or an image's layers (rpod's checks)."""

from __future__ import annotations

import errno
from collections.abc import Callable

MAX_LINKS = 40


def resolve(path: str, readlink: Callable[[list[str]], str | None]) -> list[str]:
    """The components of ``path`` with every symlink followed; ``readlink(components)`` gives the
    target of the link those components name, or None when they name no link."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        target = readlink([*resolved, part])
        if target is None:
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_LINKS:
            raise OSError(errno.ELOOP, f"too many symlinks resolving {path}")
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p not in ("", ".")] + parts
    return resolved
