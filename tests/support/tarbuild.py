"""Deterministic tar and compression helpers for building test image layers.

Every function here produces the same bytes for the same input (fixed mtimes, sorted entries,
empty user/group names, gzip header mtime 0), so image digests are stable across runs.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import zstandard

FIXED_MTIME = 1725621276  # 2024-09-06T11:14:36Z, around the Alpine 3.20.3 release

_KIND_TO_TYPE = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
}


@dataclass(frozen=True)
class Entry:
    """One tar entry to write.  ``name`` has no leading ``/`` or ``./``."""

    name: str
    kind: str = "file"  # file | dir | symlink | hardlink | fifo | char | block
    data: bytes = b""
    mode: int | None = None  # permission bits incl. setuid/setgid/sticky; default per kind
    uid: int = 0
    gid: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    mtime: int = FIXED_MTIME

    def tarinfo(self) -> tarfile.TarInfo:
        """The ``TarInfo`` header for this entry."""
        info = tarfile.TarInfo(self.name)
        info.type = _KIND_TO_TYPE[self.kind]
        default_mode = {"dir": 0o755, "symlink": 0o777, "fifo": 0o644}.get(self.kind, 0o644)
        info.mode = default_mode if self.mode is None else self.mode
        info.uid, info.gid = self.uid, self.gid
        info.uname = info.gname = ""
        info.mtime = self.mtime
        info.linkname = self.linkname
        info.devmajor, info.devminor = self.devmajor, self.devminor
        info.size = len(self.data) if self.kind == "file" else 0
        return info


def dir_entries(*names: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> list[Entry]:
    """Directory entries for each of ``names`` (helper for layer recipes)."""
    return [Entry(n, "dir", mode=mode, uid=uid, gid=gid) for n in names]


def build_tar(entries: Iterable[Entry], *, sort: bool = True) -> bytes:
    """An uncompressed PAX tar of ``entries``.

    With ``sort`` (the default) entries are written in directory-walk order (each directory
    before its contents, siblings sorted by name), otherwise in the order given.
    """
    ordered = sorted(entries, key=lambda e: _walk_key(e.name)) if sort else list(entries)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for entry in ordered:
            info = entry.tarinfo()
            tar.addfile(info, io.BytesIO(entry.data) if entry.kind == "file" else None)
    return buf.getvalue()


def _normalize(name: str) -> str:
    """``./bin/`` -> ``bin``; ``.`` and ``./`` -> ``""`` (the root)."""
    return "/".join(part for part in name.split("/") if part not in ("", "."))


def _walk_key(name: str) -> list[str]:
    return name.split("/")


def retar_tarball(path: Path) -> bytes:
    """Extract-and-re-tar ``path`` the way Dockerfile ``ADD archive.tar.gz /`` does.

    The result is a fresh tar of the tree the archive describes: the root entry is dropped,
    names lose their ``./`` prefix, entries come in directory-walk order (sorted per directory),
    ownership, modes and mtimes are preserved, user/group names are cleared, and for each set
    of hard links the first path in walk order carries the data while the others link to it.
    """
    members: dict[str, tuple[tarfile.TarInfo, bytes]] = {}
    with tarfile.open(path, "r:*") as src:
        for info in src:
            name = _normalize(info.name)
            if not name:
                continue
            data = b""
            if info.isreg():
                fh = src.extractfile(info)
                assert fh is not None
                data = fh.read()
            members[name] = (info, data)

    # hard-link groups: every member of a group shares the target's inode
    group_of: dict[str, str] = {}
    for name, (info, _) in members.items():
        if info.islnk():
            group_of[name] = _normalize(info.linkname)
    groups: dict[str, list[str]] = {}
    for link, target in group_of.items():
        groups.setdefault(target, [target]).append(link)

    entries: list[Entry] = []
    first_of_group: dict[str, str] = {}
    for name in sorted(members, key=_walk_key):
        info, data = members[name]
        group = group_of.get(name, name if name in groups else None)
        if group is not None:
            target_info, target_data = members[group]
            if group in first_of_group:
                entries.append(
                    Entry(name, "hardlink", linkname=first_of_group[group], mode=target_info.mode & 0o7777,
                          uid=target_info.uid, gid=target_info.gid, mtime=int(target_info.mtime))
                )
                continue
            first_of_group[group] = name
            info, data = target_info, target_data
        kind = {
            tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir",
            tarfile.SYMTYPE: "symlink", tarfile.FIFOTYPE: "fifo", tarfile.CHRTYPE: "char",
            tarfile.BLKTYPE: "block",
        }[info.type]
        entries.append(
            Entry(name, kind, data=data, mode=info.mode & 0o7777, uid=info.uid, gid=info.gid,
                  linkname=info.linkname if kind == "symlink" else "", devmajor=info.devmajor,
                  devminor=info.devminor, mtime=int(info.mtime))
        )
    return build_tar(entries)


def truncated_tar(name: str, claimed_size: int, actual: bytes) -> bytes:
    """A tar whose single file header claims ``claimed_size`` bytes but only ``actual`` follow.

    There is no end-of-archive marker: the stream simply ends, as a truncated download would.
    """
    info = Entry(name, "file").tarinfo()
    info.size = claimed_size
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + actual


_compressed: dict[tuple[bytes, str, int | None], bytes] = {}


def compress(data: bytes, kind: str, level: int | None = None) -> bytes:
    """Compress ``data`` deterministically: ``kind`` is ``gzip``, ``zstd`` or ``none``.

    Results for inputs under 32 MB are memoized (several test images share alpine's layer).
    """
    if len(data) >= 32 << 20:
        return _compress(data, kind, level)
    key = (hashlib.sha256(data).digest(), kind, level)
    if key not in _compressed:
        _compressed[key] = _compress(data, kind, level)
    return _compressed[key]


def _compress(data: bytes, kind: str, level: int | None) -> bytes:
    if kind == "gzip":
        return gzip.compress(data, compresslevel=6 if level is None else level, mtime=0)
    if kind == "zstd":
        return zstandard.ZstdCompressor(level=3 if level is None else level).compress(data)
    if kind == "none":
        return data
    raise ValueError(f"unknown compression {kind!r}: use gzip, zstd or none")
