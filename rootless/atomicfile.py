"""Replace a file atomically (write a private temporary beside it, then rename): what the
runtime's state, the monitor's exit file and the events log's rotation share.  ``os`` only: the
monitor imports it."""

from __future__ import annotations

import os


def write_atomic(path: str, data: bytes, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` (mode 0600); ``durable`` fsyncs before the rename."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
