"""Start a container's monitor before the container exists (``rpod run`` does it first thing).

The monitor (``rootless.monitor``, a fresh ``python -I -S``) then starts its interpreter and
forks its runtime child while the CLI parses the flags and writes the bundle; ``configure``
sends it the configuration (``LENGTH\\nJSON`` on the sync socket).  Kept apart from
``rpod.container.lifecycle`` so spawning costs the CLI no imports beyond the stdlib's.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from typing import Any

from rootless.entry import python_entry
from rootless.procinfo import proc_start_time
from rootless.procspawn import Child, posix_spawn_closing
from rpod.log import debug


@dataclass
class StdioRequest:
    """How the CLI connects to the container: its own fds for a foreground run, None when detached."""

    stdin_fd: int = -1  # the CLI's stdin (-i) or terminal
    stdout_fd: int = -1
    stderr_fd: int = -1
    keep_stdin_open: bool = False  # detached -i: stdin is a pipe fed by attach


class MonitorSpawn:
    """A monitor waiting for its configuration on the sync socket; its stdio fds are dups of
    ``io``'s, made now (give ``lifecycle.start`` the same ``io``).  ``cid`` is the container's id
    (a new one when None: ``rpod.container.create.create(cid=spawn.cid)``), on the monitor's command line as
    conmon's, so ``ps`` tells which container a monitor serves."""

    def __init__(self, io: StdioRequest | None, cid: str | None = None, preserve_fds: int = 0) -> None:
        self.io = io
        self.cid = cid or os.urandom(32).hex()  # as rpod.container.state.new_id
        self.sync, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours = {"sync_fd": theirs.fileno()}  # fd -> the number the monitor gets it as
        if io is not None:
            for key in ("stdin_fd", "stdout_fd", "stderr_fd"):
                if getattr(io, key) >= 0:
                    ours[key] = os.dup(getattr(io, key))
        for i in range(preserve_fds):  # the CLI's fds 3, 4, ... for the container (--preserve-fds, LISTEN_FDS)
            with contextlib.suppress(OSError):
                ours[f"preserve{i}"] = os.dup(3 + i)
        # the monitor's numbers are above all of ours (and 2: its own 0-2 are /dev/null)
        first = max(*ours.values(), 2) + 1
        numbers = {key: first + i for i, key in enumerate(ours)}
        self.sync_fd = numbers["sync_fd"]
        self.fds: dict[str, Any] = {k: v for k, v in numbers.items() if k != "sync_fd" and k[0] != "p"}
        if preserve_fds:
            self.fds["preserve_fds"] = [numbers.get(f"preserve{i}", -1) for i in range(preserve_fds)]
        me = os.getpid()  # the monitor stops waiting when this CLI dies (even if its socket leaked)
        argv = python_entry("rootless.monitor", json.dumps({"await_config": True, "id": self.cid,
                                                            "sync_fd": self.sync_fd, "cli_pid": me,
                                                            "cli_start": proc_start_time(me), **self.fds}))
        try:
            self.proc = Child(_spawn(argv, [(ours[k], numbers[k]) for k in ours]))
        finally:
            theirs.close()
            for key, fd in ours.items():
                if key != "sync_fd":
                    os.close(fd)
        debug("monitor spawned")

    def configure(self, cfg: dict[str, Any]) -> socket.socket:
        """Check ``cfg`` against the monitor's schema (``rootless.monitor.config.MONITOR``), send
        it (length line + JSON); returns the sync socket, where the monitor answers."""
        from rootless.monitor.config import ConfigError, validate

        try:
            validate(cfg)
        except ConfigError as e:
            self.cancel()
            from rpod.errors import RpodError

            raise RpodError(str(e)) from None
        data = json.dumps(cfg).encode()
        try:
            self.sync.sendall(b"%d\n" % len(data) + data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the monitor refused its command line and exited: its error waits on the socket
        self.proc.wait()  # the first process forked the monitor and exited at once
        return self.sync

    def cancel(self) -> None:
        """No container after all: the monitor sees EOF and exits."""
        self.sync.close()
        self.proc.wait()


def _spawn(argv: list[str], pass_fds: list[tuple[int, int]]) -> int:
    """``posix_spawn`` the monitor (``subprocess`` costs every ``run``/``start`` ~4 ms to import):
    stdio on ``/dev/null``, each (ours, theirs) of ``pass_fds`` dup'ed to number ``theirs`` (a
    dup2 to another number is inheritable, ours stay close-on-exec: nothing is flipped, so a
    thread spawning at the same time inherits nothing), any other inheritable fd of ours closed
    (as ``Popen(close_fds=True)``: a pipe our caller passed us must not live on in the monitor).
    Our cwd is kept: the monitor changes to ``/`` first thing."""
    stdio: list[tuple[object, ...]] = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
                                       (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2)]
    dups: list[tuple[object, ...]] = [(os.POSIX_SPAWN_DUP2, ours, theirs) for ours, theirs in pass_fds]
    return posix_spawn_closing(argv, stdio, dups, keep=[theirs for _, theirs in pass_fds])


def spawn_monitor(io: StdioRequest | None = None, cid: str | None = None, preserve_fds: int = 0) -> MonitorSpawn:
    """Start a monitor now; give it to ``lifecycle.start`` (with the same ``io``) or ``cancel`` it.
    ``preserve_fds``: the CLI's fds 3, 4, ... that go into the container."""
    return MonitorSpawn(io, cid, preserve_fds)
