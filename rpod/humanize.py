"""Human-readable sizes and durations, printed exactly as Podman (docker/go-units) prints them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

_SI = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


def _go_g(value: float, precision: int) -> str:
    """Go's ``%.Ng``: shortest of %e/%f with N significant digits, no trailing zeros."""
    text = f"{value:.{precision}g}"
    if "e" in text:
        mant, exp = text.split("e")
        text = f"{mant}e{exp[0]}{int(exp[1:]):02d}"
    return text


def human_size(size: float, precision: int = 3) -> str:
    """``8088316`` → ``8.09 MB`` (decimal units, as ``podman images``)."""
    i = 0
    while size >= 1000 and i < len(_SI) - 1:
        size /= 1000.0
        i += 1
    return f"{_go_g(size, precision)} {_SI[i]}"


def go_human_size(size: float) -> str:
    """go-units ``HumanSize``: ``9073000`` → ``9.073MB`` (4 significant digits, no space)."""
    return human_size(size, 4).replace(" ", "")


def human_duration(seconds: float) -> str:
    """go-units ``HumanDuration``: ``Less than a second``, ``About a minute``, ``3 weeks``..."""
    if seconds < 1:
        return "Less than a second"
    if int(seconds) == 1:
        return "1 second"
    if seconds < 60:
        return f"{int(seconds)} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{hours // 24 // 365} years"


def since(ts: float, now: float | None = None) -> str:
    """``<duration> ago`` for a UNIX timestamp."""
    now = time.time() if now is None else now
    return f"{human_duration(max(0.0, now - ts))} ago"


def parse_time(value: str) -> float:
    """RFC 3339 (with nanoseconds, ``Z`` or offset) → UNIX timestamp; 0 for empty/invalid."""
    if not value:
        return 0.0
    text = value.strip().replace("Z", "+00:00")
    # Python accepts at most 6 fractional digits
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits += rest[0]
            rest = rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
