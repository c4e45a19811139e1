"""sd_notify for the monitor (``--sdnotify``), stdlib only; imported only when ``NOTIFY_SOCKET`` is set.

* ``send(socket_path, text)``: one datagram to systemd's notify socket.  ``@name`` is an
  abstract socket; a path longer than ``sun_path`` (108 bytes) is reached through
  ``/proc/self/fd/N/<name>`` of its directory, so deep test or runtime dirs work too.
* ``NotifyProxy``: ``--sdnotify=container``.  A datagram socket in a directory that is
  bind-mounted into the container (``/run/notify/notify.sock``); the monitor forwards each
  message to the host socket, replacing any ``MAINPID=`` (a pid of the container's pid
  namespace means nothing to systemd) by the monitor's own pid, as Podman does.
"""

from __future__ import annotations

import _socket as socket
import os

from rootless.monitor import lean

SOCKET_NAME = "notify.sock"
MAX_DATAGRAM = 4096


def _address(path: str) -> tuple[str, int]:
    """(address usable with sendto/bind, fd to close or -1) for ``path``."""
    if path.startswith("@"):
        return "\0" + path[1:], -1
    if len(os.fsencode(path)) < 108:
        return path, -1
    dfd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{dfd}/{os.path.basename(path)}", dfd


def send(socket_path: str, text: str) -> bool:
    """Send ``text`` (``KEY=VALUE`` lines) to the notify socket; False when it cannot be reached."""
    addr, dfd = _address(socket_path)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            s.sendto(text.encode(), addr)
        finally:
            s.close()
        return True
    except OSError:
        return False
    finally:
        if dfd >= 0:
            os.close(dfd)


def ready(socket_path: str, main_pid: int) -> bool:
    """``MAINPID=<monitor>`` and ``READY=1`` in one message (what ``--sdnotify=conmon`` sends)."""
    return send(socket_path, f"MAINPID={main_pid}\nREADY=1\n")


def rewrite(message: bytes, main_pid: int) -> bytes:
    """A container's message with its ``MAINPID=`` lines replaced by the monitor's pid."""
    lines = [ln for ln in message.split(b"\n") if ln]
    out = [ln if not ln.startswith(b"MAINPID=") else b"MAINPID=%d" % main_pid for ln in lines]
    return b"\n".join(out) + b"\n"


class NotifyProxy:
    """The container's notify socket (``--sdnotify=container``), forwarded to ``host_socket``."""

    def __init__(self, directory: str, host_socket: str, main_pid: int):
        self.host_socket = host_socket
        self.main_pid = main_pid
        os.makedirs(directory, mode=0o755, exist_ok=True)
        os.chmod(directory, 0o755)  # container root is a subordinate uid: it must reach the socket
        path = os.path.join(directory, SOCKET_NAME)
        with lean.suppress(FileNotFoundError):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        addr, dfd = _address(path)
        try:
            self.sock.bind(addr)
        finally:
            if dfd >= 0:
                os.close(dfd)
        os.chmod(path, 0o777)  # any uid of the container may notify (systemd's socket is 0777 too)
        self.sock.setblocking(False)
        self.path = path

    def fileno(self) -> int:
        return self.sock.fileno()

    def on_readable(self, _fd: int) -> bool:
        """Forward every pending message; True when one of them said ``READY=1``."""
        said_ready = False
        while True:
            try:
                data = self.sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return said_ready
            except OSError:
                return said_ready
            said_ready = said_ready or b"READY=1" in data.split(b"\n")
            send(self.host_socket, rewrite(data, self.main_pid).decode(errors="replace"))

    def close(self) -> None:
        self.sock.close()
        with lean.suppress(OSError):
            os.unlink(self.path)
