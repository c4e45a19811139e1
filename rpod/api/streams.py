"""Docker's stream formats: multiplexed frames (8-byte header: stream, 0, 0, 0, big-endian size)
for a container without a terminal, raw bytes with one; pumps between pipes/sockets and a
hijacked connection."""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import struct
from collections.abc import Callable

from rpod.api.http import Hijacked

STDIN, STDOUT, STDERR = 0, 1, 2


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


def encode(stream: str | int, data: bytes, tty: bool) -> bytes:
    """One piece of output as the client expects it."""
    if tty:
        return data
    n = stream if isinstance(stream, int) else (STDERR if stream == "stderr" else STDOUT)
    return frame(n, data)


def pump(client: Hijacked, outputs: dict[int, int], tty: bool, stdin_fd: int = -1,
         on_stdin_eof: Callable[[], None] | None = None) -> None:
    """Copy ``outputs`` (fd → STDOUT/STDERR) to the client until every one reaches EOF, and the
    client's bytes to ``stdin_fd`` (closed when the client half-closes).  Every fd is closed."""
    sel = selectors.DefaultSelector()
    for fd in outputs:
        sel.register(fd, selectors.EVENT_READ, "out")
    if stdin_fd >= 0:
        if client.leftover:
            _write_all(stdin_fd, client.leftover)
            client.leftover = b""
        sel.register(client.sock, selectors.EVENT_READ, "in")
    open_outputs = set(outputs)
    try:
        while open_outputs:
            for key, _ in sel.select(timeout=60):
                if key.data == "out":
                    fd = int(key.fileobj)  # type: ignore[arg-type]
                    try:
                        data = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(fd)
                        open_outputs.discard(fd)
                        continue
                    if outputs[fd] >= 0:  # a stream the client did not ask for is drained, not sent
                        client.send(encode(outputs[fd], data, tty))
                else:
                    try:
                        data = client.sock.recv(65536)
                    except OSError:
                        data = b""
                    if data and stdin_fd >= 0:
                        try:
                            _write_all(stdin_fd, data)
                            continue
                        except OSError:
                            pass
                    sel.unregister(client.sock)
                    if stdin_fd >= 0:
                        with contextlib.suppress(OSError):
                            os.close(stdin_fd)
                        stdin_fd = -1
                    if on_stdin_eof:
                        on_stdin_eof()
    finally:
        sel.close()
        for fd in [*outputs, stdin_fd]:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def end(client: Hijacked) -> None:
    """Done: tell the client there is no more output (it may still be sending)."""
    with contextlib.suppress(OSError):
        client.sock.shutdown(socket.SHUT_WR)
