"""A container's writable layer: ``upper/``, ``work/`` and the ``rootfs/`` mount point.

The overlay itself is mounted by the runtime inside the container's own mount namespace
(annotation ``run.rpod.overlay``), so nothing here mounts anything.
"""

from __future__ import annotations

from pathlib import Path

from rootless import ctrfiles
from rpod.container.idmaps import ContainerMaps
from rpod.container.ocispec import OverlayInfo
from rpod.errors import RpodError
from rpod.paths import Paths


def prepare(paths: Paths, cid: str, layer_dirs: list[Path], driver: str = "kernel",
            maps: ContainerMaps | None = None) -> tuple[Path, OverlayInfo]:
    """Create the container's upper/work/rootfs dirs; return (rootfs mount point, overlay description).

    With ``maps`` (an id map other than the store's), ``upper`` and ``work`` are given to the
    container's root, so the overlay's root directory shows as root's and its mounter can write.
    A map without the user makes the container's root a stranger to the user's files: the runtime
    then starts from the store's root (``base``, entered while it is still the user), so only the
    directories from there down must be searchable by others, not the user's home above it.
    """
    cdir = paths.container_dir(cid)
    for sub in (ctrfiles.UPPER, ctrfiles.WORK, ctrfiles.ROOTFS):
        (cdir / sub).mkdir(mode=0o755 if sub != ctrfiles.WORK else 0o700, parents=True, exist_ok=True)
    base = ""
    if maps is not None and not maps.maps_user():  # (with the user mapped, the runtime chowns upper/)
        base = str(paths.root)
        for d in (paths.root, cdir):  # its root reaches upper/, work/ and userdata/ from the store's root
            d.chmod(d.stat().st_mode | 0o001)
        _check_reachable([cdir / ctrfiles.UPPER, *layer_dirs], paths.root)
        give_to_container_root([cdir / ctrfiles.UPPER, cdir / ctrfiles.WORK], maps)
    info = OverlayInfo(lowerdirs=[str(d) for d in layer_dirs], upperdir=str(cdir / ctrfiles.UPPER),
                       workdir=str(cdir / ctrfiles.WORK), driver=driver, base=base)
    return cdir / ctrfiles.ROOTFS, info


def give_to_container_root(files: list[Path], maps: ContainerMaps) -> None:
    """Chown ``files`` to the container's root (through the user's full map, where rpod can)."""
    from rootless.idshift import shifter

    uid, gid = shifter(maps.uid)(0), shifter(maps.gid)(0)
    if (uid, gid) == (0, 0) or not files:
        return
    from rootless.subid import default_mapping
    from rootless.userns import run  # subprocess: not imported when there is nothing to chown

    proc = run(["chown", f"{uid}:{gid}", "--", *map(str, files)], default_mapping(),
               mount_ns=False, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RpodError(f"cannot give the container's files to its root: {proc.stderr.strip()}")


def _check_reachable(dirs: list[Path], base: Path) -> None:
    """A map without the user (``nomap``, ``--uidmap 0:1:N``) makes the container's root a
    stranger to the user's files: every directory between ``base`` (where the runtime starts)
    and its layers must be searchable by others."""
    import stat

    seen: set[Path] = set()
    for d in dirs:
        inside = d.is_relative_to(base)  # (a layer elsewhere is reached by its full path)
        for parent in d.parents:
            if parent in seen or (inside and (parent == base or not parent.is_relative_to(base))):
                continue
            seen.add(parent)
            st = parent.stat()
            if not st.st_mode & stat.S_IXOTH:
                raise RpodError(f"the container's root cannot reach its layers: {parent} is not searchable "
                                "by other users, and this id map does not map your own id",
                                hint=f"chmod o+x {parent}, move the store (--root), "
                                     "or use a map that includes your id (--userns=keep-id)")
