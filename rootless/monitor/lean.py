"""Stand-ins for the stdlib helpers the monitor used, built on C modules only.

The monitor is one interpreter per container and lives as long as the container: what it
imports is paid in every container (docs/performance.md, "The monitor's memory").  ``signal``
and ``socket`` import ``enum`` (~0.9 MB: they turn their constants into enums),
``contextlib`` ~0.9 MB, ``selectors`` ~0.7 MB (``collections``, ``math``), ``array`` imports
``collections.abc``, ``ctypes`` ~0.3 MB.  So the monitor uses ``_signal``, ``_socket``,
``select.epoll`` and ``_ctypes`` directly, through the few helpers below.
``tests/unit/test_monitor_imports.py`` guards the closure.
"""

from __future__ import annotations

import _socket
import os
import select
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EVENT_READ = 1
SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET = _socket.SOCK_STREAM, _socket.SOCK_DGRAM, _socket.SOCK_SEQPACKET
PR_SET_CHILD_SUBREAPER = 36


class suppress:  # noqa: N801 - the name of the contextlib helper it replaces
    """``contextlib.suppress``: ignore the given exceptions in a ``with`` block."""

    __slots__ = ("exceptions",)

    def __init__(self, *exceptions: type[BaseException]) -> None:
        self.exceptions = exceptions

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, _value: object, _tb: object) -> bool:
        return kind is not None and issubclass(kind, self.exceptions)


class Key:
    """A registration: ``fd``, the object registered (``fileobj``) and its ``data``."""

    __slots__ = ("fileobj", "fd", "data")

    def __init__(self, fileobj: Any, fd: int, data: Any) -> None:
        self.fileobj, self.fd, self.data = fileobj, fd, data


def _fileno(fileobj: Any) -> int:
    return fileobj if type(fileobj) is int else fileobj.fileno()


class Selector:
    """The part of ``selectors.EpollSelector`` the monitor uses (read events only): ``register``,
    ``unregister``, ``select`` -> ``[(key, EVENT_READ)]``, ``get_map``, ``close``.  Hang-up and
    error conditions report the fd readable, as ``selectors`` does."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._keys: dict[int, Key] = {}

    def register(self, fileobj: Any, _events: int = EVENT_READ, data: Any = None) -> Key:
        fd = _fileno(fileobj)
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        self._epoll.register(fd, select.EPOLLIN)
        key = self._keys[fd] = Key(fileobj, fd, data)
        return key

    def unregister(self, fileobj: Any) -> Key:
        fd = _fileno(fileobj)
        key = self._keys.pop(fd)  # KeyError when not registered, as selectors
        try:
            self._epoll.unregister(fd)
        except OSError:
            pass  # already closed
        return key

    def get_map(self) -> dict[int, Key]:
        return self._keys

    def select(self, timeout: float | None = None) -> list[tuple[Key, int]]:
        """Ready keys; waits ``timeout`` seconds (None: forever), retried on EINTR by Python."""
        if timeout is not None and timeout < 0:
            timeout = 0
        ready = self._epoll.poll(-1 if timeout is None else timeout, max(len(self._keys), 1))
        out = []
        for fd, _ev in ready:
            key = self._keys.get(fd)
            if key is not None:
                out.append((key, EVENT_READ))
        return out

    def close(self) -> None:
        self._epoll.close()
        self._keys.clear()


def new_socket(kind: int) -> _socket.socket:
    """An ``AF_UNIX`` socket of type ``kind``, close-on-exec."""
    return _socket.socket(_socket.AF_UNIX, kind | _socket.SOCK_CLOEXEC)


def accept(listener: _socket.socket) -> _socket.socket:
    """``socket.accept`` without ``socket``: the connection (close-on-exec, blocking when the
    listener has a timeout, as ``socket.accept``)."""
    fd, _addr = listener._accept()
    conn = _socket.socket(fileno=fd)
    if listener.gettimeout():
        conn.setblocking(True)
    return conn


def socketpair() -> tuple[_socket.socket, _socket.socket]:
    """A connected ``AF_UNIX``/``SOCK_STREAM`` pair, close-on-exec."""
    return _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)


def send_fds(sock: _socket.socket, data: bytes, fds: list[int]) -> int:
    """``socket.send_fds``: ``data`` with ``fds`` attached (SCM_RIGHTS)."""
    packed = pack_ints(fds)
    return sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, packed)])


def recv_fds(sock: _socket.socket, bufsize: int, maxfds: int) -> tuple[bytes, list[int]]:
    """``socket.recv_fds``: (data, the fds received)."""
    msg, ancdata, _flags, _addr = sock.recvmsg(bufsize, _socket.CMSG_LEN(maxfds * 4))
    fds: list[int] = []
    for level, kind, cdata in ancdata:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds += unpack_ints(cdata)
    return msg, fds


def pack_ints(values: list[int]) -> bytes:
    """C ``int``s in native byte order (an SCM_RIGHTS payload) without ``_struct``."""
    return b"".join(v.to_bytes(4, sys.byteorder, signed=True) for v in values)


def unpack_ints(data: bytes) -> list[int]:
    """The whole C ``int``s in ``data`` (a trailing partial one is ignored)."""
    return [int.from_bytes(data[i:i + 4], sys.byteorder, signed=True) for i in range(0, len(data) - 3, 4)]


def become_subreaper() -> None:
    """``prctl(PR_SET_CHILD_SUBREAPER, 1)`` through ``_ctypes`` alone (``ctypes`` costs ~0.3 MB):
    orphans of the container (and an OCI runtime CLI's init) are reparented to us."""
    try:
        import _ctypes

        class _Libc:
            _handle = _ctypes.dlopen(None, _ctypes.RTLD_GLOBAL)

        class _CFunction(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL

        _CFunction(("prctl", _Libc()))(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (ImportError, OSError, AttributeError):
        pass


def close_quietly(fd: int) -> None:
    """``os.close`` that ignores an fd already closed."""
    try:
        os.close(fd)
    except OSError:
        pass
