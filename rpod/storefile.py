"""Crash-safe file primitives shared by every store: atomic writes and flock-held locks.

``atomic_write`` writes to a temporary name in the same directory, fsyncs, renames
over the target and fsyncs the directory, so a reader (or a ``kill -9`` at any
moment) sees either the old or the new content, never a mix.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any, mode: int = 0o600) -> None:
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=False).encode() + b"\n", mode)


def read_json(path: Path, default: Any = None) -> Any:
    """The JSON content of ``path``, or ``default`` when it does not exist."""
    try:
        with open(path, "rb") as f:
            return json.load(f)
    except FileNotFoundError:
        return default


@contextlib.contextmanager
def locked(path: Path, shared: bool = False, blocking: bool = True) -> Iterator[bool]:
    """Hold an flock on ``path`` (created if missing).  Yields False when non-blocking and busy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        flags = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        if not blocking:
            flags |= fcntl.LOCK_NB
        try:
            fcntl.flock(fd, flags)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


# ----------------------------------------------------------------- removals a kill may abandon
REMOVING = ".removing."  # tmp/<what>.removing.<pid>: a removal in progress (or abandoned by a kill)


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists (ours or another user's)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandoned(tmp: Path) -> list[os.DirEntry[str]]:
    """``tmp/*.removing.<pid>`` of processes that are gone (``.removing`` alone: an older rpod)."""
    try:
        entries = list(os.scandir(tmp))
    except FileNotFoundError:
        return []
    out = []
    for e in entries:
        _, sep, pid = e.name.rpartition(REMOVING)
        if (sep and pid.isdigit() and not pid_alive(int(pid))) or (not sep and e.name.endswith(".removing")):
            out.append(e)
    return out


def claim_abandoned(tmp: Path) -> list[Path]:
    """Take over the removals dead processes abandoned in ``tmp`` (renamed to our pid: of two
    commands reclaiming at once, one gets each); the caller removes the returned trees."""
    out = []
    for e in abandoned(tmp):
        head = e.name.rpartition(REMOVING)[0] or e.name.removesuffix(".removing")
        mine = tmp / f"{head}{REMOVING}{os.getpid()}"
        try:
            os.rename(e.path, mine)
        except OSError:
            continue
        out.append(mine)
    return out

