"""Finding and stopping processes a test left behind (rpod monitors and their containers, Podman's
pause process and conmons), read from /proc.

A process belongs to an environment when its command line or its environment mentions one of the
environment's directories: rpod's monitor and Podman's ``catatonit -P`` inherit the CLI's
``XDG_RUNTIME_DIR``, crun and fuse-overlayfs name the store on their command line.  Container
processes have their own environment, so the descendants of every match are taken too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    """One live process of this user, as read from /proc."""

    pid: int
    ppid: int
    pgid: int
    start: int  # clock ticks after boot
    args: str


def _read(pid: str) -> tuple[Proc, bytes] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        fields = stat.rsplit(b")", 1)[1].split()
        if fields[0] in (b"Z", b"X"):
            return None
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            environ = b""
    except (OSError, IndexError):
        return None
    args = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    proc = Proc(int(pid), int(fields[1]), int(fields[2]), int(fields[19]), args)
    return proc, cmdline + b"\0" + environ


def _ancestors(procs: Mapping[int, Proc], pid: int) -> set[int]:
    out = set()
    while pid in procs and pid not in out:
        out.add(pid)
        pid = procs[pid].ppid
    return out


def own_processes() -> tuple[dict[int, Proc], dict[int, bytes]]:
    """Every live process of this user (pid → Proc) and its ``cmdline\\0environ`` bytes."""
    uid = os.getuid()
    procs: dict[int, Proc] = {}
    text: dict[int, bytes] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
        except OSError:
            continue
        read = _read(entry)
        if read:
            procs[read[0].pid], text[read[0].pid] = read
    return procs, text


def processes_referencing(needles: Iterable[str | os.PathLike[str]], *, started_after: int = 0,
                          exclude: Iterable[int] = ()) -> list[Proc]:
    """Live processes of this user whose command line or environment contains one of ``needles``,
    plus all their descendants (whatever user they run as in a container), sorted by pid.

    This process, its ancestors and the pids in ``exclude`` are never returned; with
    ``started_after`` (clock ticks after boot) only processes started later count as matches.
    """
    keys = [os.fsencode(n) for n in needles if str(n)]
    if not keys:
        return []
    procs, text = own_processes()
    # descendants may run as subordinate ids: read those too (parent links only)
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in procs:
            read = _read(entry)
            if read:
                procs[read[0].pid] = read[0]
    skip = _ancestors(procs, os.getpid()) | set(exclude)
    matched = {pid for pid, blob in text.items()
               if pid not in skip and procs[pid].start >= started_after and any(k in blob for k in keys)}
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    todo = list(matched)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in matched and child not in skip:
                matched.add(child)
                todo.append(child)
    return [procs[pid] for pid in sorted(matched)]


def kill_processes(procs: Sequence[Proc], timeout: float = 2.0) -> None:
    """SIGKILL each process and, when it leads one, its process group (never our own group);
    wait up to ``timeout`` seconds for them to go.

    A process that ended since it was listed is skipped: its pid may already belong to another
    process (pid_max is 32768 here: a busy machine reuses pids within seconds), which the kill
    must not hit.  Each one is pinned with a pidfd and its start time compared first."""
    own_group = os.getpgrp()
    for p in procs:
        _kill_same(p, own_group)
    end = time.monotonic() + timeout
    pending = [p.pid for p in procs]
    while pending and time.monotonic() < end:
        pending = [pid for pid in pending if _alive(pid)]
        if pending:
            time.sleep(0.02)


def _kill_same(p: Proc, own_group: int) -> None:
    """SIGKILL ``p`` (and its group when it leads one) only if its pid still names that process."""
    try:
        fd = os.pidfd_open(p.pid)
    except OSError:
        return  # gone
    try:
        if boot_ticks_of(p.pid) != p.start:
            return  # ended, and the pid was reused by a process that is none of ours to kill
        if p.pgid == p.pid and p.pgid != own_group:  # a live leader: the group id is still its own
            with contextlib.suppress(OSError):
                os.killpg(p.pgid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")


def stop_referencing(*needles: str | os.PathLike[str]) -> list[Proc]:
    """Kill every process (and its descendants) that references one of ``needles``; what was killed."""
    procs = processes_referencing(needles)
    if procs:
        kill_processes(procs)
    return procs


def stop_podman(podman: Sequence[str], env: Mapping[str, str], *dirs: str | os.PathLike[str]) -> None:
    """Teardown for one isolated Podman environment, safe to call whatever state it is in:
    ``PODMAN rm -af -t 0`` (``podman`` is the argv prefix with its global flags, e.g. ``--root``),
    then kill the rootless pause process (``$XDG_RUNTIME_DIR/libpod/tmp/pause.pid`` in 4.3.1,
    whatever ``--runroot`` says), then, as a backstop, every process that still references the
    environment's XDG_RUNTIME_DIR or one of ``dirs`` (conmon, crun, the container).  Never raises."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([*podman, "rm", "-af", "-t", "0"], env=dict(env), capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    runtime_dir = env.get("XDG_RUNTIME_DIR", "")
    if runtime_dir:
        with contextlib.suppress(OSError, ValueError):
            pid = int((Path(runtime_dir) / "libpod" / "tmp" / "pause.pid").read_text().strip())
            read = _read(str(pid))  # the pause process itself, not a process that got its pid since
            if read and b"catatonit" in read[1].split(b"\0", 1)[0]:
                kill_processes([read[0]])
    # a directory as "DIR/": .../podman1 must not match .../podman10 (every process names files in it)
    stop_referencing(*(d for d in (runtime_dir, *(f"{os.fspath(d).rstrip('/')}/" for d in dirs)) if str(d)))


def boot_ticks_of(pid: int) -> int:
    """When ``pid`` started (clock ticks after boot), 0 when unknown."""
    read = _read(str(pid))
    return read[0].start if read else 0
