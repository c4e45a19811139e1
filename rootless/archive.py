"""Copy files into and out of a container's root filesystem as tar streams (``cp``, ``export``).

Entry point (stdlib only): ``python_entry("rootless.archive", CONFIG_JSON)``; the tar goes on
stdin (``put``) or stdout (``get``, ``export``).  The helper first gets into the container's
root, then every path is resolved *inside* it (``chroot`` or the container's own mount
namespace), so a symlink such as ``/tmp/up -> ../../..`` or ``/x -> /`` never leaves it:

* ``{"enter_pid": N}``: a running container.  The helper joins the user and mount namespace of
  the container's init (``setns``; the user owns that user namespace, so it may) and works in
  the live tree the container sees, volumes included; writes are seen by the container at once.
* ``{"overlay": {...}, "target": DIR, "binds": [...]}``: a container that is not running.  The
  helper is started by ``rootless.userns.popen`` (root of a fresh user + mount namespace with the
  container's id map), mounts the overlay (read-write only for ``put``; read-only, with the
  upper dir as the top lower layer, otherwise), bind-mounts the container's volumes and binds,
  and ``chroot``\\ s into it.  The mounts vanish with the helper.

Config keys: ``op`` (``get``/``put``/``export``), ``path`` (container path as the user gave it),
``owner`` (``[uid, gid]`` given to written files, or null to keep the archive's), ``overwrite``,
``src`` (``put`` from a path: ``{"dir", "name", "contents"}``; null: any tar from stdin).

Protocol: ``get`` writes one JSON line ``{"dir": bool, "name": str, "contents": bool}`` and then the
tar; ``put`` writes ``{"ok": true}`` (after the tar; ``export`` before it); a failure is one line ``{"error": KIND, "message": TEXT}``
(KIND ``notfound``, ``usage``, ``exists`` (a directory in the way of a non-directory, or the
reverse, without ``overwrite``), ``failed``) and exit status 1.

The same tar writing (``write_tar``) and path rules (``plan_put``, ``extract_into``) are used by
the CLI on the host side, so both directions follow Podman's ``cp`` semantics.
"""

from __future__ import annotations

import errno
import glob
import io
import json
import os
import posixpath
import shutil  # noqa: F401  (unpack imports it lazily: it must be loaded before setns)
import stat
import sys
import tarfile
from collections.abc import Sequence
from typing import Any, BinaryIO

from rootless import syscalls
from rootless.errors import RootlessError, UnpackError
from rootless.unpack import _Extractor, normalize_name

CHUNK = 1 << 20
AT_FDCWD = -100


class CopyError(RootlessError):
    """A copy cannot be done; ``kind`` is ``notfound`` (the message is the reason: the caller
    names the path and where), ``usage``, ``exists`` (Podman's "file exists" conflict) or ``failed``."""

    def __init__(self, kind: str, message: str, hint: str | None = None):
        super().__init__(message, hint)
        self.kind = kind


# ---------------------------------------------------------------- path rules (Podman's cp)
def split_source(path: str) -> tuple[str, bool, bool]:
    """``(path, contents_only, trailing_slash)``: ``dir/.`` copies the contents of ``dir``."""
    contents = path.endswith("/.") or path in (".", "/")
    trailing = path.endswith("/")
    return path, contents, trailing


