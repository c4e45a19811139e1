"""The per-user event log (``events.log``, one JSON object a line), as Podman's file events backend.

``record`` is on hot paths (create, start, rm): one ``O_APPEND`` write, no fsync, and it never
fails the operation that called it.  Lines are Podman's ``events --format json`` objects plus
``ns`` (nanoseconds since the epoch) for ``--since``/``--until``.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import time
from collections.abc import Iterator

from rootless.monitor.eventlog import write_event
from rpod.paths import Paths

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def backend() -> str:
    """The events backend, "file" or "none": ``--events-backend``, else containers.conf's
    ``events_logger``.  rpod writes "journald" events to the file too (``rpod events`` reads
    them there), so that is "file"."""
    chosen = os.environ.get("RPOD_EVENTS_BACKEND")
    if not chosen:
        from rpod.containersconf import engine_str

        chosen = engine_str("events_logger")
    return "none" if chosen == "none" else "file"


def log_target(paths: Paths) -> tuple[str, int]:
    """Where events go and the size that rotates the file: ("", 0) with the "none" backend."""
    if backend() == "none":
        return "", 0
    from rpod.containersconf import events_logfile_max_size

    return str(paths.events_log), events_logfile_max_size()


def record(paths: Paths, type_: str, action: str, *, id: str = "", name: str = "", image: str = "",  # noqa: A002
           attributes: dict[str, str] | None = None, exit_code: int | None = None) -> None:
    """Append one event; errors (read-only store, disk full) are ignored; ``--events-backend none``: nothing."""
    path, max_size = log_target(paths)
    if not path:
        return
    write_event(path, type_, action, id=id, name=name, image=image, attributes=attributes,
                exit_code=exit_code, max_size=max_size)


def container_event(paths: Paths, record_: Any, action: str, exit_code: int | None = None) -> None:
    """``record`` for a container record (``rpod.container.state.ContainerRecord``)."""
    record(paths, "container", action, id=record_.id, name=record_.name, image=record_.image_name,
           attributes=dict(record_.labels), exit_code=exit_code)


def parse_lines(lines: Iterator[str] | list[str]) -> Iterator[dict[str, Any]]:
    """Events from log lines (rpod's, with ``ns``, or Podman's, whose ``Time`` gives it); a torn
    or foreign line is skipped."""
    for ln in lines:
        try:
            ev = json.loads(ln)
        except ValueError:
            continue
        if not isinstance(ev, dict):
            continue
        if "ns" not in ev:
            ns = time_ns(ev.get("Time"))
            if ns is None:
                continue
            ev["ns"] = ns
        yield ev


_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?\s*(?:([Zz])|([+-])(\d\d):?(\d\d))")


def time_ns(stamp: Any) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 time with up to 9 fraction digits (Go's
    ``time.RFC3339Nano``, how Podman writes ``Time``); None if it is not one."""
    m = _RFC3339.fullmatch(stamp.strip()) if isinstance(stamp, str) else None
    if not m:
        return None
    y, mo, d, h, mi, sec = (int(g) for g in m.groups()[:6])
    try:
        secs = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    if m.group(9):
        offset = (int(m.group(10)) * 60 + int(m.group(11))) * 60
        secs -= offset if m.group(9) == "+" else -offset
    frac = int((m.group(7) or "0")[:9].ljust(9, "0"))
    return secs * 1_000_000_000 + frac


def human_line(ev: dict[str, Any]) -> str:
    """Podman's default ``events`` line: ``2026-11-23 01:35:11.477874232 +0000 UTC container create ID (…)``."""
    secs, frac = divmod(int(ev["ns"]), 1_000_000_000)
    nanos = f"{frac:09d}".rstrip("0")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)) + (f".{nanos}" if nanos else "") + " +0000 UTC"
    kind, action = ev.get("Type", ""), ev.get("Status", "")
    if kind == "container":
        # Podman's order: image, name (then pod_id, health_status), then the attributes (sorted
        # here; Go's map order is random)
        attrs = dict(ev.get("Attributes") or {})
        if "ContainerExitCode" in ev:
            attrs["containerExitCode"] = str(ev["ContainerExitCode"])
        head = [("image", ev.get("Image", "")), ("name", ev.get("Name", ""))]
        head += [(k, attrs.pop(k)) for k in ("pod_id", "health_status") if k in attrs]
        inner = ", ".join(f"{k}={v}" for k, v in head + sorted(attrs.items()))
        return f"{stamp} {kind} {action} {ev.get('ID', '')} ({inner})"
    if kind == "image":
        return f"{stamp} {kind} {action} {ev.get('ID', '')} {ev.get('Name', '')}"
    return f"{stamp} {kind} {action} {ev.get('Name', '')}"
