"""``--workdir`` given on the command line must exist when the container starts (Podman 4.3.1's
``resolveWorkDir``): unlike the image's ``WORKDIR``, which the runtime creates, a missing one
fails the start, unless a mount provides it (or a parent of it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rpod.errors import RpodError
from rpod.image.layerfs import find_in_layers


def check_workdir(cdir: Path, record: Any) -> None:
    """Raise when the container's ``--workdir`` is neither in its file system nor on a mount."""
    workdir = getattr(record.options, "workdir", None)
    if not workdir or not workdir.startswith("/"):
        return
    try:
        with open(cdir / "config.json") as f:
            spec = json.load(f)
        overlay = json.loads((spec.get("annotations") or {})["run.rpod.overlay"])
    except (OSError, ValueError, KeyError):
        return  # a bundle without rpod's overlay (--rootfs): the runtime decides
    clean = os.path.normpath(workdir)
    for m in spec.get("mounts") or []:
        dest = os.path.normpath(m.get("destination") or "")
        # the mount point itself, a directory on the way to it (the runtime makes those), or inside it
        if dest != "/" and (clean == dest or dest.startswith(clean.rstrip("/") + "/") or clean.startswith(dest + "/")):
            return
    layers = [overlay["upperdir"], *reversed(overlay["lowerdir"])]
    if not _exists(layers, clean):  # (a file there is the runtime's "not a directory", 126)
        raise RpodError(f'workdir "{workdir}" does not exist on container {record.id}')


def _exists(layers: list[str], path: str) -> bool:
    """Whether ``path`` resolves, following symlinks inside the container's root, to something in
    the overlay of ``layers`` (top first)."""
    from rootless.pathwalk import resolve

    def readlink(parts: list[str]) -> str | None:
        try:
            found = find_in_layers(layers, "/" + "/".join(parts))
        except ValueError:
            return None
        return os.readlink(found) if found is not None and found.is_symlink() else None

    try:
        resolved = resolve(path, readlink)
    except OSError:  # a loop of links
        return False
    return not resolved or find_in_layers(layers, "/" + "/".join(resolved)) is not None