def kind_of(path: str) -> str | None:
    """``dir``, ``file`` (anything else) or None when ``path`` does not exist (symlinks followed)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return None
    return "dir" if stat.S_ISDIR(st.st_mode) else "file"


def source_info(path: str) -> dict[str, Any]:
    """Resolve a source path (in the current root): what ``get`` writes before the tar."""
    _, contents, trailing = split_source(path)
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        raise CopyError("notfound", "no such file or directory") from None
    if trailing and not stat.S_ISDIR(st.st_mode):
        raise CopyError("notfound", "not a directory")
    is_dir = stat.S_ISDIR(st.st_mode)
    return {"dir": is_dir, "name": posixpath.basename(real) or "/", "contents": contents and is_dir,
            "real": real}


def plan_put(dest: str, src: dict[str, Any] | None) -> tuple[str, tuple[str, str] | None, bool]:
    """Where to extract a tar for a copy to ``dest`` (in the current root).

    ``src`` describes the tar: ``{"dir", "name", "contents"}`` (entries under ``name/``, or the
    directory's contents when ``contents``), or None for a tar from stdin.  Returns
    ``(directory to extract into, (old, new) first-component rename or None, create that dir)``.
    Raises ``CopyError`` with Podman's rules.
    """
    trailing = dest.endswith("/")
    real = os.path.realpath(dest)
    kind = kind_of(real)
    if src is None:
        if kind != "dir":
            raise CopyError("usage", "destination must be a directory when copying from stdin")
        return real, None, False
    parent = posixpath.dirname(real) or "/"
    if src["dir"]:
        if kind == "file":
            raise CopyError("usage", "destination must be a directory when copying a directory")
        if kind == "dir":
            return real, None, False
        if kind_of(parent) != "dir":
            raise CopyError("notfound", "no such file or directory")
        if src["contents"]:
            return real, None, True
        return parent, (src["name"], posixpath.basename(real)), False
    if kind == "dir":
        return real, None, False
    if kind is None and (trailing or kind_of(parent) != "dir"):
        raise CopyError("notfound", "no such file or directory")
    return parent, (src["name"], posixpath.basename(real)), False


# ---------------------------------------------------------------- tar writing
class _BareDirInfo(tarfile.TarInfo):
    """Directory entries named without the trailing ``/`` tarfile adds (as Podman's ``cp``)."""

    def get_info(self) -> dict[str, Any]:  # type: ignore[override]
        info = super().get_info()
        if info["type"] == tarfile.DIRTYPE:
            info["name"] = info["name"].rstrip("/") or info["name"]
        return info


def write_tar(out: BinaryIO, real: str, name: str, contents: bool, *, dir_slash: bool = False) -> None:
    """Write ``real`` as a tar stream on ``out``: entries under ``name`` (``name/...``), or only
    the directory's contents when ``contents``.  Symlinks are stored, never followed.  Directory
    names end in ``/`` only with ``dir_slash`` (Podman's ``export`` has it, its ``cp`` not)."""
    kind = tarfile.TarInfo if dir_slash else _BareDirInfo
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK, tarinfo=kind) as tf:
        if contents:
            for child in sorted(os.listdir(real)):
                tf.add(os.path.join(real, child), arcname=child)
        else:
            tf.add(real, arcname=name)


# ---------------------------------------------------------------- extraction
class _CopyExtractor(_Extractor):
    """``rootless.unpack``'s safe extractor with cp's rules: no whiteout conversion, an optional
    fixed owner, an optional first-component rename, no replacing a directory by a file (or
    the reverse) without ``overwrite``, no syncfs."""

    sync = False

    def __init__(self, dest: str, *, owner: tuple[int, int] | None, squash: bool,
                 rename: tuple[str, str] | None, overwrite: bool, shown_root: str):
        super().__init__(dest, squash_ids=squash)
        self.owner = owner
        self.rename = (rename[0].encode("utf-8", "surrogateescape"),
                       rename[1].encode("utf-8", "surrogateescape")) if rename else None
        self.overwrite = overwrite
        self.shown_root = shown_root
        self._making_dir = False
        self._entry: tarfile.TarInfo | None = None
        # without CAP_DAC_OVERRIDE (the host side), a directory is made writable for its
        # children and gets its real mode at the end
        self.fix_dir_modes = os.geteuid() != 0
        self.dir_modes: dict[Any, int] = {}

    def _renamed(self, name: str) -> str:
        if self.rename is None:
            return name
        parts = normalize_name(name)
        if parts and parts[0] == self.rename[0]:
            parts = (self.rename[1], *parts[1:])
        return b"/".join(parts).decode("utf-8", "surrogateescape")

    def entry(self, ti: tarfile.TarInfo, reader: Any) -> None:
        ti.name = self._renamed(ti.name)
        if ti.islnk():
            ti.linkname = self._renamed(ti.linkname)
        self._entry = ti
        super().entry(ti, reader)

    def _whiteout(self, ti: tarfile.TarInfo, parts: Any, entry: str) -> bool:
        return False  # a file named .wh.x is copied as such

    def _ids(self, ti: tarfile.TarInfo) -> tuple[int, int]:
        if self.owner is not None:
            return self.owner
        return super()._ids(ti)

    def _remove(self, dfd: int, parts: Any) -> None:
        if not self.overwrite:
            try:
                st = os.lstat(parts[-1], dir_fd=dfd)
            except FileNotFoundError:
                return
            if stat.S_ISDIR(st.st_mode) != self._making_dir:
                raise CopyError("exists", self._exists_message(parts), hint="use --overwrite to replace it")
        super()._remove(dfd, parts)

    def _exists_message(self, parts: Any) -> str:
        """Podman's (buildah copier's) error for a directory in the way of a non-directory, or the
        reverse; the path as the copy's root shows it (the container's, or ``/`` for the host
        directory copied into)."""
        path = posixpath.join(self.shown_root, b"/".join(parts).decode("utf-8", "surrogateescape"))
        ti = self._entry
        if self._making_dir or ti is None:
            cause = f"mkdir {path}"
        elif ti.isreg():
            cause = f'copier: put: error creating file at "{path}": open {path}'
        elif ti.issym():
            cause = f"symlink {ti.linkname} {path}"
        elif ti.islnk():
            cause = f"link {posixpath.join(self.shown_root, ti.linkname)} {path}"
        else:
            cause = f"mknod {path}"
        return f'copier: put: error creating "{path}": {cause}: file exists'

    def _directory(self, ti: tarfile.TarInfo, parts: Any, entry: str) -> None:
        self._making_dir = True
        try:
            if self.fix_dir_modes and ti.mode & 0o700 != 0o700:
                self.dir_modes[parts] = ti.mode & 0o7777
                ti.mode |= 0o700
            super()._directory(ti, parts, entry)
        finally:
            self._making_dir = False

    def _finish_dirs(self) -> None:
        super()._finish_dirs()
        for parts, mode in self.dir_modes.items():
            try:
                os.fchmod(self._dir(parts, "", create=False), mode)
            except (OSError, UnpackError):
                continue  # replaced by a later entry


def extract_into(fileobj: BinaryIO, dest: str, *, owner: tuple[int, int] | None = None, squash: bool = False,
                 rename: tuple[str, str] | None = None, overwrite: bool = False, mkdir: bool = False,
                 shown_root: str | None = None) -> None:
    """Extract the tar ``fileobj`` into the directory ``dest`` (created first with ``mkdir``).
    Error messages name paths under ``shown_root`` (default ``dest``: a container's own path)."""
    if mkdir:
        os.mkdir(dest, 0o755)
        if owner is not None:
            os.chown(dest, *owner)
    old_umask = os.umask(0)
    ex = None
    try:  # (the extractor's own set-up may fail too: the umask comes back whatever happens)
        ex = _CopyExtractor(dest, owner=owner, squash=squash, rename=rename, overwrite=overwrite,
                            shown_root=dest if shown_root is None else shown_root)
        ex.run(fileobj)
    except UnpackError as e:
        if "not a tar stream" in str(e) or "invalid tar header" in str(e):
            raise CopyError("usage", "source must be a (compressed) tar archive when copying from stdin") from e
        raise
    finally:
        if ex is not None:
            ex.close()
        os.umask(old_umask)


def open_tar_input(raw: BinaryIO) -> BinaryIO:
    """``raw`` as an uncompressed tar stream: gzip, bzip2 and xz input is decompressed."""
    buffered = io.BufferedReader(raw, CHUNK) if not isinstance(raw, io.BufferedReader) else raw  # type: ignore[arg-type]
    head = buffered.peek(6)[:6]
    try:
        if head[:2] == b"\x1f\x8b":
            import gzip

            return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
        if head[:3] == b"BZh":
            import bz2

            return bz2.BZ2File(buffered)  # type: ignore[return-value]
        if head == b"\xfd7zXZ\x00":
            import lzma

            return lzma.LZMAFile(buffered)  # type: ignore[return-value]
    except ImportError as e:  # a Python built without the module
        raise CopyError("usage", f"cannot decompress the archive: {e}") from None
    return buffered


def preload() -> None:
    """Import now what may be needed later: after setns the host's stdlib is out of reach."""
    import contextlib

    for name in ("gzip", "bz2", "lzma"):
        with contextlib.suppress(ImportError):
            __import__(name)


# ---------------------------------------------------------------- getting into the container
def enter_namespaces(pid: int) -> None:
    """Join the user and mount namespace of ``pid`` (a running container's init); cwd ``/``."""
    fds = []
    try:
        for ns in ("user", "mnt"):
            fds.append(os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC))
    except OSError as e:
        raise CopyError("failed", f"cannot open the namespaces of the container's process {pid}: {e.strerror}") from e
    try:
        if os.fstat(fds[0]).st_ino != os.stat("/proc/self/ns/user").st_ino:
            syscalls.setns(fds[0], syscalls.CLONE_NEWUSER)
        syscalls.setns(fds[1], syscalls.CLONE_NEWNS)
    except OSError as e:
        raise CopyError("failed", f"cannot join the container's namespaces: {e.strerror}") from e
    finally:
        for fd in fds:
            os.close(fd)
    os.chdir("/")


