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
