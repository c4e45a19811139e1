"""Leases: what an in-flight pull (or build, or load) relies on, protected from clean-up.

A pull that finds a layer already present takes no copy of it: until its image is recorded in
``images.json`` nothing else says the layer is needed, and an ``rmi`` of another image sharing it
would delete it.  So each in-flight operation holds a lease: ``leases/<id>.lock``, flocked for the
operation's lifetime, and ``leases/<id>.json``: since when it runs, and the layer diff_ids and
blob digests it uses, written under the store lock.  Clean-up (under the same lock) keeps
whatever a live lease names and whatever was written since the oldest live lease began (the
layers and blobs a build or a commit is making before it records its image); a lease whose lock
is free belongs to a dead process and is deleted, so leases never outlive their holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import secrets
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from rpod.paths import Paths
from rpod.storefile import atomic_write_json, locked


class Lease:
    """One operation's claim on layers and blobs (a context manager; ``add`` as it learns more)."""

    def __init__(self, paths: Paths, what: str = "pull") -> None:
        self.paths = paths
        self.dir = paths.root / "leases"
        self.name = f"{what}-{os.getpid()}-{secrets.token_hex(4)}"
        self.items: set[str] = set()
        self.since = 0.0
        self._mutex = threading.Lock()  # a build's stages add from several threads
        self._fd = -1

    def __enter__(self) -> Lease:
        self.dir.mkdir(parents=True, exist_ok=True)
        # locked before it gets its name: a clean-up never sees the lock file free while we live
        tmp = self.dir / f".{self.name}.new"
        self._fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.rename(tmp, self.dir / f"{self.name}.lock")
        self.since = time.time()
        self._write()
        return self

    def _write(self) -> None:
        with locked(self.paths.store_lock):
            atomic_write_json(self.dir / f"{self.name}.json", {"since": self.since, "items": sorted(self.items)})

    def add(self, items: Iterable[str]) -> None:
        """Protect ``items`` (diff_ids, blob digests) from now on: written under the store lock, so
        a clean-up either ran before (and the caller will find them missing) or sees them."""
        with self._mutex:
            new = set(items) - self.items
            if not new:
                return
            self.items |= new
            self._write()

    def __exit__(self, *exc: object) -> None:
        for suffix in (".json", ".lock"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.dir / f"{self.name}{suffix}")
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def leased(paths: Paths) -> set[str]:
    """The items live leases name (see ``leases``)."""
    return leases(paths)[0]


def leases(paths: Paths) -> tuple[set[str], float]:
    """What live leases protect: the items they name, and since when the oldest runs (anything
    written after that may be one of theirs; ``inf`` without a lease).  Leases of dead processes
    are removed.  Call under the store lock."""
    d = paths.root / "leases"
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return set(), math.inf
    out: set[str] = set()
    since = math.inf
    for n in names:
        if n.endswith(".json") and n.removesuffix(".json") + ".lock" not in names:
            with contextlib.suppress(FileNotFoundError):  # its holder died while releasing it
                os.unlink(d / n)
        if not n.endswith(".lock"):
            continue
        base = d / n.removesuffix(".lock")
        if _held(d / n):
            items, started = _read(base.with_suffix(".json"))
            out |= items
            since = min(since, started)
        else:  # its process is gone (a lease is released by unlinking both files first)
            for suffix in (".json", ".lock"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{base}{suffix}")
    return out, since


def _held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True  # released just now: its files are going away anyway
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _read(path: Path) -> tuple[set[str], float]:
    """A lease's items and start; a lease not written yet protects everything (its start unknown)."""
    try:
        with open(path, "rb") as f:
            data = json.load(f)
    except (FileNotFoundError, ValueError):
        return set(), 0.0
    if not isinstance(data, dict):
        return set(), 0.0
    items = data.get("items")
    return ({str(x) for x in items} if isinstance(items, list) else set()), float(data.get("since") or 0.0)


def written_since(path: os.PathLike[str] | str, since: float) -> bool:
    """True when ``path`` was written at ``since`` or later (a second of slack): a blob's mtime is
    its atomic write, a layer directory's the write of its ``layer.json`` just before its rename."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return st.st_mtime >= since - 1.0
