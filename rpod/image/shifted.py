"""Layer copies with shifted owners, one per (layer, id map), for containers whose id map is not
the store's (``--userns=keep-id``, ``--uidmap``; see docs/decisions.md).

``layers/<diffid>/mapped/<map key>/`` beside the layer's ``diff/``: made once by the
``rootless.idshift`` helper (root in the user's default namespace) under the layer's lock, in
``tmp/`` and renamed into place when complete, and shared by every container with that map.
Removing the layer removes its copies with it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from rpod.container.idmaps import ContainerMaps
from rpod.errors import RpodError
from rpod.log import debug
from rpod.paths import Paths
from rpod.storefile import locked


def shifted_layer_dirs(paths: Paths, layer_dirs: list[Path], maps: ContainerMaps) -> list[Path]:
    """The copies of ``layer_dirs`` (``layers/<hex>/diff``, lowest first) for ``maps``, made if missing."""
    key = maps.key()
    out = []
    for diff in layer_dirs:
        target = diff.parent / "mapped" / key
        if not target.is_dir():
            _make(paths, diff, target, maps)
        out.append(target)
    return out


def _make(paths: Paths, diff: Path, target: Path, maps: ContainerMaps) -> None:
    from rootless.subid import default_mapping
    from rootless.userns import python_entry, remove_tree, run

    hexd = diff.parent.name
    with locked(paths.locks / f"layer-{hexd}.lock"):
        if target.is_dir():
            return  # made by a concurrent run while we waited
        paths.tmp.mkdir(parents=True, exist_ok=True)
        scratch = paths.tmp / f"{hexd[:16]}.{target.name}.{os.getpid()}"
        mapping = default_mapping()
        target.parent.mkdir(exist_ok=True)
        proc = run(python_entry("rootless.idshift", str(diff), str(scratch), maps.as_json(),
                                str(target)), mapping,
                   mount_ns=False, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   text=True)
        if proc.returncode != 0:
            remove_tree(scratch, mapping)
            raise RpodError(f"cannot copy layer {hexd[:12]} with the container's id map: "
                            f"{proc.stderr.strip() or f'exit {proc.returncode}'}",
                            hint="check free disk space in the store")
        debug(f"layer {hexd[:12]} copied for id map {target.name}: {proc.stdout.strip()}")
