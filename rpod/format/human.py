"""Human-readable sizes and times for front ends (go-units' spelling, as Podman prints them)."""

from __future__ import annotations

import time

from rpod.humanize import human_duration, human_size, parse_time

__all__ = ["ago", "human_duration", "human_size", "parse_time"]


def ago(timestamp: str) -> str:
    """``3 minutes`` since an RFC 3339 time ("" when it cannot be read), as ``system df -v``."""
    try:
        return human_duration(time.time() - parse_time(timestamp))
    except Exception:
        return ""
