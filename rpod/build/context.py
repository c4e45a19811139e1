"""COPY/ADD sources from the build context, as one tar stream plus a content digest.

Every source is resolved *inside* the context: ``..`` that would leave it is an error, a
symlink named as a source is followed with the context as its root (``/etc/passwd`` means
``CONTEXT/etc/passwd``), symlinks met while copying a directory are copied as symlinks.
Ignored paths (``.containerignore``/``.dockerignore``) are invisible.  The digest covers
names, types, modes, link targets and contents (not times), so touching a file does not
invalidate the cache but changing one byte does.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from rpod.build.ignore import Ignore, walk
from rpod.errors import UsageError

CHUNK = 1 << 20


class SourceError(UsageError):
    """A COPY/ADD source that does not exist or leaves the context."""


@dataclass
class Source:
    rel: str  # path relative to the context (resolved)
    is_dir: bool
    name: str  # basename as given


@dataclass
class TarResult:
    digest: str
    count: int
    single_file: str | None = None  # the one file's name when the sources are one file
    names: list[str] = field(default_factory=list)


def _scoped(context: Path, rel: str, follow_last: bool = True, depth: int = 0) -> str:
    """Resolve ``rel`` inside ``context`` (symlinks followed with the context as root)."""
    if depth > 40:
        raise SourceError(f"{rel}: too many levels of symbolic links")
    parts = [p for p in rel.split("/") if p and p != "."]
    done: list[str] = []
    for i, part in enumerate(parts):
        if part == "..":
            if done:
                done.pop()
            continue
        cand = "/".join([*done, part])
        full = context / cand
        last = i == len(parts) - 1
        if full.is_symlink() and (follow_last or not last):
            target = os.readlink(full)
            base = "" if target.startswith("/") else "/".join(done)
            resolved = _scoped(context, posixpath.join(base, target), True, depth + 1)
            done = resolved.split("/") if resolved else []
        else:
            done.append(part)
    return "/".join(done)


def check_inside(src: str) -> str:
    """A source as written → its path relative to the context; ``../x`` is refused."""
    norm = posixpath.normpath("/" + src) if src.startswith("/") else posixpath.normpath(src)
    if norm == ".." or norm.startswith("../"):
        raise SourceError(f"{src}: the source is outside the build context")
    return norm.lstrip("/") if norm not in (".", "/") else ""


def resolve_sources(context: Path, srcs: list[str], ignore: Ignore) -> list[Source]:
    """Glob-expand and resolve ``srcs``; raises ``SourceError`` when one matches nothing."""
    out: list[Source] = []
    listing: list[str] | None = None
    for src in srcs:
        rel = check_inside(src)
        if any(c in rel for c in "*?["):
            if listing is None:
                listing = walk(context, "", ignore)
            hits = [p for p in listing if fnmatch.fnmatchcase(p, rel) and p.count("/") == rel.count("/")]
            if not hits:
                raise SourceError(f"{src}: no source files were specified (no match in the build context)")
            for h in hits:
                full = context / h
                out.append(Source(h, full.is_dir() and not full.is_symlink(), posixpath.basename(h)))
            continue
        real = _scoped(context, rel)
        full = context / real if real else context
        if not os.path.lexists(full) or (rel and ignore.excluded(rel)):
            raise SourceError(f"{src}: no such file or directory in the build context")
        out.append(Source(real, full.is_dir(), posixpath.basename(rel) or posixpath.basename(real)))
    return out


class _HashingWriter:
    """Tar entries into a file, with a digest of everything but the times."""

    def __init__(self, out: BinaryIO, chmod: int | None, mtime: int | None) -> None:
        self.tf = tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed by close()
        self.h = hashlib.sha256()
        self.chmod = chmod
        self.mtime = mtime
        self.count = 0
        self.links: dict[tuple[int, int], str] = {}

    def add_path(self, full: Path, arc: str) -> None:
        st = os.lstat(full)
        ti = tarfile.TarInfo(arc)
        ti.mode = self.chmod if self.chmod is not None else stat.S_IMODE(st.st_mode)
        ti.mtime = self.mtime if self.mtime is not None else int(st.st_mtime)
        ti.uname = ti.gname = ""
        data = None
        if stat.S_ISDIR(st.st_mode):
            ti.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(st.st_mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(full)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self.links:
                ti.type, ti.linkname = tarfile.LNKTYPE, self.links[key]
            else:
                self.links[key] = arc
                ti.size = st.st_size
                data = full
        else:
            return  # devices, fifos and sockets of a context are not copied
        self._add(ti, data)

    def add_bytes(self, arc: str, content: bytes, mode: int = 0o644) -> None:
        import io

        ti = tarfile.TarInfo(arc)
        ti.mode = self.chmod if self.chmod is not None else mode
        ti.mtime = self.mtime if self.mtime is not None else 0
        ti.size = len(content)
        self.h.update(f"{arc}\0f\0{ti.mode:o}\0{len(content)}\0".encode())
        self.h.update(content)
        self.tf.addfile(ti, io.BytesIO(content))
        self.count += 1

    def _add(self, ti: tarfile.TarInfo, data: Path | None) -> None:
        self.h.update(f"{ti.name}\0{ti.type.decode()}\0{ti.mode:o}\0{ti.linkname}\0{ti.size}\0".encode())
        if data is not None:
            with open(data, "rb") as f:
                hashing = _Tee(f, self.h)
                self.tf.addfile(ti, hashing)  # type: ignore[arg-type]
        else:
            self.tf.addfile(ti)
        self.count += 1

    def close(self) -> str:
        self.tf.close()
        return "sha256:" + self.h.hexdigest()


class _Tee:
    def __init__(self, f: BinaryIO, h: object) -> None:
        self.f = f
        self.h = h

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.h.update(data)  # type: ignore[attr-defined]
        return data


def write_sources(context: Path, sources: list[Source], ignore: Ignore, out: BinaryIO, *,
                  chmod: int | None = None, mtime: int | None = None) -> TarResult:
    """Tar the sources for extraction at the destination: a directory's contents, a file by name."""
    w = _HashingWriter(out, chmod, mtime)
    names = []
    for s in sources:
        full = context / s.rel if s.rel else context
        if s.is_dir:
            for rel in walk(context, s.rel, ignore):
                sub = rel[len(s.rel):].lstrip("/") if s.rel else rel
                w.add_path(context / rel, sub)
        else:
            w.add_path(full, s.name)
            names.append(s.name)
    digest = w.close()
    single = names[0] if len(sources) == 1 and not sources[0].is_dir else None
    return TarResult(digest, w.count, single, names)


def write_heredocs(docs: list[tuple[str, bytes]], out: BinaryIO, *, chmod: int | None = None,
                   mtime: int | None = None) -> TarResult:
    w = _HashingWriter(out, chmod, mtime)
    for name, content in docs:
        w.add_bytes(name, content)
    digest = w.close()
    return TarResult(digest, w.count, docs[0][0] if len(docs) == 1 else None, [n for n, _ in docs])


def archive_kind(path: Path) -> str | None:
    """``tar`` (possibly compressed) when ``path`` is an archive ADD extracts, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" or head[:4] == b"\x28\xb5\x2f\xfd":
        return "compressed"
    if len(head) == 512 and head[257:262] == b"ustar":
        return "tar"
    return None


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()
