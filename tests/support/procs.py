"""Process checks for service tests: what still runs for a container, read from /proc."""

from __future__ import annotations

import os
import time
from pathlib import Path


def pids_mentioning(text: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line contains ``text`` (a container id
    is in its monitor's argv)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if text.encode() in cmdline and stat.rsplit(")", 1)[1].split()[0] != "Z":
            out.append(int(entry))
    return out


def alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(cond, timeout: float = 10.0, interval: float = 0.05) -> bool:  # noqa: ANN001
    """Poll ``cond()`` until true or ``timeout`` seconds pass; its last value."""
    end = time.monotonic() + timeout
    while True:
        value = cond()
        if value or time.monotonic() >= end:
            return bool(value)
        time.sleep(interval)
