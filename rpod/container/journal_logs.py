"""``rpod logs`` for a container that logs to the journal (``--log-driver journald``): read back
through ``journalctl -o json CONTAINER_ID_FULL=<id>`` (rpod links no libsystemd).

The monitor writes one entry per line (``rootless.monitor.journal``): ``MESSAGE``, ``PRIORITY``
3 for stderr and 6 for stdout, ``CONTAINER_PARTIAL_MESSAGE=true`` for a line still without its
newline.  ``records`` turns journalctl's JSON lines back into ``(stream, bytes)`` records the way
``read_logs`` does for k8s-file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Iterator

from rpod.errors import RpodError


def _message(entry: dict) -> bytes:
    msg = entry.get("MESSAGE", "")
    if isinstance(msg, list):  # journalctl prints non-UTF-8 values as a byte array
        return bytes(msg)
    return str(msg).encode()


def records(lines: Iterable[str], timestamps: bool = False) -> Iterator[tuple[str, bytes]]:
    """(stream, text) records from ``journalctl -o json`` lines; partial lines are joined."""
    pending: dict[str, bytes] = {}
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        stream = "stderr" if str(entry.get("PRIORITY")) == "3" else "stdout"
        prefix = b""
        if timestamps and stream not in pending:
            from rootless.monitor.exitfile import iso_now

            prefix = iso_now(int(entry.get("__REALTIME_TIMESTAMP", 0)) * 1000).encode() + b" "
        pending[stream] = pending.get(stream, b"") + prefix + _message(entry)
        if entry.get("CONTAINER_PARTIAL_MESSAGE") != "true":
            yield stream, pending.pop(stream) + b"\n"
    for stream, text in pending.items():
        yield stream, text


def journalctl_argv(cid: str, follow: bool, tail: int) -> list[str]:
    """The ``journalctl`` command that prints the container's entries as JSON lines."""
    exe = shutil.which("journalctl")
    if not exe:
        raise RpodError("this container logs to the journal and journalctl is not installed",
                        hint="install systemd (journalctl), or run the container with --log-driver k8s-file")
    argv = [exe, "--no-pager", "-o", "json", f"CONTAINER_ID_FULL={cid}"]
    if follow:
        argv.append("--follow")
    if tail >= 0:
        argv += ["--lines", str(tail)]
    return argv


def read(cid: str, follow: bool, tail: int, timestamps: bool) -> Iterator[tuple[str, bytes]]:
    """The container's journal records (follows with ``follow`` until journalctl ends)."""
    with subprocess.Popen(journalctl_argv(cid, follow, tail), stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        yield from records(proc.stdout, timestamps)
