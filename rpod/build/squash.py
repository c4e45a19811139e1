"""``--squash`` (the build's new layers as one) and ``--squash-all`` (every layer as one).

The layer dirs are merged by ``rootless.layerdiff`` (``merge`` mode) the way overlay stacks them:
the topmost entry wins, a whiteout or a file hides what lies below, an opaque directory hides
the layers under it.  ``--squash`` keeps the whiteouts and opaque markers that still hide
something in the base image's layers; ``--squash-all`` has nothing below and drops them.
"""

from __future__ import annotations

from typing import Any

from rpod.image.localstore import LocalLayer
from rpod.paths import Paths


def squash(paths: Paths, layers: list[LocalLayer], keep: int, compression: str, mtime: int | None) -> list[LocalLayer]:
    """``layers[:keep]`` as they are, the rest merged into one layer."""
    import subprocess

    from rpod.build.runner import _helper, _store

    merged = layers[keep:]
    if len(merged) <= 1:
        return list(layers)
    dirs = [str(paths.layer_dir(x.diff_id) / "diff") for x in reversed(merged)]
    proc = _helper({"merge": dirs, "keep_whiteouts": keep > 0, "mtime": mtime}, subprocess.DEVNULL)
    layer = _store(paths, proc, compression, False)
    assert layer is not None
    return [*layers[:keep], layer]


def squash_history(history: list[dict[str, Any]], keep: int, created: str) -> list[dict[str, Any]]:
    """The history entries of the kept layers (and the empty ones among them), then one for the squash."""
    out: list[dict[str, Any]] = []
    seen = 0
    for h in history:
        if seen >= keep:
            break
        out.append(h)
        if not h.get("empty_layer"):
            seen += 1
    out.append({"created": created, "created_by": "/bin/sh -c #(nop) squashed", "comment": "squashed layers"})
    return out
