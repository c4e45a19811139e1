"""``rpod image mount`` / ``unmount``: an image's layers as a read-only overlay, as Podman does it
rootless: only inside ``rpod unshare`` (root in the user's namespace, with its own mount
namespace), where the mount lives as long as that namespace.  Mount points are
``<runroot>/image-mounts/<id>/merged``; whether an image is mounted is read from
``/proc/self/mountinfo`` (so a mount made in another unshare session is not seen here).
"""

from __future__ import annotations

import os
from pathlib import Path

from rpod.errors import RpodError
from rpod.image.store import ImageRecord, ImageStore
from rpod.paths import Paths


def require_unshare(command: str) -> None:
    """Podman's rule: rootless image mounts only inside ``unshare``."""
    if os.geteuid() != 0 or not os.environ.get("RPOD_UNSHARE"):
        raise RpodError(f'cannot run command "rpod {command}" in rootless mode, must execute `rpod unshare` first')


def mount_point(paths: Paths, record: ImageRecord) -> Path:
    return paths.runroot / "image-mounts" / record.id / "merged"


def _mounted() -> set[str]:
    out = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if len(fields) > 4:
                out.add(fields[4].encode().decode("unicode_escape"))
    return out


def mounted_images(paths: Paths) -> list[tuple[ImageRecord, Path]]:
    """Images mounted in this mount namespace, with their mount points."""
    now = _mounted()
    return [(r, mount_point(paths, r)) for r in ImageStore(paths).list() if str(mount_point(paths, r)) in now]


def mount_image(paths: Paths, record: ImageRecord) -> Path:
    """Mount the image read-only (again: the existing mount); returns the mount point."""
    from rootless.errors import RootlessError
    from rootless.overlay import FUSE, KERNEL, mount_overlay

    target = mount_point(paths, record)
    if str(target) in _mounted():
        return target
    target.mkdir(parents=True, exist_ok=True)
    lowers = [str(d) for d in ImageStore(paths).layer_dirs(record)]
    # already in the namespace: no probe (it would need a nested one); the cached answer, else try
    try:
        cached = (paths.cache / "overlay-driver").read_text().strip()
    except OSError:
        cached = ""
    drivers = [cached] if cached in (KERNEL, FUSE) else [KERNEL, FUSE]
    for i, driver in enumerate(drivers):
        try:
            mount_overlay(lowers, None, None, str(target), driver)
            return target
        except RootlessError as e:
            if i == len(drivers) - 1:
                raise RpodError(f"cannot mount image {record.short_id}: {e}") from e
    return target


def unmount_image(paths: Paths, record: ImageRecord) -> bool:
    """Unmount the image; False when it was not mounted."""
    from rootless.overlay import unmount

    target = mount_point(paths, record)
    if str(target) not in _mounted():
        return False
    unmount(str(target))
    try:
        target.rmdir()
        target.parent.rmdir()
    except OSError:
        pass
    return True
