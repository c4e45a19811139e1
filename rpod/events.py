"""The per-user event log (``events.log``, one JSON object a line), as Podman's file events backend.

``record`` is on hot paths (create, start, rm): one ``O_APPEND`` write, no fsync, and it never
fails the operation that called it.  Lines are Podman's ``events --format json`` objects plus
``ns`` (nanoseconds since the epoch) for ``--since``/``--until``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

from rootless.monitor.eventlog import write_event
from rpod.paths import Paths

TYPE_CHECKING = False  # no typing import at run time (start-up: docs/performance.md)
if TYPE_CHECKING:
    from typing import Any


def record(paths: Paths, type_: str, action: str, *, id: str = "", name: str = "", image: str = "",  # noqa: A002
           attributes: dict[str, str] | None = None, exit_code: int | None = None) -> None:
    """Append one event; errors (read-only store, disk full) are ignored; ``--events-backend none``: nothing."""
    if os.environ.get("RPOD_EVENTS_BACKEND") == "none":
        return
    write_event(str(paths.events_log), type_, action, id=id, name=name, image=image, attributes=attributes,
                exit_code=exit_code)


def container_event(paths: Paths, record_: Any, action: str, exit_code: int | None = None) -> None:
    """``record`` for a container record (``rpod.container.state.ContainerRecord``)."""
    record(paths, "container", action, id=record_.id, name=record_.name, image=record_.image_name,
           attributes=dict(record_.labels), exit_code=exit_code)


def parse_lines(lines: Iterator[str] | list[str]) -> Iterator[dict[str, Any]]:
    """Events from log lines; a torn or foreign line is skipped."""
    for ln in lines:
        try:
            ev = json.loads(ln)
        except ValueError:
            continue
        if isinstance(ev, dict) and "ns" in ev:
            yield ev


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
