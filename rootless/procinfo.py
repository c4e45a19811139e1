"""Facts about processes from ``/proc`` (stdlib only, imported by the monitor: keep it tiny)."""

from __future__ import annotations

import os


def proc_start_time(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks (``/proc/PID/stat`` field 22), None when gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (ours, or another user's we may not signal)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
