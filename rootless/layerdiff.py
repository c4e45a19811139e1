"""A container's overlay upper dir as an image layer tar (``build``, ``commit``).

``write_layer(upper, out)`` writes the upper dir as an OCI layer: a 0:0 character device
(overlay's whiteout) becomes an empty ``.wh.NAME`` file, a directory marked opaque
(``user.overlay.opaque``, fuse-overlayfs' ``user.fuseoverlayfs.opaque``, ``trusted.overlay.opaque``)
gets a ``.wh..wh..opq`` entry, owners are the ids as seen in the user namespace (the
container's ids), hard links stay links, entries are sorted by name and, with ``mtime``,
every time is that one (reproducible builds).  Mount points the runtime made (``exclude``:
paths such as ``/etc/hosts`` or a secret's target) are left out when they are empty.

Entry point (stdlib only): ``python_entry("rootless.layerdiff", CONFIG_JSON)`` as root in the
store's user namespace (``userns.popen``), the layer tar on stdout.  Config keys: ``upper``,
``exclude``, ``mtime``; with ``apply`` (COPY/ADD/WORKDIR of a build) the helper first mounts
the overlay (``overlay``, ``target``), ``chroot``\\ s into it and extracts the tar on stdin
(``apply``: ``{"dest", "mode": "into"|"file", "name", "owner", "archive"}``), then writes the
layer of what that changed.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tarfile
from collections.abc import Callable, Iterable, Sequence
from typing import Any, BinaryIO

OPAQUE_XATTRS = ("user.overlay.opaque", "user.fuseoverlayfs.opaque", "trusted.overlay.opaque")
CHUNK = 1 << 20


def is_opaque(path: str) -> bool:
    """Whether ``path`` is an opaque directory (kernel overlay's or fuse-overlayfs's marker)."""
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def _to_container(ranges: Sequence[tuple[int, int, int]] | None) -> Callable[[int], int]:
    """Host id → container id through ``(container_id, host_id, size)`` ranges (None: as is)."""
    if not ranges:
        return lambda i: i

    def conv(i: int) -> int:
        for cid, hid, size in ranges:
            if hid <= i < hid + size:
                return cid + i - hid
        return 65534  # not mapped: nobody, as the kernel shows it
    return conv


class _Writer:
    def __init__(self, upper: str, tf: tarfile.TarFile, exclude: Iterable[str], mtime: int | None,
                 uid_map: Sequence[tuple[int, int, int]] | None = None,
                 gid_map: Sequence[tuple[int, int, int]] | None = None) -> None:
        self.upper = upper.rstrip("/")
        self.tf = tf
        self.exclude = set(exclude)
        self.mtime = mtime
        self.links: dict[tuple[int, int], str] = {}
        self.uid = _to_container(uid_map)
        self.gid = _to_container(gid_map)

    def info(self, name: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = self.uid(st.st_uid), self.gid(st.st_gid)
        ti.uname = ti.gname = ""
        ti.mtime = self.mtime if self.mtime is not None else int(st.st_mtime)
        return ti

    def empty(self, name: str) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.mode, ti.uname, ti.gname = 0o644, "", ""
        ti.mtime = self.mtime if self.mtime is not None else 0
        return ti

    def dir(self, rel: str) -> bool:
        """Write the entries under ``rel`` (``""`` = the upper dir); True when any was written."""
        full = self.upper + rel
        wrote = False
        with os.scandir(full) as it:
            names = sorted(e.name for e in it)
        for name in names:
            child = f"{rel}/{name}"
            wrote = self.entry(child) or wrote
        return wrote

    def entry(self, rel: str) -> bool:
        full = self.upper + rel
        st = os.lstat(full)
        arc = rel.lstrip("/")
        mode = st.st_mode
        if stat.S_ISCHR(mode) and st.st_rdev == 0:
            head, _, base = arc.rpartition("/")
            self.tf.addfile(self.empty(f"{head}/.wh.{base}" if head else f".wh.{base}"))
            return True
        if stat.S_ISDIR(mode):
            pos = self.tf.offset
            ti = self.info(arc, st, tarfile.DIRTYPE)
            members = len(self.tf.members)
            self.tf.addfile(ti)
            if is_opaque(full):
                self.tf.addfile(self.empty(f"{arc}/.wh..wh..opq"))
            below = self.dir(rel)
            if rel in self.exclude and not below and len(self.tf.members) == members + 1:
                self._undo(pos, members)
                return False
            return True
        if rel in self.exclude and stat.S_ISREG(mode) and st.st_size == 0:
            return False
        if st.st_nlink > 1 and not stat.S_ISDIR(mode):
            key = (st.st_dev, st.st_ino)
            first = self.links.get(key)
            if first is not None:
                ti = self.info(arc, st, tarfile.LNKTYPE)
                ti.linkname = first
                self.tf.addfile(ti)
                return True
            self.links[key] = arc
        if stat.S_ISREG(mode):
            ti = self.info(arc, st, tarfile.REGTYPE)
            ti.size = st.st_size
            with open(full, "rb") as f:
                self.tf.addfile(ti, f)
        elif stat.S_ISLNK(mode):
            ti = self.info(arc, st, tarfile.SYMTYPE)
            ti.linkname = os.readlink(full)
            self.tf.addfile(ti)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti = self.info(arc, st, tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE)
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tf.addfile(ti)
        elif stat.S_ISFIFO(mode):
            self.tf.addfile(self.info(arc, st, tarfile.FIFOTYPE))
        else:  # sockets are not part of a layer
            return False
        return True

    def _undo(self, pos: int, members: int) -> None:
        """Drop the directory entry just written (an empty excluded mount point)."""
        fileobj = self.tf.fileobj
        if hasattr(fileobj, "undo_to"):
            fileobj.undo_to(pos)  # type: ignore[union-attr]
            self.tf.offset = pos
            del self.tf.members[members:]


class _Buffered:
    """A write buffer in front of ``out`` that can take back its not yet flushed tail (a
    directory header that turns out to be an empty mount point is never sent)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.buf = bytearray()
        self.base = 0  # stream offset of buf[0]

    def write(self, data: bytes) -> int:
        self.buf += data
        if len(self.buf) > 4 * CHUNK:
            keep = 64 * 1024
            self.out.write(self.buf[:-keep])
            self.base += len(self.buf) - keep
            del self.buf[:-keep]
        return len(data)

    def tell(self) -> int:
        return self.base + len(self.buf)

    def undo_to(self, pos: int) -> None:
        if pos >= self.base:
            del self.buf[pos - self.base:]

    def flush(self) -> None:
        self.out.write(self.buf)
        self.base += len(self.buf)
        self.buf.clear()
        self.out.flush()


