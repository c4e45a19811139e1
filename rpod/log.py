"""Warnings and debug lines on stderr, formatted as Podman's logrus output (``WARN[0000] ...``)."""

from __future__ import annotations

import os
import sys
import time

_START = time.monotonic()
_LEVELS = {"debug": 0, "info": 1, "warn": 2, "warning": 2, "error": 3}
_seen: set[str] = set()


def _enabled(level: str) -> bool:
    want = _LEVELS.get(os.environ.get("RPOD_LOG_LEVEL", "warn").lower(), 2)
    return _LEVELS[level] >= want


def _emit(tag: str, message: str) -> None:
    secs = int(time.monotonic() - _START)
    sys.stderr.write(f"{tag}[{secs:04d}] {message}\n")
    sys.stderr.flush()


def warn(message: str, once: bool = True) -> None:
    """A warning the user should read (printed once per process unless ``once`` is False)."""
    if once:
        if message in _seen:
            return
        _seen.add(message)
    if _enabled("warn"):
        _emit("WARN", message)


def debug(message: str) -> None:
    if _enabled("debug"):
        _emit("DEBU", message)
