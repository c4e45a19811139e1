"""Go durations, the one parser and formatter (``30s``, ``1m30s``, ``548.07085ms``) and the
``--since``/``--until`` time arguments built on them (RFC 3339, UNIX seconds or a duration ago)."""

from __future__ import annotations

import re
import time

from rpod.errors import UsageError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse(value: str, flag: str = "duration") -> float:
    """A Go duration (``30s``, ``1m30s``, ``500ms``; a bare number is seconds) → seconds.
    Raises ``UsageError`` naming ``flag`` for anything else."""
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UsageError(f"invalid {flag} {value!r}: use a duration like 30s, 1m30s or 500ms")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _frac(v: int, prec: int) -> str:
    whole, frac = divmod(v, 10**prec)
    f = f"{frac:0{prec}d}".rstrip("0")
    return f"{whole}.{f}" if f else str(whole)


def format_ns(ns: int) -> str:
    """Go's ``time.Duration.String()`` of ``ns`` nanoseconds: ``1h2m3.5s``, ``1.5ms``, ``0s``."""
    sign, u = ("-" if ns < 0 else ""), abs(ns)
    if u == 0:
        return "0s"
    if u < 1000:
        return f"{sign}{u}ns"
    if u < 10**6:
        return f"{sign}{_frac(u, 3)}µs"
    if u < 10**9:
        return f"{sign}{_frac(u, 6)}ms"
    mins, secs = divmod(u, 60 * 10**9)
    out = _frac(secs, 9) + "s"
    if mins:
        hours, mins = divmod(mins, 60)
        out = (f"{hours}h" if hours else "") + f"{mins}m" + out
    return sign + out


def format_seconds(seconds: float) -> str:
    """``format_ns`` of a float number of seconds (``top``'s ELAPSED and TIME columns)."""
    return format_ns(int(round(seconds * 1e9)))


def time_arg(value: str | None, flag: str = "time") -> float | None:
    """``--since``/``--until``: RFC 3339, UNIX seconds or a Go duration (``10m``) back from now → UNIX time."""
    if not value:
        return None
    from rpod.humanize import parse_time

    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        return time.time() - parse(value, flag)
    except UsageError:
        pass
    t = parse_time(value)
    if not t:
        raise UsageError(f"invalid {flag} {value!r}: use RFC 3339, UNIX seconds or a duration like 10m")
    return t