class _Merged(_Writer):
    """Several layer dirs (top first) as one layer: what overlay would show, with the whiteouts
    and opaque markers that still matter below them when ``keep_whiteouts``."""

    def __init__(self, layers: list[str], tf: tarfile.TarFile, keep_whiteouts: bool, mtime: int | None) -> None:
        super().__init__("", tf, (), mtime)
        self.layers = [d.rstrip("/") for d in layers]
        self.keep = keep_whiteouts

    def walk(self, rel: str, layers: list[str]) -> None:
        names: set[str] = set()
        for d in layers:
            try:
                names.update(os.listdir(d + rel) if rel else os.listdir(d))
            except (FileNotFoundError, NotADirectoryError):
                continue
        for name in sorted(names):
            child = f"{rel}/{name}"
            top, below, opaque = None, [], False
            for d in layers:
                try:
                    st = os.lstat(d + child)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                if top is None:
                    top = (d, st)
                if not stat.S_ISDIR(st.st_mode) or not stat.S_ISDIR(top[1].st_mode):
                    break  # a file or a whiteout hides what lies below it
                below.append(d)
                if is_opaque(d + child):
                    opaque = True
                    break
            if top is None:
                continue
            d, st = top
            arc = child.lstrip("/")
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                if self.keep:
                    head, _, base = arc.rpartition("/")
                    self.tf.addfile(self.empty(f"{head}/.wh.{base}" if head else f".wh.{base}"))
                continue
            if stat.S_ISDIR(st.st_mode):
                self.tf.addfile(self.info(arc, st, tarfile.DIRTYPE))
                if opaque and self.keep:
                    self.tf.addfile(self.empty(f"{arc}/.wh..wh..opq"))
                self.walk(child, below)
                continue
            self.upper = d
            self.entry(child)


