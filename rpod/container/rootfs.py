"""A container's writable layer: ``upper/``, ``work/`` and the ``rootfs/`` mount point.

The overlay itself is mounted by the runtime inside the container's own mount namespace
(annotation ``run.rpod.overlay``), so nothing here mounts anything.
"""

from __future__ import annotations

from pathlib import Path

from rpod.container.ocispec import OverlayInfo
from rpod.paths import Paths


def prepare(paths: Paths, cid: str, layer_dirs: list[Path], driver: str = "kernel") -> tuple[Path, OverlayInfo]:
    """Create the container's upper/work/rootfs dirs; return (rootfs mount point, overlay description)."""
    cdir = paths.container_dir(cid)
    for sub in ("upper", "work", "rootfs"):
        (cdir / sub).mkdir(mode=0o755 if sub != "work" else 0o700, parents=True, exist_ok=True)
    info = OverlayInfo(lowerdirs=[str(d) for d in layer_dirs], upperdir=str(cdir / "upper"),
                       workdir=str(cdir / "work"), driver=driver)
    return cdir / "rootfs", info
