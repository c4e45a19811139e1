"""The monitor's on-disk reports: the exit file, ``monitor.json`` and process identity.

The exit file is the single truth about how a container ended; ``monitor.json``
says which monitor and which container process run it (pid plus start time, so a
recycled pid is never mistaken for them) and on which boot.  Both are written
atomically (temporary file, fsync, rename), so readers see all or nothing.
"""

from __future__ import annotations

import os
import time

from rootless import ctrfiles, minijson
from rootless.atomicfile import write_atomic
from rootless.procinfo import proc_start_time  # noqa: F401 - re-exported for the monitor's callers

TYPE_CHECKING = False  # typing costs the monitor ~0.6 MB; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any

EXIT_FILE = ctrfiles.EXIT
MONITOR_FILE = ctrfiles.MONITOR
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"


def write_json_atomic(path: str, obj: Any) -> None:
    """Replace ``path`` with the JSON of ``obj`` atomically and durably."""
    write_atomic(path, minijson.dumps(obj).encode() + b"\n", durable=True)


def read_json(path: str) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None when missing or unreadable (half-written never happens)."""
    try:
        with open(path, "rb") as f:
            data = minijson.loads(f.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def boot_id() -> str:
    """The kernel's boot id: it changes at every reboot."""
    try:
        with open(BOOT_ID_FILE) as f:
            return f.read().strip()
    except OSError:
        return ""


def process_alive(pid: int | None, start_time: int | None) -> bool:
    """True when ``pid`` exists, is not a zombie and started at ``start_time``."""
    if not pid or start_time is None:
        return False
    return proc_start_time(pid) == start_time


def iso_now(ns: int | None = None) -> str:
    """RFC 3339 timestamp with nanoseconds and the local offset (``2024-01-01T00:00:00.000000000+00:00``)."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    lt = time.localtime(secs)
    off = lt.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", lt)
            + f".{frac:09d}{sign}{off // 3600:02d}:{off % 3600 // 60:02d}")


def decode_wait_status(status: int) -> tuple[int, int | None]:
    """(exit code, signal) from a waitpid status; a signal N gives exit code 128+N."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return 128 + sig, sig
    return os.waitstatus_to_exitcode(status), None


def write_exit_file(container_dir: str, exit_code: int, signal: int | None, exited_at: str,
                    error: str | None = None) -> None:
    """Record how the container ended (``{"exit_code", "exited_at", "signal"[, "error"]}``)."""
    obj: dict[str, Any] = {"exit_code": exit_code, "exited_at": exited_at, "signal": signal}
    if error:
        obj["error"] = error
    write_json_atomic(os.path.join(container_dir, EXIT_FILE), obj)


def read_exit_file(container_dir: str) -> dict[str, Any] | None:
    return read_json(os.path.join(container_dir, EXIT_FILE))


def read_monitor_file(container_dir: str) -> dict[str, Any] | None:
    return read_json(os.path.join(container_dir, MONITOR_FILE))
