"""Socket helpers shared by the monitor, ``rootless.netsetup`` and rpod's network holder (kept
apart so neither depends on the other's package).  Stdlib only, no imports: the monitor loads it."""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs the monitor ~0.6 MB; annotations are never evaluated
if TYPE_CHECKING:
    import socket


def recv_line(sock: socket.socket, data: bytes = b"") -> bytes:
    """Receive until ``data`` ends with a newline (or the peer closes): one JSON-line message."""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data