def mount_root(overlay: dict[str, Any], target: str, binds: Sequence[dict[str, Any]], writable: bool,
               created: list[tuple[str, bool]] | None = None) -> int:
    """Mount the container's overlay (and binds) on ``target`` and chroot there; returns an fd
    of the old root (``leave_root`` uses it to unmount a fuse-overlayfs mount).  A bind whose
    mount point is missing gets one made (writable only), listed in ``created`` as
    ``(path, is_dir)`` for ``remove_mount_points``."""
    from rootless.overlay import mount_overlay

    lower = list(overlay.get("lowerdir") or [])
    if writable:
        mount_overlay(lower, overlay["upperdir"], overlay["workdir"], target, overlay.get("driver", "kernel"))
    else:
        mount_overlay([*lower, overlay["upperdir"]], None, None, target, overlay.get("driver", "kernel"))
    trees = []  # detached copies of the binds, attached after the chroot (paths resolved inside)
    for b in binds:
        if not os.path.exists(b["source"]):
            continue
        try:
            fd = syscalls.open_tree(AT_FDCWD, b["source"], syscalls.OPEN_TREE_CLONE | syscalls.OPEN_TREE_CLOEXEC
                                    | syscalls.AT_RECURSIVE)
            if b.get("readonly"):
                syscalls.mount_setattr(fd, "", syscalls.AT_EMPTY_PATH | syscalls.AT_RECURSIVE,
                                       attr_set=syscalls.MOUNT_ATTR_RDONLY)
        except OSError as e:
            raise CopyError("failed", f"cannot mount {b['source']} on {b['destination']}: {e.strerror}") from e
        trees.append((fd, b["destination"]))
    old_root = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    os.chroot(target)
    os.chdir("/")
    for fd, destination in trees:
        dest = os.path.realpath(destination)
        try:
            if not os.path.exists(dest) and writable:  # a mount point the runtime would make at start
                is_dir = stat.S_ISDIR(os.fstat(fd).st_mode)
                _make_mount_point(dest, is_dir, created)
            if os.path.exists(dest):
                syscalls.move_mount(fd, "", AT_FDCWD, dest, syscalls.MOVE_MOUNT_F_EMPTY_PATH)
        except OSError as e:
            raise CopyError("failed", f"cannot mount a volume on {destination}: {e.strerror}") from e
        finally:
            os.close(fd)
    return old_root


