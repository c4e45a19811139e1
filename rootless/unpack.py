"""Write one uncompressed layer tarball into a directory, safely, as root in the user namespace.

Run as ``python_entry("rootless.unpack", DEST, [--squash-ids])`` with the tar stream on
stdin (see ``main``), or in-process with ``extract``.  ``tarfile`` parses the headers
(ustar, GNU long names, PAX, sparse files); the writing is done here with directory file
descriptors so that no entry can reach outside DEST:

* names are normalised (leading ``/`` and ``./`` dropped) and ``..`` components rejected;
* parent directories are opened one component at a time with ``O_NOFOLLOW|O_DIRECTORY``,
  so a symlink planted by an earlier entry is never followed (the entry is an error);
* files are created with ``O_CREAT|O_EXCL|O_NOFOLLOW``, hard links resolve their target the
  same way, symlinks are created but never followed.

On-disk format (the overlay ``userxattr`` format, see docs/architecture.md): ``.wh.NAME``
becomes a 0:0 character device ``NAME`` and ``.wh..wh..opq`` the xattr
``user.overlay.opaque=y`` on its directory.

The headers are parsed by a ``tarfile.TarFile`` in plain read mode over ``ForwardReader``,
a stream that only allows forward seeks: that is still a single pass over a pipe, but
unlike the ``"r|"`` mode's internal buffer (which copies its whole buffer on every read)
it lets file data be copied straight from the stream in large chunks.
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import sys
import tarfile
from typing import Any, BinaryIO

from rootless import syscalls
from rootless.errors import UnpackError
from rootless.tarread import (  # noqa: F401 - normalize_name, display, parse_pax_time: this module's API too
    ForwardReader,
    Parts,
    check_sparse,
    display,
    mapped,
    mtime_ns,
    normalize_name,
    parse_pax_time,
    read_id_ranges,
)

CHUNK = 1 << 20  # data is copied in chunks of this size
SPACE_CHECK_MIN = 8 << 20  # files at least this large are checked against the free space first
DIR_CACHE_LIMIT = 128  # open directory fds kept between entries
MAX_LISTED = 200  # entries listed in stats["skipped"] / stats["ignored_xattrs"]

OPAQUE_MARKER = b".wh..wh..opq"
WHITEOUT_PREFIX = b".wh."
AUFS_META_PREFIX = b".wh..wh."
OPAQUE_XATTR = "user.overlay.opaque"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

class _Extractor:
    """State of one extraction: DEST's fd, cached parent dir fds, statistics."""

    sync = True  # syncfs at the end (layers must be durable; ``rootless.archive`` turns it off)

    def __init__(self, dest: str, squash_ids: bool):
        self.dest = dest
        self.squash = squash_ids
        try:
            self.root = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as e:
            raise UnpackError(f"cannot open the destination directory {dest}: {e.strerror}") from e
        self.cache: dict[Parts, int] = {(): self.root}
        self.sgid: set[Parts] = set()  # setgid directories: children inherit their group
        self.dir_times: dict[Parts, int] = {}
        self.own = (os.geteuid(), os.getegid())
        self.uid_ranges = read_id_ranges("/proc/self/uid_map")
        self.gid_ranges = read_id_ranges("/proc/self/gid_map")
        self.buf = memoryview(bytearray(CHUNK))
        self.stats: dict[str, Any] = {
            "files": 0, "bytes": 0, "dirs": 0, "symlinks": 0, "hardlinks": 0, "whiteouts": 0,
            "opaque": 0, "other": 0, "squashed": 0, "skipped": [], "ignored_xattrs": [],
        }
        self.skipped_count = 0

    # ---------------------------------------------------------------- helpers
    def close(self) -> None:
        for fd in self.cache.values():
            os.close(fd)
        self.cache.clear()

    def _trim_cache(self) -> None:
        keys = list(self.cache)
        for key in keys[1:len(keys) // 2]:  # keys[0] is () = DEST
            os.close(self.cache.pop(key))

    def _forget(self, prefix: Parts) -> None:
        n = len(prefix)
        for key in [k for k in self.cache if len(k) >= n and k[:n] == prefix]:
            os.close(self.cache.pop(key))
        for key in [k for k in self.sgid if len(k) >= n and k[:n] == prefix]:
            self.sgid.discard(key)

    def _dir(self, parts: Parts, entry: str, create: bool = True) -> int:
        """fd of directory ``parts`` below DEST, never following symlinks; missing parents are created."""
        fd = self.cache.get(parts)
        if fd is not None:
            return fd
        i = len(parts) - 1
        while i > 0 and parts[:i] not in self.cache:
            i -= 1
        fd = self.cache[parts[:i]]
        for j in range(i, len(parts)):
            name = parts[j]
            try:
                nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(name, 0o755, dir_fd=fd)
                if parts[:j] in self.sgid:
                    self.sgid.add(parts[:j + 1])
                nfd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise UnpackError(
                        f"{entry}: {display(parts[:j + 1])} is a symlink or not a directory; "
                        "refusing to write through it"
                    ) from None
                raise
            self.cache[parts[:j + 1]] = nfd
            fd = nfd
        return fd

    def _remove(self, dfd: int, parts: Parts) -> None:
        """Remove whatever exists at ``parts`` (a directory with its contents)."""
        name = parts[-1]
        try:
            st = os.lstat(name, dir_fd=dfd)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            import shutil

            self._forget(parts)
            shutil.rmtree(name, dir_fd=dfd)
        else:
            os.unlink(name, dir_fd=dfd)

    def _skip(self, entry: str, reason: str) -> None:
        self.skipped_count += 1
        if len(self.stats["skipped"]) < MAX_LISTED:
            self.stats["skipped"].append({"path": entry, "reason": reason})

    def _ids(self, ti: tarfile.TarInfo) -> tuple[int, int]:
        """Owner to give the entry: the tar's ids, or ours when squashing / unmapped."""
        if self.squash:
            if ti.uid or ti.gid:
                self.stats["squashed"] += 1
            return self.own
        uid, gid = ti.uid, ti.gid
        umapped, gmapped = mapped(self.uid_ranges, uid), mapped(self.gid_ranges, gid)
        if not (umapped and gmapped):
            self.stats["squashed"] += 1
            uid = uid if umapped else self.own[0]
            gid = gid if gmapped else self.own[1]
        return uid, gid

    def _chown(self, target: int | bytes, ids: tuple[int, int], parent: Parts,
               dfd: int | None = None) -> tuple[int, int]:
        """Give ``target`` the owner ``ids`` (ours when the kernel says they are unmapped); the ids given."""
        if ids == self.own and parent not in self.sgid:
            return ids
        try:
            self._chown_now(target, ids, dfd)
        except OSError as e:
            if e.errno != errno.EINVAL:
                raise
            self.stats["squashed"] += 1
            self._chown_now(target, self.own, dfd)
            return self.own
        return ids

    def _setid_mode(self, ti: tarfile.TarInfo, given: tuple[int, int], entry: str) -> int:
        """The mode of a setuid/setgid file once owned by ``given``.  An owner outside the namespace
        would make it setuid to someone else (root, when squashed to us): refused as Podman
        refuses ids it cannot map; with squashed ids (a single-id namespace) the bits are dropped."""
        mode = ti.mode & 0o7777
        lost = (stat.S_ISUID if mode & stat.S_ISUID and given[0] != ti.uid else 0) | (
            stat.S_ISGID if mode & stat.S_ISGID and given[1] != ti.gid else 0)
        if not lost:
            return mode
        if not self.squash:
            raise UnpackError(
                f"potentially insufficient UIDs or GIDs available in user namespace (requested {ti.uid}:{ti.gid} "
                f"for /{entry}): a setuid/setgid file would change owner; check /etc/subuid and /etc/subgid")
        self.stats["setid_dropped"] = self.stats.get("setid_dropped", 0) + 1
        return mode & ~lost

    @staticmethod
    def _chown_now(target: int | bytes, ids: tuple[int, int], dfd: int | None) -> None:
        if isinstance(target, int):
            os.fchown(target, *ids)
        else:
            os.chown(target, *ids, dir_fd=dfd, follow_symlinks=False)

    def _xattrs(self, fd: int, ti: tarfile.TarInfo, entry: str) -> None:
        for key, value in ti.pax_headers.items():
            if not key.startswith("SCHILY.xattr."):
                continue
            name = key[13:]
            if name.startswith(("user.overlay.", "trusted.overlay.")):
                self._ignored_xattr(entry, name, "overlay's own attributes are not taken from images")
                continue
            try:
                os.setxattr(fd, name, value.encode("utf-8", "surrogateescape"))
            except OSError as e:
                if name.startswith("user.") or name == "security.capability":
                    raise UnpackError(f"{entry}: cannot set xattr {name}: {e.strerror}") from e
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES):
                    raise
                self._ignored_xattr(entry, name, e.strerror or str(e))

    def _ignored_xattr(self, entry: str, name: str, reason: str) -> None:
        if len(self.stats["ignored_xattrs"]) < MAX_LISTED:
            self.stats["ignored_xattrs"].append({"path": entry, "xattr": name, "reason": reason})

    # ---------------------------------------------------------------- data
    def _copy(self, reader: ForwardReader, fd: int, size: int, entry: str) -> None:
        if size >= SPACE_CHECK_MIN:
            st = os.fstatvfs(fd)
            free = st.f_bavail * st.f_frsize
            if size > free:
                raise UnpackError(
                    f"{entry}: the file is {size} bytes but only {free} bytes are free on the "
                    f"filesystem of {self.dest}; free some space and pull again"
                )
        if size <= CHUNK:
            data = reader.read(size)
            if len(data) != size:
                raise UnpackError(f"{entry}: the tar stream is truncated ({len(data)} of {size} bytes of data)")
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            return
        left = size
        buf = self.buf
        while left:
            n = reader.readinto(buf[:min(CHUNK, left)])
            if not n:
                raise UnpackError(f"{entry}: the tar stream is truncated ({size - left} of {size} bytes of data)")
            view = buf[:n]
            while view:
                view = view[os.write(fd, view):]
            left -= n

    # ---------------------------------------------------------------- entries
    def entry(self, ti: tarfile.TarInfo, reader: ForwardReader) -> None:
        parts = normalize_name(ti.name)
        entry = display(parts)
        if not parts:
            if not ti.isdir():
                raise UnpackError(f"{ti.name}: a non-directory entry for the root of the layer")
            self._directory(ti, parts, entry)
            return
        if ".wh." in ti.name and self._whiteout(ti, parts, entry):
            return
        if ti.isreg():
            self._file(ti, parts, entry, reader)
        elif ti.isdir():
            self._directory(ti, parts, entry)
        elif ti.issym():
            self._symlink(ti, parts, entry)
        elif ti.islnk():
            self._hardlink(ti, parts, entry)
        elif ti.ischr() or ti.isblk() or ti.isfifo():
            self._special(ti, parts, entry)
        else:
            self._skip(entry, f"unsupported tar entry type {ti.type!r}")

    def _whiteout(self, ti: tarfile.TarInfo, parts: Parts, entry: str) -> bool:
        """Handle ``.wh.`` entries; False when the name merely contains ``.wh.`` elsewhere."""
        if any(p.startswith(AUFS_META_PREFIX) for p in parts[:-1]):
            self._skip(entry, "aufs metadata")
            return True
        name = parts[-1]
        if not name.startswith(WHITEOUT_PREFIX):
            return False
        dfd = self._dir(parts[:-1], entry)
        if name == OPAQUE_MARKER:
            os.setxattr(dfd, OPAQUE_XATTR, b"y")
            self.stats["opaque"] += 1
            return True
        if name.startswith(AUFS_META_PREFIX):
            self._skip(entry, "aufs metadata")
            return True
        real = name[len(WHITEOUT_PREFIX):]
        if real in (b"", b".", b".."):
            raise UnpackError(f"{entry}: invalid whiteout name")
        target = parts[:-1] + (real,)
        self._remove(dfd, target)
        os.mknod(real, stat.S_IFCHR, os.makedev(0, 0), dir_fd=dfd)
        self.stats["whiteouts"] += 1
        return True

    def _file(self, ti: tarfile.TarInfo, parts: Parts, entry: str, reader: ForwardReader) -> None:
        if ti.size < 0:
            raise UnpackError(f"{entry}: negative size in the tar header")
        parent = parts[:-1]
        dfd = self._dir(parent, entry)
        name = parts[-1]
        try:
            fd = os.open(name, _FILE_FLAGS, ti.mode & 0o777, dir_fd=dfd)
        except FileExistsError:
            self._remove(dfd, parts)
            fd = os.open(name, _FILE_FLAGS, ti.mode & 0o777, dir_fd=dfd)
        try:
            if ti.sparse:
                check_sparse(ti, entry)
                written = 0
                for offset, count in ti.sparse:
                    os.lseek(fd, offset, os.SEEK_SET)
                    self._copy(reader, fd, count, entry)
                    written += count
                os.ftruncate(fd, ti.size)
                self.stats["bytes"] += written
            elif ti.size:
                self._copy(reader, fd, ti.size, entry)
                self.stats["bytes"] += ti.size
            given = self._chown(fd, self._ids(ti), parent)
            if ti.mode & 0o7000:
                os.fchmod(fd, self._setid_mode(ti, given, entry))  # after chown, which clears setuid/setgid
            if ti.pax_headers:
                self._xattrs(fd, ti, entry)
            t = mtime_ns(ti)
            os.utime(fd, ns=(t, t))
        finally:
            os.close(fd)
        self.stats["files"] += 1

    def _directory(self, ti: tarfile.TarInfo, parts: Parts, entry: str) -> None:
        parent = parts[:-1]
        created = False
        if parts:
            dfd = self._dir(parent, entry)
            name = parts[-1]
            try:
                os.mkdir(name, ti.mode & 0o777, dir_fd=dfd)
                created = True
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(name, dir_fd=dfd).st_mode):
                    self._remove(dfd, parts)
                    os.mkdir(name, ti.mode & 0o777, dir_fd=dfd)
                    created = True
        fd = self._dir(parts, entry)
        in_sgid = bool(parts) and parent in self.sgid
        self._chown(fd, self._ids(ti), parent)
        if not created or in_sgid or ti.mode & 0o7000:
            os.fchmod(fd, ti.mode & 0o7777)
        if ti.mode & stat.S_ISGID:
            self.sgid.add(parts)
        else:
            self.sgid.discard(parts)
        if ti.pax_headers:
            self._xattrs(fd, ti, entry)
        self.dir_times[parts] = mtime_ns(ti)
        self.stats["dirs"] += 1

    def _symlink(self, ti: tarfile.TarInfo, parts: Parts, entry: str) -> None:
        parent = parts[:-1]
        dfd = self._dir(parent, entry)
        name = parts[-1]
        target = ti.linkname.encode("utf-8", "surrogateescape")
        if not target or b"\0" in target:
            raise UnpackError(f"{entry}: invalid symlink target {ti.linkname!r}")
        try:
            os.symlink(target, name, dir_fd=dfd)
        except FileExistsError:
            self._remove(dfd, parts)
            os.symlink(target, name, dir_fd=dfd)
        self._chown(name, self._ids(ti), parent, dfd)
        t = mtime_ns(ti)
        os.utime(name, ns=(t, t), dir_fd=dfd, follow_symlinks=False)
        self.stats["symlinks"] += 1

    def _hardlink(self, ti: tarfile.TarInfo, parts: Parts, entry: str) -> None:
        target = normalize_name(ti.linkname)
        if not target:
            raise UnpackError(f"{entry}: hard link to the layer's root directory")
        if target == parts:
            return
        missing = f"{entry}: hard link target {display(target)} does not exist in this layer"
        try:
            self._dir(target[:-1], entry, create=False)
        except FileNotFoundError:
            raise UnpackError(missing) from None
        dfd = self._dir(parts[:-1], entry)
        sfd = self._dir(target[:-1], entry, create=False)  # still cached: no eviction within an entry
        name = parts[-1]
        try:
            os.link(target[-1], name, src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)
        except FileExistsError:
            self._remove(dfd, parts)
            os.link(target[-1], name, src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            raise UnpackError(missing) from None
        except PermissionError:
            raise UnpackError(f"{entry}: cannot hard link to {display(target)} (a directory?)") from None
        self.stats["hardlinks"] += 1

    def _special(self, ti: tarfile.TarInfo, parts: Parts, entry: str) -> None:
        parent = parts[:-1]
        dfd = self._dir(parent, entry)
        name = parts[-1]
        perm = ti.mode & 0o777
        kind = {tarfile.FIFOTYPE: stat.S_IFIFO, tarfile.CHRTYPE: stat.S_IFCHR}.get(ti.type, stat.S_IFBLK)
        dev = os.makedev(ti.devmajor, ti.devminor) if kind != stat.S_IFIFO else 0
        self._remove(dfd, parts)
        try:
            os.mknod(name, kind | perm, dev, dir_fd=dfd)
        except PermissionError:
            what = "character" if kind == stat.S_IFCHR else "block"
            self._skip(entry, f"{what} device {ti.devmajor}:{ti.devminor} cannot be created in a user namespace")
            return
        self._chown(name, self._ids(ti), parent, dfd)
        if ti.mode & 0o7000 or parent in self.sgid:
            os.chmod(name, ti.mode & 0o7777, dir_fd=dfd)  # just created by us in a private tree
        t = mtime_ns(ti)
        os.utime(name, ns=(t, t), dir_fd=dfd, follow_symlinks=False)
        if kind == stat.S_IFCHR and dev == 0:
            self.stats["whiteouts"] += 1
        else:
            self.stats["other"] += 1

    # ---------------------------------------------------------------- driver
    def run(self, fileobj: BinaryIO) -> dict[str, Any]:
        reader = ForwardReader(fileobj)
        try:
            tf = tarfile.TarFile(fileobj=reader, mode="r", encoding="utf-8", errors="surrogateescape")  # type: ignore[arg-type]
        except tarfile.TarError as e:
            raise UnpackError(f"not a tar stream: {e}") from None
        while True:
            try:
                ti = tf.next()
            except tarfile.TarError as e:
                raise UnpackError(f"malformed tar stream near byte {reader.pos}: {e}") from None
            if ti is None:
                break
            tf.members.clear()
            if len(self.cache) > DIR_CACHE_LIMIT:
                self._trim_cache()
            try:
                self.entry(ti, reader)
            except OSError as e:
                shown = ti.name
                if e.errno == errno.ENOSPC:
                    raise UnpackError(f"{shown}: no space left on the filesystem of {self.dest}") from e
                raise UnpackError(f"{shown}: {e.strerror or e}") from e
            except (ValueError, OverflowError) as e:  # an embedded NUL byte, a number too big for C
                raise UnpackError(f"{ti.name!r}: {e}") from e
        last = reader.last
        if 0 < len(last) < tarfile.BLOCKSIZE:
            raise UnpackError(f"the tar stream is truncated (a partial header at byte {reader.pos - len(last)})")
        if len(last) == tarfile.BLOCKSIZE and last.count(0) != tarfile.BLOCKSIZE:
            raise UnpackError(f"invalid tar header at byte {reader.pos - len(last)}")
        self._finish_dirs()
        if self.sync:
            syscalls.syncfs(self.root)
        if self.skipped_count > len(self.stats["skipped"]):
            self.stats["skipped_total"] = self.skipped_count
        return self.stats

    def _finish_dirs(self) -> None:
        """Directory mtimes last: creating children changed them."""
        for parts, t in self.dir_times.items():
            if len(self.cache) > DIR_CACHE_LIMIT:
                self._trim_cache()
            try:
                fd = self._dir(parts, display(parts), create=False)
            except (OSError, UnpackError):
                continue  # replaced by a later entry
            os.utime(fd, ns=(t, t))


MAX_TRAILING = 16 << 20  # padding after the end-of-archive blocks (tar pads to 10 KiB records)


def extract(fileobj: BinaryIO, dest: str, *, squash_ids: bool = False) -> dict[str, Any]:
    """Extract the uncompressed tar stream ``fileobj`` into the existing directory ``dest``.

    Returns statistics (``files``, ``bytes``, ``dirs``, ``symlinks``, ``hardlinks``,
    ``whiteouts``, ``opaque``, ``other``, ``squashed``, ``skipped``, ``ignored_xattrs``).
    ``squash_ids`` gives every entry the caller's own ids (single-id namespaces).
    Raises ``UnpackError`` for hostile or malformed input.
    """
    old_umask = os.umask(0)
    ex = None
    try:  # (the extractor's own set-up may fail too: the umask comes back whatever happens)
        ex = _Extractor(dest, squash_ids)
        return ex.run(fileobj)
    finally:
        if ex is not None:
            ex.close()
        os.umask(old_umask)


def main(argv: list[str] | None = None) -> int:
    """``DEST [--squash-ids]``: tar on stdin, one JSON line of stats on stdout; 1 on failure."""
    args = sys.argv[1:] if argv is None else argv
    squash = "--squash-ids" in args
    rest = [a for a in args if a != "--squash-ids"]
    if len(rest) != 1 or rest[0].startswith("-"):
        print("usage: rootless.unpack DEST [--squash-ids]  (uncompressed tar on stdin)", file=sys.stderr)
        return 2
    stdin = io.BufferedReader(sys.stdin.buffer.raw, CHUNK)  # type: ignore[attr-defined]
    try:
        stats = extract(stdin, rest[0], squash_ids=squash)
        trailing = 0
        while block := stdin.read(CHUNK):  # let the writer finish (trailing padding) without EPIPE
            trailing += len(block)
            if trailing > MAX_TRAILING:  # an endless stream after the end of the archive
                raise UnpackError(f"more than {MAX_TRAILING} bytes after the end of the tar archive")
    except UnpackError as e:
        print(f"rpod-unpack: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"rpod-unpack: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(stats) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