def write_merged(layers_top_first: list[str], out: BinaryIO, keep_whiteouts: bool, mtime: int | None = None) -> None:
    """Write several layer dirs as one layer tar (``--squash``, ``--squash-all``)."""
    buf = _Buffered(out)
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        _Merged(layers_top_first, tf, keep_whiteouts, mtime).walk("", layers_top_first)
    buf.flush()


def readable_tree(root: str) -> bool:
    """Can this process read every file and search every directory under ``root`` (then the
    layer can be written without entering the user namespace)?"""
    for dirpath, dirnames, filenames in os.walk(root):
        if not os.access(dirpath, os.R_OK | os.X_OK):
            return False
        for name in filenames:
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                return False
            if stat.S_ISREG(st.st_mode) and not os.access(full, os.R_OK):
                return False
        for name in dirnames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                continue
            if not os.access(full, os.R_OK | os.X_OK):
                return False
    return True


def write_layer(upper: str, out: BinaryIO, exclude: Iterable[str] = (), mtime: int | None = None,
                uid_map: Sequence[tuple[int, int, int]] | None = None,
                gid_map: Sequence[tuple[int, int, int]] | None = None) -> int:
    """Write ``upper`` as a layer tar on ``out``; returns the number of entries.  Outside the user
    namespace, ``uid_map``/``gid_map`` turn the host ids of the files into the container's."""
    buf = _Buffered(out)
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        _Writer(upper, tf, exclude, mtime, uid_map, gid_map).dir("")
        count = len(tf.members)
    buf.flush()
    return count


def _apply(cfg: dict[str, Any]) -> None:
    """Mount the overlay, chroot, extract stdin's tar at ``apply.dest``, come back."""
    import posixpath

    from rootless.archive import extract_into, mount_root

    spec = cfg["apply"]
    target = cfg["target"]
    old_root = mount_root(cfg["overlay"], target, [], True)
    try:
        owner = tuple(spec["owner"]) if spec.get("owner") is not None else None
        dest = spec["dest"]
        real = os.path.realpath(dest)
        rename = None
        if spec["mode"] == "dir" or spec["mode"] == "file" and not os.path.isdir(real):
            into = posixpath.dirname(real) or "/"
            rename = (spec["name"], posixpath.basename(real))
        else:
            into = real
        _makedirs(into, owner if spec.get("chown_dest") else None)
        for extra in spec.get("mkdirs") or ():  # VOLUME mount points
            _makedirs(os.path.realpath(extra), None)
        stdin = sys.stdin.buffer
        if spec.get("has_tar", True):
            extract_into(stdin, into, owner=owner, rename=rename, overwrite=True)  # type: ignore[arg-type]
            while stdin.read(CHUNK):
                pass
    finally:
        os.fchdir(old_root)
        os.chroot(".")
        os.close(old_root)
        if cfg["overlay"].get("driver") == "fuse":
            from rootless.overlay import unmount

            unmount(target)


def _makedirs(path: str, owner: tuple[int, int] | None) -> None:
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path.rstrip("/"))
    if parent and parent != path:
        _makedirs(parent, None)
    os.mkdir(path, 0o755)
    if owner is not None:
        os.chown(path, *owner)


def main(argv: list[str] | None = None) -> int:
    """``CONFIG_JSON``: the layer tar on stdout; errors as ``rpod-layerdiff: MESSAGE`` on stderr."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: rootless.layerdiff CONFIG_JSON", file=sys.stderr)
        return 2
    cfg = json.loads(args[0])
    try:
        if cfg.get("merge"):
            write_merged(cfg["merge"], sys.stdout.buffer, bool(cfg.get("keep_whiteouts")), cfg.get("mtime"))
            sys.stdout.buffer.flush()
            return 0
        if cfg.get("apply"):
            import gzip  # noqa: F401 - loaded before the chroot
            _apply(cfg)
        write_layer(cfg["upper"], sys.stdout.buffer, cfg.get("exclude") or (), cfg.get("mtime"))
    except BrokenPipeError:
        return 1
    except Exception as e:  # noqa: BLE001 - reported to the CLI, which names the step
        msg = getattr(e, "message", None) or (f"{e.filename}: {e.strerror}" if isinstance(e, OSError) and e.filename
                                               else str(e))
        print(f"rpod-layerdiff: {msg}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