def _make_mount_point(dest: str, is_dir: bool, created: list[tuple[str, bool]] | None) -> None:
    """Make ``dest`` (and its missing parents), noting each new path in ``created``."""
    missing = []
    path = dest
    while path != "/" and not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    for p in reversed(missing):
        if p == dest and not is_dir:
            os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644))
        else:
            os.mkdir(p, 0o755)
        if created is not None:
            created.append((p, p != dest or is_dir))


def remove_mount_points(created: Sequence[tuple[str, bool]]) -> None:
    """Undo ``mount_root``'s mount points, newest first, where they are still empty: a copy into
    a container that is not running leaves no trace of them (Podman writes through to a
    volume's directory, e.g. never makes the mount point of a nested volume in the outer one)."""
    for path, is_dir in reversed(created):
        try:
            syscalls.umount2(path, syscalls.MNT_DETACH)
        except OSError:
            pass  # not a mount point (a parent made for one)
        try:
            if is_dir:
                os.rmdir(path)
            elif os.lstat(path).st_size == 0:
                os.unlink(path)
        except OSError:
            continue  # in use (something was copied there): it stays, as the runtime would make it


def leave_root(old_root: int, target: str, driver: str) -> None:
    """Back to the old root; unmount a fuse-overlayfs mount (its daemon would outlive us)."""
    if driver != "fuse":
        return
    from rootless.overlay import unmount

    os.fchdir(old_root)
    os.chroot(".")
    try:
        unmount(target)
    except RootlessError:
        pass


# ---------------------------------------------------------------- operations
def _reply(obj: dict[str, Any]) -> None:
    out = sys.stdout.buffer
    out.write(json.dumps(obj).encode() + b"\n")
    out.flush()


