"""``--log-driver journald``: container output to the systemd journal over its native protocol
(one datagram per line to ``/run/systemd/journal/socket``), stdlib only; imported only for
that driver.  Fields are conmon's: ``MESSAGE``, ``CONTAINER_ID``, ``CONTAINER_ID_FULL``,
``CONTAINER_NAME``, ``CONTAINER_TAG``, ``SYSLOG_IDENTIFIER``, ``PRIORITY`` (6 stdout, 3
stderr) and ``CONTAINER_PARTIAL_MESSAGE=true`` for a line without its newline yet.

The socket path is ``$RPOD_JOURNAL_SOCKET`` when set (the CLI resolves it and passes it in the
monitor's config), else systemd's; the CLI falls back to k8s-file when neither exists.
"""

from __future__ import annotations

import _socket as socket
import _struct as struct
import os

JOURNAL_SOCKET = "/run/systemd/journal/socket"


def encode_field(key: str, value: bytes) -> bytes:
    """One field of the native protocol: ``KEY=value\\n``, or the length-prefixed binary form
    (``KEY\\n<le64 length><value>\\n``) when the value holds a newline."""
    k = key.encode()
    if b"\n" in value:
        return k + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"
    return k + b"=" + value + b"\n"


def encode_entry(fields: dict[str, bytes]) -> bytes:
    return b"".join(encode_field(k, v) for k, v in fields.items())


class JournalWriter:
    """Same interface as ``stdio.LogWriter`` (``write(stream, data)``, ``close()``)."""

    def __init__(self, socket_path: str, container_id: str, name: str, tag: str = ""):
        self.path = socket_path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.common = {"CONTAINER_ID": container_id[:12].encode(), "CONTAINER_ID_FULL": container_id.encode(),
                       "CONTAINER_NAME": name.encode(), "SYSLOG_IDENTIFIER": (tag or name).encode()}
        if tag:
            self.common["CONTAINER_TAG"] = tag.encode()

    def write(self, stream: str, data: bytes) -> None:
        if not data:
            return
        prio = b"3" if stream == "stderr" else b"6"
        for line in data.splitlines(keepends=True):
            partial = not line.endswith(b"\n")
            fields = {"MESSAGE": line.rstrip(b"\r\n"), "PRIORITY": prio, **self.common}
            if partial:
                fields["CONTAINER_PARTIAL_MESSAGE"] = b"true"
            try:
                self.sock.sendto(encode_entry(fields), self.path)
            except OSError:
                pass  # the journal is gone or full: never block or kill the container for it

    def close(self) -> None:
        self.sock.close()


def available(path: str | None = None) -> str | None:
    """The journal socket to use, or None when there is none."""
    path = path or os.environ.get("RPOD_JOURNAL_SOCKET") or JOURNAL_SOCKET
    try:
        import stat

        return path if stat.S_ISSOCK(os.stat(path).st_mode) else None
    except OSError:
        return None
