"""Looking up a path in a stack of layer directories the way an overlay mount shows it
(whiteouts and opaque directories hide lower layers), without mounting anything."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from rootless.layerdiff import is_opaque


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0



def find_in_layers(layer_dirs_top_first: Sequence[Path | str], path: str) -> Path | None:
    """The file an overlay of these layers would show at ``path`` (absolute, inside the image),
    or None when no layer has it or a higher layer deletes it.  Symlinks are not followed."""
    parts = [p for p in path.split("/") if p and p != "."]
    if not parts or ".." in parts:
        raise ValueError(f"not a plain absolute path: {path!r}")
    for layer in layer_dirs_top_first:
        base = Path(layer)
        hidden = False
        # a whiteout or an opaque directory on the way down hides the path in lower layers
        for depth in range(1, len(parts) + 1):
            cur = base.joinpath(*parts[:depth])
            try:
                st = cur.lstat()
            except OSError:
                break
            if _is_whiteout(st):
                hidden = True
                break
            if depth == len(parts):
                return cur
            if not stat.S_ISDIR(st.st_mode):
                hidden = True  # a file replaces the directory the path needs
                break
            if is_opaque(str(cur)):
                hidden = True
                # the directory exists here; look for the rest only in this layer
                rest = base.joinpath(*parts)
                try:
                    rst = rest.lstat()
                except OSError:
                    return None
                return None if _is_whiteout(rst) else rest
        if hidden:
            return None
    return None


def _probe(base: Path, parts: list[str]) -> tuple[Path | None, bool]:
    """(the directory ``parts`` names in this one layer or None, whether the layers below are
    hidden there: a whiteout, a file in the way or an opaque directory)."""
    for depth in range(1, len(parts) + 1):
        cur = base.joinpath(*parts[:depth])
        try:
            st = cur.lstat()
        except OSError:
            return None, False
        if _is_whiteout(st) or not stat.S_ISDIR(st.st_mode):
            return None, True
        if is_opaque(str(cur)):
            rest = base.joinpath(*parts)
            try:
                return (rest if stat.S_ISDIR(rest.lstat().st_mode) else None), True
            except OSError:
                return None, True
    return base.joinpath(*parts), False


def list_dir_in_layers(layer_dirs_top_first: Sequence[Path | str], path: str) -> list[tuple[str, bool]] | None:
    """The entries ``(name, is a directory)`` an overlay of these layers shows in the directory
    ``path`` (absolute, normalized), sorted; None when it is no directory there.  Layers the
    caller cannot read are passed over (the listing is then partial, never an error)."""
    parts = [p for p in path.split("/") if p]
    seen: dict[str, bool | None] = {}  # None: deleted by a whiteout higher up
    found = False
    for layer in layer_dirs_top_first:
        d, stop = _probe(Path(layer), parts)
        if d is not None:
            found = True
            try:
                entries = list(os.scandir(d))
            except OSError:
                entries = []
            for e in entries:
                if e.name in seen:
                    continue
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                seen[e.name] = None if _is_whiteout(st) else stat.S_ISDIR(st.st_mode)
        if stop:
            break
    if not found:
        return None
    return sorted((n, bool(is_dir)) for n, is_dir in seen.items() if is_dir is not None)


def resolve_in_layers(layer_dirs_top_first: Sequence[Path | str], path: str) -> str:
    """``path`` made absolute inside the image, ``..`` stopping at its root and symlinks followed
    within it (securejoin's rule: nothing leads out of the image)."""
    todo = [p for p in path.split("/") if p]
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == ".":
            continue
        if part == "..":
            if done:
                done.pop()
            continue
        cur = "/" + "/".join([*done, part])
        found = find_in_layers(layer_dirs_top_first, cur)
        if found is not None and found.is_symlink() and links < 40:
            links += 1
            target = os.readlink(found)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p] + todo
            continue
        done.append(part)
    return "/" + "/".join(done)
