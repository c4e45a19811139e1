"""Events the monitor itself observes (``died`` and ``restart`` between automatic restarts,
``health_status``), appended to rpod's ``events.log`` in the same line format as
``rpod.events.record`` (the monitor never imports ``rpod``: this is the few lines it needs)."""

from __future__ import annotations

import json
import os
import time

TYPE_CHECKING = False  # typing costs the monitor ~0.6 MB; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any


def _rfc3339(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    nanos = f"{frac:09d}".rstrip("0")
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{base}.{nanos}Z" if nanos else f"{base}Z"


def container_event(ctx: dict[str, Any] | None, action: str, exit_code: int | None = None,
                    health_status: str | None = None) -> None:
    """Append one container event; ``ctx`` is ``{"path", "id", "name", "image", "labels"}`` from the CLI."""
    if not ctx or not ctx.get("path"):
        return
    ns = time.time_ns()
    ev: dict[str, Any] = {"ns": ns, "ID": ctx.get("id", "")}
    if ctx.get("image"):
        ev["Image"] = ctx["image"]
    ev["Name"] = ctx.get("name", "")
    ev["Status"] = action
    ev["Time"] = _rfc3339(ns)
    ev["Type"] = "container"
    if exit_code is not None:
        ev["ContainerExitCode"] = exit_code
    if health_status is not None:
        ev["HealthStatus"] = health_status
    ev["Attributes"] = dict(ctx.get("labels") or {})
    line = (json.dumps(ev, separators=(",", ":")) + "\n").encode()
    try:
        fd = os.open(ctx["path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.write(fd, line)
    except OSError:
        pass
    finally:
        os.close(fd)


def died_once(container_dir: str, ctx: dict[str, Any] | None, exit_code: int) -> None:
    """The ``died`` event of this run, unless a CLI recorded it already (rpod's ``died.event``
    marker, created with O_EXCL by whichever process records it first)."""
    if not ctx:
        return
    try:
        fd = os.open(os.path.join(container_dir, "died.event"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    os.close(fd)
    container_event(ctx, "died", exit_code=exit_code)
