"""Parent <-> child messages over a ``SOCK_SEQPACKET`` socketpair: one JSON object per packet.

Message types: ``map-request`` (child unshared its user namespace), ``map-done`` (parent wrote the
id maps), ``pid`` (the intermediate forked the container init: ``{"pid": host pid}``), ``hooks``
(init reached createRuntime time), ``hooks-done`` (with the OCI ``state``), ``ready`` (init is set
up and waits for start), ``error`` (``{"message", "exit_code"}``).
"""

from __future__ import annotations

import json
import socket

TYPE_CHECKING = False  # typing costs ~2 ms per process; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any

MAX_MESSAGE = 1 << 20


class SyncClosed(Exception):
    """The other end closed the channel without sending the expected message."""


class Channel:
    """One end of the sync socketpair."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        return cls(a), cls(b)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, type_: str, **fields: Any) -> None:
        self.sock.send(json.dumps({"type": type_, **fields}).encode())

    def recv(self) -> dict[str, Any]:
        """Next message; raises ``SyncClosed`` at end of stream."""
        data = self.sock.recv(MAX_MESSAGE)
        if not data:
            raise SyncClosed("sync channel closed")
        return json.loads(data)

    def expect(self, *types: str) -> dict[str, Any]:
        """Next message, which must be one of ``types`` or an ``error`` (returned as is)."""
        msg = self.recv()
        if msg.get("type") not in (*types, "error"):
            raise SyncClosed(f"unexpected sync message {msg.get('type')!r}, wanted {'/'.join(types)}")
        return msg

    def close(self) -> None:
        self.sock.close()
