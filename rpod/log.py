"""Warnings and debug lines on stderr, formatted as Podman's logrus output (``WARN[0000] ...`` on a terminal)."""

from __future__ import annotations

import os
import sys
import time


def _process_start() -> float:
    """Monotonic time at which this process started (so debug timings include interpreter start-up)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
        return time.monotonic() - max(0.0, age)
    except (OSError, ValueError, IndexError):
        return time.monotonic()


_START = _process_start()
_LEVELS = {"trace": 0, "debug": 0, "info": 1, "warn": 2, "warning": 2, "error": 3, "fatal": 3, "panic": 3}
_seen: set[str] = set()


def _enabled(level: str) -> bool:
    want = _LEVELS.get(os.environ.get("RPOD_LOG_LEVEL", "warn").lower(), 2)
    return _LEVELS[level] >= want


_TAGS = {"warning": "WARN", "debug": "DEBU", "info": "INFO", "error": "ERRO"}


def emit(level: str, message: str) -> None:
    """One line in logrus's text format, as Podman prints (``level``: warning, info, debug,
    error): ``WARN[0000] msg`` on a terminal, else ``time="..." level=warning msg="..."`` (what
    scripts and Podman's tests match).  Unfiltered: callers decide whether it is wanted."""
    try:
        tty = sys.stderr.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        secs = int(time.monotonic() - _START)
        line = f"{_TAGS.get(level, level[:4].upper())}[{secs:04d}] {message}"
    else:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        quoted = message.replace("\\", "\\\\").replace('"', '\\"')
        line = f'time="{now}" level={level} msg="{quoted}"'
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def hints_enabled() -> bool:
    """``Hint:`` lines go to a person at a terminal (or when ``RPOD_HINTS=1`` asks), never into a pipe."""
    want = os.environ.get("RPOD_HINTS", "")
    if want in ("0", "false"):
        return False
    if want in ("1", "true"):
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def hint(text: str) -> None:
    """A ``Hint:`` line with the fix, only for a person at a terminal (see ``hints_enabled``)."""
    if hints_enabled():
        sys.stderr.write(f"Hint: {text}\n")
        sys.stderr.flush()


def warn(message: str, once: bool = True) -> None:
    """A warning the user should read (printed once per process unless ``once`` is False)."""
    if once:
        if message in _seen:
            return
        _seen.add(message)
    if _enabled("warn"):
        emit("warning", message)


def info(message: str) -> None:
    """A line shown with ``--log-level info`` (or debug)."""
    if _enabled("info"):
        emit("info", message)


def debug(message: str) -> None:
    if _enabled("debug"):
        emit("debug", f"{(time.monotonic() - _START) * 1000:7.1f}ms {message}")