def do_get(cfg: dict[str, Any]) -> None:
    info = source_info(cfg["path"])
    real = info.pop("real")
    _reply(info)
    out = sys.stdout.buffer
    try:
        write_tar(out, real, info["name"], info["contents"] or real == "/")
        out.flush()
    except (OSError, tarfile.TarError) as e:  # the header is out: report on stderr
        if not isinstance(e, BrokenPipeError):
            print(f"rpod-archive: {e}", file=sys.stderr)
        raise SystemExit(1) from None


def do_get_many(cfg: dict[str, Any]) -> None:
    """Several sources, each a path or a glob (build ``COPY --from``), in one tar: a file (or a
    symlink) under its base name, a directory's contents at the top (Docker's COPY rules)."""
    matches: list[str] = []
    for pattern in cfg["paths"]:
        if glob.has_magic(pattern):
            found = sorted(glob.glob(pattern, include_hidden=True))
        else:
            found = [pattern] if os.path.lexists(pattern) else []
        if not found:
            raise CopyError("notfound", f"{pattern}: no such file or directory")
        matches += found
    files = [m for m in matches if not os.path.isdir(m)]
    single = posixpath.basename(files[0]) if len(matches) == 1 and files else None
    _reply({"dir": single is None, "contents": True, "name": single or "", "count": len(matches)})
    out = sys.stdout.buffer
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK,
                          tarinfo=_BareDirInfo) as tf:
            for m in matches:
                if os.path.isdir(m):
                    for child in sorted(os.listdir(m)):
                        tf.add(os.path.join(m, child), arcname=child)
                else:
                    tf.add(m if single is None else os.path.realpath(m), arcname=posixpath.basename(m))
        out.flush()
    except (OSError, tarfile.TarError) as e:
        if not isinstance(e, BrokenPipeError):
            print(f"rpod-archive: {e}", file=sys.stderr)
        raise SystemExit(1) from None


def do_export() -> None:
    _reply({"ok": True})
    out = sys.stdout.buffer
    write_tar(out, "/", "", True, dir_slash=True)
    out.flush()


def do_put(cfg: dict[str, Any]) -> None:
    dest, rename, mkdir = plan_put(cfg["path"], cfg.get("src"))
    owner = tuple(cfg["owner"]) if cfg.get("owner") is not None else None
    stdin = open_tar_input(sys.stdin.buffer.raw)  # type: ignore[attr-defined]
    extract_into(stdin, dest, owner=owner, rename=rename, overwrite=bool(cfg.get("overwrite")),  # type: ignore[arg-type]
                 mkdir=mkdir)
    while stdin.read(CHUNK):  # let the writer finish without EPIPE
        pass
    _reply({"ok": True})


def main(argv: list[str] | None = None) -> int:
    """``CONFIG_JSON``: see the module docstring.  Exit 0, or 1 after an error line on stdout."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: rootless.archive CONFIG_JSON", file=sys.stderr)
        return 2
    cfg = json.loads(args[0])
    old_root = -1
    created: list[tuple[str, bool]] = []
    try:
        if cfg["op"] == "put":
            preload()  # before setns or chroot
        if cfg.get("enter_pid"):
            enter_namespaces(int(cfg["enter_pid"]))
        else:
            old_root = mount_root(cfg["overlay"], cfg["target"], cfg.get("binds") or [], cfg["op"] == "put",
                                  created)
        try:
            op = cfg["op"]
            if op == "get":
                do_get(cfg)
            elif op == "getmany":
                do_get_many(cfg)
            elif op == "put":
                do_put(cfg)
            elif op == "export":
                do_export()
            else:
                raise CopyError("usage", f"unknown operation {op!r}")
        finally:
            remove_mount_points(created)
            if old_root >= 0:
                leave_root(old_root, cfg["target"], cfg["overlay"].get("driver", "kernel"))
    except CopyError as e:
        _reply({"error": e.kind, "message": e.message, "hint": e.hint})
        return 1
    except BrokenPipeError:
        return 1
    except (RootlessError, OSError, tarfile.TarError, ValueError) as e:
        msg = e.message if isinstance(e, RootlessError) else (
            f"{e.filename}: {e.strerror}" if isinstance(e, OSError) and e.filename else str(e))
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            msg = "no space left on the device"
        _reply({"error": "failed", "message": msg})
        return 1
    return 0


__all__ = ["CopyError", "extract_into", "main", "open_tar_input", "plan_put", "source_info", "split_source",
           "write_tar"]
