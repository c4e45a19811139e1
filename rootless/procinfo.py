"""Facts about processes from ``/proc`` (stdlib only, imported by the monitor: keep it tiny)."""

from __future__ import annotations


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
