"""Where the runtime's warnings and errors go: stderr by default, or the ``--log`` file (text or JSON)."""

from __future__ import annotations

import json
import os
import sys
import time

_sink: dict[str, str | None] = {"path": None, "format": "text"}


def configure(path: str | None, fmt: str = "text") -> None:
    """Send messages to ``path`` (appended) in ``fmt`` (``text`` or ``json``) instead of stderr."""
    _sink["path"] = path
    _sink["format"] = fmt


def _emit(level: str, msg: str) -> None:
    path = _sink["path"]
    if path is None:
        print(f"rpod-runtime: {level}: {msg}" if level != "error" else f"rpod-runtime: {msg}", file=sys.stderr)
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if _sink["format"] == "json":
        line = json.dumps({"level": level, "msg": msg, "time": stamp})
    else:
        line = f"{stamp} {level}: {msg}"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        print(f"rpod-runtime: {level}: {msg}", file=sys.stderr)


def warn(msg: str) -> None:
    _emit("warning", msg)


def error(msg: str) -> None:
    _emit("error", msg)
