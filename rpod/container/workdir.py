"""``--workdir`` given on the command line must exist when the container starts (Podman 4.3.1's
``resolveWorkDir``): unlike the image's ``WORKDIR``, which the runtime creates, a missing one
fails the start, unless a mount provides it (or a parent of it)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from rpod.errors import RpodError
from rpod.image.layerfs import find_in_layers

_MAX_LINKS = 40


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
    todo = [p for p in path.split("/") if p and p != "."]
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        done.append(part)
        try:
            found = find_in_layers(layers, "/" + "/".join(done))
        except ValueError:
            return False
        if found is None:
            return False
        st = found.lstat()
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > _MAX_LINKS:
                return False
            target = os.readlink(found)
            done.pop()
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p and p != "."] + todo
        elif not stat.S_ISDIR(st.st_mode) and todo:
            return False
    return True
