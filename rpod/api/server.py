"""The service loop: listening sockets (given by systemd, or bound here), one thread per
connection, and the idle timer that ends the service.

Activity is what Podman counts: a connection in the middle of a request or a stream (logs -f,
events, attach) keeps the service alive; an idle keep-alive connection does not.  With
``idle_timeout`` None (``--time 0``) the service never exits on its own.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SD_LISTEN_FDS_START = 3
MAX_CONNECTIONS = 512  # threads; past this a new connection is told 503 and closed


class Activity:
    """Counts requests in progress; ``idle_for`` says how long none has been."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.since = time.monotonic()

    def __enter__(self) -> Activity:
        with self.lock:
            self.active += 1
        return self

    def __exit__(self, *_exc: object) -> None:
        with self.lock:
            self.active -= 1
            self.since = time.monotonic()

    def idle_for(self) -> float:
        with self.lock:
            return 0.0 if self.active else time.monotonic() - self.since


def systemd_listeners() -> list[socket.socket]:
    """The sockets systemd passed (``LISTEN_FDS``/``LISTEN_PID``), unset from the environment so
    the containers we start never see them."""
    pid = os.environ.get("LISTEN_PID")
    n = os.environ.get("LISTEN_FDS")
    if not n or (pid and pid != str(os.getpid())):
        return []
    for key in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
        os.environ.pop(key, None)
    out = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(n)):
        os.set_inheritable(fd, False)
        out.append(socket.socket(fileno=fd))
    return out


def bind_unix(path: Path) -> socket.socket:
    """A listening unix socket at ``path``, mode 0600 (a stale socket file is replaced)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock


def bind_tcp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


class Service:
    """Accept on every listener; serve each connection in its own thread."""

    def __init__(self, listeners: list[socket.socket], idle_timeout: float | None,
                 handle: Callable[[socket.socket, Activity], None]):
        self.listeners = listeners
        self.idle_timeout = idle_timeout
        self.handle = handle
        self.activity = Activity()
        self.connections = 0
        self.lock = threading.Lock()

    def serve(self) -> None:
        for s in self.listeners:
            s.setblocking(False)
        while True:
            wait = 1.0 if self.idle_timeout is None else max(0.05, min(1.0, self.idle_timeout / 4))
            ready, _, _ = select.select(self.listeners, [], [], wait)
            for s in ready:
                self._accept(s)
            if self.idle_timeout is not None and self.activity.idle_for() >= self.idle_timeout:
                return

    def _accept(self, listener: socket.socket) -> None:
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        conn.setblocking(True)
        with self.lock:
            full = self.connections >= MAX_CONNECTIONS
            if not full:
                self.connections += 1
        if full:
            with contextlib.suppress(OSError):
                conn.settimeout(1)
                conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.close()
            return
        with self.activity:  # counted until its thread has started (a request follows at once)
            t = threading.Thread(target=self._run, args=(conn,), daemon=True)
            t.start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.handle(conn, self.activity)
        except Exception:  # one broken connection never ends the service
            import sys
            import traceback

            sys.stderr.write(f"ERRO connection: {traceback.format_exc()}")
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            with self.lock:
                self.connections -= 1


def close_all(listeners: list[Any], paths: list[Path]) -> None:
    for s in listeners:
        with contextlib.suppress(OSError):
            s.close()
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()
