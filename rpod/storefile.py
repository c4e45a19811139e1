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
import re
from collections.abc import Iterator
from pathlib import Path

from rootless.procinfo import pid_alive
from rpod.records import field, record

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
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


# ---------------------------------------------------------------------------- removals in tmp/
REMOVING = ".removing."  # tmp/<what>.removing.<pid>: a removal in progress (or abandoned by a kill)


def abandoned_removals(paths: Any) -> list[Path]:
    """``tmp/*.removing.<pid>`` of processes that are gone (``.removing`` alone: an older rpod)."""
    out = []
    try:
        entries = list(os.scandir(paths.tmp))
    except FileNotFoundError:
        return []
    for e in entries:
        head, sep, pid = e.name.rpartition(REMOVING)
        if not sep:
            if not e.name.endswith(".removing"):
                continue
            head = e.name.removesuffix(".removing")
        elif not pid.isdigit() or pid_alive(int(pid)):
            continue
        mine = paths.tmp / f"{head}{REMOVING}{os.getpid()}"
        try:  # claim it: of two commands reclaiming at once, one renames it, the other skips it
            os.rename(e.path, mine)
        except OSError:
            continue
        out.append(mine)
    return out


def reclaim_removals(paths: Any) -> list[Path]:
    """Remove the ``tmp/*.removing.<pid>`` that killed commands left (images' and containers')."""
    doomed = abandoned_removals(paths)
    _remove_trees(doomed)
    return doomed


# scratch names that carry their maker's pid: spare.<pid>.<rand> (pull, add_image),
# recompress.<pid>.<rand>, build[-ctx|-src|-from]-<pid>-<rand>, <hex16>.<layer>.<pid> (shifted copies)
_PID_SCRATCH = re.compile(r"(?:spare|recompress)\.(\d+)\..*|build(?:-ctx|-src|-from)?-(\d+)-.*"
                          r"|[0-9a-f]{16}\.[^.]+\.(\d+)")


def stale_scratch(paths: Any) -> list[str]:
    """Names in ``tmp/`` of scratch files and directories whose maker (the pid in the name) is gone."""
    try:
        names = os.listdir(paths.tmp)
    except FileNotFoundError:
        return []
    out = []
    for name in names:
        m = _PID_SCRATCH.fullmatch(name)
        if m and not pid_alive(int(next(g for g in m.groups() if g))):
            out.append(name)
    return out


def reclaim_scratch(paths: Any) -> list[str]:
    """Remove the scratch of dead commands (``stale_scratch``)."""
    names = stale_scratch(paths)
    _remove_trees([paths.tmp / name for name in names])
    return names


def _remove_trees(trees: list[Path]) -> None:
    """Remove each tree (as root in the user namespace where it holds shifted files)."""
    if trees:
        from rootless.subid import default_mapping
        from rootless.userns import remove_tree

        mapping = default_mapping()
        for path in trees:
            remove_tree(path, mapping)


@record
class Problem:
    """One inconsistency a store check found: ``kind`` (container, name, image, layer, directory,
    store), which, why, whether it was repaired, and the containers of a damaged image."""

    kind: str
    ident: str
    problem: str
    repaired: bool = False
    users: list[str] = field(default_factory=list)
