"""The per-user event log's line format and writer, and the events the monitor itself observes
(``died`` and ``restart`` between automatic restarts, ``health_status``).  ``rpod.events``
writes through ``write_event`` too, so the CLI and the monitor (which never imports ``rpod``)
append the same lines."""

from __future__ import annotations

import os
import time

from rootless import ctrfiles, minijson

TYPE_CHECKING = False  # typing costs the monitor ~0.6 MB; annotations are never evaluated
if TYPE_CHECKING:
    from typing import Any


def rfc3339(ns: int) -> str:
    """Nanoseconds since the epoch as Podman's event time (UTC, trailing zeros dropped)."""
    secs, frac = divmod(ns, 1_000_000_000)
    nanos = f"{frac:09d}".rstrip("0")
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    return f"{base}.{nanos}Z" if nanos else f"{base}Z"


def write_event(path: str, type_: str, action: str, *, id: str = "", name: str = "",  # noqa: A002
                image: str = "", attributes: dict[str, str] | None = None, exit_code: int | None = None,
                health_status: str | None = None, max_size: int = 0) -> None:
    """Append one event line to the log at ``path`` (one ``O_APPEND`` write, no fsync); errors
    (read-only store, disk full) are ignored: an event never fails the operation that records it.
    ``max_size`` > 0: Podman's rotation (``events_logfile_max_size``), under ``PATH.lock``."""
    ns = time.time_ns()
    ev: dict[str, Any] = {"ns": ns}
    if id:
        ev["ID"] = id
    if image:
        ev["Image"] = image
    if name:
        ev["Name"] = name
    ev["Status"] = action
    ev["Time"] = rfc3339(ns)
    ev["Type"] = type_
    if exit_code is not None:
        ev["ContainerExitCode"] = exit_code
    if health_status is not None:
        ev["HealthStatus"] = health_status
    ev["Attributes"] = attributes if attributes is not None else ({} if type_ == "container" else None)
    line = minijson.dumps(ev, separators=(",", ":"))
    if max_size <= 0:
        _append(path, line)
        return
    try:
        lock = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        _append(path, line)
        return
    try:
        import fcntl

        fcntl.flock(lock, fcntl.LOCK_EX)
        if _rotate(path, len(line), max_size):
            rns = time.time_ns()
            _append(path, minijson.dumps({"ns": rns, "Name": path, "Status": "log-rotation", "Time": rfc3339(rns),
                                          "Type": "system", "Attributes": None}, separators=(",", ":")))
        _append(path, line)
    except Exception:  # noqa: BLE001 - an event never fails (nor stops) what records it
        pass
    finally:
        os.close(lock)


def _append(path: str, line: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    try:
        os.write(fd, (line + "\n").encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def _rotate(path: str, content_size: int, limit: int) -> bool:
    """Podman's ``rotateLog``: when the file and the next line reach ``limit``, keep the lines
    after the file's middle (the line the middle falls in dropped) and say so (True)."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return False
    if size + content_size < limit:
        return False
    with open(path, "rb") as orig:
        orig.seek(size // 2)
        orig.readline()
        rest = orig.read()
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, rest)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    return True


def container_event(ctx: dict[str, Any] | None, action: str, exit_code: int | None = None,
                    health_status: str | None = None) -> None:
    """Append one container event; ``ctx`` is ``{"path", "max_size", "id", "name", "image", "labels"}``
    from the CLI (no ``path``: the events backend is "none")."""
    if not ctx or not ctx.get("path"):
        return
    write_event(ctx["path"], "container", action, id=ctx.get("id", ""), name=ctx.get("name", ""),
                image=ctx.get("image", ""), attributes=dict(ctx.get("labels") or {}), exit_code=exit_code,
                health_status=health_status, max_size=int(ctx.get("max_size") or 0))


def died_once(container_dir: str, ctx: dict[str, Any] | None, exit_code: int) -> None:
    """The ``died`` event of this run, unless a CLI recorded it already (rpod's ``died.event``
    marker, created with O_EXCL by whichever process records it first)."""
    if not ctx:
        return
    try:
        fd = os.open(os.path.join(container_dir, ctrfiles.DIED_MARK), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return
    os.close(fd)
    container_event(ctx, "died", exit_code=exit_code)
